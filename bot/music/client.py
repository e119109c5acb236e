"""The only code that talks to the music API."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import aiohttp
from pydantic import SecretStr, ValidationError

from bot import metrics
from bot.music.errors import (
    BadResponse,
    Maintenance,
    MusicConnectionError,
    MusicError,
    MusicTimeout,
    MusicUnreachable,
    NotSent,
    error_for_code,
    error_for_http_status,
)
from bot.music.models import AddInstrumentalRequest, TaskInfo
from bot.music.ratelimit import RateLimiter

log = logging.getLogger(__name__)

SUBMIT_PATH = "/api/v1/generate/add-instrumental"
RECORD_INFO_PATH = "/api/v1/generate/record-info"
CREDIT_PATH = "/api/v1/generate/credit"
MAX_BODY = 1024 * 1024  # an envelope is small; anything bigger is not one
READ_CHUNK = 64 * 1024


class MusicClient:
    """Typed access to the music API over one shared `aiohttp` session.

    Every call waits for the shared `RateLimiter`, has a time-out, and is retried with
    exponential backoff and jitter only when a retry is both useful and safe: a submission
    that may have reached the API (a time-out, a garbled answer, a gateway's error page) is
    never sent twice; see `certainly_not_taken`.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: SecretStr | None,
        limiter: RateLimiter,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 1.0,
        allowed_models: Collection[str] = ("V4_5PLUS", "V5"),
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.limiter = limiter
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retries = max_retries
        self._backoff = backoff
        self.allowed_models = frozenset(allowed_models)

    def __repr__(self) -> str:
        return f"MusicClient(base_url={self._base_url!r})"

    @property
    def request_timeout(self) -> float:
        """Seconds one call may take: how long a submission on the wire can last."""
        return float(self._timeout.total or 0.0)

    def build_request(self, **fields: Any) -> AddInstrumentalRequest:
        """Validate a submission against the API's rules and the configured models."""
        return AddInstrumentalRequest.model_validate(
            fields, context={"allowed_models": self.allowed_models}
        )

    async def submit_add_instrumental(
        self,
        request: AddInstrumentalRequest,
        *,
        claim: Callable[[], Awaitable[bool]] | None = None,
    ) -> str:
        """Submit once (never retried here: the caller decides, durably); returns the API's
        task id. `claim` runs when the rate limiter lets the request go, just before it is
        sent; if it returns False, nothing is sent (`NotSent`)."""
        data = await self._call(
            "add-instrumental",
            "POST",
            SUBMIT_PATH,
            json_body=request.payload(),
            idempotent=False,
            before_send=claim,
        )
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise BadResponse(200, "submission answered without a taskId")
        return task_id

    async def get_task(self, task_id: str) -> TaskInfo:
        data = await self._call("record-info", "GET", RECORD_INFO_PATH, params={"taskId": task_id})
        if not isinstance(data, dict):
            raise BadResponse(200, "record-info answered without a task object")
        data.setdefault("taskId", task_id)
        try:
            return TaskInfo.model_validate(data)
        except ValidationError as exc:
            raise BadResponse(200, f"unreadable task object ({exc.error_count()} errors)") from None

    async def get_credits(self) -> float:
        data = await self._call("credit", "GET", CREDIT_PATH)
        if isinstance(data, dict):  # tolerate {"credits": n}
            data = next(iter(data.values()), None)
        try:
            return float(data)
        except (TypeError, ValueError):
            raise BadResponse(200, "credit answered without a number") from None

    async def _call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        idempotent: bool = True,
        before_send: Callable[[], Awaitable[bool]] | None = None,
    ) -> Any:
        attempt = 0
        while True:
            try:
                return await self._once(endpoint, method, path, params, json_body, before_send)
            except MusicError as exc:
                if attempt >= self._max_retries or not self._should_retry(exc, idempotent):
                    raise
                attempt += 1
                delay = self._backoff * 2 ** (attempt - 1) * (0.5 + random.random())
                log.warning(
                    "music %s failed (%s), retry %d/%d in %.1fs",
                    endpoint,
                    type(exc).__name__,
                    attempt,
                    self._max_retries,
                    delay,
                )
                await asyncio.sleep(delay)

    @staticmethod
    def _should_retry(exc: MusicError, idempotent: bool) -> bool:
        if not exc.retryable or isinstance(exc, Maintenance):
            return False  # maintenance lasts minutes: the caller reschedules instead
        # A submission is never retried while its task is claimed as "submitting": a
        # restart during the wait would count it as interrupted. The task core requeues
        # what `certainly_not_taken` allows, so the retry is durable.
        return idempotent

    async def _once(
        self,
        endpoint: str,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json_body: dict[str, Any] | None,
        before_send: Callable[[], Awaitable[bool]] | None = None,
    ) -> Any:
        await self.limiter.acquire()
        try:  # the slot is the limiter's until the answer came (or the call failed)
            if before_send is not None and not await before_send():
                raise NotSent(f"{endpoint}: not sent")
            headers = {"Accept": "application/json"}
            if self._api_key is not None:
                headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
            started = time.monotonic()
            try:
                async with self._session.request(
                    method,
                    self._base_url + path,
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    body = await self._read_body(response)
            except BadResponse:
                metrics.API_CALLS.labels(endpoint, "oversize").inc()
                raise
            except TimeoutError:
                metrics.API_CALLS.labels(endpoint, "timeout").inc()
                raise MusicTimeout(f"{endpoint}: no answer in {self._timeout.total:.0f}s") from None
            except aiohttp.ClientConnectorError as exc:
                metrics.API_CALLS.labels(endpoint, "connection").inc()
                raise MusicUnreachable(
                    f"{endpoint}: cannot connect ({exc.os_error.strerror})"
                ) from None
            except aiohttp.ClientError as exc:
                metrics.API_CALLS.labels(endpoint, "connection").inc()
                raise MusicConnectionError(f"{endpoint}: {type(exc).__name__}") from None
        finally:
            await self.limiter.release()

        code, message, data = self._parse_envelope(status, body)
        metrics.API_CALLS.labels(endpoint, str(code)).inc()
        log.debug("music %s -> %s in %.2fs", endpoint, code, time.monotonic() - started)
        if code != 200:
            raise error_for_code(code, message)
        return data

    @staticmethod
    async def _read_body(response: aiohttp.ClientResponse) -> bytes:
        """The whole body, however it is chunked, or `BadResponse` past `MAX_BODY`.

        `content.read(n)` returns only what is buffered, which cut envelopes sent in
        several pieces; reading chunk by chunk to the end, and stopping at the cap, never
        holds more than the cap plus one chunk.
        """
        if response.content_length is not None and response.content_length > MAX_BODY:
            raise BadResponse(response.status, f"answer larger than {MAX_BODY} bytes")
        body = bytearray()
        async for chunk in response.content.iter_chunked(READ_CHUNK):
            body += chunk
            if len(body) > MAX_BODY:
                raise BadResponse(response.status, f"answer larger than {MAX_BODY} bytes")
        return bytes(body)

    @staticmethod
    def _parse_envelope(status: int, body: bytes) -> tuple[int, str, Any]:
        """The envelope's code, msg and data when the API itself answered; otherwise the
        error an HTTP status alone says (`enveloped` False: the outcome is unknown).

        An error envelope counts as the API's only on HTTP 200 or on an HTTP status equal to
        its code (the API may mirror it): a gateway's JSON such as `{"code": 504}` on HTTP 502
        is the gateway's, whatever it looks like.
        """
        try:
            envelope = json.loads(body)
        except ValueError:
            envelope = None
        code = envelope.get("code") if isinstance(envelope, dict) else None
        if not isinstance(envelope, dict) or not isinstance(code, int) or isinstance(code, bool):
            if not 200 <= status < 300:
                raise error_for_http_status(status, body[:100].decode("utf-8", "replace"))
            raise BadResponse(status, "answer is not the JSON envelope")
        if (200 <= status < 300 and code == 200) or (code != 200 and status in (200, code)):
            return code, str(envelope.get("msg") or ""), envelope.get("data")
        raise error_for_http_status(status)

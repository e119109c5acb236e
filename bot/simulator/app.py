"""A local aiohttp server that behaves like the hosted music API (docs/music-api.md).

Endpoints, envelope, business codes, task progression, callbacks and result files follow
the provider's documented behaviour plus the drift integrators report, with knobs and
fault injection for tests. Design notes:

- Order of checks for an API call: injected fault (``fail_next``), auth (401), rate
  limit (430), then the endpoint itself. Faults come first because they stand for
  proxy and outage failures that happen before the provider looks at the request.
- Rate limit: sliding window per bearer key; rejected calls do not use up the window
  (see :class:`~bot.simulator.validation.RateLimiter`).
- Unknown ``taskId`` on record-info answers code 400 "task not found": 404 is the
  provider's code for a wrong method or path, which a client treats as a config bug.
- Status is derived from the monotonic clock on every read; one ticker walks a heap of
  due times to fire callbacks, so thousands of live tasks cost one wake-up per tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.audio import SNIFF_BYTES, make_png, make_wav, sniff_audio
from bot.simulator import render
from bot.simulator.config import SimulatorConfig
from bot.simulator.tasks import (
    COMPLETE,
    DEFAULT_ERRORS,
    PLANNED_STATUSES,
    UPLOAD_ERROR_CODE,
    UPLOAD_FAILED,
    UPLOAD_OK,
    UPLOAD_PENDING,
    UPLOAD_SKIPPED,
    Plan,
    SimTask,
    SimTrack,
    plan_from_tags,
)
from bot.simulator.validation import Invalid, RateLimiter, validate_submission

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/generate"
API_ENDPOINTS = ("add-instrumental", "record-info", "credit")
FILE_ENDPOINTS = ("files", "stream")
TICK_SECONDS = 0.02  # callback timing resolution
HANG_SECONDS = 60.0  # fail_next(-2): longer than any sane client timeout

# Default msg for business codes injected with fail_next().
CODE_MESSAGES = {
    200: "success",
    400: "Invalid parameters",
    401: "Unauthorized",
    404: "Invalid request method or path",
    405: "Rate limit exceeded",
    413: "Theme or prompt too long",
    429: "Insufficient credits",
    430: "Your call frequency is too high. Please try again later.",
    455: "System maintenance",
    500: "Server error",
}
FETCH_FAILED_MSG = "Failed to fetch the audio file"
NOT_AUDIO_MSG = "The uploaded file is not audio"

_BAD_GATEWAY_HTML = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)

Result = tuple[int, str, Any]  # business code, msg, data
_CODE = web.RequestKey("sim_code", int)  # business code answered, for the request log


@dataclass
class _Fault:
    code: int
    remaining: int
    endpoint: str | None


class _UploadError(Exception):
    """uploadUrl could not be fetched (the detail goes to the log, not to the client)."""


class Simulator:
    """The simulated music API; see the module docstring and :class:`SimulatorConfig`.

    Inspection attributes for tests: ``tasks`` (by taskId), ``calls`` (Counter keyed by
    ``(endpoint, code)``; endpoints are add-instrumental, record-info, credit, files,
    stream and unknown; file calls are keyed by HTTP status, injected HTTP-level faults
    by their negative code), ``rejections`` (rate-limit 430s) and ``callbacks_sent``.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.tasks: dict[str, SimTask] = {}
        self.calls: Counter[tuple[str, int]] = Counter()
        self.rejections = 0
        # One record per callback sent (per repeat): task_id, url, stage, payload,
        # repeat, attempts, delivered, http_status. Appended before the first attempt.
        self.callbacks_sent: list[dict[str, Any]] = []
        self.base_url = ""
        self._rng = random.Random(self.config.seed)
        self._limiter = RateLimiter()
        self._faults: list[_Fault] = []
        self._plans: deque[Plan] = deque()
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._background: set[asyncio.Task[Any]] = set()
        self._audio_cache: dict[tuple[float, int | None], asyncio.Future[bytes]] = {}
        self._png = make_png()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closing: asyncio.Event | None = None
        self.app = self._build_app()

    # ----------------------------------------------------------------- lifecycle

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=1024 * 1024)
        app.router.add_post(f"{API_PREFIX}/add-instrumental", self._handle_submit)
        app.router.add_get(f"{API_PREFIX}/record-info", self._handle_record_info)
        app.router.add_get(f"{API_PREFIX}/credit", self._handle_credit)
        app.router.add_get("/files/{task_id}/{name}", self._handle_file)
        app.router.add_get("/stream/{task_id}/{track_id}", self._handle_stream)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: any free port) and return ``base_url``."""
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        self._closing = asyncio.Event()
        self._session = aiohttp.ClientSession()
        # handler_cancellation: a client that gives up on a hung call frees its handler.
        self._runner = web.AppRunner(
            self.app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        # A wildcard bind is reachable on loopback; clients cannot connect to 0.0.0.0.
        shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
        if ":" in shown:
            shown = f"[{shown}]"
        self.base_url = f"http://{shown}:{bound_port}"
        self._ticker = asyncio.create_task(self._tick_loop())
        log.info("music API simulator listening on %s", self.base_url)
        return self.base_url

    async def close(self) -> None:
        """Stop the server, cancel callbacks and upload checks, close the client session."""
        if self._closing is not None:
            self._closing.set()  # releases fail_next(-2) hangs
        pending = [t for t in (self._ticker, *self._background) if t is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._ticker = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def public_url(self) -> str:
        """Base of the file URLs handed out (``public_base_url`` or ``base_url``)."""
        return (self.config.public_base_url or self.base_url).rstrip("/")

    # ----------------------------------------------------------- test controls

    def fail_next(self, code: int, times: int = 1, endpoint: str | None = None) -> None:
        """Make the next ``times`` calls answer ``code`` instead of doing their work.

        Positive codes are business codes in a normal HTTP 200 envelope (for the files
        and stream endpoints: that HTTP status). Negative codes are HTTP-level faults:
        -1 HTTP 200 with an HTML body, -2 hang for 60 s (or until close()), and -N for
        N >= 100 HTTP status N with an HTML body (e.g. -502, -503). ``endpoint`` is one
        of add-instrumental, record-info, credit, files, stream; None means any API
        endpoint (file downloads never consume an endpoint=None fault).
        """
        if endpoint is not None and endpoint not in (*API_ENDPOINTS, *FILE_ENDPOINTS):
            raise ValueError(f"unknown endpoint {endpoint!r}")
        if times > 0:
            self._faults.append(_Fault(code, times, endpoint))

    def plan_next(
        self,
        *,
        status: str | None = None,
        track_count: int | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> None:
        """Set the outcome of the next accepted submission (queued, one per call).

        Wins over ``[sim:…]`` tags and ``failure_rate``.
        """
        if status is not None and status not in PLANNED_STATUSES:
            raise ValueError(f"status must be one of {sorted(PLANNED_STATUSES)}")
        if track_count not in (None, 1, 2):
            raise ValueError("track_count must be 1 or 2")
        self._plans.append(Plan(status, track_count, error_code, error_message))

    def finish_now(self, task_id: str) -> None:
        """Jump a task to its final state and fire its remaining callbacks.

        If the upload check is still running it is abandoned and the upload trusted.
        Raises KeyError for an unknown task.
        """
        task = self.tasks[task_id]
        if task.upload_state == UPLOAD_PENDING:
            if task.fetch is not None:
                task.fetch.cancel()
            task.upload_state = UPLOAD_SKIPPED
        task.forced = True
        self._advance(task)

    async def wait_idle(self) -> None:
        """Wait until no callback delivery or upload check is in flight.

        Callers bound it themselves (``async with asyncio.timeout(5): ...``): a delivery
        to a dead receiver takes up to (retries x timeout) to give up.
        """
        while self._background:
            await asyncio.wait(set(self._background))

    # --------------------------------------------------------------- plumbing

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.monotonic()
        try:
            response = await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            # The provider answers a wrong path or method with an envelope, not HTTP 404.
            response = self._answer(request, "unknown", 404, CODE_MESSAGES[404])
        # One line per request; path and query only (never headers: they hold the key).
        log.info(
            "%s %s -> HTTP %d code %s (%.1f ms)",
            request.method,
            request.path_qs,
            response.status,
            request.get(_CODE, "-"),
            (time.monotonic() - started) * 1000,
        )
        return response

    def _answer(
        self, request: web.Request, endpoint: str, code: int, msg: str, data: Any = None
    ) -> web.Response:
        self.calls[(endpoint, code)] += 1
        request[_CODE] = code
        return web.json_response({"code": code, "msg": msg, "data": data})

    def _take_fault(self, endpoint: str) -> int | None:
        for fault in self._faults:
            if fault.endpoint == endpoint or (fault.endpoint is None and endpoint in API_ENDPOINTS):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault.code
        return None

    async def _inject(self, request: web.Request, endpoint: str, code: int) -> web.Response:
        if code >= 0:
            if endpoint in FILE_ENDPOINTS:
                self.calls[(endpoint, code)] += 1
                return web.Response(status=code if 100 <= code < 600 else 500, text="error")
            return self._answer(request, endpoint, code, CODE_MESSAGES.get(code, "error"))
        self.calls[(endpoint, code)] += 1
        request[_CODE] = code
        if code == -2:
            if self._closing is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HANG_SECONDS):
                        await self._closing.wait()
            return web.Response(status=504, text="<html>504 Gateway Time-out</html>")
        if code == -1:
            return web.Response(
                status=200,
                text="<html><body>Service temporarily unavailable</body></html>",
                content_type="text/html",
            )
        status = -code if 100 <= -code < 600 else 502
        body = _BAD_GATEWAY_HTML if status == 502 else f"<html><h1>{status}</h1></html>"
        return web.Response(status=status, text=body, content_type="text/html")

    async def _api(
        self,
        request: web.Request,
        endpoint: str,
        work: Callable[[web.Request], Awaitable[Result]],
    ) -> web.Response:
        fault = self._take_fault(endpoint)
        if fault is not None:
            return await self._inject(request, endpoint, fault)
        cfg = self.config
        key = _bearer(request)
        if cfg.api_key is not None and key != cfg.api_key:
            return self._answer(request, endpoint, 401, "Unauthorized: invalid or missing API key")
        if not self._limiter.allow(key or "", time.monotonic(), cfg.rate_limit, cfg.rate_period):
            self.rejections += 1
            return self._answer(request, endpoint, 430, CODE_MESSAGES[430])
        code, msg, data = await work(request)
        return self._answer(request, endpoint, code, msg, data)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator background task failed", exc_info=task.exception())

    def _random_id(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def _random_uuid4(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # --------------------------------------------------------------- API calls

    async def _handle_submit(self, request: web.Request) -> web.Response:
        return await self._api(request, "add-instrumental", self._submit)

    async def _handle_record_info(self, request: web.Request) -> web.Response:
        return await self._api(request, "record-info", self._record_info)

    async def _handle_credit(self, request: web.Request) -> web.Response:
        return await self._api(request, "credit", self._credit)

    async def _submit(self, request: web.Request) -> Result:
        cfg = self.config
        try:
            body = await request.json()
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            return 400, "Invalid JSON body", None
        try:
            validate_submission(body, cfg.models)
        except Invalid as exc:
            return exc.code, exc.msg, None
        if cfg.credits < cfg.task_cost:
            return 429, "Insufficient credits", None
        cfg.credits = round(cfg.credits - cfg.task_cost, 6)  # no float drift in balances
        task = self._create_task(body)
        log.info("accepted task %s (outcome %s)", task.task_id, task.outcome)
        return 200, "success", {"taskId": task.task_id}

    async def _record_info(self, request: web.Request) -> Result:
        task_id = request.query.get("taskId", "").strip()
        if not task_id:
            return 400, "taskId is required", None
        task = self.tasks.get(task_id)
        if task is None:
            return 400, "task not found", None
        now = time.monotonic()
        data = render.record_info(task, now, self.public_url, self.config.record_info_casing)
        return 200, "success", data

    async def _credit(self, request: web.Request) -> Result:
        return 200, "success", self.config.credits

    # ------------------------------------------------------------------ tasks

    def _create_task(self, body: dict[str, Any]) -> SimTask:
        cfg = self.config
        plan = Plan()
        if cfg.failure_rate > 0 and self._rng.random() < cfg.failure_rate:
            plan.status = cfg.failure_status
        plan = plan_from_tags(body["tags"]).merged_over(plan)
        if self._plans:
            plan = self._plans.popleft().merged_over(plan)
        outcome = plan.status or "SUCCESS"
        default_code, default_msg = DEFAULT_ERRORS.get(outcome, (None, None))
        track_count = min(2, max(1, plan.track_count or cfg.track_count))
        now_ms = int(time.time() * 1000)
        listed_ms = now_ms + int(cfg.text_delay * 1000)
        task = SimTask(
            task_id=self._random_id(),
            params=body,
            created_mono=time.monotonic(),
            created_ms=now_ms,
            outcome=outcome,
            tracks=[SimTrack(self._random_uuid4(), listed_ms) for _ in range(track_count)],
            delays=(cfg.text_delay, cfg.first_delay, cfg.complete_delay),
            audio_seconds=cfg.audio_seconds,
            audio_pad_bytes=cfg.audio_pad_bytes,
            error_code=plan.error_code if plan.error_code is not None else default_code,
            error_message=plan.error_message or default_msg,
        )
        self.tasks[task.task_id] = task
        if cfg.check_upload and self._session is not None:
            task.fetch = self._spawn(self._check_upload(task))
        else:
            task.upload_state = UPLOAD_SKIPPED
            self._advance(task)
        return task

    def _advance(self, task: SimTask) -> None:
        """Queue callbacks for stages reached since last time; schedule the next one."""
        now = time.monotonic()
        stages = task.reached(now)
        for stage in stages[task.stages_fired :]:
            self._queue_callback(task, stage)
        task.stages_fired = len(stages)
        due = task.next_due(now)
        if due is not None:
            heapq.heappush(self._heap, (due, next(self._seq), task.task_id))

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, _, task_id = heapq.heappop(self._heap)
                task = self.tasks.get(task_id)
                if task is not None:
                    self._advance(task)  # idempotent, so duplicate entries are harmless

    async def _check_upload(self, task: SimTask) -> None:
        """Fetch uploadUrl like the provider does; a failure ends the task with 451."""
        cfg = self.config
        try:
            head, size = await self._fetch_head(
                task.params["uploadUrl"], cfg.max_upload_bytes, cfg.upload_timeout
            )
        except _UploadError as exc:
            log.info("task %s: upload fetch failed: %s", task.task_id, exc)
            self._fail_upload(task, FETCH_FAILED_MSG)
            return
        task.upload_bytes = size
        task.upload_kind = sniff_audio(head)
        if task.upload_kind is None:
            log.info("task %s: upload is not audio (%d bytes)", task.task_id, size)
            self._fail_upload(task, NOT_AUDIO_MSG)
            return
        task.upload_state = UPLOAD_OK
        self._advance(task)

    def _fail_upload(self, task: SimTask, message: str) -> None:
        task.upload_state = UPLOAD_FAILED
        task.error_code = UPLOAD_ERROR_CODE
        task.error_message = message
        self._advance(task)

    async def _fetch_head(self, url: str, limit: int, time_limit: float) -> tuple[bytes, int]:
        """Download ``url`` keeping only the first bytes; return (head, total size)."""
        assert self._session is not None
        head = b""
        size = 0
        try:
            async with self._session.get(
                url, timeout=aiohttp.ClientTimeout(total=time_limit)
            ) as response:
                if response.status != 200:
                    raise _UploadError(f"HTTP {response.status}")
                if response.content_length is not None and response.content_length > limit:
                    raise _UploadError(f"{response.content_length} bytes is over {limit}")
                async for chunk in response.content.iter_chunked(64 * 1024):
                    if len(head) < SNIFF_BYTES:
                        head += chunk[: SNIFF_BYTES - len(head)]
                    size += len(chunk)
                    if size > limit:
                        raise _UploadError(f"more than {limit} bytes")
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Only the class name: some aiohttp errors embed the full (signed) URL.
            raise _UploadError(type(exc).__name__) from exc
        return head, size

    # -------------------------------------------------------------- callbacks

    def _queue_callback(self, task: SimTask, stage: str) -> None:
        cfg = self.config
        if stage == COMPLETE and task.outcome == "CALLBACK_EXCEPTION":
            return  # that status means the provider failed to deliver this one
        if not cfg.send_callbacks or self._session is None:
            return
        payload = render.callback(task, stage, self.public_url, cfg.callback_casing)
        previous = task.delivery
        task.delivery = self._spawn(
            self._deliver(task, stage, payload, previous, max(1, cfg.callback_repeats))
        )

    async def _deliver(
        self,
        task: SimTask,
        stage: str,
        payload: dict[str, Any],
        previous: asyncio.Task[None] | None,
        repeats: int,
    ) -> None:
        if previous is not None:
            await asyncio.wait({previous})  # keep one task's stages in order
        delivered = False
        for repeat in range(repeats):
            record: dict[str, Any] = {
                "task_id": task.task_id,
                "url": task.callback_url,
                "stage": stage,
                "payload": payload,
                "repeat": repeat,
                "attempts": 0,
                "delivered": False,
                "http_status": None,
            }
            self.callbacks_sent.append(record)
            delivered = await self._post_callback(record)
        if stage == COMPLETE and not delivered and self.config.mark_callback_exception:
            task.callback_failed = True

    async def _post_callback(self, record: dict[str, Any]) -> bool:
        """POST one callback with bounded retries; True once a 2xx answer came back."""
        assert self._session is not None
        cfg = self.config
        timeout = aiohttp.ClientTimeout(total=cfg.callback_timeout)
        attempts = 1 + max(0, cfg.callback_retries)
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(cfg.callback_backoff * 2 ** (attempt - 1))
            record["attempts"] = attempt + 1
            try:
                async with self._session.post(
                    record["url"], json=record["payload"], timeout=timeout
                ) as response:
                    record["http_status"] = response.status
                    if 200 <= response.status < 300:
                        record["delivered"] = True
                        return True
                    failure = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = type(exc).__name__  # the URL may carry a secret token
            # The URL is not logged: it usually carries a secret token.
            log.info(
                "callback %s for task %s: attempt %d/%d failed: %s",
                record["stage"],
                record["task_id"],
                attempt + 1,
                attempts,
                failure,
            )
        log.warning(
            "giving up on callback %s for task %s after %d attempts",
            record["stage"],
            record["task_id"],
            attempts,
        )
        return False

    # ------------------------------------------------------------------ files

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        stem, _, ext = request.match_info["name"].rpartition(".")
        return await self._serve(request, "files", request.match_info["task_id"], stem, ext)

    async def _handle_stream(self, request: web.Request) -> web.StreamResponse:
        task_id = request.match_info["task_id"]
        return await self._serve(request, "stream", task_id, request.match_info["track_id"], "wav")

    async def _serve(
        self, request: web.Request, endpoint: str, task_id: str, track_id: str, ext: str
    ) -> web.StreamResponse:
        """Serve a result file. No auth, no rate limit: these are public CDN URLs."""
        fault = self._take_fault(endpoint)
        if fault is not None:
            return await self._inject(request, endpoint, fault)
        task = self.tasks.get(task_id)
        ready = task is not None and any(
            track.track_id == track_id and task.has_audio(index, time.monotonic())
            for index, track in enumerate(task.tracks)
        )
        if task is None or not ready or ext not in ("wav", "png"):
            self.calls[(endpoint, 404)] += 1
            return web.Response(status=404, text="not found")
        self.calls[(endpoint, 200)] += 1
        if ext == "png":
            return web.Response(body=self._png, content_type="image/png")
        body = await self._audio(task.audio_seconds, task.audio_pad_bytes)
        return web.Response(body=body, content_type="audio/wav")

    async def _audio(self, seconds: float, pad: int | None) -> bytes:
        """Result audio, generated once per (seconds, pad) off the event loop."""
        key = (seconds, pad)
        future = self._audio_cache.get(key)
        if future is None:
            future = asyncio.ensure_future(asyncio.to_thread(make_wav, seconds, pad_to_bytes=pad))
            self._audio_cache[key] = future
        # shield: a client hanging up must not cancel the generation others wait on.
        return await asyncio.shield(future)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()

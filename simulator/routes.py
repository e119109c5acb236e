"""The simulated API over HTTP: routes, the answer envelope, the checks before each
call, and the result files.

Order of checks for an API call: injected fault (``fail_next``), auth (401), rate limit
(430), then the endpoint itself. Result files take only injected faults: they stand for
public CDN URLs. An unknown ``taskId`` on record-info answers code 400 "task not found":
404 is the provider's code for a wrong method or path, which a client treats as a
config bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from simulator import render
from simulator.config import SimulatorConfig
from simulator.faults import (
    CUT_OFF,
    FILE_ENDPOINTS,
    LATE,
    AnswerShape,
    Draws,
    FaultQueue,
    cut_off,
    gateway_answer,
    http_fault,
)
from simulator.media import make_png, make_wav
from simulator.ratelimit import RateLimiter
from simulator.renders import SandboxRenders
from simulator.tasks import SimTask
from simulator.validation import Invalid, validate_submission

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/generate"

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

Result = tuple[int, str, Any]  # business code, msg, data
_CODE = web.RequestKey("sim_code", int)  # business code answered, for the request log


class Routes:
    """The aiohttp application (``app``) of the simulated API, and what it counts.

    ``calls``: Counter keyed by ``(endpoint, code)``; endpoints are add-instrumental,
    record-info, credit, files, stream and unknown; file calls are keyed by HTTP status,
    injected HTTP-level faults by their negative code (a gateway that did not forward
    the call: its negative HTTP status). ``rejections``: rate-limit 430s. ``shaped``:
    Counter keyed by ``(endpoint, shape kind)`` of the answer shapes served.
    ``charges``: Counter of accepted (charged) submissions keyed by :func:`request_key`.
    The tasks, the fault queue and the limiter are the simulator's, shared.
    """

    def __init__(
        self,
        config: SimulatorConfig,
        tasks: Mapping[str, SimTask],
        create_task: Callable[[dict[str, Any]], SimTask],
        public_url: Callable[[], str],
        faults: FaultQueue,
        limiter: RateLimiter,
        renders: SandboxRenders | None = None,
        draws: Draws | None = None,
    ) -> None:
        self.calls: Counter[tuple[str, int]] = Counter()
        self.shaped: Counter[tuple[str, str]] = Counter()
        self.charges: Counter[str] = Counter()
        self.rejections = 0
        self._draws = draws
        self._config = config
        self._tasks = tasks
        self._create_task = create_task
        self._public_url = public_url
        self._faults = faults
        self._limiter = limiter
        self._renders = renders or SandboxRenders()
        self._released: asyncio.Event | None = None  # set: hung calls (fail_next(-2)) end
        self._audio_cache: dict[tuple[float, int | None], asyncio.Future[bytes]] = {}
        self._png = make_png()
        self.app = web.Application(middlewares=[self._middleware], client_max_size=1024 * 1024)
        add_get, add_post = self.app.router.add_get, self.app.router.add_post
        add_post(f"{API_PREFIX}/add-instrumental", self._handle_submit)
        add_get(f"{API_PREFIX}/record-info", self._handle_record_info)
        add_get(f"{API_PREFIX}/credit", self._handle_credit)
        add_get("/files/{task_id}/{name}", self._handle_file)
        add_get("/stream/{task_id}/{track_id}", self._handle_stream)

    def open(self) -> None:
        """Start serving: a hung call now waits for ``release_hangs`` (or 60 s)."""
        self._released = asyncio.Event()

    def release_hangs(self) -> None:
        """End every call hung by ``fail_next(-2)``, now and later (on close)."""
        if self._released is not None:
            self._released.set()

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

    async def _inject(self, request: web.Request, endpoint: str, code: int) -> web.Response:
        if code >= 0:
            if endpoint in FILE_ENDPOINTS:
                self.calls[(endpoint, code)] += 1
                return web.Response(status=code if 100 <= code < 600 else 500, text="error")
            return self._answer(request, endpoint, code, CODE_MESSAGES.get(code, "error"))
        self.calls[(endpoint, code)] += 1
        request[_CODE] = code
        return await http_fault(code, self._released)

    async def _api(
        self,
        request: web.Request,
        endpoint: str,
        work: Callable[[web.Request], Awaitable[Result]],
    ) -> web.Response:
        fault = self._faults.take(endpoint)
        if fault is None and self._draws is not None:
            fault = self._draws.answer(endpoint)
        if isinstance(fault, AnswerShape):
            return await self._shaped(request, endpoint, work, fault)
        if fault is not None:
            return await self._inject(request, endpoint, fault)
        return await self._plain(request, endpoint, work)

    async def _shaped(
        self,
        request: web.Request,
        endpoint: str,
        work: Callable[[web.Request], Awaitable[Result]],
        shape: AnswerShape,
    ) -> web.Response:
        self.shaped[(endpoint, shape.kind)] += 1
        if shape.does_work:
            plain = await self._plain(request, endpoint, work)
        else:
            self.calls[(endpoint, -shape.status)] += 1
            request[_CODE] = -shape.status
        if shape.kind == LATE:
            if self._released is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(shape.seconds):
                        await self._released.wait()
            return plain
        if shape.kind == CUT_OFF:
            return cut_off(request)
        return gateway_answer(shape)

    async def _plain(
        self,
        request: web.Request,
        endpoint: str,
        work: Callable[[web.Request], Awaitable[Result]],
    ) -> web.Response:
        cfg = self._config
        key = _bearer(request)
        if cfg.api_key is not None and key != cfg.api_key:
            return self._answer(request, endpoint, 401, "Unauthorized: invalid or missing API key")
        if not self._limiter.allow(key or "", time.monotonic(), cfg.rate_limit, cfg.rate_period):
            self.rejections += 1
            return self._answer(request, endpoint, 430, CODE_MESSAGES[430])
        code, msg, data = await work(request)
        return self._answer(request, endpoint, code, msg, data)

    # --------------------------------------------------------------- API calls

    async def _handle_submit(self, request: web.Request) -> web.Response:
        return await self._api(request, "add-instrumental", self._submit)

    async def _handle_record_info(self, request: web.Request) -> web.Response:
        return await self._api(request, "record-info", self._record_info)

    async def _handle_credit(self, request: web.Request) -> web.Response:
        return await self._api(request, "credit", self._credit)

    async def _submit(self, request: web.Request) -> Result:
        cfg = self._config
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
        self.charges[request_key(body)] += 1
        task = self._create_task(body)
        log.info("accepted task %s (outcome %s)", task.task_id, task.outcome)
        if cfg.submit_answer_delay > 0:
            await asyncio.sleep(cfg.submit_answer_delay)
        return 200, "success", {"taskId": task.task_id}

    async def _record_info(self, request: web.Request) -> Result:
        task_id = request.query.get("taskId", "").strip()
        if not task_id:
            return 400, "taskId is required", None
        task = self._tasks.get(task_id)
        if task is None:
            return 400, "task not found", None
        now = time.monotonic()
        data = render.record_info(task, now, self._public_url(), self._config.record_info_casing)
        return 200, "success", data

    async def _credit(self, request: web.Request) -> Result:
        return 200, "success", self._config.credits

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
        fault = self._faults.take(endpoint)
        if isinstance(fault, AnswerShape):  # a CDN's gateway: only its error page
            self.shaped[(endpoint, fault.kind)] += 1
            return gateway_answer(fault)
        if fault is not None:
            return await self._inject(request, endpoint, fault)
        task = self._tasks.get(task_id)
        index = _ready_track(task, track_id) if task is not None else None
        if task is None or index is None or ext not in ("wav", "png"):
            self.calls[(endpoint, 404)] += 1
            return web.Response(status=404, text="not found")
        self.calls[(endpoint, 200)] += 1
        if ext == "png":
            return web.Response(body=self._png, content_type="image/png")
        body = await self._renders.track(task, index)
        if body is None:
            body = await self._audio(task.audio_seconds, task.audio_pad_bytes)
        return web.Response(body=body, content_type="audio/wav")

    async def _audio(self, seconds: float, pad: int | None) -> bytes:
        """The tone (tasks without a sandbox rendering), generated once per (seconds, pad)
        off the event loop."""
        key = (seconds, pad)
        future = self._audio_cache.get(key)
        if future is None:
            future = asyncio.ensure_future(asyncio.to_thread(make_wav, seconds, pad_to_bytes=pad))
            self._audio_cache[key] = future
        # shield: a client hanging up must not cancel the generation others wait on.
        return await asyncio.shield(future)


def request_key(body: Mapping[str, Any]) -> str:
    """One request's identity: its submitted body (a resubmission sends the same one)."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


def _ready_track(task: SimTask, track_id: str) -> int | None:
    """Index of the task's track ``track_id`` if its audio is ready, else None."""
    now = time.monotonic()
    for index, track in enumerate(task.tracks):
        if track.track_id == track_id and task.has_audio(index, now):
            return index
    return None


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()

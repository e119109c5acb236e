"""The simulator: a local aiohttp server that behaves like the hosted music API
(docs/music-api.md).

Endpoints, envelope, business codes, task progression, callbacks and result files follow
the provider's documented behaviour plus the drift integrators report, with knobs and
fault injection for tests. :class:`Simulator` starts and stops the parts and holds the
test controls; the parts are :mod:`~simulator.routes` (HTTP, checks, files),
:mod:`~simulator.timeline` (tasks and their stages), :mod:`~simulator.callbacks`,
:mod:`~simulator.uploads` and, with ``SimulatorConfig.sandbox``, :mod:`~simulator.renders`
(result tracks rendered from the upload by :mod:`~simulator.sandbox`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Coroutine
from typing import Any

import aiohttp
from aiohttp import web

from simulator.callbacks import CallbackSender
from simulator.config import SimulatorConfig
from simulator.faults import AnswerShape, Draws, FaultQueue
from simulator.ratelimit import RateLimiter
from simulator.renders import SandboxRenders
from simulator.routes import Routes
from simulator.tasks import UPLOAD_PENDING, UPLOAD_SKIPPED, Plan, SimTask, plannable
from simulator.timeline import Timeline
from simulator.uploads import check_upload

log = logging.getLogger(__name__)


class Simulator:
    """The simulated music API; see the module docstring and :class:`SimulatorConfig`.

    Inspection attributes for tests: ``tasks`` (by taskId), ``calls`` (Counter keyed by
    ``(endpoint, code)``; endpoints are add-instrumental, record-info, credit, files,
    stream and unknown; file calls are keyed by HTTP status, injected HTTP-level faults
    by their negative code), ``rejections`` (rate-limit 430s) and ``callbacks_sent``.
    ``config`` is shared by every part: change its fields, not the object.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self._config = config or SimulatorConfig()
        self.base_url = ""
        self._limiter = RateLimiter()
        self._faults = FaultQueue()
        self._background: set[asyncio.Task[Any]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._draws = Draws(lambda: self._config.shapes, self._config.seed)
        self._timeline = Timeline(self._config, self._queue_callback, self._draws)
        self._callbacks = CallbackSender(self._config, self._spawn, self._draws)
        self._renders = SandboxRenders()
        self._routes = Routes(
            self._config,
            self._timeline.tasks,
            # Looked up per call, so a subclass's create_task is used.
            lambda body: self.create_task(body),
            lambda: self.public_url,
            self._faults,
            self._limiter,
            self._renders,
            self._draws,
        )
        self.app = self._routes.app

    # ---------------------------------------------------------------- inspection

    @property
    def config(self) -> SimulatorConfig:
        return self._config

    @property
    def tasks(self) -> dict[str, SimTask]:
        return self._timeline.tasks

    @property
    def calls(self) -> Counter[tuple[str, int]]:
        return self._routes.calls

    @property
    def shaped(self) -> Counter[tuple[str, str]]:
        """Answer shapes served, keyed by ``(endpoint, kind)`` (see simulator/faults.py)."""
        return self._routes.shaped

    @property
    def charges(self) -> Counter[str]:
        """Accepted (charged) submissions per request, keyed by the submitted body
        (``simulator.routes.request_key``): a value above 1 is a request charged twice."""
        return self._routes.charges

    @property
    def replayed_callbacks(self) -> int:
        return self._callbacks.replayed

    @property
    def rejections(self) -> int:
        return self._routes.rejections

    @property
    def callbacks_sent(self) -> list[dict[str, Any]]:
        """One record per callback sent; see :class:`~simulator.callbacks.CallbackSender`."""
        return self._callbacks.sent

    @property
    def public_url(self) -> str:
        """Base of the file URLs handed out (``public_base_url`` or ``base_url``)."""
        return (self._config.public_base_url or self.base_url).rstrip("/")

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: any free port) and return ``base_url``."""
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        self._routes.open()
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
        self._ticker = asyncio.create_task(self._timeline.run())
        log.info("music API simulator listening on %s", self.base_url)
        return self.base_url

    async def close(self) -> None:
        """Stop the server, cancel callbacks and upload checks, close the client session."""
        self._routes.release_hangs()
        pending = [t for t in (self._ticker, *self._background) if t is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._renders.close()
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

    # ------------------------------------------------------------- test controls

    def fail_next(self, code: int, times: int = 1, endpoint: str | None = None) -> None:
        """Make the next ``times`` calls answer ``code`` instead of doing their work.

        Positive codes are business codes in a normal HTTP 200 envelope (for the files
        and stream endpoints: that HTTP status). Negative codes are HTTP-level faults:
        -1 HTTP 200 with an HTML body, -2 hang for 60 s (or until close()), and -N for
        N >= 100 HTTP status N with an HTML body (e.g. -502, -503). ``endpoint`` is one
        of add-instrumental, record-info, credit, files, stream; None means any API
        endpoint (file downloads never consume an endpoint=None fault).
        """
        self._faults.add(code, times, endpoint)

    def end_faults(self) -> None:
        """Drop every fault and shape still queued (the outage is over)."""
        self._faults.clear()

    def shape_next(self, shape: AnswerShape, times: int = 1, endpoint: str | None = None) -> None:
        """Answer the next ``times`` calls (to ``endpoint``; None: any API endpoint) in
        ``shape``, e.g. ``AnswerShape("gateway_json", 504, forwarded=True)``: the
        submission creates and charges its task, then the caller reads a gateway's 504
        with ``{"code": 504, "msg": "Gateway Timeout"}``. Queued with ``fail_next``'s
        faults, earliest first."""
        self._faults.add(shape, times, endpoint)

    def plan_next(
        self,
        *,
        status: str | None = None,
        track_count: int | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
        hollow_answers: int | None = None,
        odd_status: str | None = None,
        odd_answers: int | None = None,
    ) -> None:
        """Set the outcome of the next accepted submission (queued, one per call).

        ``status``: a final status; a status-like word the API does not document (e.g.
        ``GENERATE_LYRICS_FAILED``) is a failure the bot does not know, ending with
        errorCode 531 and a message unless given. ``hollow_answers``: that many SUCCESS
        answers (polls or the complete callback) list the last track without audio.
        ``odd_status``: the next ``odd_answers`` (default 3) record-info answers show this
        status instead of the real one ("" leaves the status out). Wins over ``[sim:…]``
        tags, ``failure_rate`` and the answer shapes' odds.
        """
        if status is not None and not plannable(status):
            raise ValueError(f"status {status!r} is not a status word")
        if track_count not in (None, 1, 2):
            raise ValueError("track_count must be 1 or 2")
        if odd_status is not None and odd_answers is None:
            odd_answers = 3
        plan = Plan(status, track_count, error_code, error_message)
        plan.hollow_answers, plan.odd_status, plan.odd_answers = (
            hollow_answers,
            odd_status,
            odd_answers,
        )
        self._timeline.plan_next(plan)

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
        self._timeline.advance(task)

    async def wait_idle(self) -> None:
        """Wait until no callback delivery or upload check is in flight.

        Callers bound it themselves (``async with asyncio.timeout(5): ...``): a delivery
        to a dead receiver takes up to (retries x timeout) to give up.
        """
        while self._background:
            await asyncio.wait(set(self._background))

    def note_arrivals(self) -> list[float]:
        """From now on, note when each API call reaches the rate limit check
        (`time.monotonic()`), in the list returned: a benchmark compares them with the
        client's departures (the margin its limiter keeps must cover the transit)."""
        arrivals: list[float] = []
        allow = self._limiter.allow

        def noting(key: str, now: float, limit: int, period: float) -> bool:
            arrivals.append(now)
            return allow(key, now, limit, period)

        self._limiter.allow = noting  # type: ignore[method-assign]
        return arrivals

    # ----------------------------------------------------------------- the parts

    def create_task(self, body: dict[str, Any]) -> SimTask:
        """Record an accepted submission and start its upload check (or its stages): what
        an add-instrumental call that passes does. Tests and benchmarks call it to set up a
        large backlog without the HTTP calls; a subclass may override it (to give each
        submission timings of its own)."""
        task = self._timeline.new_task(body)
        if self._config.check_upload and self._session is not None:
            task.fetch = self._spawn(self._check_upload(task, self._session))
        else:
            task.upload_state = UPLOAD_SKIPPED
            self._timeline.advance(task)
        return task

    async def _check_upload(self, task: SimTask, session: aiohttp.ClientSession) -> None:
        await check_upload(session, task, self._config, self._renders.prepare)
        self._timeline.advance(task)

    def _queue_callback(self, task: SimTask, stage: str) -> None:
        if self._session is not None:
            self._callbacks.queue(self._session, task, stage, self.public_url)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator background task failed", exc_info=task.exception())

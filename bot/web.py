"""The bot's HTTP server: the music API's callbacks, `/healthz` and `/metrics`."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from functools import partial

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from bot import metrics
from bot.core.tasks import Lifecycle
from bot.core.tasks.keys import task_of_key
from bot.music import CallbackEvent
from bot.store import Store, TaskState

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64 * 1024  # a callback with two tracks is about 2 KiB
CALLBACK_WORK_TIMEOUT = 5.0  # the API waits 15 s for an answer
STOP_GRACE = 5.0  # seconds callback work in flight gets to finish when the server stops
HEARTBEAT_STALE = 30.0
STORE_CHECK_EVERY = 5.0  # seconds between two store checks, however often /healthz is hit
SECRET_STORE_KEY = "callback_secret"  # noqa: S105 - the kv key, not the secret
NO_CALLBACK_URL = (
    "https://callbacks.invalid/backline"  # the API requires one; .invalid never resolves
)


async def callback_secret(store: Store, configured: str | None) -> str:
    """`CALLBACK_SECRET`, or one generated on first start and kept in the store."""
    if configured:
        return configured
    return await store.set_value_once(SECRET_STORE_KEY, secrets.token_urlsafe(32))


def callback_url(public_base: str | None, secret: str) -> str:
    if not public_base:
        return NO_CALLBACK_URL
    return f"{public_base.rstrip('/')}/callback/{secret}"  # each task adds /<its key>


class WebServer:
    """Runs inside the bot process; started and stopped with it."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        *,
        secret: str,
        gateway_connected: Callable[[], bool],
        host: str = "0.0.0.0",  # noqa: S104 - the API must reach the callbacks
        port: int = 8080,
        metrics_token: str | None = None,
        store_check_every: float = STORE_CHECK_EVERY,
    ) -> None:
        self.lifecycle = lifecycle
        self._secret = secret.encode()
        self._metrics_token = metrics_token.encode() if metrics_token else None
        self.store_check_every = store_check_every
        self._store_check: asyncio.Task[tuple[bool, int | None]] | None = None
        self._store_checked_at = -math.inf
        self._gateway_connected = gateway_connected
        self.host = host
        self.port = port
        self.app = web.Application(client_max_size=MAX_CALLBACK_BYTES)
        self.app.add_routes(
            [
                web.post("/callback/{secret}", self.callback),
                web.post("/callback/{secret}/{key}", self.callback),
                web.get("/healthz", self.healthz),
                web.get("/metrics", self.metrics),
            ]
        )
        self._runner: web.AppRunner | None = None
        # Callback work outlives a request that stopped waiting for it: held here so it
        # is not garbage-collected, and awaited by `stop()`.
        self._work: set[asyncio.Task[str]] = set()

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)  # the access log shows paths
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # tests ask for any free port
            self.port = self._runner.addresses[0][1]
        log.info("HTTP server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening; callback work already started gets `STOP_GRACE` seconds to end.

        Whatever is still running then is cancelled: the store's transactions finish even
        so, and polling learns what the callback would have told.
        """
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._work:
            _, late = await asyncio.wait(set(self._work), timeout=STOP_GRACE)
            for work in late:
                work.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def callback(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["secret"].encode(), self._secret):
            metrics.CALLBACKS.labels("bad_secret").inc()
            raise web.HTTPNotFound()
        # The task's key (tasks submitted before keys existed have none).
        key = request.match_info.get("key")
        task_id = task_of_key(self._secret.decode(), key) if key else None
        if key and task_id is None:
            metrics.CALLBACKS.labels("bad_key").inc()
            raise web.HTTPNotFound()
        try:
            body = await request.read()  # raises 413 past client_max_size
        except web.HTTPRequestEntityTooLarge:
            metrics.CALLBACKS.labels("too_large").inc()
            raise
        try:
            event = CallbackEvent.model_validate(json.loads(body))
        except (ValueError, ValidationError, RecursionError):  # deep nesting: RecursionError
            metrics.CALLBACKS.labels("malformed").inc()
            return web.json_response({"code": 400, "msg": "malformed callback"}, status=400)
        # The work runs as a task of its own and is never cancelled by a slow answer: the
        # request only stops waiting for it (asyncio.wait cancels nothing), so a database
        # write is never cut off half-way.
        work = asyncio.create_task(
            self.lifecycle.handle_callback(event, task_id), name=f"callback {event.task_id}"
        )
        self._work.add(work)
        work.add_done_callback(self._work.discard)
        done, _ = await asyncio.wait({work}, timeout=CALLBACK_WORK_TIMEOUT)
        if not done:
            # Polling covers it, the work still completes, and a 503 lets the API try again.
            metrics.CALLBACKS.labels("timeout").inc()
            work.add_done_callback(partial(_finished_late, event))
            log.warning(
                "callback %s for %s: still working after %.0fs, answered 503",
                event.stage, event.task_id, CALLBACK_WORK_TIMEOUT,
            )  # fmt: skip
            return web.json_response({"code": 503, "msg": "busy"}, status=503)
        outcome = work.result()
        metrics.CALLBACKS.labels(outcome).inc()
        log.info("callback %s for %s: %s", event.stage, event.task_id, outcome)
        return web.json_response({"code": 200, "msg": "ok"})

    async def store_health(self) -> tuple[bool, int | None]:
        """Whether the store can write (and, on PostgreSQL, how many processes beat on it),
        checked at most every `store_check_every` seconds: the check takes the write lock,
        so a flood of /healthz must not. Hits meanwhile share the last answer, or the one
        check in flight."""
        stale = time.monotonic() - self._store_checked_at >= self.store_check_every
        if self._store_check is None or (stale and self._store_check.done()):
            self._store_check = asyncio.create_task(self._check_store())
            self._store_checked_at = time.monotonic()
        return await asyncio.shield(self._store_check)

    async def _check_store(self) -> tuple[bool, int | None]:
        store = self.lifecycle.store
        ok = await store.ping()
        processes = None
        if ok and store.shared:  # PostgreSQL: every process beating on this database
            processes = await store.live_processes(store.leases.beat_stale)
        return ok, processes

    async def healthz(self, request: web.Request) -> web.Response:
        store_ok, processes = await self.store_health()
        checks = {
            "store": store_ok,
            "gateway": self._gateway_connected(),
            "scheduler": self.lifecycle.healthy(HEARTBEAT_STALE),
        }
        failed = [name for name, ok in checks.items() if not ok]
        status = 503 if failed else 200
        body: dict[str, object] = {
            "ok": not failed,
            "checks": checks,
            "failed": failed,
            "database": self.lifecycle.store.dialect.name,
        }
        if processes is not None:
            body["processes"] = processes
        return web.json_response(body, status=status)

    async def metrics(self, request: web.Request) -> web.Response:
        if self._metrics_token is not None:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").encode()
            if not hmac.compare_digest(given, self._metrics_token):
                raise web.HTTPNotFound()  # as if there were none: nothing to probe
        # Kept counts (one row per state), not a scan of the tasks table per scrape.
        counts = await self.lifecycle.store.count_by_state()
        for state in TaskState:
            metrics.TASKS.labels(state).set(counts.get(state, 0))
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _finished_late(event: CallbackEvent, work: asyncio.Task[str]) -> None:
    """The end of callback work its request stopped waiting for: nobody else hears of it."""
    if work.cancelled():
        log.warning("callback %s for %s: cancelled at shutdown", event.stage, event.task_id)
    elif (error := work.exception()) is not None:
        log.error("callback %s for %s failed", event.stage, event.task_id, exc_info=error)
    else:
        log.info(
            "callback %s for %s (after its 503): %s", event.stage, event.task_id, work.result()
        )

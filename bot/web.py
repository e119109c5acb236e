"""The bot's HTTP server: the music API's callbacks, `/healthz` and `/metrics`."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from bot import metrics
from bot.core.tasks import Lifecycle
from bot.core.tasks.keys import task_of_key
from bot.music import CallbackEvent
from bot.store import Store

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64 * 1024  # a callback with two tracks is about 2 KiB
CALLBACK_WORK_TIMEOUT = 5.0  # the API waits 15 s for an answer
HEARTBEAT_STALE = 30.0
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
    ) -> None:
        self.lifecycle = lifecycle
        self._secret = secret.encode()
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

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)  # the access log shows paths
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # tests ask for any free port
            self.port = self._runner.addresses[0][1]
        log.info("HTTP server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

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
        except (ValueError, ValidationError):
            metrics.CALLBACKS.labels("malformed").inc()
            return web.json_response({"code": 400, "msg": "malformed callback"}, status=400)
        try:
            outcome = await asyncio.wait_for(
                self.lifecycle.handle_callback(event, task_id), CALLBACK_WORK_TIMEOUT
            )
        except TimeoutError:
            # Polling covers it; a 503 lets the API try again meanwhile.
            metrics.CALLBACKS.labels("timeout").inc()
            return web.json_response({"code": 503, "msg": "busy"}, status=503)
        metrics.CALLBACKS.labels(outcome).inc()
        log.info("callback %s for %s: %s", event.stage, event.task_id, outcome)
        return web.json_response({"code": 200, "msg": "ok"})

    async def health(self) -> dict[str, bool]:
        return {
            "store": await self.lifecycle.store.ping(),
            "gateway": self._gateway_connected(),
            "scheduler": self.lifecycle.healthy(HEARTBEAT_STALE),
        }

    async def healthz(self, request: web.Request) -> web.Response:
        checks = await self.health()
        failed = [name for name, ok in checks.items() if not ok]
        status = 503 if failed else 200
        return web.json_response(
            {"ok": not failed, "checks": checks, "failed": failed}, status=status
        )

    async def metrics(self, request: web.Request) -> web.Response:
        counts = await self.lifecycle.store.count_by_state()
        for state in ("queued", "submitting", "following", "done", "failed"):
            metrics.TASKS.labels(state).set(counts.get(state, 0))
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

"""The task service with its web server (callbacks on unless asked), as a bot process
runs it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.core.tasks import Lifecycle, PollSchedule
from bot.music import MusicClient
from bot.store import Store
from bot.web import WebServer, callback_url
from tests.support.port import MemoryPort

SECRET = "s3cret-path-token-0123456789"

# Polls are slow on purpose: a task that completes quickly did so from callbacks.
CALLBACK_SCHEDULE = PollSchedule(
    first_check=5.0, max_gap=5.0, callback_interval=5.0, retry_base=0.01, retry_cap=0.05
)


@dataclass
class Rig:
    service: Lifecycle
    web: WebServer
    port: MemoryPort
    base: str

    @property
    def url(self) -> str:
        return f"{self.base}/callback/{SECRET}"

    @property
    def store(self) -> Store:
        return self.service.store


@contextlib.asynccontextmanager
async def open_rig(
    db_path: Path,
    music: MusicClient,
    *,
    schedule: PollSchedule = CALLBACK_SCHEDULE,
    task_timeout: float = 20 * 60.0,
    web_port: int = 0,
    start: bool = True,
    callbacks: bool = True,
    clock: Callable[[], float] | None = None,
    port: MemoryPort | None = None,
    task_cost: float = 0.0,
    notices: Callable[[str], None] | None = None,
) -> AsyncIterator[Rig]:
    """A fresh process on `db_path`; `web_port` lets a restarted one listen where the
    API's callbacks for the previous one go, and `port` hands it the previous one's
    Discord (what was posted stays posted)."""
    store = await Store.open(db_path)
    port = port or MemoryPort()
    service = Lifecycle(
        store,
        music,
        callback_url="",
        callback_secret=SECRET,
        schedule=schedule,
        task_timeout=task_timeout,
        callbacks_enabled=callbacks,
        clock=clock,
        task_cost=task_cost,
        notices=notices,
        port=port,
    )
    web = WebServer(
        service, secret=SECRET, gateway_connected=lambda: True, host="127.0.0.1", port=web_port
    )
    await web.start()
    base = f"http://127.0.0.1:{web.port}"
    service.callback_url = callback_url(base if callbacks else None, SECRET)
    try:
        if start:
            await service.resume()
        yield Rig(service, web, port, base)
    finally:
        await service.stop()
        await web.stop()
        await store.close()

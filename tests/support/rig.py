"""The core with its web server (callbacks on unless asked), built by the bot's own
factory (`Services.build`) on the core's ports kept in memory, as a bot process runs it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.core.tasks import Lifecycle, PollSchedule
from bot.music import MusicClient
from bot.services import Ports, Services
from bot.settings import load_settings
from bot.store import Store
from bot.web import WebServer, callback_url
from tests.support.port import MemoryModLog, MemoryPort, NoJams

SECRET = "s3cret-path-token-0123456789"

# Polls are slow on purpose: a task that completes quickly did so from callbacks.
CALLBACK_SCHEDULE = PollSchedule(
    first_check=5.0, max_gap=5.0, callback_interval=5.0, retry_base=0.01, retry_cap=0.05
)


@dataclass
class Rig:
    services: Services
    port: MemoryPort
    mod_log: MemoryModLog
    base: str

    @property
    def service(self) -> Lifecycle:
        return self.services.lifecycle

    @property
    def web(self) -> WebServer:
        return self.services.web

    @property
    def url(self) -> str:
        return f"{self.base}/callback/{SECRET}"

    @property
    def store(self) -> Store:
        return self.services.store


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
) -> AsyncIterator[Rig]:
    """A fresh process on `db_path`; `web_port` lets a restarted one listen where the
    API's callbacks for the previous one go, and `port` hands it the previous one's
    Discord (what was posted stays posted). `start`: recover and run the task loops (the
    credit and jam loops are left to tests that want them)."""
    settings = load_settings(
        _env_file=None,
        discord_token="the-rig-has-no-discord",
        suno_api_base_url="http://127.0.0.1:9",  # unused: `music` is handed in
        database_url=f"sqlite:///{db_path}",
        callback_host="127.0.0.1",
        callback_port=web_port,
        # The port is known once the server listens: the callback URL is set below.
        callback_public_url="http://127.0.0.1" if callbacks else None,
        callback_secret=SECRET,
        task_timeout=task_timeout,
        suno_credits_per_task=task_cost,
    )
    port, mod_log = port or MemoryPort(), MemoryModLog()
    ports = Ports(delivery=port, jams=NoJams(), mod_log=mod_log)
    store = await Store.open(db_path)
    try:
        services = await Services.build(
            settings, music, schedule, ports, store, lambda: True, clock=clock
        )
    except BaseException:
        await store.close()
        raise
    await services.web.start()
    base = f"http://127.0.0.1:{services.web.port}"
    services.lifecycle.callback_url = callback_url(base if callbacks else None, SECRET)
    try:
        if start:
            await services.lifecycle.resume()
        yield Rig(services, port, mod_log, base)
    finally:
        await services.close()

"""Shared fixtures: the built-in simulator over real HTTP, a real SQLite file, the client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.lifecycle import PollSchedule
from bot.music import MusicClient, RateLimiter
from bot.settings import Settings, load_settings
from bot.simulator import Simulator, SimulatorConfig
from bot.store import Store

# The Discord side (simcord, the bot, a CDN for attachments) for tests of bot/app and cogs/.
pytest_plugins = ["tests.harness"]

API_KEY = "test-key-0123456789abcdef"

# Seconds instead of minutes: text 0.1 s, first 0.2 s, complete 0.3 s after submission.
FAST = {"text_delay": 0.1, "first_delay": 0.2, "complete_delay": 0.3}
# The production schedule's shape at 1/200 of its scale (first check after 0.175 s).
FAST_SCHEDULE = PollSchedule().scaled(1 / 200)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(SimulatorConfig(api_key=API_KEY, seed=7, audio_seconds=1.0, **FAST))
    await sim.start()
    yield sim
    await sim.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def make_client(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    limit: int = 20,
    period: float = 10.0,
    timeout: float = 2.0,
    max_retries: int = 2,
    api_key: str | None = API_KEY,
    margin: float = 0.05,
) -> MusicClient:
    from pydantic import SecretStr

    return MusicClient(
        session,
        base_url=base_url,
        api_key=SecretStr(api_key) if api_key else None,
        # The margin absorbs jitter between our departures and the simulator's arrivals,
        # which is larger on a loaded machine running both in one process.
        limiter=RateLimiter(limit, period, margin=margin),
        timeout=timeout,
        max_retries=max_retries,
        backoff=0.01,
        allowed_models=("V4_5PLUS", "V5"),
    )


@pytest.fixture
def music(session: aiohttp.ClientSession, simulator: Simulator) -> MusicClient:
    return make_client(session, simulator.base_url)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "backline.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(db_path)
    yield opened
    await opened.close()


@pytest.fixture
def settings(simulator: Simulator, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(db_path.parent.parent)  # no stray .env from the developer's checkout
    return load_settings(
        discord_token="test-discord-token",
        suno_api_key=API_KEY,
        suno_api_base_url=simulator.base_url,
        database_url=f"sqlite:///{db_path}",
        callback_port=0,
        callback_host="127.0.0.1",
    )


@pytest.fixture
async def uploads() -> AsyncIterator[str]:
    """A local file host standing in for Discord's CDN: `/voice.wav` (audio), `/notes.txt`."""
    from aiohttp import web

    from bot.audio import make_wav

    wav = make_wav(12.0)

    async def voice(_: web.Request) -> web.Response:
        return web.Response(body=wav, content_type="audio/wav")

    async def notes(_: web.Request) -> web.Response:
        return web.Response(text="not audio")

    app = web.Application()
    app.router.add_get("/voice.wav", voice)
    app.router.add_get("/notes.txt", notes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()

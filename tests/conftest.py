"""Shared fixtures: the built-in simulator over real HTTP, a real SQLite file, the client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.core.tasks import PollSchedule
from bot.music import MusicClient
from bot.settings import Settings, load_settings
from bot.store import PgStore, Store
from simulator import Simulator, SimulatorConfig
from tests.support.factories import API_KEY, make_client
from tests.support.postgres import drop_database, fresh_postgres
from tests.support.recordings import Takes, make_takes
from tests.support.servers import serve_files

# The Discord side (simcord, the bot, a CDN for attachments) for tests of bot/app and cogs/.
pytest_plugins = ["tests.harness"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drops the PostgreSQL database this run created (tests/support/postgres.py)."""
    asyncio.run(drop_database())


# Seconds instead of minutes: text 0.1 s, first 0.2 s, complete 0.3 s after submission.
FAST = {"text_delay": 0.1, "first_delay": 0.2, "complete_delay": 0.3}
# The production schedule's shape at 1/200 of its scale (first check after 0.175 s).
FAST_SCHEDULE = PollSchedule().scaled(1 / 200)


@pytest.fixture(scope="session")
def takes() -> Takes:
    """Real recordings (voice message, phone takes, lying files), encoded once per run."""
    return make_takes()


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


@pytest.fixture(params=["sqlite", "postgresql"])
async def each_store(request: pytest.FixtureRequest, db_path: Path) -> AsyncIterator[Store]:
    """The store on each engine: SQLite (a temporary file) and PostgreSQL (a fresh schema
    of the test database; see tests/support/postgres.py)."""
    if request.param == "sqlite":
        opened = await Store.open(db_path)
    else:
        opened = await PgStore.open(await fresh_postgres())
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
    from simulator.media import make_wav

    files = {
        "/voice.wav": (make_wav(12.0), "audio/wav"),
        "/notes.txt": (b"not audio", "text/plain"),
    }
    async with serve_files(files) as base_url:
        yield base_url

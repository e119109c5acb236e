"""The playground: the real bot in an in-memory Discord, served on loopback, no token."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from playground import Playground
from playground.demos import demo_recordings
from simulator import SimulatorConfig
from tests.conftest import FAST, FAST_SCHEDULE
from tests.harness import bot_messages
from tests.support.faults import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def playground(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Playground]:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    for name in ("DISCORD_TOKEN", "SUNO_API_KEY", "SUNO_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    pg = Playground(
        data_dir=tmp_path / "playground",
        port=free_port(),
        simulator_config=SimulatorConfig(audio_seconds=1.0, **FAST),
        schedule=FAST_SCHEDULE,
    )
    await pg.start()
    try:
        yield pg
    finally:
        await pg.stop()


async def test_one_request_in_the_playground(playground: Playground) -> None:
    url = playground.url
    assert url.startswith(f"http://127.0.0.1:{playground.port}/#")
    async with aiohttp.ClientSession() as http, http.get(url.split("#")[0]) as page:
        assert page.status == 200 and "text/html" in page.content_type
    assert playground.settings is not None
    assert playground.settings.database_path == playground.data_dir / "playground.db"
    assert playground.simulator is not None  # no key: the built-in simulator

    name, demo = demo_recordings()[0]
    assert (playground.data_dir / name).read_bytes() == demo  # to attach from disk too
    r = await playground.you.slash(playground.channel, "instrumental", audio=(name, demo))
    assert r.response.content.startswith("Got it! Follow along in <#")
    [thread] = playground.channel.threads
    bot = playground.bot
    assert bot is not None

    def tracks() -> list:
        return [m for m in bot_messages(thread, bot) if m.content.endswith("is ready.")]

    posted = await wait_until(lambda: len(tracks()) == 2 and tracks(), timeout=20)
    assert all(p.attachments for p in posted)


def test_demo_recordings_are_real_audio() -> None:
    demos = demo_recordings()
    assert len(demos) >= 2
    for name, data in demos:
        with wave.open(io.BytesIO(data)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
        assert name.endswith(".wav") and 5 <= seconds <= 30


def test_python_m_bot_without_a_token_starts_the_playground(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SUNO_"))}
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--port", str(port)],
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(
            "backline playground (no DISCORD_TOKEN is set; music API: the built-in"
        )
        assert f"open http://127.0.0.1:{port}/#" in line
        assert (tmp_path / "data" / "playground" / "playground.db").exists()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert "Traceback" not in (process.stderr.read() if process.stderr else "")

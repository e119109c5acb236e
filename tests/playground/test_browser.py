"""The playground in a real browser: Debian's Chromium driven by Playwright, as a visitor
would use it (`playground/tour.py`, which the README's screenshot takes too)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from playground import Playground
from playground.demos import demo_recordings
from playground.tour import CHROMIUM, browser, request_and_listen, reroll_and_menu
from simulator import SimulatorConfig
from tests.conftest import FAST_SCHEDULE


@pytest.fixture
async def sandboxed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Playground]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium; scripts/test does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: CI must run the browser test")
        pytest.skip(reason)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    for name in ("DISCORD_TOKEN", "SUNO_API_KEY", "SUNO_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # The sandbox engine (tracks as long as the input), with quick stages.
    config = SimulatorConfig(text_delay=0.2, first_delay=0.5, complete_delay=1.0, sandbox=True)
    pg = Playground(data_dir=tmp_path / "pg", simulator_config=config, schedule=FAST_SCHEDULE)
    await pg.start()
    try:
        yield pg
    finally:
        await pg.stop()


@pytest.mark.timeout(240)
async def test_a_visitor_hears_the_tracks_rerolls_and_opens_the_menu(
    sandboxed: Playground,
) -> None:
    name, wav = demo_recordings()[0]
    async with browser(sandboxed.url) as visit:
        await request_and_listen(visit, name, wav)
        assert visit.played_seconds > 0.3  # the demo's player played
        assert visit.thread_tracks == 2
        assert visit.track_seconds == pytest.approx(visit.input_seconds, abs=0.05)
        await reroll_and_menu(visit)
        assert visit.rerolled
        assert visit.menu_form == "Add instrumental"
        assert visit.console_errors == []

"""No secret reaches the logs, even at DEBUG: one whole request through the real bot in
simcord, with callbacks from the API to the bot's own web server, every record captured."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest

from bot.__main__ import SECRET_LOGGERS, setup_logging
from bot.settings import Settings, load_settings
from bot.web import SECRET_STORE_KEY
from simulator import Simulator
from tests.harness import WAV, Harness, World
from tests.support.factories import API_KEY
from tests.support.faults import free_port
from tests.support.waiting import wait_until


class Everything(logging.Handler):
    """Keeps every record that reaches the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def debug_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Everything]:
    """The bot's own logging set-up at DEBUG, for the whole test (bot set-up included);
    every level and handler it touches is put back afterwards."""
    root = logging.getLogger()
    touched = [root, *(logging.getLogger(name) for name in SECRET_LOGGERS)]
    levels = [(logger, logger.level) for logger in touched]
    handlers = list(root.handlers)
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", discord.VoiceClient.warn_nacl)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", discord.VoiceClient.warn_dave)
    everything = Everything()
    setup_logging("DEBUG")
    # basicConfig leaves the root logger alone when pytest's capture handlers are on it.
    root.setLevel(logging.DEBUG)
    root.addHandler(everything)
    try:
        yield everything
    finally:
        root.handlers[:] = handlers
        for logger, level in levels:
            logger.setLevel(level)


@pytest.fixture
def settings(
    debug_logs: Everything, simulator: Simulator, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Callbacks on, to the bot's own web server (on a port chosen here, so the bot builds
    its callback URL from its settings as in production)."""
    monkeypatch.chdir(db_path.parent.parent)  # no stray .env
    port = free_port()
    return load_settings(
        discord_token="test-discord-token-5f2c9d1e",
        suno_api_key=API_KEY,
        suno_api_base_url=simulator.base_url,
        database_url=f"sqlite:///{db_path}",
        callback_public_url=f"http://127.0.0.1:{port}",
        callback_host="127.0.0.1",
        callback_port=port,
    )


def leaks(records: list[logging.LogRecord], secrets: dict[str, str]) -> list[str]:
    found = []
    for record in records:
        texts = [record.getMessage(), repr(record.args), record.exc_text or ""]
        if record.exc_info and record.exc_info[1] is not None:
            texts.append(repr(record.exc_info[1]))
        for name, secret in secrets.items():
            if any(secret in text for text in texts):
                found.append(f"{name} in {record.name}: {record.getMessage()[:200]}")
    return found


async def test_a_request_at_debug_logs_no_secret(
    debug_logs: Everything, harness: Harness, world: World
) -> None:
    bot = harness.bot
    assert bot.web is not None
    await bot.web.start()  # the harness runs without background services
    harness.start_lifecycle()
    assert bot.lifecycle.api.callbacks_enabled

    result = await world.alice.slash(world.channel, "instrumental", audio=("take.wav", WAV))
    assert result.response.content.startswith("Got it!")

    async def delivered() -> bool:
        [task] = await harness.tasks(world.alice.id)
        tracks = await bot.store.tracks_for_task(task.id)
        return len(tracks) == 2 and all(t.delivery == "delivered" for t in tracks)

    await wait_until(delivered)
    [task] = await harness.tasks(world.alice.id)
    assert task.callback_at is not None  # the API's callbacks reached the bot
    assert any(c["delivered"] for c in harness.simulator.callbacks_sent)

    callback_secret = await bot.store.get_value(SECRET_STORE_KEY)
    assert callback_secret
    secrets = {
        "discord token": harness.settings.discord_token.get_secret_value(),
        "discord token in use": bot.http.token or "",
        "api key": API_KEY,
        "callback secret": callback_secret,
    }
    tokens = list(harness.env.backend.interaction_tokens)
    assert tokens
    secrets.update({f"interaction token {n}": token for n, token in enumerate(tokens)})
    records = debug_logs.records
    assert any(r.levelno == logging.DEBUG for r in records)  # DEBUG really was on
    assert any(r.name.startswith("bot.web") for r in records)
    assert leaks(records, secrets) == []

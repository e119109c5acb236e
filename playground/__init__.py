"""The playground: the real bot (same cogs, intake, task core, store) in an in-memory
Discord, shown in a local web page, with the built-in simulator as the music API.

Nothing to set up: no Discord application, no token, no key. `python -m bot --playground`
starts it (and `python -m bot` does when no `DISCORD_TOKEN` is configured). The Discord is
simcord's engine; the page (`page.py`, `static/`) shows the channel and its threads, every
attachment as a player, embeds, buttons, forms, the message menu and ephemeral replies,
updating as the bot edits and posts. Everything listens on 127.0.0.1 only, behind the
session's secret; its database is a file of its own.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import discord
import simcord
import simcord.backend.cdn
from simcord._clock import Clock

from bot.app import Backline, build_music_client
from bot.core.tasks import PollSchedule
from bot.invite import INVITE_PERMISSIONS
from bot.settings import SettingError, Settings, load_settings
from playground.demos import demo_recordings
from playground.page import HOST, Page
from simulator import Simulator, SimulatorConfig
from simulator.config import FAST_DELAYS

log = logging.getLogger(__name__)

# The simulator's stages come at 5, 15 and 25 s where the real API takes about 30, 90 and
# 150 s: the bot's poll schedule is scaled alike, so results show up as they are ready.
SIMULATOR_SPEED = 1 / 6
NO_TOKEN = "playground-needs-no-token"  # noqa: S105 - simcord's Discord takes any
DATA_DIR = Path("data/playground")
BOT_NAME = "backline"
SETTLE_SECONDS = 60.0
WELCOME = (
    "👋 This is backline's playground: the real bot in a Discord that lives in this page. "
    "Play a demo below, then type `/instrumental`, attach it (or a recording of yours), pick "
    "a style, and watch the card, the thread and the tracks. The ⋯ menu of a message with "
    "audio (or a right-click) → **Add instrumental** works too."
)
HOSTED_API_REFUSED = (
    "SUNO_API_KEY is set, but the playground keeps recordings on this machine (127.0.0.1), "
    "where the hosted music API cannot fetch them; unset SUNO_API_KEY to use the built-in "
    "simulator, or run the bot in Discord with a DISCORD_TOKEN"
)


class WallClock(Clock):
    """simcord's clock on the wall's time: message times, the bot's `<t:…>` stamps and the
    page all read one clock (simcord's own starts at 1 Jan 2026)."""

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.elapsed)


@dataclass
class Playground:
    """Start with `await start()`, stop with `await stop()`; `url` is the page's address
    (it carries a secret: whoever has it can drive the session)."""

    data_dir: Path = DATA_DIR
    port: int | None = None  # the page's port; None: any free one
    fresh: bool = False  # wipe the playground's database first
    simulator_config: SimulatorConfig | None = None
    schedule: PollSchedule | None = None  # None: scaled to the simulator's quicker stages
    overrides: Mapping[str, Any] = field(default_factory=dict)  # settings, for tests
    url: str = ""
    settings: Settings | None = None
    bot: Backline | None = None
    env: simcord.Env | None = None
    guild: Any = None
    you: Any = None  # the visitor, a member with Manage Server (so /config works too)
    channel: Any = None
    simulator: Simulator | None = None
    page: Page | None = None
    demos: list[tuple[str, bytes]] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None
    _cdn_before: str | None = None

    async def start(self) -> str:
        refuse_hosted_api(self.overrides)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        database = self.data_dir / "playground.db"
        if self.fresh:
            for path in self.data_dir.glob("playground.db*"):
                path.unlink()
        # The page's server first: attachment URLs point at it (behind its secret).
        self.page = Page(self)
        await self.page.start(self.port)
        self._cdn_before = simcord.backend.cdn.CDN_BASE  # simcord's is module-wide
        simcord.backend.cdn.CDN_BASE = self.page.cdn_base
        # The built-in music API, in process, behind a key of this session's own; nothing
        # calls the bot back (it has no public address here), so no callbacks are attempted.
        key = secrets.token_urlsafe(24)
        config = self.simulator_config or _sandbox_config()
        config.api_key, config.send_callbacks = key, False
        self.simulator = Simulator(config)
        base_url = await self.simulator.start(HOST, 0)
        self.settings = load_settings(
            **{
                "discord_token": NO_TOKEN,
                "database_url": f"sqlite:///{database}",
                "callback_host": HOST,
                "callback_port": 0,
                "callback_public_url": None,
                "dev_guild_id": None,
                **self.overrides,
                "suno_api_base_url": base_url,
                "suno_api_key": key,
            }
        )
        self._session = aiohttp.ClientSession()
        settings = self.settings
        music = build_music_client(settings, self._session)
        # Loops start below, outside simcord's dispatch: it waits for what a dispatch starts
        # to settle, and the scheduler never does. No HTTP server: nothing calls back.
        schedule = self.schedule or PollSchedule().scaled(SIMULATOR_SPEED)
        self.bot = Backline(
            settings=settings,
            session=self._session,
            music=music,
            schedule=schedule,
            run_background=False,
        )
        # A visitor's own recording (up to 25 MB) is read and checked before the bot
        # answers: on a slow machine that is more than simcord's default 5 s.
        self.env = simcord.Env(self.bot, settle_timeout=SETTLE_SECONDS)
        self.env.backend.clock = WallClock()
        self.env.backend.bot_user.name = BOT_NAME
        await self.env.start()
        self.bot.lifecycle.start()
        self.bot.credit_watch.start()
        self.bot.jams.start()
        self.guild = self.env.create_guild(name="backline playground")
        # The bot holds what the README's invite asks for, as in a server that added it so
        # (simcord's default is everything but administrator).
        backend = self.env.backend
        for role_id in backend.get_member(self.guild.id, backend.bot_user.id).role_ids:
            backend.edit_role(self.guild.id, role_id, {"permissions": INVITE_PERMISSIONS.value})
        self.channel = self.guild.create_text_channel("studio")
        mods = self.guild.create_role(
            "Moderators", permissions=discord.Permissions(manage_guild=True)
        )
        self.you = self.guild.add_member(self.env.create_user("you"), roles=[mods])
        demo = self.guild.add_member(self.env.create_user("demo recordings"))
        self.demos = await asyncio.to_thread(demo_recordings)
        for name, data in self.demos:
            (self.data_dir / name).write_bytes(data)
        await demo.send(self.channel, WELCOME, attachments=self.demos)
        self.url = self.page.url
        return self.url

    async def wait(self) -> None:
        """Until the visitor ends the session in the page (or the process is stopped)."""
        assert self.page is not None
        await self.page.closed.wait()

    async def stop(self) -> None:
        if self.page is not None:
            await self.page.close()
        if self.env is not None:
            await self.env.shutdown()
        if self.bot is not None:
            await self.bot.close()
        if self._session is not None:
            await self._session.close()
        if self.simulator is not None:
            await self.simulator.close()
        if self._cdn_before is not None:
            simcord.backend.cdn.CDN_BASE, self._cdn_before = self._cdn_before, None


def refuse_hosted_api(overrides: Mapping[str, Any]) -> None:
    """With a key for the hosted API the playground would send it loopback URLs of the
    recordings, which it cannot fetch (a failed, maybe charged, task): refused."""
    base = {"discord_token": NO_TOKEN, **overrides}
    # Read with a local API address first: without a key the hosted default is invalid.
    probe = load_settings(**{**base, "suno_api_base_url": "http://127.0.0.1:9"})
    if probe.suno_api_key is None:
        return
    if not load_settings(**base).uses_local_api:
        raise SettingError(HOSTED_API_REFUSED)


def _sandbox_config() -> SimulatorConfig:
    """The simulator as `python -m simulator` runs it: stages after 5, 15 and 25 seconds."""
    config = SimulatorConfig()
    config.text_delay, config.first_delay, config.complete_delay = FAST_DELAYS
    config.sandbox = True  # accompaniments of the input instead of a test tone
    return config


async def run(*, port: int | None, fresh: bool, reason: str) -> None:
    """Runs until the visitor ends the session in the page, or SIGINT (Ctrl-C) / SIGTERM;
    either way one line says so."""
    playground = Playground(port=port, fresh=fresh)
    ended_by: list[str] = []
    loop = asyncio.get_running_loop()

    def stop(signum: signal.Signals) -> None:
        ended_by.append(signum.name)
        if playground.page is not None:
            playground.page.closed.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        url = await playground.start()
        line = f"backline playground ({reason}; music API: the built-in simulator): open {url}"
        print(line, flush=True)
        if not ended_by:  # a signal during start-up ends it at once
            await playground.wait()
        why = f"{ended_by[0]} received" if ended_by else "the session was ended in the page"
        print(f"backline playground: {why}; stopped", flush=True)
    finally:
        await playground.stop()

"""The playground: the real bot (same cogs, intake, task core, store) in an in-memory
Discord, shown in a local web page, with the built-in simulator as the music API.

Nothing to set up: no Discord application, no token, no key. `python -m bot --playground`
starts it (and `python -m bot` does when no `DISCORD_TOKEN` is configured). The Discord is
simcord's; its `preview` renders the channel with a composer where the visitor types
`/instrumental`, attaches a recording and watches the card, the thread and the tracks.
Everything listens on 127.0.0.1 only; its database is a file of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
import discord
import simcord
import simcord.backend.cdn
from aiohttp import web

from bot.app import Backline, build_music_client
from bot.core.tasks import PollSchedule
from bot.settings import Settings, load_settings
from playground.demos import demo_recordings
from simulator import Simulator, SimulatorConfig
from simulator.config import FAST_DELAYS

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# The simulator's stages come at 5, 15 and 25 s where the real API takes about 30, 90 and
# 150 s: the bot's poll schedule is scaled alike, so results show up as they are ready.
SIMULATOR_SPEED = 1 / 6
NO_TOKEN = "playground-needs-no-token"  # noqa: S105 - simcord's Discord takes any
DATA_DIR = Path("data/playground")
WELCOME = (
    "👋 This is backline's playground: the real bot in a Discord that lives in this page. "
    "Type `/instrumental`, attach a recording (a demo below, or one of yours), pick a style, "
    "and watch the card, the thread and the tracks. Right-click a message with audio → "
    "Apps → **Add instrumental** works too."
)


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
    you: Any = None  # the visitor, a member with Manage Server (so /config works too)
    channel: Any = None
    simulator: Simulator | None = None
    _session: aiohttp.ClientSession | None = None
    _cdn: web.AppRunner | None = None
    _preview: Any = None

    async def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        database = self.data_dir / "playground.db"
        if self.fresh:
            for path in self.data_dir.glob("playground.db*"):
                path.unlink()
        api: dict[str, Any] = {}
        # Is a key configured? (Read with a local API address: without a key the hosted
        # default does not validate.)
        base = {"discord_token": NO_TOKEN, **self.overrides}
        probe = load_settings(**{**base, "suno_api_base_url": "http://127.0.0.1:9"})
        given = load_settings(**base) if probe.suno_api_key is not None else probe
        if given.suno_api_key is None or given.uses_local_api:
            self.simulator = Simulator(self.simulator_config or _sandbox_config())
            api["suno_api_base_url"] = await self.simulator.start(HOST, 0)
        else:
            log.warning(
                "SUNO_API_KEY is set: the playground uses the real music API at %s, and every "
                "request spends credits",
                given.api_base_url,
            )
        await self._start_cdn()
        self.settings = load_settings(
            **{
                "discord_token": NO_TOKEN,
                "database_url": f"sqlite:///{database}",
                "callback_host": HOST,
                "callback_port": 0,
                "callback_public_url": None,
                "dev_guild_id": None,
                **api,
                **self.overrides,
            }
        )
        self._session = aiohttp.ClientSession()
        settings = self.settings
        music = build_music_client(settings, self._session)
        # Loops start below, outside simcord's dispatch: it waits for what a dispatch starts
        # to settle, and the scheduler never does. No HTTP server: nothing calls back.
        schedule = self.schedule
        if schedule is None and self.simulator is not None:
            schedule = PollSchedule().scaled(SIMULATOR_SPEED)
        self.bot = Backline(
            settings=settings,
            session=self._session,
            music=music,
            schedule=schedule,
            run_background=False,
        )
        self.env = simcord.Env(self.bot)
        await self.env.start()
        self.bot.lifecycle.start()
        self.bot.credit_watch.start()
        self.bot.jams.start()
        guild = self.env.create_guild(name="backline playground")
        self.channel = guild.create_text_channel("studio")
        mods = guild.create_role("Moderators", permissions=discord.Permissions(manage_guild=True))
        self.you = guild.add_member(self.env.create_user("you"), roles=[mods])
        demo = guild.add_member(self.env.create_user("demo recordings"))
        demos = await asyncio.to_thread(demo_recordings)
        for name, data in demos:
            (self.data_dir / name).write_bytes(data)
        await demo.send(self.channel, WELCOME, attachments=demos)
        self._preview = self.env.preview(
            self.channel, viewers=[self.you], layout="channel", port=self.port
        )
        await self._preview.__aenter__()
        self.url = str(self._preview.url)
        return self.url

    async def wait(self) -> None:
        """Until the visitor ends the session in the page (or the process is stopped)."""
        await self._preview.wait_closed()

    async def stop(self) -> None:
        if self._preview is not None:
            await self._preview.close()
        if self.env is not None:
            await self.env.shutdown()
        if self.bot is not None:
            await self.bot.close()
        if self._session is not None:
            await self._session.close()
        if self.simulator is not None:
            await self.simulator.close()
        if self._cdn is not None:
            await self._cdn.cleanup()

    async def _start_cdn(self) -> None:
        """simcord keeps attachments in memory; the music API (the simulator) fetches the
        recording by URL, so they are served on loopback and simcord hands out those URLs."""

        async def blob(request: web.Request) -> web.Response:
            data = self.env.backend.cdn.get(unquote(str(request.url))) if self.env else None
            if data is None:
                return web.Response(status=404)
            return web.Response(body=data, content_type="application/octet-stream")

        app = web.Application()
        app.router.add_get("/{tail:.*}", blob)
        self._cdn = web.AppRunner(app, access_log=None)
        await self._cdn.setup()
        await web.TCPSite(self._cdn, HOST, 0).start()
        host, port = self._cdn.addresses[0][:2]
        simcord.backend.cdn.CDN_BASE = f"http://{host}:{port}"


def _sandbox_config() -> SimulatorConfig:
    """The simulator as `python -m simulator` runs it: stages after 5, 15 and 25 seconds."""
    config = SimulatorConfig()
    config.text_delay, config.first_delay, config.complete_delay = FAST_DELAYS
    config.sandbox = True  # accompaniments of the input instead of a test tone
    return config


async def run(*, port: int | None, fresh: bool, reason: str) -> None:
    playground = Playground(port=port, fresh=fresh)
    try:
        url = await playground.start()
        api = "the built-in simulator" if playground.simulator else "the REAL music API"
        print(f"backline playground ({reason}; music API: {api}): open {url}", flush=True)
        await playground.wait()
    finally:
        await playground.stop()

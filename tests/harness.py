"""Discord-side fixtures for the bot/app and cogs tests: the real bot class in simcord,
the simulator over HTTP, a real SQLite file.

The lifecycle's scheduler is started from test context (not from `setup_hook`), so simcord's
settlement ignores it and it runs in real time; tests poll for its effects with
`tests.support.waiting.wait_until`. Attachment URLs point at a local server that serves
simcord's CDN blobs, so the simulator fetches and sniffs the uploaded recording for real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import pytest
import simcord
import simcord.backend.cdn
from aiohttp import web

from bot.app import Backline
from bot.errors import Refusal
from bot.settings import Settings
from bot.store import TaskRow
from simulator import Simulator
from simulator.media import make_wav
from tests.conftest import FAST_SCHEDULE
from tests.support.factories import api_calls, make_client
from tests.support.invite import InviteEnv
from tests.support.postgres import fresh_postgres
from tests.support.servers import serve
from tests.support.signed_urls import SignedUrls
from tests.support.thread_rules import discord_thread_rules

WAV = make_wav(4.0)  # inside the default 3 s .. 8 min window


@dataclass
class CdnServer:
    """Serves simcord's in-memory attachment blobs over real HTTP, refusing expired
    signed URLs as Discord does (404)."""

    envs: list[simcord.Env] = field(default_factory=list)
    hits: int = 0
    urls: SignedUrls = field(default_factory=SignedUrls)

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        for env in reversed(self.envs):
            # simcord stores the URL with the raw file name; clients send it %-encoded.
            blob = env.backend.cdn.get(str(request.url))
            if blob is not None:
                return web.Response(body=blob, content_type="application/octet-stream")
        return web.Response(status=404, text="This content is no longer available.")


@pytest.fixture
async def cdn(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CdnServer]:
    server = CdnServer()
    server.urls.install(monkeypatch)
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    async with serve(app) as base_url:
        monkeypatch.setattr(simcord.backend.cdn, "CDN_BASE", base_url)
        yield server


@dataclass
class Harness:
    env: InviteEnv
    simulator: Simulator
    settings: Settings
    session: aiohttp.ClientSession
    bots: list[Backline] = field(default_factory=list)

    @property
    def bot(self) -> Backline:
        return self.env.bot  # type: ignore[return-value]

    def new_bot(self) -> Backline:
        bot = Backline(
            settings=self.settings,
            session=self.session,
            music=make_client(self.session, self.simulator.base_url, limit=100),
            schedule=FAST_SCHEDULE,
            run_background=False,
        )
        self.bots.append(bot)
        return bot

    def start_lifecycle(self) -> None:
        """From test context: simcord's settlement does not wait for the scheduler."""
        self.bot.lifecycle.start()

    async def restart(self) -> Backline:
        """A crash and a new process: old scheduler gone, a new bot on the same database."""
        old = self.bot
        await old.lifecycle.stop()
        await self.env.restart_bot(self.new_bot())
        await old.close()
        self.start_lifecycle()
        return self.bot

    async def tasks(self, user_id: int) -> list[TaskRow]:
        return await self.bot.store.recent_tasks(user_id, 100)

    def submissions(self) -> int:
        return api_calls(self.simulator.calls, "add-instrumental")


@pytest.fixture(params=["sqlite", "postgresql"])
async def harness(
    request: pytest.FixtureRequest,
    simulator: Simulator,
    settings: Settings,
    session: aiohttp.ClientSession,
    cdn: CdnServer,
) -> AsyncIterator[Harness]:
    """The real bot in simcord, on each store engine: everything it does works on both."""
    if request.param == "postgresql":
        settings.database_url = await fresh_postgres()
    placeholder = Harness(env=None, simulator=simulator, settings=settings, session=session)  # type: ignore[arg-type]
    bot = placeholder.new_bot()
    env = InviteEnv(bot)
    placeholder.env = env
    cdn.envs.append(env)
    # Signed URLs and the simulator's download judge expiry by simcord's virtual clock.
    cdn.urls.now = simulator.config.clock = lambda: env.backend.clock.now().timestamp()
    await env.start()
    try:
        with discord_thread_rules():
            yield placeholder
    finally:
        for each in placeholder.bots:
            if getattr(each, "_ready_once", False):
                await each.lifecycle.stop()
        await env.shutdown()
        for each in placeholder.bots:
            await each.close()  # simcord never closes a bot: the store is ours to close
        unexpected = [
            error
            for error in env.errors_since(env._errors_acknowledged)
            if not isinstance(getattr(error, "original", error), Refusal)
        ]
        if unexpected:  # a refusal is an expected answer; anything else fails the test
            raise ExceptionGroup("the bot raised during the test", unexpected)


@dataclass
class World:
    guild: Any
    channel: Any
    alice: Any
    bob: Any


@pytest.fixture
def world(harness: Harness) -> World:
    guild = harness.env.create_guild(name="studio")
    channel = guild.create_text_channel("music")
    alice = guild.add_member(harness.env.create_user("alice"))
    bob = guild.add_member(harness.env.create_user("bob"))
    return World(guild, channel, alice, bob)


def bot_messages(channel: Any, bot: discord.Client) -> list[discord.Message]:
    return [
        m
        for m in channel.history()
        if m.author.id == bot.user.id
        and m.type in (discord.MessageType.default, discord.MessageType.reply)
    ]

"""The `commands.Bot` subclass: set-up order, command sync on change, the bot-wide check.
The one voice for errors (commands, views, forms, buttons) is `cogs/voice.py`."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Protocol

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.core.credits import CreditWatch
from bot.core.guilds import GuildSettings
from bot.core.intake import Intake, Options, Recording
from bot.core.jams import JamService
from bot.core.tasks import Lifecycle, PollSchedule
from bot.music import MusicClient
from bot.music.ratelimit import RateLimiter
from bot.services import Ports, Services
from bot.settings import Settings
from bot.store import Origin, Store
from bot.store.processes import SYNC_LOCK
from bot.web import WebServer

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.voice",
    "cogs.instrumental",
    "cogs.tasks",
    "cogs.config",
    "cogs.usage",
    "cogs.jam",
)
# The Discord side of the core (its ports), loaded before the services open: the core
# is built with them (it calls them only once Discord is up).
PORTS = "cogs.ports"
COMMAND_HASH_KEY = "command_hash"


# A channel the bot can post in and read back.
Postable = discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel


class Starter(Protocol):
    """Every way a request starts ends in `start` (`cogs/instrumental/start.py`), after a
    private acknowledgement; the instrumental extension sets `Backline.starter`."""

    async def start(
        self,
        interaction: discord.Interaction[Any],
        channel: Postable,
        recording: Recording,
        options: Options,
        *,
        origin: Origin = ...,
        parent_task_id: int | None = ...,
    ) -> None: ...


class Tree(app_commands.CommandTree["Backline"]):
    """The command tree with the bot-wide check; its errors go to `cogs/voice.py`."""

    async def interaction_check(self, interaction: discord.Interaction[Backline], /) -> bool:
        """While the bot stops, nothing new starts: the member hears why, privately."""
        if interaction.client.stopping:
            await send_private(interaction, RESTARTING)
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction[Backline], error: app_commands.AppCommandError, /
    ) -> None:
        """Answered in the one voice for errors, by its listener (`cogs/voice.py`)."""
        interaction.client.dispatch("app_command_error", interaction, error)


RESTARTING = "I'm restarting right now; please try again in a minute."


async def send_private(interaction: discord.Interaction[Any], message: str) -> None:
    """Answer only the member, whatever state the interaction is in."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not send an error message for interaction %s", interaction.id)


class Backline(commands.Bot):
    """Built in `main()` with the session and the music client; `login` opens the services
    on the Discord side's ports before anything talks to Discord; `setup_hook` brings up
    the rest."""

    store: Store
    lifecycle: Lifecycle
    intake: Intake
    guild_settings: GuildSettings  # not `guilds`: discord.py's Client has that
    credit_watch: CreditWatch
    jams: JamService
    web: WebServer
    ports: Ports  # set by the `PORTS` extension
    starter: Starter  # set by the instrumental extension

    def __init__(
        self,
        *,
        settings: Settings,
        session: aiohttp.ClientSession,
        music: MusicClient,
        schedule: PollSchedule | None = None,
        run_background: bool = True,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channels, threads and permissions in the cache
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=Tree,
            **shard_options(settings),
        )
        self.settings = settings
        self.session = session
        self.music = music
        self.schedule = schedule or PollSchedule(
            late_interval=settings.poll_interval_max,
            callback_interval=settings.callback_safety_poll,
        )
        # Tests drive the scheduler and the HTTP server themselves.
        self.run_background = run_background
        self.services: Services | None = None  # opened by `login`, before Discord
        self.stopping = False
        self._ready_once = False

    async def login(self, token: str) -> None:
        """The store and the callback receiver come up before anything talks to Discord:
        a callback arriving while the bot logs in, syncs or recovers is not lost."""
        if self.services is None:
            if PORTS not in self.extensions:
                await self.load_extension(PORTS)
            self.services = await Services.open(
                self.settings,
                self.music,
                self.schedule,
                self.ports,
                gateway_connected=lambda: self.is_ready() and not self.is_closed(),
                listen=self.run_background,
            )
            services = self.services
            self.store, self.lifecycle, self.web = services.store, services.lifecycle, services.web
            self.guild_settings, self.credit_watch = services.guild_settings, services.credit_watch
            self.intake, self.jams = services.intake, services.jams
        await super().login(token)

    async def setup_hook(self) -> None:
        if self._ready_once:  # a test harness may run set-up again on the same instance
            return
        assert self.services is not None  # `login` opened them
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()
        if self.run_background:
            await self.services.start()
        else:  # tests start the loops (and the HTTP server) themselves
            await self.lifecycle.recover()
        self._ready_once = True

    async def close(self) -> None:
        self.stopping = True
        if self.services is not None:
            await self.services.close()  # a submission on the wire: up to the request time-out
            self.services = None
            self._ready_once = False
        await super().close()

    # -- command sync ----------------------------------------------------------------------

    def command_hash(self, guild: discord.abc.Snowflake | None = None) -> str:
        commands_json = [
            command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)
        ]
        encoded = json.dumps(commands_json, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()

    async def sync_commands(self) -> list[str]:
        """Sync globally (and to DEV_GUILD_ID) only when the definitions changed."""
        targets: list[discord.Object | None] = [None]
        if self.settings.dev_guild_id:
            dev_guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=dev_guild)
            targets.append(dev_guild)
        synced: list[str] = []
        # Several processes start together: one syncs, the others then find the hash stored.
        async with self.store.exclusive(SYNC_LOCK):
            for guild in targets:
                await self._sync_if_changed(guild, synced)
        return synced

    async def _sync_if_changed(self, guild: discord.Object | None, synced: list[str]) -> None:
        key = COMMAND_HASH_KEY if guild is None else f"{COMMAND_HASH_KEY}:{guild.id}"
        digest = self.command_hash(guild)
        if await self.store.get_value(key) == digest:
            return
        await self.tree.sync(guild=guild)
        await self.store.set_value(key, digest)
        synced.append("global" if guild is None else f"guild {guild.id}")
        log.info("application commands synced (%s)", synced[-1])


class ShardedBackline(Backline, commands.AutoShardedBot):
    """The bot running several shards in this process (`SHARD_COUNT`, `SHARD_IDS`)."""


def shard_options(settings: Settings) -> dict[str, Any]:
    """discord.py's sharding keywords: every shard here by default, or `SHARD_IDS`."""
    if settings.shard_count is None:
        return {}
    return {"shard_count": settings.shard_count, "shard_ids": settings.shard_ids or None}


def bot_class(settings: Settings) -> type[Backline]:
    """One shard: the plain bot; sharded: the auto-sharded one on the chosen shards."""
    return Backline if settings.shard_count is None else ShardedBackline


def build_music_client(settings: Settings, session: aiohttp.ClientSession) -> MusicClient:
    return MusicClient(
        session,
        base_url=settings.api_base_url,
        api_key=settings.suno_api_key,
        limiter=RateLimiter(settings.suno_rate_limit_requests, settings.suno_rate_limit_period),
        timeout=settings.suno_request_timeout,
        max_retries=settings.suno_max_retries,
        allowed_models=settings.suno_allowed_models,
    )

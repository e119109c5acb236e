"""What the bot runs besides Discord: the store, the task core and the HTTP server, built in
one place and in start-up order, each service handed its port (the place members see) at
construction. `python -m bot` opens them before it logs in to Discord, so
callbacks are heard as soon as the store is open: the API retries a callback only a few
times within seconds, and a task whose API id a crash never recorded can be learned only
from its callbacks (the API has no list of tasks). Nothing here imports discord."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.credits import CreditWatch
from bot.core.guilds import GuildSettings, ModLogPort, Rules
from bot.core.intake import Intake
from bot.core.jams import JamPort, JamService
from bot.core.tasks import DeliveryPort, Lifecycle, PollSchedule
from bot.music import MusicClient
from bot.music.ratelimit import SharedRateLimiter
from bot.settings import Settings
from bot.store import Store, open_store
from bot.web import WebServer, callback_secret, callback_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ports:
    """What the core needs from the place members see (Discord: `cogs/ports.py`). Built
    before the core; called only once the loops run (`Services.start`), so the core can open
    before Discord is up."""

    delivery: DeliveryPort
    jams: JamPort
    mod_log: ModLogPort


@dataclass
class Services:
    """`open()` (listening when asked), `start()` once Discord is up, `close()`."""

    store: Store
    lifecycle: Lifecycle
    guild_settings: GuildSettings
    credit_watch: CreditWatch
    intake: Intake
    jams: JamService
    web: WebServer

    @classmethod
    async def open(
        cls,
        settings: Settings,
        music: MusicClient,
        schedule: PollSchedule,
        ports: Ports,
        *,
        gateway_connected: Callable[[], bool],
        listen: bool = True,
    ) -> Services:
        """The store and the services on it; with `listen`, the HTTP server too: from then
        on a callback is recorded (a task adopted) although no loop runs yet."""
        store = await open_store(settings.database_url)
        try:
            services = await cls.build(settings, music, schedule, ports, store, gateway_connected)
            if listen:
                await services.web.start()
        except BaseException:
            await store.close()
            raise
        return services

    @classmethod
    async def build(
        cls,
        settings: Settings,
        music: MusicClient,
        schedule: PollSchedule,
        ports: Ports,
        store: Store,
        gateway_connected: Callable[[], bool],
        *,
        clock: Callable[[], float] | None = None,
    ) -> Services:
        """The services on an open `store` (which stays the caller's to close if this
        raises); the HTTP server is built, not started. `clock`: the core's (tests move
        their own; by default the database's, once the process beats)."""
        if store.shared:  # one rate limit for the key, whatever the number of processes
            music.limiter = SharedRateLimiter(
                store.take_api_slot,
                store.api_slot_answered,
                settings.suno_rate_limit_requests,
                settings.suno_rate_limit_period,
            )
        secret = await callback_secret(
            store,
            settings.callback_secret.get_secret_value() if settings.callback_secret else None,
        )
        public_url = str(settings.callback_public_url) if settings.callback_public_url else None
        rules = lambda: Rules.from_settings(settings)  # noqa: E731 - read per request
        guild_settings = GuildSettings(store, rules, ports.mod_log)
        await guild_settings.follow_changes()
        lifecycle = Lifecycle(
            store,
            music,
            ports.delivery,
            callback_url=callback_url(public_url, secret),
            callback_secret=secret,
            schedule=schedule,
            task_timeout=settings.task_timeout,
            retention_days=settings.task_retention_days,
            callbacks_enabled=public_url is not None,
            task_cost=settings.suno_credits_per_task,
            notices=guild_settings.report_everywhere,
            clock=clock,
        )
        return cls(
            store=store,
            lifecycle=lifecycle,
            guild_settings=guild_settings,
            credit_watch=CreditWatch(
                store, music, guild_settings, every=settings.credit_check_interval
            ),
            intake=Intake(lifecycle, rules, guild_settings),
            jams=JamService(
                store,
                ports.jams,
                lifecycle.now,
                settings.suno_allowed_models,
                entry_wait=settings.task_timeout,
            ),
            web=WebServer(
                lifecycle,
                secret=secret,
                gateway_connected=gateway_connected,
                host=settings.callback_host,
                port=settings.callback_port,
                metrics_token=settings.metrics_token.get_secret_value()
                if settings.metrics_token
                else None,
            ),
        )

    async def start(self) -> None:
        """Once Discord is up (the ports can be called): settle what a crash left behind,
        then the loops; a deadline passed while the bot was down is caught up at once."""
        await self.lifecycle.recover()
        self.lifecycle.start()
        self.credit_watch.start()
        self.jams.start()

    async def close(self, grace: float | None = None) -> None:
        """Submissions on the wire get `grace` seconds (None: up to the client's request
        time-out, so none is cut off); then the loops, the server, the store."""
        await self.lifecycle.stop(grace=grace)
        await self.credit_watch.stop()
        await self.jams.stop()
        await self.guild_settings.settle()
        await self.web.stop()
        await self.store.close()

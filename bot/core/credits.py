"""The API's balance, and the moderators' alert when it falls below their threshold.

Each server with `/config credit_alert` is told once in its log channel when the balance
drops below its threshold; the flag is cleared when the balance is back above it (a
refill), so the next drop is reported again. The balance is read every few minutes, and
whenever `/credits` or `/config credit_alert` reads it anyway.
"""

from __future__ import annotations

import asyncio
import logging

from bot.core.background import Background
from bot.core.guilds import GuildConfig, GuildSettings
from bot.music import MusicClient, MusicError
from bot.store import Store

log = logging.getLogger(__name__)


class CreditWatch(Background):
    task_name = "credit-watch"

    def __init__(
        self, store: Store, client: MusicClient, guilds: GuildSettings, *, every: float
    ) -> None:
        self.store = store
        self.client = client
        self.guilds = guilds
        self.every = every

    async def balance(self) -> float | None:
        """The API's remaining credits; None when it cannot be read now."""
        try:
            credits = await self.client.get_credits()
        except MusicError as exc:
            log.warning("could not read the credit balance (%s)", exc)
            return None
        await self.observe(credits)
        return credits

    async def observe(self, credits: float) -> None:
        """Alert each server whose threshold the balance is below, once per drop."""
        for guild_id, document in await self.store.guilds_with("credit_alert"):
            threshold = GuildConfig.load(document).credit_alert
            if threshold is None:
                continue
            alerted = await self.store.credit_alerted(guild_id)
            if credits < threshold and not alerted:
                await self.store.set_credit_alerted(guild_id, True)
                await self.guilds.report(
                    guild_id,
                    f"🪫 The music service's balance is down to {credits:g} credits, below "
                    f"this server's alert threshold of {threshold:g}.",
                )
            elif credits >= threshold and alerted:
                await self.store.set_credit_alerted(guild_id, False)

    async def check(self) -> None:
        if await self.store.guilds_with("credit_alert"):
            await self.balance()

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("credit check failed")
            await asyncio.sleep(self.every)

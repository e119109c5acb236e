"""`/quota` (every member: what is left today) and `/credits` (moderators: what it costs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.quota import Quota
from cogs._ui import require_moderator
from cogs.reasons import relative

if TYPE_CHECKING:
    from bot.app import Backline


def _of(used: int, limit: int) -> str:
    if not limit:
        return f"{used} (no daily limit)"
    return f"{used} of {limit} · {max(0, limit - used)} left"


class Usage(commands.Cog):
    def __init__(self, bot: Backline) -> None:
        self.bot = bot

    @app_commands.command(name="quota")
    @app_commands.guild_only()
    async def quota(self, interaction: discord.Interaction) -> None:
        """What you have used today in this server and what is left."""
        assert interaction.guild_id is not None
        config = await self.bot.guild_settings.get(interaction.guild_id)
        limits = config.limits(self.bot.intake.rules())
        quota = Quota(limits, self.bot.lifecycle.now())
        usage = await self.bot.store.usage(interaction.guild_id, interaction.user.id, quota.since)
        ready = quota.cooldown_ends(usage)
        running = str(usage.running)
        if limits.concurrent_per_member:
            running += f" of {limits.concurrent_per_member} at a time"
        embed = discord.Embed(title="Your quota today", colour=discord.Colour.blurple())
        embed.add_field(
            name="Requests today", value=_of(usage.member_today, limits.daily_per_member)
        )
        embed.add_field(name="In progress", value=running)
        embed.add_field(
            name="Cooldown",
            value=f"ends {relative(ready)}" if ready else "none: you can send one now",
        )
        if limits.daily_per_server:
            embed.add_field(
                name="This server today", value=_of(usage.server_today, limits.daily_per_server)
            )
        embed.set_footer(text="Days start at 00:00 UTC.")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="credits")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def credits(self, interaction: discord.Interaction) -> None:
        """The music service's balance and what this server's requests used (moderators)."""
        require_moderator(interaction, "/credits")
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        balance = await self.bot.credit_watch.balance()
        today = datetime.fromtimestamp(self.bot.lifecycle.now(), UTC).date()
        store = self.bot.store
        day_requests, day_credits = await store.credits_used(
            interaction.guild_id, today.isoformat()
        )
        month_requests, month_credits = await store.credits_used(
            interaction.guild_id, today.replace(day=1).isoformat()
        )
        config = await self.bot.guild_settings.get(interaction.guild_id)
        per_task = self.bot.intake.rules().credits_per_task
        embed = discord.Embed(title="Credits", colour=discord.Colour.blurple())
        embed.add_field(
            name="Balance",
            value="can't be read right now" if balance is None else f"{balance:g} credits",
        )
        embed.add_field(
            name="This server today", value=f"{day_credits:g} credits ({day_requests} requests)"
        )
        embed.add_field(
            name="This server this month",
            value=f"{month_credits:g} credits ({month_requests} requests)",
        )
        alert = config.credit_alert
        embed.add_field(
            name="Alert",
            value=f"below {alert:g} credits" if alert else "off (`/config credit_alert`)",
        )
        paused = await self.bot.lifecycle.api.pause.current()
        if paused is not None:
            embed.add_field(
                name="⏸️ Paused", value=f"new requests wait: {paused.reason}", inline=False
            )
        embed.set_footer(
            text=f"Counted at {per_task:g} credits per accepted request; days are UTC."
        )
        await interaction.followup.send(embed=embed, ephemeral=True)


async def setup(bot: Backline) -> None:
    await bot.add_cog(Usage(bot))

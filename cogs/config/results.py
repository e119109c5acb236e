"""`/config delivery`, `rerolls`, `log_channel`, `credit_alert`, `blocked_words`: how
results are posted and who may redo them, what moderators hear, which requests are refused."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands

from bot.core.guilds import WORDS_MAX, GuildConfig, word_list
from bot.errors import Refusal
from cogs._ui import clip
from cogs.config.base import ConfigBase

Threshold = app_commands.Range[float, 0.0, 10_000_000.0]


class ResultCommands(ConfigBase):
    @app_commands.command(name="delivery")
    @app_commands.describe(mode="thread: a thread per request; in_place: in the channel itself")
    async def delivery(
        self, interaction: discord.Interaction, mode: Literal["thread", "in_place"]
    ) -> None:
        """Where results are posted."""
        await self.change(interaction, "delivery", delivery=None if mode == "thread" else mode)

    @app_commands.command(name="rerolls")
    @app_commands.describe(who="requester: only they re-roll or tweak their take; everyone: anyone")
    async def rerolls(
        self, interaction: discord.Interaction, who: Literal["requester", "everyone"]
    ) -> None:
        """Who may press Re-roll and Tweak on a result."""
        await self.change(interaction, "rerolls", rerolls=None if who == "requester" else who)

    @app_commands.command(name="log_channel")
    @app_commands.describe(channel="Where I report to moderators", clear="Stop reporting")
    async def log_channel(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
        clear: bool = False,
    ) -> None:
        """Where the bot reports what moderators should know."""
        if clear:
            await self.change(interaction, "log_channel", log_channel_id=None)
            return
        if channel is None:
            raise Refusal("Pick a channel, or `clear` to stop reporting.")
        perms = channel.permissions_for(channel.guild.me)
        if not (perms.view_channel and perms.send_messages):
            raise Refusal(f"I can't post in {channel.mention}: give me Send Messages there first.")
        await self.change(interaction, "log_channel", log_channel_id=channel.id)

    @app_commands.command(name="credit_alert")
    @app_commands.describe(threshold="Tell the log channel when the balance falls below (0 = off)")
    async def credit_alert(self, interaction: discord.Interaction, threshold: Threshold) -> None:
        """Below this balance, the log channel is told once (and again after a refill)."""
        guild_id = self.guild_id(interaction)
        change = await self.bot.guild_settings.change(guild_id, credit_alert=threshold)
        await self.bot.store.set_credit_alerted(guild_id, False)  # a new threshold, a new alert
        await self.saved(interaction, "credit_alert", change)
        if change.new.log_channel_id is None and change.new.credit_alert is not None:
            await interaction.followup.send(
                "Set a log channel with `/config log_channel` so the alert has somewhere to go.",
                ephemeral=True,
            )
        await self.bot.credit_watch.balance()  # alerts at once if already below

    @app_commands.command(name="blocked_words")
    @app_commands.describe(
        action="add, remove, or list the blocked words",
        words="Words or phrases, separated by commas",
    )
    async def blocked_words(
        self,
        interaction: discord.Interaction,
        action: Literal["add", "remove", "list"],
        words: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        """Requests whose title or tags contain one of these are refused."""
        guild_id = self.guild_id(interaction)
        if action == "list":
            config = await self.bot.guild_settings.get(guild_id)
            listed = ", ".join(f"`{w}`" for w in config.blocked_words) or "none"
            await interaction.response.send_message(
                clip(f"Blocked words: {listed}", 2000), ephemeral=True
            )
            return
        if not words:
            raise Refusal(f"Give the words to {action}, separated by commas.")
        wanted = word_list(words)

        def edit(config: GuildConfig) -> GuildConfig:
            current = list(config.blocked_words)
            if action == "add":
                current += [w for w in wanted if w not in current]
                if len(current) > WORDS_MAX:
                    raise Refusal(f"At most {WORDS_MAX} blocked words can be listed.")
            else:
                current = [w for w in current if w not in wanted]
            return config.model_copy(update={"blocked_words": tuple(current)})

        change = await self.bot.guild_settings.edit(guild_id, edit)
        await self.saved(interaction, "blocked_words", change)

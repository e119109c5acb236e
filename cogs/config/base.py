"""What every `/config` subcommand shares: save a change, tell the moderator and the log."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.core.guilds import Change
from bot.errors import Refusal
from cogs._ui import clip
from cogs.settings_words import change_lines

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)


class ConfigBase(commands.Cog):
    """The base of `Config` and its mixins. A `Cog` (not a plain class) because discord.py
    types a command's `self` as a cog or a group."""

    bot: Backline

    @staticmethod
    def guild_id(interaction: discord.Interaction) -> int:
        assert interaction.guild_id is not None  # guild_only
        return interaction.guild_id

    async def saved(self, interaction: discord.Interaction, what: str, change: Change) -> None:
        """Tell the moderator what changed, privately, and the log channel."""
        lines = change_lines(change)
        if not lines:
            await interaction.response.send_message("Nothing changed.", ephemeral=True)
            return
        text = "Saved.\n" + "\n".join(f"• {line}" for line in lines)
        await interaction.response.send_message(clip(text, 2000), ephemeral=True)
        await self.tell_log(interaction, what, change)

    async def tell_log(self, interaction: discord.Interaction, what: str, change: Change) -> None:
        lines = change_lines(change)
        if not lines:
            return
        text = f"🛠️ {interaction.user.mention} used `/config {what}`:\n" + "\n".join(
            f"• {line}" for line in lines
        )
        guild_id = self.guild_id(interaction)
        await self.bot.guild_settings.report(guild_id, text)
        old_log = change.old.log_channel_id
        if old_log is not None and old_log != change.new.log_channel_id:
            try:  # the channel that stops being the log hears it too
                await self.bot.ports.mod_log.post(guild_id, old_log, text)
            except discord.HTTPException as exc:
                log.warning("could not tell the old log channel of guild %d (%s)", guild_id, exc)

    async def change(self, interaction: discord.Interaction, what: str, **values: Any) -> None:
        change = await self.bot.guild_settings.change(self.guild_id(interaction), **values)
        await self.saved(interaction, what, change)

    async def set_or_clear(
        self, interaction: discord.Interaction, what: str, given: dict[str, Any], *, clear: bool
    ) -> None:
        """The options given, or with `clear` every one of them back to the bot's default."""
        values = (
            dict.fromkeys(given) if clear else {k: v for k, v in given.items() if v is not None}
        )
        if not values:
            raise Refusal(f"Give at least one of the {what} to set (or `clear` to use the bot's).")
        await self.change(interaction, what, **values)

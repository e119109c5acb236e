"""The confirmation `/config reset` asks for."""

from __future__ import annotations

import discord

from cogs.config.base import ConfigBase
from cogs.voice import View

CONFIRM_SECONDS = 60.0


class ResetView(View):
    """The confirmation for `/config reset`: only the moderator who asked can answer."""

    def __init__(self, cog: ConfigBase, moderator_id: int) -> None:
        super().__init__(timeout=CONFIRM_SECONDS)
        self.cog = cog
        self.moderator_id = moderator_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.moderator_id:
            await interaction.response.send_message(
                "Only the moderator who asked can confirm this.", ephemeral=True
            )
            return False
        return True

    @discord.ui.button(label="Reset everything", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.stop()
        assert interaction.guild_id is not None
        change = await self.cog.bot.guild_settings.reset(interaction.guild_id)
        await interaction.response.edit_message(
            content="Done: every setting is back to the bot's default.", view=None
        )
        await self.cog.tell_log(interaction, "reset", change)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was changed.", view=None)

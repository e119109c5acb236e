"""`Config`, the `/config` group: the moderator check and `reset`; the other
subcommands come from the mixins, one per section of `/config show`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._ui import require_moderator
from cogs.config.access import AccessCommands
from cogs.config.defaults import DefaultsCommands
from cogs.config.results import ResultCommands
from cogs.config.show import ShowCommand
from cogs.config.views import ResetView

if TYPE_CHECKING:
    from bot.app import Backline


# discord.py lists a cog's commands walking its MRO from the base up, so the mixins are
# listed last section first: members see (and the sync hash covers) show, defaults, limits,
# channels, role, jam_role, delivery, rerolls, log_channel, credit_alert, blocked_words, reset.
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Config(
    ResultCommands,
    AccessCommands,
    DefaultsCommands,
    ShowCommand,
    commands.GroupCog,
    group_name="config",
):
    """Server settings for backline (moderators)."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # Server owners can open /config to others in Integrations; the bot still insists.
        require_moderator(interaction, "/config")
        return True

    @app_commands.command(name="reset")
    async def reset(self, interaction: discord.Interaction) -> None:
        """Every setting back to the bot's defaults (asks first)."""
        await interaction.response.send_message(
            "Reset every backline setting of this server to the bot's defaults?",
            view=ResetView(self, interaction.user.id),
            ephemeral=True,
        )

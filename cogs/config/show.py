"""`/config show`: every setting of the server, section by section, and where it comes from."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.core.guilds import DEFAULT_FIELDS, LIMIT_FIELDS
from cogs._ui import clip
from cogs.config.base import ConfigBase
from cogs.settings_words import setting_lines

# The other subcommands follow these sections, in this order.
SECTIONS = {
    "Defaults for requests": DEFAULT_FIELDS,
    "Limits": LIMIT_FIELDS,
    "Access": ("channels", "role_id", "jam_role_id"),
    "Results and reports": (
        "delivery",
        "rerolls",
        "log_channel_id",
        "credit_alert",
        "blocked_words",
    ),
}


class ShowCommand(ConfigBase):
    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction) -> None:
        """Every setting of this server and where it comes from."""
        config = await self.bot.guild_settings.get(self.guild_id(interaction))
        rules = self.bot.intake.rules()
        embed = discord.Embed(title="backline settings", colour=discord.Colour.blurple())
        for section, names in SECTIONS.items():
            embed.add_field(
                name=section, value=clip(setting_lines(config, names, rules), 1024), inline=False
            )
        embed.set_footer(text="Change them with the other /config commands.")
        await interaction.response.send_message(embed=embed, ephemeral=True)

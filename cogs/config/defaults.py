"""`/config defaults` and `/config limits`: what a request gets when the member leaves an
option empty, and how much members may ask for."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.core.guilds import COOLDOWN_MAX, LIMIT_MAX
from bot.music.models import TAGS_MAX
from cogs._ui import model_choices
from cogs.config.base import ConfigBase

Weight = app_commands.Range[float, 0.0, 1.0]
Tags = app_commands.Range[str, 1, TAGS_MAX]
Limit = app_commands.Range[int, 0, LIMIT_MAX]
Cooldown = app_commands.Range[int, 0, COOLDOWN_MAX]


class DefaultsCommands(ConfigBase):
    @app_commands.command(name="defaults")
    @app_commands.describe(
        tags="Style used when a member gives none",
        negative_tags="What to avoid when a member gives nothing",
        model="Model used when a member picks none",
        style_weight="From 0 to 1",
        weirdness="From 0 to 1",
        audio_weight="From 0 to 1",
        vocal_gender="Voice to favour",
        clear="Return these defaults to the bot's",
    )
    @app_commands.choices(
        vocal_gender=[app_commands.Choice(name=g, value=g) for g in ("male", "female")]
    )
    async def defaults(
        self,
        interaction: discord.Interaction,
        tags: Tags | None = None,
        negative_tags: Tags | None = None,
        model: str | None = None,
        style_weight: Weight | None = None,
        weirdness: Weight | None = None,
        audio_weight: Weight | None = None,
        vocal_gender: str | None = None,
        clear: bool = False,
    ) -> None:
        """What a request uses when the member leaves an option empty."""
        given = {
            "tags": tags,
            "negative_tags": negative_tags,
            "model": model,
            "style_weight": style_weight,
            "weirdness": weirdness,
            "audio_weight": audio_weight,
            "vocal_gender": vocal_gender,
        }
        await self.set_or_clear(interaction, "defaults", given, clear=clear)

    @defaults.autocomplete("model")
    async def _models(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot.settings.suno_allowed_models, current)

    @app_commands.command(name="limits")
    @app_commands.describe(
        daily_per_member="Requests a member may send per day (0 = no limit)",
        cooldown_seconds="Seconds between two requests of a member (0 = none)",
        concurrent_per_member="Requests of a member in progress at once (0 = no limit)",
        daily_per_server="Requests this server may send per day (0 = no limit)",
        clear="Return every limit to the bot's default",
    )
    async def limits(
        self,
        interaction: discord.Interaction,
        daily_per_member: Limit | None = None,
        cooldown_seconds: Cooldown | None = None,
        concurrent_per_member: Limit | None = None,
        daily_per_server: Limit | None = None,
        clear: bool = False,
    ) -> None:
        """How much members may use the bot (days are UTC)."""
        given = {
            "daily_per_member": daily_per_member,
            "cooldown_seconds": cooldown_seconds,
            "concurrent_per_member": concurrent_per_member,
            "daily_per_server": daily_per_server,
        }
        await self.set_or_clear(interaction, "limits", given, clear=clear)

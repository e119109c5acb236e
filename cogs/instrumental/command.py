"""`/instrumental`: a thin translator from the slash command onto the starter."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.intake import Options
from bot.music.models import TAGS_MAX, TITLE_MAX
from cogs.instrumental.buttons import TaskButton
from cogs.instrumental.menu import build_menu
from cogs.instrumental.placement import Placement
from cogs.instrumental.requests import recording_of, usable_channel
from cogs.instrumental.start import Starter

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

MAX_CHOICES = 25  # Discord's limit per option
GENDER_CHOICES = ("male", "female")
Weight = app_commands.Range[float, 0.0, 1.0]
Tags = app_commands.Range[str, 1, TAGS_MAX]
Title = app_commands.Range[str, 1, TITLE_MAX]
Seconds = app_commands.Range[float, 0.0, 24 * 3600.0]


class Instrumental(commands.Cog):
    """`/instrumental` and the Discord side of task delivery."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        self.starter = Starter(bot, Placement(bot))
        self.menu = build_menu()
        # The model choices come from the settings, so the command is built per instance.
        self.slash_command = self._build_command(bot.settings.suno_allowed_models)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.slash_command)
        self.bot.tree.add_command(self.menu)
        self.bot.add_dynamic_items(TaskButton)  # result buttons, by their custom ids
        self.bot.starter = self.starter  # forms and buttons start requests through it

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.slash_command.name)
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        self.bot.remove_dynamic_items(TaskButton)

    def _build_command(self, models: list[str]) -> app_commands.Command:
        cog = self
        model_choices = [app_commands.Choice(name=m, value=m) for m in models[:MAX_CHOICES]]
        gender_choices = [app_commands.Choice(name=g, value=g) for g in GENDER_CHOICES]

        @app_commands.command(name="instrumental")
        @app_commands.guild_only()
        @app_commands.describe(
            audio="Your vocal or melody recording (MP3, WAV, OGG, FLAC, M4A, a video…)",
            tags="Style, mood, instruments, e.g. 'lo-fi hip hop, warm piano, brushed drums'",
            negative_tags="What to avoid, e.g. 'heavy metal, distortion'",
            title="Title of the track (defaults to the file name)",
            style_weight="How closely to follow your tags, from 0 to 1",
            weirdness="How adventurous the arrangement may get, from 0 to 1",
            audio_weight="How closely to follow your recording, from 0 to 1",
            vocal_gender="Voice to favour when the track has vocals",
            model="Which music model to use",
            start="Where to start in a long recording, in seconds",
            length="How many seconds of it to use (at most 8 minutes)",
        )
        @app_commands.choices(vocal_gender=gender_choices, model=model_choices)
        async def instrumental(
            interaction: discord.Interaction,
            audio: discord.Attachment,
            tags: Tags | None = None,
            negative_tags: Tags | None = None,
            title: Title | None = None,
            style_weight: Weight | None = None,
            weirdness: Weight | None = None,
            audio_weight: Weight | None = None,
            vocal_gender: str | None = None,
            model: str | None = None,
            start: Seconds | None = None,
            length: Seconds | None = None,
        ) -> None:
            """Add a full instrumental around your vocal or melody recording."""
            options = Options(
                tags=tags,
                negative_tags=negative_tags,
                title=title,
                style_weight=style_weight,
                weirdness=weirdness,
                audio_weight=audio_weight,
                vocal_gender=vocal_gender,
                model=model,
                start=start,
                length=length,
            )
            await cog.instrumental(interaction, audio, options)

        return instrumental

    async def instrumental(
        self, interaction: discord.Interaction, audio: discord.Attachment, options: Options
    ) -> None:
        # Private and first: everything below may be slow, and refusals stay private.
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = usable_channel(interaction)
        await self.starter.start(interaction, channel, recording_of(audio), options)

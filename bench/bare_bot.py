"""The baseline of `bench.bench_ack`: a bare discord.py bot whose `/instrumental` only
acknowledges.

Same command as backline's (`cogs/instrumental/command.py`: name, options, their types,
ranges and choices, so discord.py parses and transforms the same payload), same intents,
and the same acknowledgement (`defer(ephemeral=True, thinking=True)`); no store, no
lifecycle, nothing after the defer.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.music.models import TAGS_MAX, TITLE_MAX

MODELS = ("V4_5PLUS", "V5")  # the settings' default SUNO_ALLOWED_MODELS
Weight = app_commands.Range[float, 0.0, 1.0]
Tags = app_commands.Range[str, 1, TAGS_MAX]
Title = app_commands.Range[str, 1, TITLE_MAX]


@app_commands.command(name="instrumental")
@app_commands.guild_only()
@app_commands.choices(
    vocal_gender=[app_commands.Choice(name=g, value=g) for g in ("male", "female")],
    model=[app_commands.Choice(name=m, value=m) for m in MODELS],
)
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
) -> None:
    """Add a full instrumental around your vocal or melody recording."""
    await interaction.response.defer(ephemeral=True, thinking=True)


class BareBot(commands.Bot):
    """Backline's intents and bot options; one command, synced at set-up."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )

    async def setup_hook(self) -> None:
        self.tree.add_command(instrumental)
        await self.tree.sync()

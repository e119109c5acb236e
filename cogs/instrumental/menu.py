""" "Add instrumental", the message context menu: any message with an audio file (or a link
to one of the bot's result posts) becomes a request, like `/instrumental` with that file."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import discord

from bot.core.intake import Options
from bot.errors import Refusal
from cogs._ui import clip, send_private
from cogs.instrumental.requests import recording_of, usable_channel

if TYPE_CHECKING:
    from cogs.instrumental.command import Instrumental

AUDIO_SUFFIXES = {".mp3", ".wav", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".aif", ".aiff"}
MESSAGE_LINK = re.compile(r"https://(?:\w+\.)?discord(?:app)?\.com/channels/(\d+)/(\d+)/(\d+)")
MAX_FILES = 25  # a select's options
NO_AUDIO = (
    "That message has no audio file I can use. Pick a message with a recording attached "
    "(MP3, WAV, OGG, FLAC, M4A…), or use `/instrumental` and attach one."
)


def audio_files(message: discord.Message) -> list[discord.Attachment]:
    return [
        a
        for a in message.attachments
        if (a.content_type or "").startswith("audio/")
        or PurePosixPath(a.filename.lower()).suffix in AUDIO_SUFFIXES
    ]


async def linked_audio(
    interaction: discord.Interaction[Any], message: discord.Message
) -> list[discord.Attachment]:
    """Audio of one of the bot's own posts that `message` links to, in this server."""
    bot = interaction.client
    for guild_id, channel_id, message_id in MESSAGE_LINK.findall(message.content)[:3]:
        if int(guild_id) != interaction.guild_id:
            continue
        try:
            channel = bot.get_channel(int(channel_id)) or await bot.fetch_channel(int(channel_id))
            if not isinstance(channel, discord.abc.Messageable):
                continue
            linked = await channel.fetch_message(int(message_id))
        except (discord.NotFound, discord.Forbidden):
            continue
        if bot.user is not None and linked.author.id == bot.user.id and audio_files(linked):
            return audio_files(linked)
    return []


class AddForm(discord.ui.Modal, title="Add instrumental"):
    tags: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id="tags",
        label="Tags (style, mood, instruments)",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        required=False,
    )
    negative_tags: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id="negative_tags",
        label="Negative tags (what to avoid)",
        max_length=1000,
        required=False,
    )
    title_text: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id="title", label="Title", max_length=100, required=False
    )

    def __init__(self, cog: Instrumental, files: list[discord.Attachment]) -> None:
        super().__init__(timeout=15 * 60)
        self.cog = cog
        self.files = files[:MAX_FILES]
        self.choice: discord.ui.Select[Any] | None = None
        if len(self.files) > 1:
            self.choice = discord.ui.Select(
                custom_id="recording",
                options=[
                    discord.SelectOption(label=clip(f.filename, 100), value=str(i))
                    for i, f in enumerate(self.files)
                ],
                required=True,
            )
            self.add_item(discord.ui.Label(text="Recording", component=self.choice))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        chosen = self.files[int(self.choice.values[0])] if self.choice else self.files[0]
        options = Options(
            tags=self.tags.value or None,
            negative_tags=self.negative_tags.value or None,
            title=self.title_text.value or None,
        )
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            channel = usable_channel(interaction)
            await self.cog.start(interaction, channel, recording_of(chosen), options, origin="menu")
        except Refusal as refusal:
            await send_private(interaction, str(refusal))

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await self.cog.takes.failed(interaction, error)


def build_menu(cog: Instrumental) -> discord.app_commands.ContextMenu:
    @discord.app_commands.guild_only()
    async def add_instrumental(
        interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        files = audio_files(message) or await linked_audio(interaction, message)
        if not files:
            raise Refusal(NO_AUDIO)
        await interaction.response.send_modal(AddForm(cog, files))

    return discord.app_commands.ContextMenu(name="Add instrumental", callback=add_instrumental)

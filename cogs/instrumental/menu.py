""" "Add instrumental", the message context menu: any message with an audio file (or a link
to one of the bot's result posts) becomes a request, like `/instrumental` with that file."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import discord

from bot.core import validate
from bot.core.intake import Options
from bot.errors import Refusal
from bot.store import Origin
from cogs._ui import clip
from cogs.instrumental.requests import recording_of, usable_channel
from cogs.voice import Modal

if TYPE_CHECKING:
    from bot.app import Starter

AUDIO_SUFFIXES = {".mp3", ".wav", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".aif", ".aiff",
                  ".mp4", ".mov", ".webm", ".m4v", ".weba"}  # fmt: skip
MESSAGE_LINK = re.compile(r"https://(?:\w+\.)?discord(?:app)?\.com/channels/(\d+)/(\d+)/(\d+)")
MAX_FILES = 25  # a select's options
NO_AUDIO = (
    "That message has no audio file I can use. Pick a message with a recording attached "
    "(MP3, WAV, OGG, FLAC, M4A…), a voice message or a video with sound, or use "
    "`/instrumental` and attach one."
)


def audio_files(message: discord.Message) -> list[discord.Attachment]:
    return [
        a
        for a in message.attachments
        if (a.content_type or "").startswith(("audio/", "video/"))
        or PurePosixPath(a.filename.lower()).suffix in AUDIO_SUFFIXES
    ]


async def linked_post(
    interaction: discord.Interaction[Any], message: discord.Message
) -> discord.Message | None:
    """One of the bot's own posts with audio that `message` links to, read only where the
    member could read it themselves: a channel of this server they may view, with its
    history. The bot's own access would show them private channels and other servers."""
    bot = interaction.client
    guild = interaction.guild
    member = interaction.user
    if guild is None or not isinstance(member, discord.Member):
        return None
    for guild_id, channel_id, message_id in MESSAGE_LINK.findall(message.content)[:3]:
        if int(guild_id) != guild.id:
            continue
        channel: object = guild.get_channel_or_thread(int(channel_id))
        if channel is None:  # an archived thread is not cached
            try:
                channel = await guild.fetch_channel(int(channel_id))
            except (discord.HTTPException, discord.InvalidData):
                continue  # gone, hidden from the bot, or a channel of another server
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
            continue
        if channel.guild.id != guild.id:
            continue
        seen = channel.permissions_for(member)
        if not (seen.view_channel and seen.read_message_history):
            continue
        if isinstance(channel, discord.Thread) and channel.is_private():
            continue  # membership of private threads is not in the permissions
        try:
            linked = await channel.fetch_message(int(message_id))
        except (discord.NotFound, discord.Forbidden):
            continue
        if bot.user is not None and linked.author.id == bot.user.id and audio_files(linked):
            return linked
    return None


class AddForm(Modal, title="Add instrumental"):
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
    part: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id="part",
        label="Part of a long take: start, length",
        placeholder="e.g. 1:30, 8:00 (from 1:30, eight minutes)",
        max_length=40,
        required=False,
    )

    def __init__(self, starter: Starter, source: discord.Message) -> None:
        super().__init__(timeout=15 * 60)
        self.starter = starter
        self.files = audio_files(source)[:MAX_FILES]
        self.owner_id = source.author.id
        self.voice = source.flags.voice  # a voice message: no file name the member chose
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
        start, length = part_of(self.part.value)
        options = Options(
            tags=self.tags.value or None,
            negative_tags=self.negative_tags.value or None,
            title=self.title_text.value or None,
            start=start,
            length=length,
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = usable_channel(interaction)
        recording = recording_of(chosen, self.owner_id, voice=self.voice)
        await self.starter.start(interaction, channel, recording, options, origin=Origin.MENU)


def part_of(text: str | None) -> tuple[float | None, float | None]:
    """ "1:30, 8:00" (or "90 480") as start and length in seconds; a lone value is the start."""
    pieces = (text or "").replace(",", " ").split()
    if len(pieces) > 2:
        raise Refusal("Give the part as a start and a length, like `1:30, 8:00`.")
    start = validate.seconds("Start", pieces[0]) if pieces else None
    length = validate.seconds("Length", pieces[1]) if len(pieces) > 1 else None
    return start, length


def build_menu() -> discord.app_commands.ContextMenu:
    @discord.app_commands.guild_only()
    async def add_instrumental(
        interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        source = message if audio_files(message) else await linked_post(interaction, message)
        if source is None:
            raise Refusal(NO_AUDIO)
        await interaction.response.send_modal(AddForm(interaction.client.starter, source))

    return discord.app_commands.ContextMenu(name="Add instrumental", callback=add_instrumental)

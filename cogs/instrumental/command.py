"""`/instrumental`: acknowledge, check the recording, record the task, post the card."""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Refusal
from bot.audio import SNIFF_BYTES, probe_duration, sniff_audio
from bot.music.models import TAGS_MAX, TITLE_MAX
from bot.store import NewTask
from cogs.instrumental.delivery import DiscordDelivery, Postable

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

MAX_CHOICES = 25  # Discord's limit per option
GENDERS = {"male": "m", "female": "f"}
Weight = app_commands.Range[float, 0.0, 1.0]
Tags = app_commands.Range[str, 1, TAGS_MAX]
Title = app_commands.Range[str, 1, TITLE_MAX]


@dataclass(frozen=True, slots=True)
class Options:
    """The command's options as given (None: not given)."""

    tags: str | None = None
    negative_tags: str | None = None
    title: str | None = None
    style_weight: float | None = None
    weirdness: float | None = None
    audio_weight: float | None = None
    vocal_gender: str | None = None
    model: str | None = None


def megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f} MB" if value >= 100 else f"{value:.3g} MB"


def seconds_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.3g} seconds"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d} minutes"


def title_from_filename(filename: str) -> str:
    stem = " ".join(PurePosixPath(filename).stem.replace("_", " ").split())
    return stem[:TITLE_MAX] or "Untitled"


def _weight(value: float | None) -> float | None:
    return None if value is None else round(min(1.0, max(0.0, value)), 2)


class Instrumental(commands.Cog):
    """`/instrumental` and the Discord side of task delivery."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        self.delivery = DiscordDelivery(bot)
        # The model choices come from the settings, so the command is built per instance.
        self.slash_command = self._build_command(bot.settings.suno_allowed_models)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.slash_command)
        # The lifecycle keeps this port across reloads; a reloaded cog sets a fresh one.
        self.bot.lifecycle.port = self.delivery

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.slash_command.name)

    def _build_command(self, models: list[str]) -> app_commands.Command:
        cog = self
        model_choices = [app_commands.Choice(name=m, value=m) for m in models[:MAX_CHOICES]]
        gender_choices = [app_commands.Choice(name=g, value=g) for g in GENDERS]

        @app_commands.command(name="instrumental")
        @app_commands.guild_only()
        @app_commands.describe(
            audio="Your vocal or melody recording (MP3, WAV, OGG, FLAC, M4A…)",
            tags="Style, mood, instruments, e.g. 'lo-fi hip hop, warm piano, brushed drums'",
            negative_tags="What to avoid, e.g. 'heavy metal, distortion'",
            title="Title of the track (defaults to the file name)",
            style_weight="How closely to follow your tags, from 0 to 1",
            weirdness="How adventurous the arrangement may get, from 0 to 1",
            audio_weight="How closely to follow your recording, from 0 to 1",
            vocal_gender="Voice to favour when the track has vocals",
            model="Which music model to use",
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
            )
            await cog.instrumental(interaction, audio, options)

        return instrumental

    # -- the flow ------------------------------------------------------------------------

    async def instrumental(
        self, interaction: discord.Interaction, audio: discord.Attachment, options: Options
    ) -> None:
        # Private and first: everything below may be slow, and refusals stay private.
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = self._usable_channel(interaction)
        data = await self._read_recording(audio)
        new = self._new_task(interaction, channel, audio, options)
        upload_limit = interaction.guild.filesize_limit if interaction.guild else 10 * 1024**2
        input_file = (
            discord.File(io.BytesIO(data), filename=audio.filename)
            if len(data) <= upload_limit
            else None
        )
        async with self.delivery.placing(interaction.id):
            task, created = await self.bot.lifecycle.request(new)
            if not created:
                await interaction.followup.send(
                    "I already have this request; follow it on its card.", ephemeral=True
                )
                return
            view = await self.bot.lifecycle.view(task.id)
            assert view is not None
            note = (
                None if input_file else f"🎙️ Input recording: `{audio.filename}` (too big to repost)"
            )
            place, thread_refused = await self.delivery.post_card(
                channel,
                view,
                input_file=input_file,
                input_note=note,
                # A thread the bot cannot post in would swallow every update.
                threads=interaction.app_permissions.send_messages_in_threads,
            )
        message = f"Got it! Follow along in {place.target.mention}."
        if thread_refused:
            message += " I couldn't start a thread here, so updates will be posted in this channel."
        elif place.in_place and not isinstance(channel, discord.Thread):
            message += " Threads aren't possible here, so updates will be posted in this channel."
        await interaction.followup.send(message, ephemeral=True)

    def _usable_channel(self, interaction: discord.Interaction) -> Postable:
        channel = interaction.channel
        if not isinstance(channel, Postable):
            raise Refusal("I can't post results in this kind of channel; try a text channel.")
        perms = interaction.app_permissions
        in_thread = isinstance(channel, discord.Thread)
        missing = [
            name
            for name, ok in (
                (
                    "send messages",
                    perms.send_messages_in_threads if in_thread else perms.send_messages,
                ),
                ("embed links", perms.embed_links),
                ("attach files", perms.attach_files),
                ("read message history", perms.read_message_history),
            )
            if not ok
        ]
        if missing:
            raise Refusal(f"I can't work here: I need permission to {', '.join(missing)}.")
        return channel

    async def _read_recording(self, audio: discord.Attachment) -> bytes:
        settings = self.bot.settings
        if audio.size == 0:
            raise Refusal("That file is empty: attach the recording itself.")
        if audio.size > settings.input_max_bytes:
            raise Refusal(
                f"That file is {megabytes(audio.size)}; recordings can be at most "
                f"{megabytes(settings.input_max_bytes)}."
            )
        try:
            data = await audio.read()
        except discord.HTTPException as exc:
            log.warning("could not read attachment %s (%s)", audio.id, exc)
            raise Refusal("I couldn't download that file from Discord; please try again.") from None
        if not data:
            raise Refusal("That file is empty: attach the recording itself.")
        if sniff_audio(data[:SNIFF_BYTES]) is None:
            raise Refusal(
                "That file isn't a recording I can read: attach MP3, WAV, OGG, FLAC or M4A audio."
            )
        duration = await asyncio.to_thread(probe_duration, data)
        if duration is not None:
            if duration < settings.input_min_seconds:
                raise Refusal(
                    f"That recording is {seconds_text(duration)} long; it must be at least "
                    f"{seconds_text(settings.input_min_seconds)}."
                )
            if duration > settings.input_max_seconds:
                raise Refusal(
                    f"That recording is {seconds_text(duration)} long; it can be at most "
                    f"{seconds_text(settings.input_max_seconds)}."
                )
        return data

    def _new_task(
        self,
        interaction: discord.Interaction,
        channel: Postable,
        audio: discord.Attachment,
        options: Options,
    ) -> NewTask:
        settings = self.bot.settings
        title = " ".join((options.title or "").split()) or title_from_filename(audio.filename)
        tags = (options.tags or "").strip() or settings.default_tags
        negative_tags = (options.negative_tags or "").strip() or settings.default_negative_tags
        for name, text in (("Tags", tags), ("Negative tags", negative_tags)):
            if len(text) > TAGS_MAX:
                raise Refusal(f"{name} can be at most {TAGS_MAX} characters (yours: {len(text)}).")
        model = options.model or settings.suno_default_model
        if model not in settings.suno_allowed_models:
            raise Refusal(f"The model {model} is not offered here.")
        gender = GENDERS.get(options.vocal_gender) if options.vocal_gender else None
        return NewTask(
            interaction_id=interaction.id,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=channel.id,
            thread_id=channel.id if isinstance(channel, discord.Thread) else None,
            upload_url=audio.url,
            input_filename=audio.filename[:200],
            title=title[:TITLE_MAX],
            tags=tags,
            negative_tags=negative_tags,
            model=model,
            vocal_gender=gender,
            style_weight=_weight(options.style_weight),
            weirdness=_weight(options.weirdness),
            audio_weight=_weight(options.audio_weight),
        )

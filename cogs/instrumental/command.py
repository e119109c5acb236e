"""`/instrumental`: a thin translator from the slash command onto the intake, then the card."""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import validate
from bot.core.intake import Accepted, Options, Recording
from bot.music.models import TAGS_MAX, TITLE_MAX
from bot.store import Origin
from cogs.instrumental import render
from cogs.instrumental.delivery import DiscordDelivery
from cogs.instrumental.menu import build_menu
from cogs.instrumental.placement import Place, Postable
from cogs.instrumental.requests import (
    channel_permissions,
    recording_of,
    request_of,
    usable_channel,
)
from cogs.instrumental.takes import Takes, TaskButton

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

MAX_CHOICES = 25  # Discord's limit per option
GENDER_CHOICES = ("male", "female")
Weight = app_commands.Range[float, 0.0, 1.0]
Tags = app_commands.Range[str, 1, TAGS_MAX]
Title = app_commands.Range[str, 1, TITLE_MAX]
Seconds = app_commands.Range[float, 0.0, 24 * 3600.0]
GOT_IT_LATER = "Got it! Your card will appear in this channel shortly."


class Instrumental(commands.Cog):
    """`/instrumental` and the Discord side of task delivery."""

    def __init__(self, bot: Backline, delivery: DiscordDelivery | None = None) -> None:
        self.bot = bot
        self.delivery = delivery or DiscordDelivery(bot)
        self.takes = Takes(bot, self)
        self.menu = build_menu(self)
        # The model choices come from the settings, so the command is built per instance.
        self.slash_command = self._build_command(bot.settings.suno_allowed_models)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.slash_command)
        self.bot.tree.add_command(self.menu)
        self.bot.add_dynamic_items(TaskButton)  # result buttons, by their custom ids
        # The lifecycle keeps this port across reloads; a reloaded cog sets a fresh one.
        self.bot.lifecycle.port = self.delivery

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
        await self.start(interaction, channel, recording_of(audio), options)

    async def start(
        self,
        interaction: discord.Interaction,
        channel: Postable,
        recording: Recording,
        options: Options,
        *,
        origin: Origin = Origin.SLASH,
        parent_task_id: int | None = None,
    ) -> None:
        """Every way a request starts ends here, after a private acknowledgement: the intake
        records it (or refuses), then the card is posted where `channel` says."""
        request = replace(
            request_of(interaction, channel, recording, options),
            origin=origin,
            parent_task_id=parent_task_id,
        )
        accepted = await self.bot.intake.take(request)
        if not accepted.created:
            await interaction.followup.send(
                "I already have this request; follow it on its card.", ephemeral=True
            )
            return
        try:
            place, thread_refused = await self._place(interaction, channel, recording, accepted)
        except Exception:
            # Recorded means paid for soon: never say "try again" now, that charges twice.
            # The scheduler posts the card instead, as after a crash.
            log.exception("task %d: could not post its card", accepted.task.id)
            await self.bot.lifecycle.placing_failed(accepted.task.id)
            await interaction.followup.send(GOT_IT_LATER, ephemeral=True)
            return
        message = f"Got it! Follow along in {place.target.mention}."
        if thread_refused:
            message += " I couldn't start a thread here, so updates will be posted in this channel."
        elif (
            place.in_place
            and not accepted.task.in_place  # the server chose it: nothing to explain
            and not isinstance(channel, discord.Thread)
        ):
            message += " Threads aren't possible here, so updates will be posted in this channel."
        task = accepted.task
        message += validate.rounding_note(
            {name: getattr(options, name) for name in validate.WEIGHTS},
            {name: getattr(task, name) for name in validate.WEIGHTS},
        )
        await interaction.followup.send(message, ephemeral=True)

    async def _place(
        self,
        interaction: discord.Interaction,
        channel: Postable,
        recording: Recording,
        accepted: Accepted,
    ) -> tuple[Place, bool]:
        """The card, its thread and the input recording at the head of it, recorded: every
        later update goes by these stored ids (and a transcoded part's URL is what the API
        fetches)."""
        view = await self.bot.lifecycle.view(accepted.task.id)
        assert view is not None
        upload_limit = interaction.guild.filesize_limit if interaction.guild else 10 * 1024**2
        files, note = input_post(accepted, recording.filename, upload_limit)
        place, thread_refused = await self.delivery.placement.post_card(
            channel,
            view,
            input_files=files,
            input_note=note,
            # A thread the bot cannot post in would swallow every update.
            threads=channel_permissions(interaction, channel).send_messages_in_threads,
        )
        await self.bot.lifecycle.placed(
            accepted.task.id,
            card_message_id=place.card_message_id,
            thread_id=place.thread_id,
            input_message_id=place.input_message_id,
            upload_url=place.input_url if accepted.sent is not None else None,
        )
        return place, thread_refused


def input_post(
    accepted: Accepted, filename: str, upload_limit: int
) -> tuple[list[discord.File], str | None]:
    """The files heading the thread, and the note above them (None: the usual one). A part
    the bot transcoded or trimmed comes first (the API fetches it from there), the member's
    own file beside it when both fit."""
    original = discord.File(io.BytesIO(accepted.audio), filename=filename)
    if accepted.sent is None:
        if len(accepted.audio) <= upload_limit:
            return [original], None
        return [], render.input_note(filename)
    sent = discord.File(
        io.BytesIO(accepted.sent), filename=f"{PurePosixPath(filename).stem}.{accepted.sent_kind}"
    )
    both = len(accepted.sent) + len(accepted.audio) <= upload_limit
    note = (
        f"🎙️ Input recording from {render.requester(accepted.task)}, sent to the music service "
        f"as {accepted.task.input_sent}"
        + ("; the original is attached too." if both else " (the original is too big to repost).")
    )
    return ([sent, original] if both else [sent]), note

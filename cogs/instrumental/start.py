"""The one starter: every way a request starts (`/instrumental`, "Add instrumental", Re-roll,
Tweak, Retry) ends in `Starter.start`, after a private acknowledgement. The intake records
the request (or refuses), then the card is posted and its place recorded. The bot holds it
as `bot.starter`, so forms and buttons reach it without looking up a cog."""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import discord

from bot.app import Postable
from bot.core import validate
from bot.core.intake import Accepted, Options, Recording
from bot.store import Origin
from cogs.instrumental import render
from cogs.instrumental.placement import Place, Placement
from cogs.instrumental.requests import channel_permissions, request_of

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

GOT_IT_LATER = "Got it! Your card will appear in this channel shortly."


class Starter:
    """Implements `bot.app.Starter`."""

    def __init__(self, bot: Backline, placement: Placement) -> None:
        self.bot = bot
        self.placement = placement

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
        """The intake records the request (or refuses), then the card is posted where
        `channel` says and the member hears where to follow it."""
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
        place, thread_refused = await self.placement.post_card(
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

"""The Discord side of the lifecycle's delivery port: status cards, thread, track posts.

Everything goes through channels and message ids, never the interaction token (it dies
after 15 minutes, generation can take longer).

Where a task's card lives is decided once, by the command that placed it. The command
records the task *before* it posts the card (so one interaction can never become two
submissions); until the card's place is stored, the port waits for the command. After a
crash between recording and storing the place, no command is placing it any more: the
port then adopts the card if the command had posted it, or posts one itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.audio import sniff_audio
from bot.fetch import FetchError, TooLarge, fetch_capped
from bot.lifecycle import TaskView
from bot.store import TaskRow, TrackRow
from cogs.instrumental import card

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
HISTORY_LOOKBACK = 50  # messages searched for a post that may have happened before a crash
PLACING_WAIT = 60.0  # seconds the port waits for a command that is posting a card
DOWNLOAD_TIMEOUT = 60.0
REQUEST_TOO_LARGE = 40005  # Discord's "Request entity too large"

# A channel the bot can post in and read back.
Postable = discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel


class NotPlaced(RuntimeError):
    """The task's card is not posted yet; the lifecycle retries later."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a task's card is (`card_channel`) and where its updates go (`target`)."""

    card_channel: Postable
    card_message_id: int
    target: Postable

    @property
    def in_place(self) -> bool:
        """No thread of its own: updates answer the card where it is."""
        return self.target.id == self.card_channel.id


def requester_only(user_id: int) -> discord.AllowedMentions:
    return discord.AllowedMentions(
        everyone=False, users=[discord.Object(user_id)], roles=False, replied_user=False
    )


def can_thread(channel: object) -> bool:
    """A thread can be started from a message here (Discord refuses it in voice/stage chat)."""
    return isinstance(channel, discord.TextChannel)


class DiscordDelivery:
    """Implements `bot.lifecycle.DeliveryPort`."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        self._placing: dict[int, asyncio.Event] = {}  # interaction id -> set when placed
        self._locks: dict[int, asyncio.Lock] = {}  # task id -> serialises crash-recovery placing

    # -- placing (shared with the command) -----------------------------------------------

    @contextlib.asynccontextmanager
    async def placing(self, interaction_id: int) -> AsyncIterator[None]:
        """The command holds this while it records a task and posts its card."""
        event = self._placing.setdefault(interaction_id, asyncio.Event())
        try:
            yield
        finally:
            event.set()
            self._placing.pop(interaction_id, None)

    async def post_card(
        self,
        channel: Postable,
        view: TaskView,
        *,
        input_file: discord.File | None = None,
        input_note: str | None = None,
        threads: bool = True,
    ) -> tuple[Place, bool]:
        """Post the card (and a thread from it where possible); returns the place and
        whether a thread was wanted but could not be started."""
        task = view.task
        message = await channel.send(
            embed=card.card_embed(view), allowed_mentions=discord.AllowedMentions.none()
        )
        target: Postable = channel
        thread_refused = can_thread(channel) and not threads
        if can_thread(channel) and threads:
            try:
                target = await message.create_thread(
                    name=card.thread_name(task.title), auto_archive_duration=1440
                )
            except discord.Forbidden:
                thread_refused = True
            except discord.HTTPException as exc:
                log.warning("task %d: could not start a thread (%s)", task.id, exc)
                thread_refused = True
        await self._post_input(task, message, target, input_file, input_note)
        thread_id = target.id if isinstance(target, discord.Thread) else None
        await self.bot.store.set_discord_place(
            task.id, thread_id=thread_id, card_message_id=message.id
        )
        return Place(channel, message.id, target), thread_refused

    async def _post_input(
        self,
        task: TaskRow,
        card_message: discord.Message,
        target: Postable,
        input_file: discord.File | None,
        note: str | None,
    ) -> None:
        """The recording heads the thread (or answers the card in place): self-contained."""
        text = note or f"🎙️ Input recording from <@{task.user_id}>"
        # A thread started from the card has the card's id; elsewhere answer the card.
        reference = (
            None
            if target.id == card_message.id
            else card_message.to_reference(fail_if_not_exists=False)
        )
        try:
            await target.send(
                text,
                file=input_file,  # type: ignore[arg-type]  # None is accepted at runtime
                reference=reference,  # type: ignore[arg-type]
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            # Nice to have only: the task goes on without it.
            log.warning("task %d: could not post the input recording (%s)", task.id, exc)

    async def _place(self, task: TaskRow) -> Place:
        """Where the task's card and updates are; waits for, adopts or posts the card."""
        if task.card_message_id is None and task.interaction_id in self._placing:
            event = self._placing[task.interaction_id]
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PLACING_WAIT):
                    await event.wait()
            task = await self._fresh(task)
        if task.card_message_id is None:
            lock = self._locks.setdefault(task.id, asyncio.Lock())
            try:
                async with lock:
                    task = await self._fresh(task)
                    if task.card_message_id is None:
                        return await self._recover_place(task)
            finally:
                if not lock.locked():
                    self._locks.pop(task.id, None)
        channel = await self._channel(task.channel_id)
        target = channel
        if task.thread_id is not None and task.thread_id != task.channel_id:
            try:
                target = await self._channel(task.thread_id)
            except (discord.NotFound, discord.Forbidden):
                # The thread was deleted: updates go next to the card instead.
                target = channel
        assert task.card_message_id is not None
        return Place(channel, task.card_message_id, target)

    async def _recover_place(self, task: TaskRow) -> Place:
        """After a crash between recording and storing the card's place."""
        channel = await self._channel(task.channel_id)
        async for message in channel.history(limit=HISTORY_LOOKBACK):
            if self._is_mine(message) and any(
                e.footer.text == card.card_marker(task.id) for e in message.embeds
            ):
                thread = (
                    channel.get_thread(message.id)
                    if isinstance(channel, discord.TextChannel)
                    else None
                )
                target: Postable = thread or channel
                await self.bot.store.set_discord_place(
                    task.id, thread_id=thread.id if thread else None, card_message_id=message.id
                )
                log.info("task %d: adopted its status card after a restart", task.id)
                return Place(channel, message.id, target)
        view = await self.bot.lifecycle.view(task.id)
        assert view is not None
        place, _ = await self.post_card(
            channel,
            view,
            input_note=f"🎙️ Input recording from <@{task.user_id}>: `{task.input_filename}`",
        )
        log.info("task %d: posted its status card after a restart", task.id)
        return place

    async def _fresh(self, task: TaskRow) -> TaskRow:
        return await self.bot.store.get_task(task.id) or task

    async def _channel(self, channel_id: int) -> Postable:
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            channel = await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, Postable):
            raise NotPlaced(f"channel {channel_id} cannot hold messages")
        return channel

    def _is_mine(self, message: discord.Message) -> bool:
        return self.bot.user is not None and message.author.id == self.bot.user.id

    # -- the port ------------------------------------------------------------------------

    async def show(self, view: TaskView) -> None:
        task = view.task
        place = await self._place(task)
        if view.display == "failed":
            await self._announce_failure(task, place)
        await place.card_channel.get_partial_message(place.card_message_id).edit(
            embed=card.card_embed(view), allowed_mentions=discord.AllowedMentions.none()
        )

    async def _announce_failure(self, task: TaskRow, place: Place) -> None:
        """Tell the requester once (`show` may run again for the same failure)."""
        marker = card.failure_marker(task.id)
        async for message in place.target.history(limit=HISTORY_LOOKBACK):
            if self._is_mine(message) and any(e.footer.text == marker for e in message.embeds):
                return
        await place.target.send(
            f"<@{task.user_id}> sorry, this one could not be made.",
            embed=card.failure_embed(task),
            reference=self._reference(place),
            allowed_mentions=requester_only(task.user_id),
        )

    def _reference(self, place: Place) -> discord.MessageReference | None:
        if not place.in_place:
            return None
        return discord.MessageReference(
            message_id=place.card_message_id,
            channel_id=place.card_channel.id,
            fail_if_not_exists=False,
        )

    async def deliver(self, task: TaskRow, track: TrackRow) -> int:
        place = await self._place(task)
        view = await self.bot.lifecycle.view(task.id)
        total = len(view.tracks) if view else 1
        limit = self._upload_limit(place.target)
        data = await self._download(task, track, limit)
        mention = f"<@{task.user_id}> track {track.position + 1} of {total} is ready."
        if data is not None:
            name = f"{_file_stem(track.title or task.title)}.{sniff_audio(data[:64]) or 'mp3'}"
            try:
                message = await place.target.send(
                    mention,
                    embed=card.track_embed(task, track, total=total, linked=False),
                    file=discord.File(io.BytesIO(data), filename=name),
                    reference=self._reference(place),
                    allowed_mentions=requester_only(task.user_id),
                )
            except discord.HTTPException as exc:
                # Too large after all, or no right to attach files here: a link still works.
                if exc.status not in (403, 413) and exc.code != REQUEST_TOO_LARGE:
                    raise
                log.info("task %d: track file refused (%s), sending a link", task.id, exc)
            else:
                return message.id
        message = await place.target.send(
            mention,
            embed=card.track_embed(task, track, total=total, linked=True),
            reference=self._reference(place),
            allowed_mentions=requester_only(task.user_id),
        )
        return message.id

    def _upload_limit(self, channel: Postable) -> int:
        guild = getattr(channel, "guild", None)
        limit = guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT
        return min(limit, self.bot.settings.result_max_bytes)

    async def _download(self, task: TaskRow, track: TrackRow, limit: int) -> bytes | None:
        """The audio when it fits the upload limit; None means "post a link"."""
        if not track.audio_url:
            return None
        try:
            return await fetch_capped(
                self.bot.session, track.audio_url, max_bytes=limit, timeout=DOWNLOAD_TIMEOUT
            )
        except TooLarge:
            log.info("task %d: track %d is over %d bytes, linking it", task.id, track.id, limit)
        except FetchError as exc:
            log.warning(
                "task %d: track %d download failed (%s), linking it", task.id, track.id, exc
            )
        return None

    async def find_delivery(self, task: TaskRow, track: TrackRow) -> int | None:
        place = await self._place(task)
        marker = card.track_marker(track)
        async for message in place.target.history(limit=HISTORY_LOOKBACK):
            if self._is_mine(message) and any(
                (e.footer.text or "").endswith(marker) for e in message.embeds
            ):
                return message.id
        return None


def _file_stem(title: str) -> str:
    safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip()
    return (safe or "instrumental")[:80]

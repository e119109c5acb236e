"""Where a task lives in Discord: its status card, the thread started from it, the input.

Whoever starts a request posts its card right after the intake records it, and stores the
card's place (`Lifecycle.placed`). Every later edit or post goes by those stored ids. Only
after a crash between recording and placing does the port place a card itself
(`recover`): it adopts a card posted just before the crash, or posts one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import discord

from bot.app import Postable
from bot.core.tasks import Shown, TaskView
from bot.core.tasks.port import PermanentDeliveryError
from bot.store import TaskRow
from cogs.instrumental import render

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

HISTORY_LOOKBACK = 50  # messages searched for a card or post made just before a crash

THREAD_LOCKED = "The thread for this request was locked, so I can't post in it."
THREAD_CLOSED = "The thread for this request was archived and I'm not allowed to reopen it."
NOT_A_CHANNEL = "That channel can no longer hold my posts."


class NotPlaced(RuntimeError):
    """The task's card is not posted yet; retried later."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a task's card is (`card_channel`) and where its updates go (`target`)."""

    card_channel: Postable
    card_message_id: int
    target: Postable
    input_message_id: int | None = None  # the member's recording, reposted at the head
    input_url: str | None = None  # the first file of that post (what the API may fetch)

    @property
    def thread_id(self) -> int | None:
        return self.target.id if isinstance(self.target, discord.Thread) else None

    def shown(self) -> Shown:
        """What the store must remember of a place the port posted itself."""
        return Shown(self.card_message_id, self.thread_id, self.input_message_id)

    @property
    def in_place(self) -> bool:
        """No thread of its own: updates answer the card where it is."""
        return self.target.id == self.card_channel.id

    def reply(self) -> dict[str, Any]:
        """`send` keywords: posts in place answer the card; in a thread they need none."""
        if not self.in_place:
            return {}
        reference = discord.MessageReference(
            message_id=self.card_message_id,
            channel_id=self.card_channel.id,
            fail_if_not_exists=False,
        )
        return {"reference": reference}


def attach(file: discord.File | None) -> dict[str, Any]:
    """`send` keywords for an optional file (discord.py wants the keyword left out)."""
    return {"file": file} if file is not None else {}


def can_thread(channel: object) -> bool:
    """A thread can be started from a message here (Discord refuses it in voice/stage chat)."""
    return isinstance(channel, discord.TextChannel)


def nonce(kind: str, row_id: int) -> str:
    """A message nonce per post: Discord then drops a repeat of the same post (enforce_nonce),
    so a send retried after a lost answer does not post twice."""
    return f"bl{kind}{row_id}"


class Placement:
    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        # Threads Discord answered 404 for: gone for good (ids are never reused), so a
        # task's later cards and posts go next to the card without asking again.
        self._gone: set[int] = set()

    async def post_card(
        self,
        channel: Postable,
        view: TaskView,
        *,
        input_files: Sequence[discord.File] = (),
        input_note: str | None = None,
        threads: bool = True,
    ) -> tuple[Place, bool]:
        """The card, a thread from it where possible, the input post at its head; returns
        the place and whether a thread was wanted but could not be started. The caller
        records the place (`Lifecycle.placed`, or `Shown` after a crash)."""
        task = view.task
        message = await channel.send(
            embed=render.card_embed(view),
            allowed_mentions=discord.AllowedMentions.none(),
            nonce=nonce("c", task.id),
        )
        target: Postable = channel
        wanted = can_thread(channel) and not task.in_place  # the server may want no threads
        thread_refused = wanted and not threads
        if wanted and threads:
            try:
                target = await message.create_thread(
                    name=render.thread_name(task.title), auto_archive_duration=1440
                )
            except discord.Forbidden:
                thread_refused = True
            except discord.HTTPException as exc:
                log.warning("task %d: could not start a thread (%s)", task.id, exc)
                thread_refused = True
        place = Place(channel, message.id, target)
        posted = await self._post_input(task, place, input_files, input_note)
        if posted is None:
            return place, thread_refused
        url = posted.attachments[0].url if posted.attachments else None
        return replace(place, input_message_id=posted.id, input_url=url), thread_refused

    async def _post_input(
        self, task: TaskRow, place: Place, files: Sequence[discord.File], note: str | None
    ) -> discord.Message | None:
        """The recording heads the thread (or answers the card in place): self-contained."""
        text = note or f"🎙️ Input recording from {render.requester(task)}"
        try:
            message: discord.Message = await place.target.send(
                text,
                files=list(files),
                **place.reply(),
                allowed_mentions=discord.AllowedMentions.none(),
                nonce=nonce("i", task.id),
            )
            return message
        except discord.HTTPException as exc:
            # Nice to have only, unless the API was to fetch it (the task then fails, unpaid).
            log.warning("task %d: could not post the input recording (%s)", task.id, exc)
            return None

    async def place_of(self, task: TaskRow, *, thread: bool = True) -> Place:
        """The task's place from its stored ids; with `thread=False` only the card's (no
        look-up of a thread that is archived, so out of the cache, or gone)."""
        if task.card_message_id is None:
            raise NotPlaced(f"task {task.id} has no card yet")
        channel = await self.channel(task.channel_id)
        target = channel
        thread_id = task.thread_id
        if thread and thread_id not in (None, task.channel_id) and thread_id not in self._gone:
            try:
                target = await self.channel(thread_id)
            except discord.NotFound:
                # The thread was deleted: updates go next to the card instead.
                self._gone.add(thread_id)
            except discord.Forbidden:
                pass  # out of reach for now (permissions can come back): next to the card
        return Place(channel, task.card_message_id, target)

    async def open_target(self, place: Place) -> None:
        """Before posting where the place's updates go: see `reopen`."""
        await self.reopen(place.target)

    async def reopen(self, channel: Postable) -> None:
        """Before posting or editing in a thread: reopen it if it was archived (Discord
        refuses both in an archived thread). A locked thread takes them only from members
        who may manage threads: without that right it is refused for good."""
        if not isinstance(channel, discord.Thread):
            return
        manage = False
        me = channel.guild.me
        if me is not None:
            try:
                manage = channel.permissions_for(me).manage_threads
            except discord.ClientException:  # parent channel not cached
                manage = False
        if channel.locked and not manage:
            raise PermanentDeliveryError(THREAD_LOCKED)
        if channel.archived:
            # Unlocked, reopening needs only the right to post there; locked, the right to
            # manage threads (checked above).
            try:
                await channel.edit(archived=False)
            except discord.Forbidden:
                raise PermanentDeliveryError(THREAD_CLOSED) from None
            log.info("thread %d: reopened to post in it", channel.id)

    async def recover(self, task: TaskRow, view: TaskView) -> tuple[Place, Shown]:
        """After a crash between recording a task and storing its card's place: adopt the
        card posted just before the crash, or post one. Returns what the store must note."""
        channel = await self.channel(task.channel_id)
        marker = render.card_marker(task.id)
        async for message in channel.history(limit=HISTORY_LOOKBACK):
            if self.is_mine(message) and any(e.footer.text == marker for e in message.embeds):
                thread = (
                    channel.get_thread(message.id)
                    if isinstance(channel, discord.TextChannel)
                    else None
                )
                log.info("task %d: adopted its status card after a restart", task.id)
                thread_id = thread.id if thread else None
                shown = Shown(card_message_id=message.id, thread_id=thread_id)
                return Place(channel, message.id, thread or channel), shown
        note = f"🎙️ Input recording from {render.requester(task)}: `{task.input_filename}`"
        place, _ = await self.post_card(channel, view, input_note=note)
        log.info("task %d: posted its status card after a restart", task.id)
        return place, place.shown()

    async def channel(self, channel_id: int) -> Postable:
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            channel = await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, Postable):
            raise PermanentDeliveryError(NOT_A_CHANNEL)
        return channel

    def is_mine(self, message: discord.Message) -> bool:
        return self.bot.user is not None and message.author.id == self.bot.user.id

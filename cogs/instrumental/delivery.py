"""The Discord side of the lifecycle's delivery port.

Everything goes through channels and stored message ids, never the interaction token (it
dies after 15 minutes, generation can take longer).

What Discord will never take (no access, gone, a request it refuses: 400, 403, 404) is
raised as `PermanentDeliveryError` with a sentence the member reads, so the core stops at
once: every refused request counts towards the ban Discord gives after 10,000 invalid
requests in 10 minutes. Rate limits (discord.py waits them out itself), server errors and
connection trouble stay transient: the core tries again, a bounded number of times.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import discord

from bot.core.tasks import Shown, TaskView
from bot.core.tasks.port import PermanentDeliveryError, PostMark
from bot.store import TaskRow, TrackRow
from cogs._ui import shown
from cogs.instrumental import render
from cogs.instrumental.buttons import buttons_for
from cogs.instrumental.placement import THREAD_LOCKED, Placement, nonce
from cogs.instrumental.posting import Posting

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

THREAD_ARCHIVED = 50083  # the thread was archived since it was looked up: reopened next try

# Discord's JSON error codes that will never succeed, in words for the member.
REASONS: dict[int, str] = {
    10003: "That channel or thread is gone, or I can no longer reach it.",
    10004: "I'm no longer in that server.",
    10008: "The status card for this request was deleted.",
    50001: "I can no longer see that channel.",
    50013: "I'm no longer allowed to post there.",
    160005: THREAD_LOCKED,
}
BY_STATUS: dict[int, str] = {
    400: "Discord refused my post there.",
    403: "Discord no longer lets me post there.",
    404: "What I was posting to is gone.",
}


def permanent(exc: discord.HTTPException) -> PermanentDeliveryError | None:
    """The permanent error `exc` means, or None if trying again can help."""
    if exc.status not in BY_STATUS or exc.code == THREAD_ARCHIVED:
        return None
    return PermanentDeliveryError(REASONS.get(exc.code, BY_STATUS[exc.status]))


@contextlib.contextmanager
def classified() -> Iterator[None]:
    """Raise what Discord refuses for good as `PermanentDeliveryError`; the rest as is."""
    try:
        yield
    except discord.HTTPException as exc:
        error = permanent(exc)
        if error is None:
            raise
        raise error from exc


class DiscordDelivery:
    """Implements `bot.core.tasks.DeliveryPort`."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        self.placement = Placement(bot)
        self.posting = Posting(bot)

    async def show(self, view: TaskView) -> Shown:
        with classified():
            return await self._show(view)

    async def _show(self, view: TaskView) -> Shown:
        task = view.task
        shown = Shown()
        if task.card_message_id is None:
            place, shown = await self.placement.recover(task, view)
        else:
            place = await self.placement.place_of(task, thread=False)
        if view.display == "failed" and task.notice_message_id is None and task.jam_id:
            # A jam entry that failed is not in the vote: its author hears it privately.
            notice = await self._tell_entrant(task)
            if notice is not None:
                shown = replace(shown, notice_message_id=notice)
        elif view.display == "failed" and task.notice_message_id is None:
            try:
                with classified():
                    if task.card_message_id is not None:
                        place = await self.placement.place_of(task)
                    await self.placement.open_target(place)
                    notice = await self.posting.failure(task, place)
            except PermanentDeliveryError as exc:
                # The card below still says why the request failed.
                log.info("task %d: failure notice not posted (%s)", task.id, exc.reason)
            else:
                shown = replace(shown, notice_message_id=notice)
        await self.placement.reopen(place.card_channel)  # a card asked for in a thread
        await place.card_channel.get_partial_message(place.card_message_id).edit(
            embed=render.card_embed(view),
            view=buttons_for(view),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        return shown

    async def deliver(self, task: TaskRow, track: TrackRow, total: int) -> int:
        with classified():
            place = await self.placement.place_of(task)
            await self.placement.open_target(place)
            return await self.posting.track(task, track, place, total=total)

    async def mark(self, task: TaskRow, track: TrackRow) -> PostMark:
        """The post's nonce, and the newest message id known where it goes (discord.py's
        cache of the channel's last message, or the card's): the post comes after it."""
        with classified():
            place = await self.placement.place_of(task)
        last = getattr(place.target, "last_message_id", None) or 0
        return PostMark(nonce("t", track.id), max(last, place.card_message_id))

    async def find_delivery(self, task: TaskRow, track: TrackRow) -> int | None:
        with classified():
            return await self.posting.find_track(track, await self.placement.place_of(task))

    async def withdraw(self, task: TaskRow, message_id: int) -> None:
        with contextlib.suppress(discord.NotFound):  # gone already (or its whole thread)
            place = await self.placement.place_of(task)
            await place.target.get_partial_message(message_id).delete()

    async def _tell_entrant(self, task: TaskRow) -> int | None:
        reason = task.error or "The music service could not make this track."
        text = (
            f"Your jam entry **{shown(task.title, 100)}** could not be "
            f"made: {reason} It is not in the vote; while submissions are open you can enter "
            "again in the jam's thread."
        )
        try:
            user = self.bot.get_user(task.user_id) or await self.bot.fetch_user(task.user_id)
            message = await user.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.info("task %d: could not tell the entrant by DM (%s)", task.id, exc)
            return None
        return int(message.id)

    async def give_up(self, task: TaskRow, reason: str) -> None:
        """A direct message to the requester: where the request was and why nothing more
        comes. Members who take no DMs (403) or left Discord are only logged."""
        try:
            user = self.bot.get_user(task.user_id) or await self.bot.fetch_user(task.user_id)
            await user.send(
                render.give_up_text(task, reason), allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.HTTPException as exc:
            log.info("task %d: could not tell the requester by DM (%s)", task.id, exc)
            return
        log.info("task %d: told the requester by DM that posting was given up", task.id)

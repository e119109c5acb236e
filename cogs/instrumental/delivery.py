"""The Discord side of the lifecycle's delivery port.

Everything goes through channels and stored message ids, never the interaction token (it
dies after 15 minutes, generation can take longer).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import discord

from bot.core.tasks import Shown, TaskView
from bot.store import TaskRow, TrackRow
from cogs.instrumental import render
from cogs.instrumental.placement import Placement
from cogs.instrumental.posting import Posting

if TYPE_CHECKING:
    from bot.app import Backline


class DiscordDelivery:
    """Implements `bot.core.tasks.DeliveryPort`."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        self.placement = Placement(bot)
        self.posting = Posting(bot)

    async def show(self, view: TaskView) -> Shown:
        task = view.task
        shown = Shown()
        if task.card_message_id is None:
            place, shown = await self.placement.recover(task, view)
        else:
            place = await self.placement.place_of(task)
        if view.display == "failed" and task.notice_message_id is None:
            notice = await self.posting.failure(task, place)
            shown = replace(shown, notice_message_id=notice)
        await place.card_channel.get_partial_message(place.card_message_id).edit(
            embed=render.card_embed(view), allowed_mentions=discord.AllowedMentions.none()
        )
        return shown

    async def deliver(self, task: TaskRow, track: TrackRow) -> int:
        place = await self.placement.place_of(task)
        view = await self.bot.lifecycle.view(task.id)
        total = len(view.tracks) if view else 1
        return await self.posting.track(task, track, place, total=total)

    async def find_delivery(self, task: TaskRow, track: TrackRow) -> int | None:
        return await self.posting.find_track(track, await self.placement.place_of(task))

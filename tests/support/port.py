"""The delivery port's contract kept in memory, the way Discord keeps messages."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from bot.core.tasks import Shown, TaskView
from bot.store import TaskRow, TrackRow


@dataclass
class MemoryPort:
    """Records every card drawn and every post (with the moment it was made); can fail or
    hang on demand to play a Discord outage or a crash around a post."""

    views: list[TaskView] = field(default_factory=list)
    posted: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    delivered_at: dict[tuple[str, str], float] = field(default_factory=dict)  # monotonic
    shows: int = 0
    posts: int = 0
    keep_views: bool = True  # benchmarks with 10,000 tasks keep only the counts
    fail_deliveries: int = 0
    fail_shows: int = 0
    hang_after_post: bool = False
    hang_before_post: bool = False
    expected_posts: int | None = None
    all_posted: asyncio.Event = field(default_factory=asyncio.Event)
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def show(self, view: TaskView) -> Shown:
        if self.fail_shows:
            self.fail_shows -= 1
            raise RuntimeError("Discord is down")
        self.shows += 1
        if self.keep_views:
            self.views.append(view)
        if view.task.card_message_id is None:  # nobody placed it: the port does
            return Shown(card_message_id=next(self._message_ids))
        return Shown()

    async def deliver(self, task: TaskRow, track: TrackRow) -> int:
        if self.fail_deliveries:
            self.fail_deliveries -= 1
            raise RuntimeError("Discord is down")
        if self.hang_before_post:
            await asyncio.Event().wait()
        message_id = next(self._message_ids)
        self.posts += 1
        self.posted.setdefault((task.id, track.api_track_id), []).append(message_id)
        self.delivered_at.setdefault((task.api_task_id or "", track.api_track_id), time.monotonic())
        if self.expected_posts is not None and len(self.delivered_at) >= self.expected_posts:
            self.all_posted.set()
        if self.hang_after_post:
            await asyncio.Event().wait()  # the process "dies" before the store hears of it
        return message_id

    async def find_delivery(self, task: TaskRow, track: TrackRow) -> int | None:
        found = self.posted.get((task.id, track.api_track_id))
        return found[0] if found else None

    def copies(self) -> list[int]:
        return [len(ids) for ids in self.posted.values()]

    @property
    def duplicates(self) -> int:
        return self.posts - len(self.posted)

    def last_view(self, task_id: int) -> TaskView:
        return [v for v in self.views if v.task.id == task_id][-1]

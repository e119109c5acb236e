"""The core's ports kept in memory: the delivery port's contract the way Discord keeps
messages, and the moderators' log."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.jams import Standing
from bot.core.tasks import DeliveryPort, PostMark, Shown, TaskView
from bot.services import Ports
from bot.store import JamRow, TaskRow, TrackRow


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
    # Unset: posts wait in their upload until it is set (a slow upload).
    uploads: asyncio.Event | None = None
    uploading: asyncio.Event = field(default_factory=asyncio.Event)  # a post is uploading
    withdrawn: list[int] = field(default_factory=list)  # posts deleted by the core
    expected_posts: int | None = None
    all_posted: asyncio.Event = field(default_factory=asyncio.Event)
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    # What a failing show, post or lookup raises (None: a transient "Discord is down"),
    # e.g. `lambda: PermanentDeliveryError("gone")`.
    fail_with: Callable[[], Exception] | None = None
    fail_lookups: int = 0
    lookups: int = 0  # find_delivery calls, failed ones included
    failed_shows: int = 0  # show calls that raised
    failed_posts: int = 0  # deliver calls that raised
    given_up: list[tuple[int, str]] = field(default_factory=list)  # (task id, reason)

    def _failure(self) -> Exception:
        return self.fail_with() if self.fail_with is not None else RuntimeError("Discord is down")

    async def show(self, view: TaskView) -> Shown:
        if self.fail_shows:
            self.fail_shows -= 1
            self.failed_shows += 1
            raise self._failure()
        self.shows += 1
        if self.keep_views:
            self.views.append(view)
        if view.task.card_message_id is None:  # nobody placed it: the port does
            return Shown(card_message_id=next(self._message_ids))
        return Shown()

    async def mark(self, task: TaskRow, track: TrackRow) -> PostMark:
        return PostMark(f"t{track.id}")

    async def deliver(self, task: TaskRow, track: TrackRow, total: int) -> int:
        if self.fail_deliveries:
            self.fail_deliveries -= 1
            self.failed_posts += 1
            raise self._failure()
        if self.hang_before_post:
            await asyncio.Event().wait()
        if self.uploads is not None:
            self.uploading.set()
            await self.uploads.wait()
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
        self.lookups += 1
        if self.fail_lookups:
            self.fail_lookups -= 1
            raise self._failure()
        found = self.posted.get((task.id, track.api_track_id))
        return found[0] if found else None

    async def withdraw(self, task: TaskRow, message_id: int) -> None:
        self.withdrawn.append(message_id)
        for ids in self.posted.values():
            if message_id in ids:
                ids.remove(message_id)

    async def give_up(self, task: TaskRow, reason: str) -> None:
        self.given_up.append((task.id, reason))

    def copies(self) -> list[int]:
        return [len(ids) for ids in self.posted.values()]

    @property
    def duplicates(self) -> int:
        return self.posts - len(self.posted)

    def last_view(self, task_id: int) -> TaskView:
        return [v for v in self.views if v.task.id == task_id][-1]


@dataclass
class MemoryModLog:
    """The moderators' log kept in memory: every line posted, with its server and channel."""

    lines: list[tuple[int, int, str]] = field(default_factory=list)

    async def post(self, guild_id: int, channel_id: int, text: str) -> None:
        self.lines.append((guild_id, channel_id, text))

    def texts(self) -> list[str]:
        return [text for _, _, text in self.lines]


class NoJams:
    """For a core run where no jam is ever started: a call is the test's mistake."""

    async def redraw(self, jam: JamRow, entries: int, making: int, winners: list[Standing]) -> None:
        raise AssertionError(f"jam {jam.id} in a run without jams")

    async def voting_opened(self, jam: JamRow, entries: list[TaskRow], making: int) -> None:
        raise AssertionError(f"jam {jam.id} in a run without jams")

    async def vote_button(self, jam: JamRow, entry: TaskRow, number: int, late: bool) -> int:
        raise AssertionError(f"jam {jam.id} in a run without jams")

    async def results(self, jam: JamRow, standings: list[Standing], left_out: int) -> int | None:
        raise AssertionError(f"jam {jam.id} in a run without jams")


def memory_ports(delivery: DeliveryPort | None = None) -> Ports:
    """The core's ports without Discord: tasks posted in memory (or to `delivery`), the
    moderators' log in memory, no jams."""
    return Ports(delivery=delivery or MemoryPort(), jams=NoJams(), mod_log=MemoryModLog())

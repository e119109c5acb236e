"""The delivery port: what the task core needs from the place members see, and what it
hands over (a `TaskView`). Discord implements it in `cogs/instrumental/delivery.py`.

The port says when a failure is for good by raising `PermanentDeliveryError`; the core
then stops at once instead of backing off (see `delivery`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.store import Delivery, Stage, TaskRow, TaskState, TrackRow

Display = Literal["waiting", "queued", "generating", "first", "done", "failed", "undelivered"]


class PermanentDeliveryError(Exception):
    """The place refused for good (no access, gone, a request it will never take): trying
    again cannot help. The port raises it; anything else it raises counts as transient.
    `reason` is one sentence a member reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TaskView:
    """What a status card shows."""

    task: TaskRow
    tracks: list[TrackRow]
    display: Display
    queue_position: int | None = None
    paused: str | None = None  # why nothing is being sent now (no credits, a refused key)
    parent: TaskRow | None = None  # the task this one re-rolls, tweaks or retries
    children: tuple[TaskRow, ...] = ()  # its re-rolls, tweaks and retries

    @property
    def stream_url(self) -> str | None:
        return next((t.stream_url or t.audio_url for t in self.tracks if t.ready_at), None)


def display_of(task: TaskRow, tracks: list[TrackRow]) -> Display:
    if task.state == TaskState.FAILED:
        return "failed"
    if task.delivery_error is not None or any(t.delivery == Delivery.FAILED for t in tracks):
        return "undelivered"
    if task.state in (TaskState.QUEUED, TaskState.SUBMITTING):
        return "waiting"
    delivered = all(t.delivery == Delivery.DELIVERED for t in tracks)
    if task.state == TaskState.DONE and delivered:
        return "done"
    if task.state == TaskState.DONE or task.stage == Stage.FIRST:
        return "first"
    return "generating" if task.stage == Stage.TEXT else "queued"


@dataclass(frozen=True, slots=True)
class Shown:
    """What drawing a card posted that the store must remember (None: nothing new)."""

    card_message_id: int | None = None
    thread_id: int | None = None
    input_message_id: int | None = None
    notice_message_id: int | None = None


@dataclass(frozen=True, slots=True)
class PostMark:
    """Recorded before a post (the "about to post" marker): the post's nonce, and a message
    id where it goes known to be older than it (None: unknown), from which a post made just
    before a crash is looked for, however many messages came after it."""

    nonce: str
    after: int | None = None


class DeliveryPort(Protocol):
    """What the lifecycle needs from the place members see (Discord, in production)."""

    async def show(self, view: TaskView) -> Shown:
        """Draw the task's status card; place it first if nobody did (after a crash), and
        tell a failed task's requester once. Called again after a failure: idempotent."""

    async def mark(self, task: TaskRow, track: TrackRow) -> PostMark:
        """What to record before posting this track (called right before `deliver`)."""

    async def deliver(self, task: TaskRow, track: TrackRow, total: int) -> int:
        """Post one finished track (of `total` the task has) with `track.post_nonce`; return
        the message id. Called only once the task's card is placed, and its `mark` recorded."""

    async def find_delivery(self, task: TaskRow, track: TrackRow) -> int | None:
        """After an interrupted `deliver`: the message id if the track was posted after all
        (looked for from `track.post_after` on)."""

    async def withdraw(self, task: TaskRow, message_id: int) -> None:
        """Delete a post that must not stay (its take was deleted while it uploaded, or
        another copy of it was recorded); a post already gone is fine."""

    async def give_up(self, task: TaskRow, reason: str) -> None:
        """Posting for this task was given up (`reason`): tell the requester where still
        possible. Called at most once per task; a requester who cannot be reached is
        logged, not raised."""

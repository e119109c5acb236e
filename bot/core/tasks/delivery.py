"""The members' side of a task, through the delivery port: status cards and track posts.

Each track is posted exactly once: the store marks a post as attempted before it is made
(with its nonce and where to look for it from), and an attempted post is looked up before
it is made again.

Nothing is retried forever (issue 9): a failure the port calls permanent ends the card or
the post at once; any other failure is tried again after a growing backoff, at most
`MAX_ATTEMPTS` times. A post given up ends as `Delivery.FAILED` with its reason, a card
given up keeps its reason, and the requester is told once (`DeliveryPort.give_up`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from bot import metrics
from bot.core.tasks.pause import SubmissionPause
from bot.core.tasks.port import DeliveryPort, PermanentDeliveryError, TaskView, display_of
from bot.core.tasks.schedule import PollSchedule
from bot.store import Delivery, Store, TaskRow, TaskState, TrackRow

log = logging.getLogger(__name__)

# Tries of one card draw or one post (lookups of an interrupted post included) against
# transient errors; with the backoff doubling up to its cap that is minutes, not forever.
MAX_ATTEMPTS = 8
KEPT_FAILING = "Discord kept failing when I tried to post there, so I stopped trying."
PLACE_GONE = "It was not sent to the music service (nothing was charged): its place is gone."


T = TypeVar("T")


class _GaveUp(Exception):
    """A delivery's port call failed and the failure is recorded: stop this delivery."""


class DeliveryWork:
    """Draws cards and posts tracks; `port` is there (or set) before the scheduler starts."""

    def __init__(
        self,
        store: Store,
        *,
        schedule: PollSchedule,
        clock: Callable[[], float],
        pause: SubmissionPause,
        port: DeliveryPort,
    ) -> None:
        self.store = store
        self.pause = pause
        self.schedule = schedule
        self.port = port
        self._clock = clock

    async def view_of(self, task: TaskRow) -> TaskView:
        tracks = await self.store.tracks_for_task(task.id)
        position, paused = None, None
        if task.state == TaskState.QUEUED:
            position = await self.store.queue_position(task.id)
            paused = await self.pause.current()
        reason = paused.reason if paused else None
        parent = None if task.parent_id is None else await self.store.get_task(task.parent_id)
        children = tuple(await self.store.children(task.id))
        return TaskView(task, tracks, display_of(task, tracks), position, reason, parent, children)

    async def show(self, task: TaskRow) -> None:
        try:
            shown = await self.port.show(await self.view_of(task))
        except PermanentDeliveryError as exc:
            await self._card_failed(task, exc.reason)
            return
        except Exception:
            log.warning("task %d: status card update failed", task.id, exc_info=True)
            await self._card_failed(task, None)
            return
        if shown.notice_message_id is not None:
            await self.store.set_notice_message(task.id, shown.notice_message_id)
        if shown.card_message_id is not None:
            # Placed here after a crash: deliveries can start (and the card is drawn again).
            await self.store.set_discord_place(
                task.id,
                card_message_id=shown.card_message_id,
                thread_id=shown.thread_id,
                input_message_id=shown.input_message_id,
                now=self._clock(),
            )
            return
        await self.store.card_shown(task.id, task.updated_at)

    async def _card_failed(self, task: TaskRow, permanent: str | None) -> None:
        """Back off, or give the card up: at once when the failure is `permanent` (its
        reason), after `MAX_ATTEMPTS` otherwise."""
        attempts = task.card_attempts + 1
        retry_at = self._clock() + self.schedule.backoff(attempts)
        if permanent is None and attempts < MAX_ATTEMPTS:
            await self.store.card_failed(task.id, retry_at)
            return
        reason = permanent or KEPT_FAILING
        log.warning(
            "task %d: gave up on its status card after %d attempt(s): %s", task.id, attempts, reason
        )
        await self.store.card_gave_up(
            task.id, reason, updated_at=task.updated_at, retry_at=retry_at
        )
        if permanent is not None and await self.store.drop_queued(
            task.id, f"{PLACE_GONE} {permanent}", now=self._clock()
        ):
            # Its results could never be posted: a request still queued is never sent
            # (e.g. when a pause ends), so it is never charged. The requester hears why.
            log.warning("task %d: dropped before submission, its place is gone", task.id)
            dropped = await self.store.get_task(task.id)
            await self._tell(dropped or task, permanent)
            return
        if task.card_message_id is None:
            # Never placed, so none of its tracks can be posted either: they end here
            # (tracks that finish later end at the next try), and the requester hears why.
            await self.store.task_deliveries_gave_up(task.id, reason, self._clock())
            await self._tell(task, reason)

    async def deliver(self, track: TrackRow) -> None:
        task = await self.store.get_task(track.task_id)
        if task is None:
            return
        try:
            if track.delivery == Delivery.ATTEMPTED:
                # A post may have happened before a crash or a lost answer: look first.
                found = await self._ask(
                    task, track, self.port.find_delivery(task, track), "delivery lookup failed"
                )
                if found is not None:
                    await self.store.delivered(track.id, found, self._clock())
                    return
            mark = await self._ask(
                task, track, self.port.mark(task, track), "could not prepare its post"
            )
            if not await self.store.delivery_attempted(
                track.id, nonce=mark.nonce, after=mark.after
            ):
                return  # deleted, or another process took the post over while this one stalled
            attempted = replace(
                track, delivery=Delivery.ATTEMPTED, post_nonce=mark.nonce, post_after=mark.after
            )

            async def post() -> int:
                total = len(await self.store.tracks_for_task(task.id))
                return await self.port.deliver(task, attempted, total)

            message_id = await self._ask(task, track, post(), "delivery failed", counted=True)
        except _GaveUp:
            return
        now = self._clock()
        if not await self.store.delivered(track.id, message_id, now):
            await self._superseded(task, track, message_id)
            return
        if track.ready_at:
            metrics.DELIVERY_LATENCY.observe(max(0.0, now - track.ready_at))
        log.info("task %d: track %d delivered", task.id, track.position + 1)

    async def _ask(
        self,
        task: TaskRow,
        track: TrackRow,
        call: Awaitable[T],
        what: str,
        *,
        counted: bool = False,
    ) -> T:
        """The port's answer; a failure is recorded for the track (`counted`: as an attempt
        to post) and ends this delivery with `_GaveUp`."""
        try:
            return await call
        except PermanentDeliveryError as exc:
            await self._delivery_failed(task, track, exc.reason, counted=counted)
        except Exception:
            log.warning("track %d: %s", track.id, what, exc_info=True)
            await self._delivery_failed(task, track, None, counted=counted)
        raise _GaveUp

    async def _superseded(self, task: TaskRow, track: TrackRow, message_id: int) -> None:
        """The post was made but not recorded: the take was deleted while it uploaded
        (deletion wins), or another process's post of the track was recorded first. This
        one must not stay."""
        tracks = await self.store.tracks_for_task(task.id)
        if any(t.id == track.id and t.message_id == message_id for t in tracks):
            return  # another process found this very post and recorded it
        log.info("task %d: track %d posted after it ended; withdrawing the post", task.id, track.id)
        try:
            await self.port.withdraw(task, message_id)
        except Exception:
            log.warning("track %d: could not withdraw a superseded post", track.id, exc_info=True)

    async def _delivery_failed(
        self, task: TaskRow, track: TrackRow, permanent: str | None, *, counted: bool
    ) -> None:
        """Back off, or give the post up (see `_card_failed`). `counted`: the try was
        already counted as it started (a post); a failed lookup is counted here."""
        attempts = track.delivery_attempts + 1
        now = self._clock()
        if permanent is None and attempts < MAX_ATTEMPTS:
            retry_at = now + self.schedule.backoff(attempts)
            await self.store.delivery_failed(track.id, retry_at, count=not counted)
            return
        reason = permanent or KEPT_FAILING
        log.warning(
            "task %d: gave up posting track %d after %d attempt(s): %s",
            task.id,
            track.position + 1,
            attempts,
            reason,
        )
        if await self.store.delivery_gave_up(track.id, reason, now, count=not counted):
            await self._tell(task, reason)

    async def _tell(self, task: TaskRow, reason: str) -> None:
        """Tell the requester that posting was given up: once per task, recorded first,
        so neither a second failed track nor a restart tells them again."""
        if not await self.store.claim_give_up_notice(task.id, self._clock()):
            return
        try:
            await self.port.give_up(task, reason)
        except Exception:
            log.warning("task %d: could not tell the requester", task.id, exc_info=True)

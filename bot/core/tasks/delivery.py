"""The members' side of a task, through the delivery port: status cards and track posts.

Each track is posted exactly once: the store marks a post as attempted before it is made,
and an attempted post is looked up before it is made again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from bot import metrics
from bot.core.tasks.pause import SubmissionPause
from bot.core.tasks.port import DeliveryPort, TaskView, display_of
from bot.core.tasks.schedule import PollSchedule
from bot.store import Delivery, Store, TaskRow, TaskState, TrackRow

log = logging.getLogger(__name__)


class DeliveryWork:
    """Draws cards and posts tracks; `port` is set before the scheduler starts."""

    def __init__(
        self,
        store: Store,
        *,
        schedule: PollSchedule,
        clock: Callable[[], float],
        pause: SubmissionPause,
    ) -> None:
        self.store = store
        self.pause = pause
        self.schedule = schedule
        self.port: DeliveryPort | None = None
        self._clock = clock

    def _port(self) -> DeliveryPort:
        if self.port is None:
            raise RuntimeError("the lifecycle has no delivery port")
        return self.port

    async def view_of(self, task: TaskRow) -> TaskView:
        tracks = await self.store.tracks_for_task(task.id)
        position, paused = None, None
        if task.state == TaskState.QUEUED:
            position = await self.store.queue_position(task.id)
            paused = await self.pause.current()
        reason = paused.reason if paused else None
        return TaskView(task, tracks, display_of(task, tracks), position, reason)

    async def show(self, task: TaskRow) -> None:
        try:
            shown = await self._port().show(await self.view_of(task))
        except Exception:
            log.warning("task %d: status card update failed", task.id, exc_info=True)
            await self.store.card_failed(task.id, self._clock() + self.schedule.backoff(2))
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

    async def deliver(self, track: TrackRow) -> None:
        port = self._port()
        task = await self.store.get_task(track.task_id)
        if task is None:
            return
        if track.delivery == Delivery.ATTEMPTED:
            # A post may have happened before a crash or a lost answer: look before posting.
            try:
                found = await port.find_delivery(task, track)
            except Exception:
                log.warning("track %d: delivery lookup failed", track.id, exc_info=True)
                await self._failed(track)
                return
            if found is not None:
                await self.store.delivered(track.id, found, self._clock())
                return
        await self.store.delivery_attempted(track.id)
        try:
            message_id = await port.deliver(task, replace(track, delivery=Delivery.ATTEMPTED))
        except Exception:
            log.warning("track %d: delivery failed", track.id, exc_info=True)
            await self._failed(track)
            return
        now = self._clock()
        await self.store.delivered(track.id, message_id, now)
        if track.ready_at:
            metrics.DELIVERY_LATENCY.observe(max(0.0, now - track.ready_at))
        log.info("task %d: track %d delivered", task.id, track.position + 1)

    async def _failed(self, track: TrackRow) -> None:
        retry_at = self._clock() + self.schedule.backoff(track.delivery_attempts + 1)
        await self.store.delivery_failed(track.id, retry_at)

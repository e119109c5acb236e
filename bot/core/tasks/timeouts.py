"""Time-outs of submitted tasks: a task fails by its time-out only when the API answered
that it is still running (during an outage it is asked again, for as long as another
time-out), and a task failed so is looked at again now and then: a result the API still
delivers is posted after all (issue 21). `ApiWork` mixes this in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.core.tasks.failures import status_failure
from bot.music import MusicClient, MusicError, TaskInfo
from bot.store import Store, TaskRow

log = logging.getLogger(__name__)

TIMED_OUT = "The music service did not finish within {minutes} minutes."
UNREACHABLE_AT_TIMEOUT = (
    "The music service could not be reached to finish this request within {minutes} minutes."
)
# A task failed by its time-out is looked at again every quarter of a time-out, for 72
# time-outs (a day at 20 minutes): the API may still finish it, and it is paid for.
LATE_CHECK_EVERY = 0.25
LATE_CHECKS_FOR = 72


class TimeOuts:
    store: Store
    client: MusicClient
    task_timeout: float
    _clock: Callable[[], float]

    async def _apply(self, task: TaskRow, info: TaskInfo) -> None:
        raise NotImplementedError

    async def queue_moved(self, now: float) -> None:
        raise NotImplementedError

    def _deadline(self, task: TaskRow) -> float | None:
        return None if task.submitted_at is None else task.submitted_at + self.task_timeout

    def _by_deadline(self, task: TaskRow, at: float) -> float:
        """A check planned past the time-out comes at it instead: that poll decides."""
        deadline = self._deadline(task)
        if deadline is None or self._clock() >= deadline:
            return at
        return min(at, deadline)

    def _minutes(self, sentence: str) -> str:
        return sentence.format(minutes=max(1, round(self.task_timeout / 60)))

    async def _time_out(self, task: TaskRow, reason: str) -> None:
        """Fail it for the member, but keep looking now and then: a result the API still
        delivers (a callback or a late poll) is posted after all."""
        now = self._clock()
        log.warning("task %d timed out (%s)", task.id, reason)
        late = now + self.task_timeout * LATE_CHECK_EVERY
        if await self.store.fail_task(task.id, reason, now=now, can_retry=True, late_check_at=late):
            await self.queue_moved(now)

    async def late_check(self, task: TaskRow) -> None:
        """A task failed by its time-out, looked at again: finished, it is followed again
        and delivered; failed by the API, it takes the API's reason and the looks stop; too
        old, the looks stop."""
        if task.api_task_id is None:
            return
        now = self._clock()
        try:
            info: TaskInfo | None = await self.client.get_task(task.api_task_id)
        except MusicError as exc:
            log.info("task %d: late look failed (%s)", task.id, exc)
            info = None
        if (
            info is not None
            and info.finished
            and await self.store.follow_again(task.id, task.api_task_id, now=now)
        ):
            log.warning("task %d finished after its time-out; delivering it", task.id)
            fresh = await self.store.get_task(task.id)
            if fresh is not None:
                await self._apply(fresh, info)
            return
        if info is not None and info.failed:
            # The API ended it after all: the member reads its reason, not the time-out's.
            reason = status_failure(info.status, info.error_code, info.error_message)
            can_retry = info.status != "SENSITIVE_WORD_ERROR"
            if await self.store.explain_failure(task.id, reason, can_retry=can_retry, now=now):
                log.warning("task %d: the music service failed it after its time-out", task.id)
                await self.queue_moved(now)
            return
        submitted = task.submitted_at or now
        later = now + self.task_timeout * LATE_CHECK_EVERY
        stop = (
            info is not None and info.finished  # it moved on meanwhile (a callback)
        ) or later > submitted + self.task_timeout * LATE_CHECKS_FOR
        await self.store.schedule_late_check(task.id, None if stop else later)

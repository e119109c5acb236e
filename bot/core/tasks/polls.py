"""Polls: asking the API (record-info) about a task it took, and merging the answer: the
stage reached, the tracks ready, when to ask next (sooner near a stage the model's learned
timings expect, never past the time-out), and what the timings learn from a finished task.
A poll past the time-out decides it (`timeouts.py`). `ApiWork` mixes this in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.core.tasks.callbacks import track_data
from bot.core.tasks.failures import status_failure
from bot.core.tasks.schedule import PollSchedule
from bot.core.tasks.timeouts import TIMED_OUT, UNREACHABLE_AT_TIMEOUT, TimeOuts
from bot.core.tasks.timings import LearnedTimings
from bot.music import MusicError, TaskInfo
from bot.store import Progress, Stage, TaskRow, TaskTiming

log = logging.getLogger(__name__)


class Polls(TimeOuts):
    """Following a submitted task by asking the API, within its time-out."""

    schedule: PollSchedule
    timings: LearnedTimings
    callbacks_enabled: bool
    _wake: Callable[[], None]

    async def fail(
        self, task_id: int, reason: str, *, can_retry: bool = False, not_taken: bool = False
    ) -> None:
        raise NotImplementedError

    async def poll(self, task: TaskRow) -> None:
        """Ask the API. Past the task's time-out, only an answer that it is still running
        fails it; while the API cannot be asked (an outage) it is asked again, for as long
        as another time-out."""
        if task.api_task_id is None:
            return
        now = self._clock()
        deadline = self._deadline(task)
        try:
            info = await self.client.get_task(task.api_task_id)
        except MusicError as exc:
            if deadline is not None and now >= deadline + self.task_timeout:
                await self._time_out(task, self._minutes(UNREACHABLE_AT_TIMEOUT))
                return
            # Polls are safe to repeat: back off.
            delay = self.schedule.backoff(task.error_count + 1)
            log.warning("task %d: poll failed (%s), again in %.0fs", task.id, exc, delay)
            await self.store.schedule_check(
                task.id, next_check_at=self._by_deadline(task, now + delay), error=True
            )
            return
        await self._apply(task, info)
        if deadline is not None and now >= deadline:
            fresh = await self.store.get_task(task.id)
            if fresh is not None and fresh.active:  # the API said: still running
                await self._time_out(fresh, self._minutes(TIMED_OUT))

    async def _apply(self, task: TaskRow, info: TaskInfo) -> None:
        now = self._clock()
        if info.failed:
            reason = status_failure(info.status, info.error_code, info.error_message)
            await self.fail(task.id, reason, can_retry=info.status != "SENSITIVE_WORD_ERROR")
            return
        tracks = [track_data(t) for t in info.tracks]
        # Done only when every listed track has (usable) audio: a SUCCESS may list the
        # last one still without; it stays followed until the audio is there.
        complete = info.finished and all(t.audio_url for t in tracks)
        stage = Stage.of_status(info.status) or task.stage
        if stage == Stage.COMPLETE and not complete:
            stage = Stage.FIRST
        submitted = task.submitted_at or now
        first_after, first_seen = task.first_after, task.first_seen
        if first_seen is None and stage.rank >= Stage.FIRST.rank:
            # Ready after the poll before this one (or the submission), and by this one.
            first_after, first_seen = task.polled_at or submitted, now
        delay = self.schedule.next_delay(
            now - submitted,
            stage=stage,
            callbacks=self.callbacks_enabled and task.callback_at is not None,
            awaiting_callback=self.callbacks_enabled and task.callback_at is None,
            first_after=None if first_after is None else first_after - submitted,
            first_seen=None if first_seen is None else first_seen - submitted,
            model=self.timings.get(task.model),
        )
        await self.store.schedule_check(
            task.id,
            next_check_at=self._by_deadline(task, now + delay),
            polled_at=now,
            first_after=first_after,
            first_seen=first_seen,
        )
        # If done, it was done after the poll before this one: what `timings` learn from.
        done_after = task.polled_at or submitted
        progress = Progress(
            stage=stage, tracks=tracks, complete=complete, now=now, done_after=done_after
        )
        if await self.store.apply_progress(task.id, progress):
            self._wake()
            if complete and task.submitted_at is not None:
                # Learned at once (the store is read only every few minutes).
                timing = TaskTiming(
                    task.model, task.submitted_at, first_after, first_seen, done_after, now
                )
                self.timings.observe(timing)

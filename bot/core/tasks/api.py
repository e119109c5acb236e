"""The API side of a task: submit it once, record what the API answered (or, its fate
unknown, fail it without sending it again), and fail a task for the member.

A submission whose fate is unknown is never sent again; a task the API has accepted is
followed until it ends or times out (with one last look before giving up): polls in
`polls.py`, callbacks in `callbacks.py`, time-outs in `timeouts.py`, mixed in here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from pydantic import ValidationError

from bot.core.tasks.callbacks import Callbacks
from bot.core.tasks.keys import task_key
from bot.core.tasks.pause import SubmissionPause, pauses_submissions
from bot.core.tasks.polls import Polls
from bot.core.tasks.schedule import PollSchedule
from bot.core.tasks.timings import LearnedTimings
from bot.music import MusicClient, MusicError
from bot.music.errors import (
    Maintenance,
    MusicAPIError,
    NotSent,
    certainly_not_taken,
)
from bot.music.models import AddInstrumentalRequest
from bot.store import Store, TaskRow, TaskState

log = logging.getLogger(__name__)

UNCONFIRMED_REASON = (
    "The music service did not confirm this request. To avoid charging twice it was not "
    "sent again: try it once more."
)
INTERRUPTED_REASON = (
    "The bot restarted while sending this request, so it cannot tell whether the music "
    "service received it. To avoid charging twice it was not sent again: try it once more."
)
NOT_POSTED_REASON = (
    "The recording could not be posted for the music service to fetch, so nothing was sent "
    "and nothing charged: try again."
)
RECORD_TRIES = 5  # writes of an accepted task's id before `recover` takes over
QUEUE_REDRAW = 25  # queued cards redrawn when the line moves (the rest show a stale, higher place)


class ApiWork(Polls, Callbacks):
    """Submissions, polls and callbacks for one service; `wake` nudges the scheduler."""

    def __init__(
        self,
        store: Store,
        client: MusicClient,
        *,
        callback_url: str,
        callback_secret: str | None,
        schedule: PollSchedule,
        task_timeout: float,
        callbacks_enabled: bool,
        clock: Callable[[], float],
        wake: Callable[[], None],
        task_cost: float = 0.0,
        notices: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.callback_url = callback_url
        self.callback_secret = callback_secret
        self.schedule = schedule
        self.task_timeout = task_timeout
        self.callbacks_enabled = callbacks_enabled
        self._clock = clock
        self._wake = wake
        self.stopping = False  # the process stops: nothing more leaves
        self._in_flight: set[int] = set()  # submissions whose API task id is not recorded yet
        # Accepted by the API, but the write of the id kept failing: written by `recover`.
        self._unrecorded: dict[int, str] = {}
        self.pause = SubmissionPause(
            store,
            client,
            clock=clock,
            check_every=schedule.pause_check,
            task_cost=task_cost,
            notify=notices,
        )
        self.timings = LearnedTimings(store)  # the scheduler refreshes it

    async def advance(self, task: TaskRow) -> None:
        if task.state == TaskState.QUEUED:
            await self.submit(task)
        elif task.state == TaskState.FOLLOWING:
            await self.poll(task)

    # -- submitting ------------------------------------------------------------------------

    def build_request(self, task: TaskRow) -> AddInstrumentalRequest:
        return self.client.build_request(
            uploadUrl=task.upload_url,
            title=task.title,
            tags=task.tags,
            negativeTags=task.negative_tags,
            callBackUrl=self.callback_url_for(task),
            vocalGender=task.vocal_gender,
            styleWeight=task.style_weight,
            weirdnessConstraint=task.weirdness,
            audioWeight=task.audio_weight,
            model=task.model,
        )

    def callback_url_for(self, task: TaskRow) -> str:
        """With callbacks on, each task's URL carries its key: a callback then finds the
        task even if its API id was never recorded."""
        if not self.callbacks_enabled or not self.callback_secret:
            return self.callback_url
        return f"{self.callback_url.rstrip('/')}/{task_key(self.callback_secret, task.id)}"

    async def submit(self, task: TaskRow) -> None:
        if not task.upload_url:  # its creator never posted the part the API was to fetch
            await self.fail(task.id, NOT_POSTED_REASON, not_taken=True)
            return
        try:
            request = self.build_request(task)
        except ValidationError as exc:
            field = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "request"
            reason = f"This request's {field} is not accepted by the bot."
            await self.fail(task.id, reason, not_taken=True)
            return

        async def claim() -> bool:
            # Claimed only as the request leaves (after the rate limiter): a restart before
            # that leaves the task queued, not "interrupted". Nothing leaves while paused.
            if self.stopping or await self.pause.current() is not None:
                return False
            return await self.store.claim_for_submit(task.id, self._clock())

        self._in_flight.add(task.id)
        try:
            api_task_id = await self.client.submit_add_instrumental(request, claim=claim)
        except NotSent:
            return  # the task moved on meanwhile (another worker, a failure)
        except MusicError as exc:
            await self._submit_failed(task, exc)
            return
        except Exception:
            # The request may have gone out: never send it again.
            log.exception("task %d: unexpected error while submitting", task.id)
            await self.fail(task.id, UNCONFIRMED_REASON, can_retry=True)
            return
        else:
            # Logged before it is recorded: if the record fails, the operator can still
            # find the paid task.
            log.info("task %d accepted by the music API as %s", task.id, api_task_id)
            now = await self._record(task.id, api_task_id, model=task.model)
        finally:
            self._in_flight.discard(task.id)
        if now is not None:
            await self.queue_moved(now)

    async def _record(
        self, task_id: int, api_task_id: str, *, model: str | None = None
    ) -> float | None:
        """Write the API's task id, retried (a locked or failing database): without it the
        paid task cannot be followed. Still failing, it is kept for `recover`; returns
        when it was written, or None. `model` sets the first poll (None: nothing learned)."""
        for attempt in range(RECORD_TRIES):
            now = self._clock()
            try:
                recorded = await self.store.mark_submitted(
                    task_id, api_task_id, now=now, next_check_at=self.first_check_at(model, now)
                )
                # Judged interrupted by another process while this one stalled: the API
                # task id is the truth, the task goes on to delivery.
                if not recorded and await self.store.follow_again(task_id, api_task_id, now=now):
                    log.warning("task %d: answered after it was judged interrupted", task_id)
                return now
            except Exception as exc:  # whatever the engine raises, the id is kept
                last = attempt + 1 == RECORD_TRIES
                log.warning(
                    "task %d: recording API task %s failed (%s)",
                    task_id,
                    api_task_id,
                    type(exc).__name__,
                    exc_info=last,  # a bug, not a locked database, shows its traceback
                )
                if not last:
                    await asyncio.sleep(self.schedule.backoff(attempt + 1))
        log.error("task %d: API task %s not recorded yet; trying on", task_id, api_task_id)
        self._unrecorded[task_id] = api_task_id
        return None

    def first_check_at(self, model: str | None, submitted: float) -> float:
        """When to poll a task of `model` first, submitted at `submitted`."""
        learned = None if model is None else self.timings.get(model)
        delay = self.schedule.first_delay(learned, awaiting_callback=self.callbacks_enabled)
        return submitted + delay

    async def _submit_failed(self, task: TaskRow, exc: MusicError) -> None:
        now = self._clock()
        if not certainly_not_taken(exc):
            log.warning("task %d: submission unconfirmed (%s)", task.id, exc)
            await self.fail(task.id, UNCONFIRMED_REASON, can_retry=True)
        elif isinstance(exc, MusicAPIError) and pauses_submissions(exc):
            # Every queued request would fail the same way: keep them all, wait for a fix.
            await self.pause.pause(exc)
            await self.store.requeue(task.id, now=now, next_check_at=now)
            await self.queue_moved(now)
        elif exc.retryable:
            delay = self.schedule.backoff(task.error_count + 1)
            if isinstance(exc, Maintenance):
                delay = max(delay, self.schedule.maintenance_wait)
            log.warning(
                "task %d: submission refused for now (%s), again in %.0fs", task.id, exc, delay
            )
            await self.store.requeue(task.id, now=now, next_check_at=now + delay)
        else:
            log.warning("task %d: submission refused (%s)", task.id, exc)
            await self.fail(task.id, exc.reason, not_taken=True)

    async def recover_interrupted(self, now: float) -> list[int]:
        """Submissions a process left in flight (it stopped, its lease ended, or here a
        worker failed before its outcome was written): their fate is unknown, so they
        fail, retryable by the member, and are never sent again. An accepted one whose id
        could not be written is written now instead."""
        for task_id, api_task_id in list(self._unrecorded.items()):
            if await self._record(task_id, api_task_id) is not None:
                del self._unrecorded[task_id]
        interrupted = await self.store.fail_interrupted_submissions(
            INTERRUPTED_REASON, now=now, exclude=self._in_flight | self._unrecorded.keys()
        )
        for task_id in interrupted:
            log.warning("task %d was interrupted while submitting; not resubmitted", task_id)
        if interrupted:
            await self.queue_moved(now)
        return interrupted

    async def fail(
        self, task_id: int, reason: str, *, can_retry: bool = False, not_taken: bool = False
    ) -> None:
        """`not_taken`: the API certainly did not take it (the member's quota slot returns)."""
        now = self._clock()
        changed = await self.store.fail_task(
            task_id, reason, now=now, can_retry=can_retry, not_taken=not_taken
        )
        if changed:
            await self.queue_moved(now)

    async def queue_moved(self, now: float) -> None:
        """The line moved: the first cards in it show a new place."""
        await self.store.mark_card_dirty(await self.store.queued_task_ids(QUEUE_REDRAW), now)

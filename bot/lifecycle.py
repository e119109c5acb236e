"""The task lifecycle: record, submit once, follow, deliver, resume. No Discord here.

Everything the service knows is in the store before it acts on it, so after a crash a new
service on the same database only has to call `resume()`. One scheduler loop picks the work
that is due (submissions, polls, status cards, track deliveries) and runs it in a bounded
number of short-lived workers; every API call goes through the client's shared rate limiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import ValidationError

from bot import metrics
from bot.music import CallbackEvent, MusicClient, MusicError, TaskInfo, TaskStatus
from bot.music.errors import (
    CALLBACK_ERROR_REASONS,
    FAILURE_REASONS,
    BadResponse,
    Maintenance,
    MusicAPIError,
    MusicUnreachable,
)
from bot.music.models import Track
from bot.store import NewTask, Store, TaskRow, TrackData, TrackRow

log = logging.getLogger(__name__)

Display = Literal["waiting", "queued", "generating", "first", "done", "failed"]
CallbackOutcome = Literal["applied", "duplicate", "unknown", "failed"]

INTERRUPTED_REASON = (
    "The bot restarted while sending this request, so it cannot tell whether the music "
    "service received it. To avoid charging twice it was not sent again: try it once more."
)
UNCONFIRMED_REASON = (
    "The music service did not confirm this request. To avoid charging twice it was not "
    "sent again: try it once more."
)
CALLBACK_MATCH_WAIT = 3.0  # well inside the 15 s the API gives a callback
QUEUE_REDRAW = 25  # queued cards redrawn when the line moves (the rest show a stale, higher place)


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """When to ask the API about a task, by seconds since submission.

    The API reaches `text` after about 30 s and finishes in 2 to 4 minutes: check once
    after the first stage, tighter around the typical finish, looser after it. With a
    callback seen for the task, polling is only a rare safety net.
    """

    first_check: float = 35.0
    early_interval: float = 30.0
    tight_from: float = 100.0
    tight_interval: float = 15.0
    tight_until: float = 250.0
    late_interval: float = 60.0
    callback_interval: float = 180.0
    retry_base: float = 5.0
    retry_cap: float = 120.0

    def next_delay(self, elapsed: float, *, stage: str, callbacks: bool) -> float:
        if callbacks:
            return self.callback_interval
        if stage == "first" or self.tight_from <= elapsed < self.tight_until:
            return self.tight_interval
        if elapsed < self.tight_from:
            # Do not overshoot the tight window by a whole early interval.
            return max(self.tight_interval, min(self.early_interval, self.tight_from - elapsed))
        return self.late_interval

    def backoff(self, failures: int) -> float:
        delay = min(self.retry_cap, self.retry_base * 2 ** max(0, failures - 1))
        return delay * random.uniform(0.8, 1.2)

    def scaled(self, factor: float) -> PollSchedule:
        """The same shape on another time scale (tests and benchmarks)."""
        return PollSchedule(**{name: getattr(self, name) * factor for name in self.__slots__})


@dataclass(frozen=True, slots=True)
class TaskView:
    """What a status card shows."""

    task: TaskRow
    tracks: list[TrackRow]
    display: Display
    queue_position: int | None = None

    @property
    def stream_url(self) -> str | None:
        return next((t.stream_url or t.audio_url for t in self.tracks if t.ready_at), None)


class DeliveryPort(Protocol):
    """What the lifecycle needs from the place members see (Discord, in production)."""

    async def show(self, view: TaskView) -> None:
        """Draw the task's status card. Called again after a failure: must be idempotent."""

    async def deliver(self, task: TaskRow, track: TrackRow) -> int:
        """Post one finished track; return the message id."""

    async def find_delivery(self, task: TaskRow, track: TrackRow) -> int | None:
        """After an interrupted `deliver`: the message id if the track was posted after all."""


def display_of(task: TaskRow, tracks: list[TrackRow]) -> Display:
    if task.state == "failed":
        return "failed"
    if task.state in ("queued", "submitting"):
        return "waiting"
    if task.state == "done" and all(t.delivery == "delivered" for t in tracks):
        return "done"
    if task.state == "done" or task.stage == "first":
        return "first"
    return "generating" if task.stage == "text" else "queued"


_STAGE_OF_STATUS = {
    TaskStatus.PENDING: "pending",
    TaskStatus.TEXT_SUCCESS: "text",
    TaskStatus.FIRST_SUCCESS: "first",
    TaskStatus.SUCCESS: "complete",
    TaskStatus.CALLBACK_EXCEPTION: "complete",
}


def _alternate(first: list[TaskRow], second: list[TaskRow]) -> list[TaskRow]:
    """first[0], second[0], first[1], second[1], ... then the rest of the longer list."""
    merged: list[TaskRow] = []
    for pair in zip(first, second, strict=False):
        merged.extend(pair)
    shorter = min(len(first), len(second))
    return merged + first[shorter:] + second[shorter:]


def _safe_url(url: str) -> str:
    """A URL from the API is used only if it is plain http(s) with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.hostname else ""


def _track_data(track: Track) -> TrackData:
    return TrackData(
        api_track_id=track.id[:100],
        audio_url=_safe_url(track.audio_url),
        stream_url=_safe_url(track.stream_audio_url),
        image_url=_safe_url(track.image_url),
        title=track.title[:200],
        tags=track.tags[:1000],
        duration=track.duration,
    )


class Lifecycle:
    """The task service. Construct, set `port`, then `await resume()`; `await stop()` to end."""

    def __init__(
        self,
        store: Store,
        client: MusicClient,
        *,
        callback_url: str,
        schedule: PollSchedule | None = None,
        task_timeout: float = 20 * 60.0,
        callbacks_enabled: bool = False,
        api_workers: int = 16,
        delivery_workers: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.client = client
        self.port: DeliveryPort | None = None
        self.callback_url = callback_url
        self.schedule = schedule or PollSchedule()
        self.task_timeout = task_timeout
        self.callbacks_enabled = callbacks_enabled
        self._clock = clock
        self._api_slots = api_workers
        self._delivery_slots = delivery_workers
        self._busy_tasks: set[int] = set()
        self._submitting = 0  # submissions whose API task id is not recorded yet
        self._busy_cards: set[int] = set()
        self._busy_tracks: set[int] = set()
        self._workers: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self.heartbeat = 0.0  # clock time of the scheduler's last round
        self._last_expiry_check = 0.0

    # -- the public face -----------------------------------------------------------------

    async def request(self, new: NewTask) -> tuple[TaskRow, bool]:
        """Record a request; the scheduler submits it. A repeated interaction is not
        recorded twice; returns the task and whether it is new."""
        task, created = await self.store.create_task(new, now=self._clock())
        if created:
            log.info("task %d recorded (interaction %d)", task.id, new.interaction_id)
            self.wake()
        return task, created

    async def view(self, task_id: int) -> TaskView | None:
        task = await self.store.get_task(task_id)
        return None if task is None else await self._view_of(task)

    async def _view_of(self, task: TaskRow) -> TaskView:
        tracks = await self.store.tracks_for_task(task.id)
        position = await self.store.queue_position(task.id) if task.state == "queued" else None
        return TaskView(task, tracks, display_of(task, tracks), position)

    async def handle_callback(self, event: CallbackEvent) -> CallbackOutcome:
        """Merge a callback; whichever of callback and poll learns a stage first wins."""
        task = await self._task_for_callback(event.task_id)
        if task is None:
            return "unknown"
        now = self._clock()
        if event.stage == "error" or event.code != 200:
            reason = CALLBACK_ERROR_REASONS.get(event.code, "The music service reported an error.")
            done = await self.store.fail_task(task.id, reason, now=now, can_retry=True)
            self.wake()
            return "failed" if done else "duplicate"
        tracks = [_track_data(t) for t in event.tracks]
        complete = event.stage == "complete" and any(t.audio_url for t in tracks)
        hint_only = event.stage == "complete" and not complete
        changed = await self.store.apply_progress(
            task.id,
            stage="first" if hint_only else event.stage,
            tracks=tracks,
            complete=complete,
            now=now,
            # A `complete` without usable tracks is only a hint: ask the API right away.
            next_check_at=now if hint_only else now + self.schedule.callback_interval,
            from_callback=True,
        )
        self.wake()
        return "applied" if changed else "duplicate"

    async def _task_for_callback(self, api_task_id: str) -> TaskRow | None:
        """A fast callback (an upload refused at once) can beat the recording of the task
        id it names: while a submission is in flight, look again for a moment."""
        deadline = asyncio.get_running_loop().time() + CALLBACK_MATCH_WAIT
        while True:
            task = await self.store.get_task_by_api_id(api_task_id)
            if task or not self._submitting or asyncio.get_running_loop().time() > deadline:
                return task
            await asyncio.sleep(0.05)

    def wake(self) -> None:
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    def healthy(self, stale_after: float) -> bool:
        """Running, and a scheduler round finished within `stale_after` seconds."""
        return self.alive and self._clock() - self.heartbeat < stale_after

    async def resume(self) -> None:
        """At start-up: settle what a crash left behind, then start the scheduler."""
        await self.recover()
        self.start()

    async def recover(self) -> None:
        """A task caught between claim and answer may have reached the API: it is failed, not
        resubmitted. Everything else (queued, following, undelivered) continues on its own."""
        now = self._clock()
        interrupted = await self.store.fail_interrupted_submissions(INTERRUPTED_REASON, now=now)
        for task_id in interrupted:
            log.warning("task %d was interrupted while submitting; not resubmitted", task_id)

    def start(self) -> None:
        if self.port is None:
            raise RuntimeError("set Lifecycle.port before starting")
        if not self.alive:
            self._loop_task = asyncio.create_task(self._run(), name="lifecycle-scheduler")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._workers) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None
        self._workers.clear()

    # -- the scheduler -------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._round()
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad row or payload must never stop the scheduler.
                log.exception("scheduler round failed")
                await asyncio.sleep(1.0)
            self.heartbeat = self._clock()
            await self._sleep()

    async def _sleep(self) -> None:
        next_due = await self.store.next_due_at()
        delay = 1.0 if next_due is None else min(1.0, max(0.0, next_due - self._clock()))
        if delay <= 0:
            delay = 0.25  # due work is in flight or waits for a free worker
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
        # lands as the wake event is set (stop() wakes the loop), and stop() then hangs.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()
        self._wake.clear()

    async def _round(self) -> None:
        now = self._clock()
        if now - self._last_expiry_check >= 1.0:
            self._last_expiry_check = now
            await self._expire(now)
        free = self._api_slots - len(self._busy_tasks)
        if free > 0:
            # Polls and submissions take turns: a burst of requests must not starve the
            # polls of tasks already paid for, nor the reverse.
            polls = await self.store.due_tasks(
                now, free, state="following", exclude=self._busy_tasks
            )
            submits = await self.store.due_tasks(
                now, free, state="queued", exclude=self._busy_tasks
            )
            for task in _alternate(polls, submits)[:free]:
                self._spawn(self._busy_tasks, task.id, self._advance(task))
        free = self._delivery_slots - len(self._busy_cards) - len(self._busy_tracks)
        if free > 0:
            for task in await self.store.tasks_needing_card(now, free):
                if task.id not in self._busy_cards:
                    self._spawn(self._busy_cards, task.id, self._show(task))
        free = self._delivery_slots - len(self._busy_cards) - len(self._busy_tracks)
        if free > 0:
            for track in await self.store.due_deliveries(now, free, exclude=self._busy_tracks):
                self._spawn(self._busy_tracks, track.id, self._deliver(track))

    def _spawn(self, busy: set[int], key: int, work: Coroutine[Any, Any, None]) -> None:
        busy.add(key)
        # The task owns the coroutine from here: cancelled before it starts, it is still closed.
        worker = asyncio.create_task(work)
        self._workers.add(worker)

        def finished(done: asyncio.Task[None]) -> None:
            self._workers.discard(done)
            busy.discard(key)
            self.wake()
            if not done.cancelled() and (exc := done.exception()) is not None:
                log.error("lifecycle work failed (key %d)", key, exc_info=exc)

        worker.add_done_callback(finished)

    async def _expire(self, now: float) -> None:
        for task in await self.store.expired_tasks(now - self.task_timeout):
            if task.id not in self._busy_tasks:
                # One last look: the task may have finished while its polls waited.
                self._spawn(self._busy_tasks, task.id, self._last_check(task))

    async def _last_check(self, task: TaskRow) -> None:
        await self._poll(task)
        fresh = await self.store.get_task(task.id)
        if fresh is not None and fresh.active:
            minutes = round(self.task_timeout / 60)
            log.warning("task %d timed out", task.id)
            await self._fail(
                task.id,
                f"The music service did not finish within {minutes} minutes.",
                can_retry=True,
            )

    # -- API work ------------------------------------------------------------------------

    async def _advance(self, task: TaskRow) -> None:
        if task.state == "queued":
            await self._submit(task)
        elif task.state == "following":
            await self._poll(task)

    async def _submit(self, task: TaskRow) -> None:
        now = self._clock()
        try:
            request = self.client.build_request(
                uploadUrl=task.upload_url,
                title=task.title,
                tags=task.tags,
                negativeTags=task.negative_tags,
                callBackUrl=self.callback_url,
                vocalGender=task.vocal_gender,
                styleWeight=task.style_weight,
                weirdnessConstraint=task.weirdness,
                audioWeight=task.audio_weight,
                model=task.model,
            )
        except ValidationError as exc:
            field = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "request"
            await self._fail(task.id, f"This request's {field} is not accepted by the bot.")
            return
        if not await self.store.claim_for_submit(task.id, now):
            return
        self._submitting += 1
        try:
            api_task_id = await self.client.submit_add_instrumental(request)
        except MusicError as exc:
            await self._submit_failed(task, exc)
            return
        except Exception:
            # The request may have gone out: never send it again.
            log.exception("task %d: unexpected error while submitting", task.id)
            await self._fail(task.id, UNCONFIRMED_REASON, can_retry=True)
            return
        else:
            now = self._clock()
            await self.store.mark_submitted(
                task.id, api_task_id, now=now, next_check_at=now + self.schedule.first_check
            )
        finally:
            self._submitting -= 1
        log.info("task %d submitted as %s", task.id, api_task_id)
        await self._queue_moved(now)

    async def _submit_failed(self, task: TaskRow, exc: MusicError) -> None:
        certainly_not_taken = isinstance(exc, MusicUnreachable) or (
            isinstance(exc, MusicAPIError) and not isinstance(exc, BadResponse)
        )
        if not certainly_not_taken:
            log.warning("task %d: submission unconfirmed (%s)", task.id, exc)
            await self._fail(task.id, UNCONFIRMED_REASON, can_retry=True)
        elif exc.retryable:
            delay = self.schedule.backoff(task.error_count + 1)
            if isinstance(exc, Maintenance):
                delay = max(delay, 60.0)
            log.warning(
                "task %d: submission refused for now (%s), again in %.0fs", task.id, exc, delay
            )
            now = self._clock()
            await self.store.requeue(task.id, now=now, next_check_at=now + delay)
        else:
            log.warning("task %d: submission refused (%s)", task.id, exc)
            await self._fail(task.id, exc.reason)

    async def _poll(self, task: TaskRow) -> None:
        assert task.api_task_id is not None
        try:
            info = await self.client.get_task(task.api_task_id)
        except MusicError as exc:
            # Polls are safe to repeat: back off, the task time-out bounds the whole.
            delay = self.schedule.backoff(task.error_count + 1)
            log.warning("task %d: poll failed (%s), again in %.0fs", task.id, exc, delay)
            await self.store.schedule_check(
                task.id, next_check_at=self._clock() + delay, error=True
            )
            return
        await self._apply(task, info)

    async def _apply(self, task: TaskRow, info: TaskInfo) -> None:
        now = self._clock()
        if info.failed:
            reason = FAILURE_REASONS.get(
                info.status, "The music service could not make this track."
            )
            await self._fail(task.id, reason, can_retry=info.status != "SENSITIVE_WORD_ERROR")
            return
        tracks = [_track_data(t) for t in info.tracks]
        complete = info.finished and any(t.audio_url for t in tracks)
        stage = _STAGE_OF_STATUS.get(info.status, task.stage)  # type: ignore[call-overload]
        if stage == "complete" and not complete:
            stage = "first"
        elapsed = now - (task.submitted_at or now)
        delay = self.schedule.next_delay(
            elapsed, stage=stage, callbacks=self.callbacks_enabled and task.callback_at is not None
        )
        await self.store.schedule_check(task.id, next_check_at=now + delay)
        if await self.store.apply_progress(
            task.id, stage=stage, tracks=tracks, complete=complete, now=now
        ):
            self.wake()

    async def _fail(self, task_id: int, reason: str, *, can_retry: bool = False) -> None:
        now = self._clock()
        if await self.store.fail_task(task_id, reason, now=now, can_retry=can_retry):
            await self._queue_moved(now)

    async def _queue_moved(self, now: float) -> None:
        """The line moved: the first cards in it show a new place."""
        await self.store.mark_card_dirty(await self.store.queued_task_ids(QUEUE_REDRAW), now)

    # -- Discord-side work through the port ----------------------------------------------

    async def _show(self, task: TaskRow) -> None:
        assert self.port is not None
        try:
            await self.port.show(await self._view_of(task))
        except Exception:
            log.warning("task %d: status card update failed", task.id, exc_info=True)
            await self.store.card_failed(task.id, self._clock() + self.schedule.backoff(2))
            return
        await self.store.card_shown(task.id, task.updated_at)

    async def _deliver(self, track: TrackRow) -> None:
        assert self.port is not None
        task = await self.store.get_task(track.task_id)
        if task is None:
            return
        if track.delivery == "attempted":
            # A post may have happened before a crash or a lost answer: look before posting.
            try:
                found = await self.port.find_delivery(task, track)
            except Exception:
                log.warning("track %d: delivery lookup failed", track.id, exc_info=True)
                await self._delivery_failed(track)
                return
            if found is not None:
                await self.store.delivered(track.id, found, self._clock())
                return
        await self.store.delivery_attempted(track.id)
        try:
            message_id = await self.port.deliver(task, replace(track, delivery="attempted"))
        except Exception:
            log.warning("track %d: delivery failed", track.id, exc_info=True)
            await self._delivery_failed(track)
            return
        now = self._clock()
        await self.store.delivered(track.id, message_id, now)
        if track.ready_at:
            metrics.DELIVERY_LATENCY.observe(max(0.0, now - track.ready_at))
        log.info("task %d: track %d delivered", task.id, track.position + 1)

    async def _delivery_failed(self, track: TrackRow) -> None:
        retry_at = self._clock() + self.schedule.backoff(track.delivery_attempts + 1)
        await self.store.delivery_failed(track.id, retry_at)

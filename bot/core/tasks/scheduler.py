"""One loop picks the work that is due (submissions, polls, status cards, track
deliveries) and runs it in a bounded number of short-lived workers.

What is due comes from the store; the in-memory sets only stop this process from starting
the same piece of work twice while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bot import metrics
from bot.core.tasks.api import ApiWork
from bot.core.tasks.delivery import DeliveryWork
from bot.core.tasks.timings import LEARN_EVERY
from bot.store import Store, TaskRow, TaskState
from bot.store.processes import Kind
from bot.store.retention import DAY, DEFAULT_RETENTION_DAYS

log = logging.getLogger(__name__)

PURGE_EVERY = 60 * 60.0  # seconds between two purges of old finished tasks


def _alternate(first: list[TaskRow], second: list[TaskRow]) -> list[TaskRow]:
    """first[0], second[0], first[1], second[1], ... then the rest of the longer list."""
    merged: list[TaskRow] = []
    for pair in zip(first, second, strict=False):
        merged.extend(pair)
    shorter = min(len(first), len(second))
    return merged + first[shorter:] + second[shorter:]


class Scheduler:
    def __init__(
        self,
        store: Store,
        api: ApiWork,
        delivery: DeliveryWork,
        *,
        api_workers: int,
        delivery_workers: int,
        clock: Callable[[], float],
        set_clock: Callable[[float], None] | None = None,
    ) -> None:
        self.store = store
        self._set_clock = set_clock  # told the database's clock at each beat
        self.api = api
        self.delivery = delivery
        self._clock = clock
        self._api_slots = api_workers
        self._delivery_slots = delivery_workers
        self._busy_tasks: set[int] = set()
        self._busy_cards: set[int] = set()
        self._busy_tracks: set[int] = set()
        self._workers: set[asyncio.Task[None]] = set()
        self._submissions: set[asyncio.Task[None]] = set()  # workers that may submit
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._beating: asyncio.Task[None] | None = None
        self.heartbeat = 0.0  # clock time of the last round
        self._last_expiry_check = 0.0
        self._paused = False
        # Finished tasks are kept this long (seconds), then purged: at start, then hourly.
        self.retention = DEFAULT_RETENTION_DAYS * DAY
        self._next_purge_at = 0.0
        self._next_learning_at = 0.0
        self._purge: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    def start(self) -> None:
        if not self.alive:
            self._loop_task = asyncio.create_task(self._run(), name="lifecycle-scheduler")
        if self.store.shared and (self._beating is None or self._beating.done()):
            self._beating = asyncio.create_task(self._beat(), name="lifecycle-heartbeat")

    async def stop(self, grace: float = 0.0) -> None:
        """Stop the loop; submissions already on the wire get up to `grace` seconds for
        their answer (cut off, a paid task would fail as interrupted at the restart); the
        rest of the work is cancelled at once: polls, cards and posts resume by design."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        self.api.stopping = True  # a submission not yet on the wire stays queued
        try:
            for worker in self._workers - self._submissions:
                worker.cancel()
            if grace > 0 and self._submissions:
                await asyncio.wait(set(self._submissions), timeout=grace)
        finally:
            self.api.stopping = False
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._workers.clear()
        if self._beating is not None:  # last: work in its grace keeps its leases
            self._beating.cancel()
            await asyncio.gather(self._beating, return_exceptions=True)
            self._beating = None
        if self.store.shared:
            with contextlib.suppress(Exception):  # it will look dead soon enough anyway
                await self.store.leave()

    async def _beat(self) -> None:
        """PostgreSQL: this process is alive, and the work it runs keeps its leases, every
        `beat_every` seconds (its own, monotonic wait), in a task of its own so a slow
        round never makes it look dead. A lease it finds taken (it stalled past
        `beat_stale`) is not fought for: the work checks its lease before it acts."""
        leases = self.store.leases
        while True:
            try:
                now = await self.store.beat()
                if self._set_clock is not None:
                    self._set_clock(now)  # the times it stores are the database's
                held: tuple[tuple[Kind, set[int]], ...] = (
                    ("task", self._busy_tasks),
                    ("card", self._busy_cards),
                    ("track", self._busy_tracks),
                )
                for kind, busy in held:
                    running = set(busy)
                    lost = running - await self.store.renew(kind, running)
                    if lost:
                        log.info("%s leases no longer held (done, or taken over): %s", kind, lost)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("heartbeat failed")
            await asyncio.sleep(leases.beat_every)

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
            # Due work is in flight or waits for a free worker; while submissions are
            # paused, the queue is due but nothing can be sent.
            delay = 1.0 if self._paused else 0.25
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
        if now >= self._next_purge_at and (self._purge is None or self._purge.done()):
            self._next_purge_at = now + PURGE_EVERY
            self._purge = self._start_purge(now - self.retention)
        if now >= self._next_learning_at:
            # One small query (at start, then every few minutes): what every process saw
            # of recent tasks' timings, which the polls follow.
            self._next_learning_at = now + LEARN_EVERY
            await self.api.timings.refresh(now)
        free = self._api_slots - len(self._busy_tasks)
        if free > 0:
            # Polls and submissions take turns: a burst of requests must not starve the
            # polls of tasks already paid for, nor the reverse.
            busy = self._busy_tasks
            polls = await self.store.due_tasks(now, free, state=TaskState.FOLLOWING, exclude=busy)
            self._paused = await self.api.pause.check()
            submits = (
                []
                if self._paused
                else await self.store.due_tasks(now, free, state=TaskState.QUEUED, exclude=busy)
            )
            for row in _alternate(polls, submits)[:free]:
                task = await self.store.leased("task", row)
                if task is not None:
                    worker = self._spawn(self._busy_tasks, task.id, self.api.advance(task), "task")
                    if task.state == TaskState.QUEUED:
                        self._submissions.add(worker)
        free = self._delivery_slots - len(self._busy_cards) - len(self._busy_tracks)
        if free > 0:
            for row in await self.store.tasks_needing_card(now, free):
                if row.id in self._busy_cards:
                    continue
                task = await self.store.leased("card", row)
                if task is not None:
                    self._spawn(self._busy_cards, task.id, self.delivery.show(task), "card")
        free = self._delivery_slots - len(self._busy_cards) - len(self._busy_tracks)
        if free > 0:
            for due in await self.store.due_deliveries(now, free, exclude=self._busy_tracks):
                track = await self.store.leased("track", due)
                if track is not None:
                    self._spawn(self._busy_tracks, track.id, self.delivery.deliver(track), "track")

    async def _expire(self, now: float) -> None:
        # Tasks failed by their time-out, looked at again: the API may finish them yet.
        # (Unleased: a second process looking at the same one at once only asks twice.)
        free = self._api_slots - len(self._busy_tasks)
        if free > 0:
            for task in await self.store.late_checks(now, free, exclude=self._busy_tasks):
                self._spawn(self._busy_tasks, task.id, self.api.late_check(task))
        # A process died while submitting (PostgreSQL: its leases ended), or a worker here
        # failed before the outcome was written: fate unknown, so those tasks fail (never
        # sent again), as they would at a restart; ids accepted but unwritten are written.
        await self.api.recover_interrupted(now)

    def _start_purge(self, finished_before: float) -> asyncio.Task[None]:
        """In a worker of its own: a large backlog (the first start after an upgrade) must
        not hold up the round; it goes in batches, each its own short transaction."""

        async def purge() -> None:
            removed = await self.store.purge_finished(finished_before)
            if removed:
                metrics.TASKS_PURGED.inc(removed)
                log.info("purged %d finished tasks past retention", removed)

        worker = asyncio.create_task(purge(), name="lifecycle-retention")
        self._workers.add(worker)

        def finished(done: asyncio.Task[None]) -> None:
            self._workers.discard(done)
            if not done.cancelled() and (exc := done.exception()) is not None:
                log.error("purging finished tasks failed", exc_info=exc)

        worker.add_done_callback(finished)
        return worker

    def _spawn(
        self,
        busy: set[int],
        key: int,
        work: Coroutine[Any, Any, None],
        lease: Kind | None = None,
    ) -> asyncio.Task[None]:
        busy.add(key)
        if lease is not None:
            work = self._then_release(work, lease, key)
        # The task owns the coroutine from here: cancelled before it starts, it is still closed.
        worker = asyncio.create_task(work)
        self._workers.add(worker)

        def finished(done: asyncio.Task[None]) -> None:
            self._workers.discard(done)
            self._submissions.discard(done)
            busy.discard(key)
            self.wake()
            if not done.cancelled() and (exc := done.exception()) is not None:
                log.error("lifecycle work failed (key %d)", key, exc_info=exc)

        worker.add_done_callback(finished)
        return worker

    async def _then_release(self, work: Coroutine[Any, Any, None], kind: Kind, key: int) -> None:
        """Run leased work, then hand the lease back (a crash leaves it to run out)."""
        try:
            await work
        finally:
            with contextlib.suppress(Exception):  # the lease then simply runs out
                await asyncio.shield(self.store.release(kind, key))

"""The task service's public face: record requests, show tasks, take callbacks, resume.

Everything the service knows is in the store before it acts on it, so after a crash a new
service on the same database only has to call `resume()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.core.clock import SteadyClock
from bot.core.tasks.api import ApiWork
from bot.core.tasks.delivery import DeliveryWork
from bot.core.tasks.port import DeliveryPort, TaskView
from bot.core.tasks.schedule import PollSchedule
from bot.core.tasks.scheduler import Scheduler
from bot.music import CallbackEvent, MusicClient
from bot.store import NewTask, Store, TaskRow, Usage
from bot.store.retention import DAY, DEFAULT_RETENTION_DAYS

log = logging.getLogger(__name__)

# Beyond the request time-out, for recording an answer that came at its very end.
STOP_MARGIN = 5.0
WAKE_CHANNEL = "backline_wake"  # PostgreSQL NOTIFY: work may be due, whichever process takes it


class Lifecycle:
    """The task service. Construct with the port (the place members see: called only once
    the loops start, so the bot opens the service before it logs in to Discord), then
    `await resume()`; `await stop()` to end."""

    def __init__(
        self,
        store: Store,
        client: MusicClient,
        port: DeliveryPort,
        *,
        callback_url: str,
        callback_secret: str | None = None,
        schedule: PollSchedule | None = None,
        task_timeout: float = 20 * 60.0,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        callbacks_enabled: bool = False,
        api_workers: int = 16,
        delivery_workers: int = 4,
        clock: Callable[[], float] | None = None,
        task_cost: float = 0.0,
        notices: Callable[[str], None] | None = None,
    ) -> None:
        """`notices`: told (one line for moderators) when submissions pause and resume."""
        self.store = store
        self.client = client
        self.schedule = schedule or PollSchedule()
        self._clock = clock = clock or SteadyClock()
        self.api = ApiWork(
            store,
            client,
            callback_url=callback_url,
            callback_secret=callback_secret,
            schedule=self.schedule,
            task_timeout=task_timeout,
            callbacks_enabled=callbacks_enabled,
            clock=clock,
            wake=self.wake,
            task_cost=task_cost,  # a paused queue resumes once the balance covers a task
            notices=notices,
        )
        self.delivery = DeliveryWork(
            store, schedule=self.schedule, clock=clock, pause=self.api.pause, port=port
        )
        self.scheduler = Scheduler(
            store,
            self.api,
            self.delivery,
            api_workers=api_workers,
            delivery_workers=delivery_workers,
            clock=clock,
            set_clock=clock.set if isinstance(clock, SteadyClock) else None,
        )
        self.scheduler.retention = retention_days * DAY
        self._listening: asyncio.Task[None] | None = None
        self._announcing: set[asyncio.Task[None]] = set()

    @property
    def callback_url(self) -> str:
        return self.api.callback_url

    @callback_url.setter
    def callback_url(self, url: str) -> None:
        self.api.callback_url = url

    def now(self) -> float:
        return self._clock()

    # -- requests and views ----------------------------------------------------------------

    async def request(
        self,
        new: NewTask,
        *,
        admit: Callable[[Usage], None] | None = None,
        since: float = 0.0,
    ) -> tuple[TaskRow, bool]:
        """Record a request; the scheduler submits it. A repeated request (same key) is
        not recorded twice; returns the task and whether it is new. `admit` checks the
        member's usage (since `since`) in the recording transaction and may refuse."""
        task, created = await self.store.create_task(
            new, now=self._clock(), admit=admit, since=since
        )
        if created:
            log.info("task %d recorded (interaction %d)", task.id, new.interaction_id)
            if task.parent_id is not None:  # the parent's card links to its children
                await self.store.mark_card_dirty([task.parent_id], self._clock())
            self.announce()
        return task, created

    async def view(self, task_id: int) -> TaskView | None:
        task = await self.store.get_task(task_id)
        return None if task is None else await self.delivery.view_of(task)

    async def remove(self, task_id: int) -> bool:
        """A finished task's posts are being deleted: stop drawing or posting for it."""
        return await self.store.remove_task(task_id, now=self._clock())

    async def recent(self, user_id: int, limit: int = 10) -> list[TaskRow]:
        return await self.store.recent_tasks(user_id, limit)

    async def placed(
        self,
        task_id: int,
        *,
        card_message_id: int,
        thread_id: int | None,
        input_message_id: int | None = None,
        upload_url: str | None = None,
    ) -> None:
        """The task's card is posted: record where, so every later post finds it again; and,
        for a part its creator posted (transcoded or trimmed), the URL the API fetches."""
        await self.store.set_discord_place(
            task_id,
            thread_id=thread_id,
            card_message_id=card_message_id,
            input_message_id=input_message_id,
            upload_url=upload_url,
            now=self._clock(),
        )
        self.announce()

    async def placing_failed(self, task_id: int) -> None:
        """Its creator could not post the card: the scheduler places it now."""
        await self.store.end_placing(task_id)
        self.wake()

    async def handle_callback(self, event: CallbackEvent, task_id: int | None = None) -> str:
        outcome = await self.api.handle_callback(event, task_id)
        self.announce()  # its tracks may be posted by whichever process is free
        return outcome

    # -- running ---------------------------------------------------------------------------

    def wake(self) -> None:
        self.scheduler.wake()

    @property
    def alive(self) -> bool:
        return self.scheduler.alive

    @property
    def heartbeat(self) -> float:
        return self.scheduler.heartbeat

    def healthy(self, stale_after: float) -> bool:
        """Running, and a scheduler round finished within `stale_after` seconds."""
        return self.alive and self._clock() - self.scheduler.heartbeat < stale_after

    async def resume(self) -> None:
        """At start-up: settle what a crash left behind, then start the scheduler."""
        await self.recover()
        self.start()

    async def recover(self) -> None:
        """A task caught between claim and answer may have reached the API: it is failed, not
        resubmitted. Everything else (queued, following, undelivered) continues on its own.
        With several processes (PostgreSQL) this one beats first, and takes the database's
        clock, so nothing it leases looks abandoned and the times it stores agree."""
        if self.store.shared:
            now = await self.store.beat()
            if isinstance(self._clock, SteadyClock):
                self._clock.set(now)
        await self.api.recover_interrupted(self._clock())

    def start(self) -> None:
        self.scheduler.start()
        if self.store.shared and self._listening is None:  # wake-ups from other processes
            self._listening = asyncio.create_task(
                self.store.listen(WAKE_CHANNEL, lambda _: self.scheduler.wake())
            )

    def announce(self) -> None:
        """Wake this process's scheduler and, on PostgreSQL, the other processes' too: a
        request recorded, a card placed or a callback merged here may be work for them."""
        self.wake()
        if self.store.shared:
            task = asyncio.create_task(self.store.announce(WAKE_CHANNEL))
            self._announcing.add(task)
            task.add_done_callback(self._announcing.discard)

    async def stop(self, grace: float | None = 0.0) -> None:
        """Stop starting work; give submissions on the wire up to `grace` seconds to get
        their answer recorded (None: the client's request time-out and a margin, so
        that none is cut off), and cancel the rest at once (a restart resumes it)."""
        if grace is None:
            grace = self.client.request_timeout + STOP_MARGIN
        await self.scheduler.stop(grace)
        if self._announcing:
            await asyncio.gather(*self._announcing, return_exceptions=True)

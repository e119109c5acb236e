"""One episode: the real task core (SQLite store, scheduler, MusicClient over HTTP, the
web server for callbacks, the delivery port) against the simulator, with the faults its
setting drew applied at their moments, then a calm until every task settled; then the
invariants are checked (tests/explore/invariants.py).

A "kill" closes the core at once (every worker cancelled wherever it was, a submission on
the wire included) and builds a new one on the same database, listening where the API's
callbacks go, and resumes it: what a restart after SIGKILL has to do. What Discord shows
(the delivery port) outlives it, as Discord's messages do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.core.tasks import PermanentDeliveryError
from bot.music import MusicClient
from bot.store import TaskState
from simulator import Simulator, SimulatorConfig
from tests.conftest import FAST_SCHEDULE
from tests.explore.invariants import Snapshot, Violation, check
from tests.explore.setting import (
    ACTIVE,
    CLIENT_TIMEOUT,
    CLOCK,
    CREDITS,
    DISCORD,
    KILL,
    KILL_AFTER_POST,
    OUTAGE,
    REQUEST,
    TASK_TIMEOUT,
    Event,
    Setting,
)
from tests.support.factories import API_KEY, make_client, new_task
from tests.support.port import MemoryPort
from tests.support.rig import Rig, open_rig

log = logging.getLogger(__name__)

SETTLE = TASK_TIMEOUT + 3.0  # after the faults end: the time-out, a poll and the slowest loop
REFILL = 500.0
PERMANENT = "The bot can no longer post in this channel."


class SteppingClock:
    """The bot's clock: the wall clock, stepped by the episode's clock events."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Result:
    setting: Setting
    violations: list[Violation]
    faults: Counter[str]  # by kind: events, answer shapes served and planned, ...
    restarts: int
    seconds: float
    notes: list[str] = field(default_factory=list)


class Episode:
    sim: Simulator
    music: MusicClient

    def __init__(self, setting: Setting, folder: Path, http: aiohttp.ClientSession) -> None:
        self.setting = setting
        self.db = folder / "explore.db"
        self.http = http
        self.clock = SteppingClock()
        self.port = MemoryPort()
        self.web_port = 0
        self.rig: Rig | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self.restarts = 0
        self.titles: list[str] = []
        self.outages: list[tuple[float, float]] = []  # by the bot's clock
        self._timers: set[asyncio.Task[None]] = set()
        self.phase = "starting"  # where the episode is, for a report if it never ends

    async def run(self) -> Result:
        started = time.monotonic()
        setting = self.setting
        text, first, complete = setting.delays
        config = SimulatorConfig(
            api_key=API_KEY,
            seed=setting.seed,
            text_delay=text,
            first_delay=first,
            complete_delay=complete,
            track_count=setting.track_count,
            rate_limit=40,
            rate_period=0.1,
            check_upload=False,
            send_callbacks=setting.callbacks,
            callback_repeats=setting.callback_repeats,
            callback_retries=4,
            callback_backoff=0.2,
            callback_timeout=2.0,
            shapes=setting.shapes,
        )
        async with Simulator(config) as sim:
            self.sim = sim
            self.music = make_client(
                self.http, sim.base_url, limit=40, period=0.1, timeout=CLIENT_TIMEOUT
            )
            await self._start()
            try:
                for event in setting.events:
                    await self._at(started, event.at)
                    self.phase = event.describe()
                    await self._apply(event)
                await self._at(started, ACTIVE)
                self.phase = "waiting for the outages to end"
                await self._calm()
                self.phase = "settling"
                await self._settle()
                self.phase = "checking"
                assert self.rig is not None
                snapshot = await Snapshot.take(
                    self.rig.store,
                    sim,
                    self.port,
                    self.titles,
                    self.clock(),
                    setting.callbacks,
                    self.outages,
                    TASK_TIMEOUT,
                )
            finally:
                for timer in self._timers:
                    timer.cancel()
                self.phase = "stopping the core at the end"
                await self._stop()
        return Result(
            setting,
            check(snapshot),
            self._faults(),
            self.restarts,
            time.monotonic() - started,
        )

    def _faults(self) -> Counter[str]:
        """Every fault the episode met, by kind: its events, the answer shapes served (per
        call and per task), stale callbacks, Discord calls that failed."""
        kinds: Counter[str] = Counter(e.kind for e in self.setting.events if e.kind != REQUEST)
        for (_, kind), n in self.sim.shaped.items():
            kinds[kind] += n
        for task in self.sim.tasks.values():
            kinds.update(shape.split(":")[0] for shape in task.shapes)
        kinds["stale callback"] += self.sim.replayed_callbacks
        kinds["Discord call failed"] += self.port.failed_shows + self.port.failed_posts
        return +kinds

    # -- the core's life -------------------------------------------------------------------

    async def _start(self) -> None:
        stack = contextlib.AsyncExitStack()
        rig = await stack.enter_async_context(
            open_rig(
                self.db,
                self.music,
                schedule=FAST_SCHEDULE,
                task_timeout=TASK_TIMEOUT,
                web_port=self.web_port,
                callbacks=self.setting.callbacks,
                clock=self.clock,
                port=self.port,
            )
        )
        self.web_port = rig.web.port
        self.rig, self._stack = rig, stack

    async def _stop(self) -> None:
        if self._stack is not None:
            stack, self._stack, self.rig = self._stack, None, None
            await stack.aclose()

    async def _restart(self) -> None:
        self.phase += ": stopping the core"
        await self._stop()
        self.port.hang_after_post = False
        self.restarts += 1
        self.phase += ", starting a new one"
        await self._start()

    # -- faults ----------------------------------------------------------------------------

    async def _apply(self, event: Event) -> None:
        sim, port = self.sim, self.port
        if event.kind == REQUEST:
            title = f"explore {self.setting.seed} #{len(self.titles)}"
            self.titles.append(title)
            assert self.rig is not None
            await self.rig.service.request(new_task(title=title))
        elif event.kind == OUTAGE:
            sim.fail_next(event.code, times=10**6)
            self.outages.append((self.clock(), self.clock() + event.length))
            self._later(event.length, sim.end_faults)
        elif event.kind == CREDITS:
            sim.config.credits = 0.0
            self._later(event.length, self._refill)
        elif event.kind == DISCORD:
            port.fail_shows += event.code
            port.fail_deliveries += event.code
            if event.permanent:
                port.fail_with = lambda: PermanentDeliveryError(PERMANENT)
        elif event.kind == KILL:
            await self._restart()
        elif event.kind == KILL_AFTER_POST:
            posts = port.posts
            port.hang_after_post = True  # the next post is made, the store never hears
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    while port.posts == posts:  # noqa: ASYNC110 - the port has no event for it
                        await asyncio.sleep(0.01)
            await self._restart()
        elif event.kind == CLOCK:
            self.clock.offset += event.jump

    def _refill(self) -> None:
        self.sim.config.credits = REFILL

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            action()

        timer = asyncio.create_task(run())
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _calm(self) -> None:
        """The faults' time is over: Discord recovers; outages and credits run their full
        length (a time-out may fall inside one). The answer shapes stay: they are how the
        API is."""
        self.port.fail_shows = self.port.fail_deliveries = 0
        self.port.fail_with = None
        await asyncio.gather(*self._timers, return_exceptions=True)
        self.sim.end_faults()
        self._refill()

    async def _settle(self) -> None:
        """Until the store is idle, the API has finished every task and sent its callbacks,
        or the time-out plus a poll has passed since the calm began."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE
        while loop.time() < deadline:
            assert self.rig is not None
            now = time.monotonic()
            api_done = all(task.finished(now) for task in self.sim.tasks.values())
            if api_done and await self._quiet():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.1, deadline - loop.time())):
                        await self.sim.wait_idle()
                await asyncio.sleep(0.2)  # what the last callbacks woke
                if await self._quiet():
                    return
            await asyncio.sleep(0.05)

    async def _quiet(self) -> bool:
        """Nothing left to do: the store is idle, and no task failed by its time-out still
        has a look at the API planned although the API has finished it (that look may
        follow it again and deliver it)."""
        assert self.rig is not None
        store = self.rig.store
        if not await store.is_idle():
            return False
        finished = {t.task_id for t in self.sim.tasks.values() if t.finished(time.monotonic())}
        for task in await store.recent_tasks(42, len(self.titles) + 10):
            looking = task.state == TaskState.FAILED and task.next_check_at is not None
            if looking and task.api_task_id in finished:
                return False
        return True

    @staticmethod
    async def _at(started: float, at: float) -> None:
        delay = started + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

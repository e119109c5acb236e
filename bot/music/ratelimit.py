"""One sliding-window rate limiter shared by every call made with one API key."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bot import metrics

log = logging.getLogger(__name__)


class RateLimiter:
    """At most `limit` calls in any window of `period` seconds, first come first served.

    The provider counts arrivals; we see departures and answers. A call holds its slot from
    the moment it is let out (`acquire`) until its answer came (`release`), and the window
    is counted from the answer: a call held up on its way (a busy event loop, a slow
    connect) arrived before its answer came, so the next call this slot lets out can never
    arrive inside the provider's window with it. `margin` widens the window a little more.
    """

    def __init__(
        self,
        limit: int,
        period: float,
        *,
        margin: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period + margin
        self._clock = clock
        self._answered: deque[float] = deque()  # when each recent call's answer came
        self._in_flight = 0
        self._released = asyncio.Event()
        self._lock = asyncio.Lock()

    def _taken(self, now: float) -> int:
        while self._answered and now - self._answered[0] >= self.period:
            self._answered.popleft()
        return self._in_flight + len(self._answered)

    @property
    def available(self) -> int:
        return self.limit - self._taken(self._clock())

    async def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited. Every acquire is followed by one
        `release` once the call is over (answered, failed or not sent)."""
        started = self._clock()
        async with self._lock:  # FIFO: waiters queue on the lock
            while self._taken(now := self._clock()) >= self.limit:
                if self._answered:  # the oldest answer leaves the window
                    await asyncio.sleep(self.period - (now - self._answered[0]))
                else:  # every slot is a call still on the wire: wait for one to end
                    self._released.clear()
                    await self._released.wait()
            self._in_flight += 1
        waited = self._clock() - started
        if waited > 0.001:
            metrics.RATE_LIMIT_WAITS.inc()
            metrics.RATE_LIMIT_WAIT_SECONDS.inc(waited)
        return waited

    async def release(self) -> None:
        """The call let out by an `acquire` is over: its slot counts from now."""
        self._in_flight -= 1
        self._answered.append(self._clock())
        self._released.set()


class SharedRateLimiter(RateLimiter):
    """The same limit across every process using the key (PostgreSQL): each call takes a
    slot in a window kept in the database (`take` returns 0 when the slot is taken, else the
    seconds to wait). The window is dated by the database's clock, never a process's: a
    process whose clock runs ahead must not drop the others' slots. Waits are this
    process's own (monotonic)."""

    def __init__(
        self,
        take: Callable[[int, float], Awaitable[float]],
        answered: Callable[[], Awaitable[None]],
        limit: int,
        period: float,
        *,
        margin: float = 0.25,
    ) -> None:
        super().__init__(limit, period, margin=margin)
        self._take = take
        self._date_answer = answered

    @property
    def available(self) -> int:
        return self.limit  # not known without asking the database; only metrics read it

    async def release(self) -> None:
        """The call is over: the database dates one of this process's slots now. Failing
        that, the slot keeps the date it was let out with (the margin still covers most
        of the wire), and the call's own result stands."""
        try:
            await self._date_answer()
        except Exception:
            log.warning("could not date an API call's answer in the shared window", exc_info=True)

    async def acquire(self) -> float:
        waited = 0.0
        async with self._lock:  # FIFO within this process
            while (delay := await self._take(self.limit, self.period)) > 0:
                waited += delay
                await asyncio.sleep(delay)
        if waited:
            metrics.RATE_LIMIT_WAITS.inc()
            metrics.RATE_LIMIT_WAIT_SECONDS.inc(waited)
        return waited

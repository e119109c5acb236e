"""One sliding-window rate limiter shared by every call made with one API key."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bot import metrics


class RateLimiter:
    """At most `limit` acquisitions in any window of `period` seconds, first come first served.

    `margin` widens the window a little: the provider counts arrivals, we count departures,
    and network jitter must not turn our last allowed call into its 430.
    """

    def __init__(self, limit: int, period: float, *, margin: float = 0.25) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period + margin
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    def _prune(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= self.period:
            self._sent.popleft()

    @property
    def available(self) -> int:
        self._prune(time.monotonic())
        return self.limit - len(self._sent)

    async def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        waited = 0.0
        async with self._lock:  # FIFO: waiters queue on the lock
            while True:
                now = time.monotonic()
                self._prune(now)
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    break
                delay = self.period - (now - self._sent[0])
                waited += delay
                await asyncio.sleep(delay)
        if waited:
            metrics.RATE_LIMIT_WAITS.inc()
            metrics.RATE_LIMIT_WAIT_SECONDS.inc(waited)
        return waited


class SharedRateLimiter(RateLimiter):
    """The same limit across every process using the key (PostgreSQL): each call takes a
    slot in a window kept in the database (`take` returns 0 when the slot is taken, else the
    seconds to wait). Wall-clock time, as the processes share it."""

    def __init__(
        self,
        take: Callable[[Callable[[], float], int, float], Awaitable[float]],
        limit: int,
        period: float,
        *,
        margin: float = 0.25,
    ) -> None:
        super().__init__(limit, period, margin=margin)
        self._take = take

    @property
    def available(self) -> int:
        return self.limit  # not known without asking the database; only metrics read it

    async def acquire(self) -> float:
        waited = 0.0
        async with self._lock:  # FIFO within this process
            while (delay := await self._take(time.time, self.limit, self.period)) > 0:
                waited += delay
                await asyncio.sleep(delay)
        if waited:
            metrics.RATE_LIMIT_WAITS.inc()
            metrics.RATE_LIMIT_WAIT_SECONDS.inc(waited)
        return waited

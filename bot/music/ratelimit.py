"""One sliding-window rate limiter shared by every call made with one API key."""

from __future__ import annotations

import asyncio
import time
from collections import deque

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

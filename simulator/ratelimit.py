"""The simulated API's per-key rate limit (code 430 beyond it)."""

from __future__ import annotations

from collections import deque


class RateLimiter:
    """Sliding-window limiter: at most ``limit`` accepted calls per ``period`` per key.

    A rejected call is not recorded, so a client that backs off gets through again as
    soon as the window has room. (Counting rejections too would lock out a client that
    keeps hammering; that punishes misbehaviour but makes backoff tests non-deterministic.)
    """

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float, limit: int, period: float) -> bool:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - period:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

"""When to ask the API about a task: the poll schedule and the retry backoff."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.store import Stage


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
    pause_check: float = 180.0  # balance checks while submissions are paused
    maintenance_wait: float = 60.0  # at least this long before a submission after a 455

    def next_delay(self, elapsed: float, *, stage: Stage, callbacks: bool) -> float:
        if callbacks:
            return self.callback_interval
        if stage == Stage.FIRST or self.tight_from <= elapsed < self.tight_until:
            return self.tight_interval
        if elapsed < self.tight_from:
            # Do not overshoot the tight window by a whole early interval.
            return max(self.tight_interval, min(self.early_interval, self.tight_from - elapsed))
        return self.late_interval

    def backoff(self, failures: int) -> float:
        delay = min(self.retry_cap, self.retry_base * 2.0 ** max(0, failures - 1))
        return delay * random.uniform(0.8, 1.2)

    def scaled(self, factor: float) -> PollSchedule:
        """The same shape on another time scale (tests and benchmarks)."""
        return PollSchedule(**{name: getattr(self, name) * factor for name in self.__slots__})

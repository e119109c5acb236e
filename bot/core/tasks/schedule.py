"""When to ask the API about a task: the poll schedule and the retry backoff."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.store import Stage


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """When to ask the API about a task, by seconds since submission.

    The API reaches `text` after 20-40 s, its first track half-way to the end, and the end
    after 2 to 4 minutes: the end comes about as long after the first track as the first
    track came after `text` (`done_ratio`, the API's word; each model's own, learned from
    the bot's recent tasks, is passed to `next_delay`). So the bot polls every
    `first_interval` from the earliest first track on; once a poll sees the first track
    (between the poll before, which did not, and this one) the end is known to lie in a
    window, which it polls from a little way in (`window_start`) every `done_interval`: few
    calls, and the tracks are posted a few seconds after they are done. Past the window (a
    slow task) it polls every `tight_interval`, then every `late_interval`. With a callback
    seen for the task, polling is only a rare safety net.
    """

    first_check: float = 70.0  # the earliest first track (text 20 s, done 120 s)
    first_interval: float = 20.0
    done_interval: float = 8.0
    text_min: float = 20.0
    text_max: float = 40.0
    done_ratio: float = 1.0  # (done - first) / (first - text); not a time: never scaled
    window_start: float = 0.2  # of the window, where its first poll goes; not scaled
    tight_interval: float = 15.0
    tight_until: float = 250.0
    late_interval: float = 60.0
    callback_interval: float = 180.0
    retry_base: float = 5.0
    retry_cap: float = 120.0
    pause_check: float = 180.0  # balance checks while submissions are paused
    maintenance_wait: float = 60.0  # at least this long before a submission after a 455

    def next_delay(
        self,
        elapsed: float,
        *,
        stage: Stage,
        callbacks: bool,
        first_after: float | None = None,
        first_seen: float | None = None,
        ratio: float | None = None,
    ) -> float:
        """Seconds until the next poll. `first_after`/`first_seen` (seconds since
        submission): the first track became ready after the one poll and by the other.
        `ratio`: the task's model's learned `done_ratio`, if there is one. Whatever it is,
        past the window the task is still polled (tightly, then late): never lost."""
        if callbacks:
            return self.callback_interval
        slow = self.tight_interval if elapsed < self.tight_until else self.late_interval
        if stage.rank < Stage.FIRST.rank:
            return self.first_interval if elapsed < self.tight_until else self.late_interval
        if first_after is None or first_seen is None:
            return self.done_interval if elapsed < self.tight_until else slow
        ratio = self.done_ratio if ratio is None else ratio
        earliest = first_after + ratio * (first_after - self.text_max)
        latest = first_seen + ratio * (first_seen - self.text_min)
        start = earliest + self.window_start * (latest - earliest)
        if elapsed < start:
            return start - elapsed
        return self.done_interval if elapsed < latest else slow

    def backoff(self, failures: int) -> float:
        delay = min(self.retry_cap, self.retry_base * 2.0 ** max(0, failures - 1))
        return delay * random.uniform(0.8, 1.2)

    def scaled(self, factor: float) -> PollSchedule:
        """The same shape on another time scale (tests and benchmarks)."""
        return PollSchedule(
            **{
                name: getattr(self, name) * (1.0 if name in _UNSCALED else factor)
                for name in self.__slots__
            }
        )


_UNSCALED = frozenset({"done_ratio", "window_start"})

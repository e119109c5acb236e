"""When to ask the API about a task: the poll schedule and the retry backoff."""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

from bot.core.tasks.timings import EndModel
from bot.store import Stage


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """When to ask the API about a task, by seconds since submission.

    The API documents no more than "2-4 minutes", so the schedule assumes nothing about
    how a task's stages are spread: it polls by what the bot saw of the same model's
    recent tasks (`EndModel`). Nothing learned yet: a first poll after `first_check`, then
    gaps growing to `start_interval` (a task may finish in seconds, as a cached result
    does). Learned: the first poll just before the earliest time the task may end, then
    polls at quantiles of the times it may still end (each gap covers `quantum` of them),
    never more than `done_gap` apart once it may be done; while the first track is awaited
    and it tells the end, polls `EndModel.first_poll_step` apart find it. A task later than
    anything seen is polled every `done_gap`, growing to `max_gap`. Never more than
    `max_gap` (a 30-s poller's) between two polls; past `late_after` (far past the API's
    4 minutes: a stuck task) every `late_interval`. With a callback seen for the task,
    polling is only a rare safety net; with callbacks on but none seen yet and nothing
    learned, every `max_gap`.
    """

    first_check: float = 5.0  # nothing learned: the first poll…
    start_growth: float = 0.5  # …then the next after this share of the time so far…
    start_interval: float = 20.0  # …at most this far apart
    short_share: float = 0.25  # a short task's gaps: this share of its end
    first_step: float = 1.5  # a multiplier of EndModel.first_poll_step
    rare_share: float = 0.1
    call_cost: float = 4.0
    done_gap: float = 8.0  # at most this long between two polls once the task may be done
    min_gap: float = 2.0
    max_gap: float = 30.0
    late_after: float = 600.0
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
        model: EndModel | None = None,
        awaiting_callback: bool = False,
    ) -> float:
        """Seconds until the next poll. `callbacks`: one was seen for this task.
        `first_after`/`first_seen` (seconds since submission): the first track became ready
        after the one poll and by the other. `model`: what the task's model's recent tasks
        tell, if enough were seen. `awaiting_callback`: callbacks are on but none came yet."""
        if callbacks:
            return self.callback_interval
        if elapsed >= self.late_after:
            return self.late_interval
        if model is None:
            if awaiting_callback:
                # Polls are then likely wasted: no earlier than a 30-s poller's, no worse.
                return self.max_gap
            return min(self.start_interval, max(self.first_check, elapsed * self.start_growth))
        at = self._next_for_end(elapsed, first_after, first_seen, model)
        earliest_first = model.earliest_first()
        if (
            model.informative
            and earliest_first is not None
            and first_seen is None
            and stage.rank < Stage.FIRST.rank
            and model.awaits_first(elapsed)
        ):
            step = self.first_step * model.first_poll_step(self.done_gap)
            step = min(self.max_gap, max(self.done_gap, step))
            at = min(at, max(elapsed + step, earliest_first - self.done_gap / 2))
        delay = max(self.min_gap, at - elapsed)
        if elapsed + delay > model.earliest_end:
            # Past the earliest end seen, a skip ahead is bounded too: whatever the API
            # does, never more than a 30-s poller's wait.
            delay = min(delay, max(self.max_gap, model.earliest_end - elapsed))
        return delay

    def _next_for_end(
        self,
        elapsed: float,
        first_after: float | None,
        first_seen: float | None,
        model: EndModel,
    ) -> float:
        candidates = model.candidates(elapsed, first_after, first_seen)
        if not candidates:  # later than any task seen: overdue, poll often but not madly
            overdue = elapsed - model.latest_end
            return elapsed + min(self.max_gap, max(self.done_gap, overdue / 2))
        # Sample ends are middles of poll bounds: a little before the next one. Until then
        # no task seen could have been done: skip ahead (if the API gets faster, its tasks
        # are seen done at that poll, and their bounds move it earlier for the next ones).
        margin = min(self.done_gap / 2, 0.2 * candidates[0])
        rare = candidates[int(self.rare_share * len(candidates))]
        # One call is worth `call_cost` seconds of waiting: with h the share of the
        # remaining candidates ending per second from now, sqrt(2 * cost / h) between two
        # polls spends the fewest calls and seconds together (wide gaps where few of the
        # tasks still running end soon, narrow ones where many do).
        soon = bisect.bisect_right(candidates, elapsed + self.done_gap)
        hazard = soon / (len(candidates) * self.done_gap)
        step = math.sqrt(2 * self.call_cost / hazard) if hazard > 0 else self.done_gap
        step = min(step, self.done_gap, max(self.min_gap, self.short_share * candidates[0]))
        return max(elapsed + max(self.min_gap, step), rare - margin)

    def first_delay(self, model: EndModel | None, *, awaiting_callback: bool = False) -> float:
        """Seconds from submission to the first poll."""
        return self.next_delay(
            0.0,
            stage=Stage.PENDING,
            callbacks=False,
            model=model,
            awaiting_callback=awaiting_callback,
        )

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


_UNSCALED = frozenset({"start_growth", "short_share", "first_step", "rare_share"})

"""When each model's tasks end, learned from what this bot's own polls saw.

The API documents only "2-4 minutes": nothing about how its stages are spread. So the
bot assumes no relation between them. Each finished task's polls bound its first track,
(first_after, first_seen], and its end, (done_after, completed_at]; the middles of those
bounds, for a model's latest tasks, are its samples. From them an `EndModel` gives, for a
task being followed, the times at which it may end (`candidates`): the samples' ends, or,
when the first track has told something about the end in the samples (a straight line
fitted to (first, end) leaves much less spread than the ends alone), the line through this
task's own first track plus the samples' residuals. The poll schedule polls at quantiles
of those times (`PollSchedule.next_delay`).
"""

from __future__ import annotations

import bisect
import logging
import math
import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.store import Store, TaskTiming

log = logging.getLogger(__name__)

LEARN_EVERY = 10 * 60.0  # seconds between two readings of the recent tasks in the store
RECENT = 14 * 24 * 60 * 60.0  # tasks done within this long count…
PER_MODEL = 50  # …the latest this many of each model
MIN_TASKS = 8  # fewer, and the model's tasks are polled as if nothing were known
INFORMATIVE = 0.6  # the line must leave at most this share of the ends' own spread
MAX_SLOPE = 4.0
FASTER = 0.25  # more of the samples seen done at their first poll: the API got faster


def _spread(values: Sequence[float]) -> float:
    """From the 10th to the 90th percentile."""
    if len(values) < 2:
        return 0.0
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return deciles[-1] - deciles[0]


@dataclass(frozen=True, slots=True)
class EndModel:
    """One model's samples, in seconds since submission (clock units: scaled in tests):
    (first track, end) for each task, the first None when no poll saw it before the end
    (skipped by the API, or ready between the same two polls)."""

    samples: tuple[tuple[float | None, float], ...]
    slope: float = 0.0
    intercept: float = 0.0
    residuals: tuple[float, ...] = ()  # the ends less the line's, of the samples with a first
    first_spread: float = 0.0

    @classmethod
    def fit(cls, timings: Iterable[TaskTiming]) -> EndModel | None:
        timings = list(timings)
        # A task seen done at its very first poll only says "by then". It takes the median
        # of the other tasks' ends within its bounds, or with none there its upper bound:
        # an ordinary early task. But when many are (the API got faster), their middles,
        # which bring the first poll earlier, task after task.
        bounded = sorted(
            (t.done_after + t.completed_at) / 2 - t.submitted_at
            for t in timings
            if t.done_after > t.submitted_at
        )
        faster = len(timings) - len(bounded) > FASTER * len(timings)
        samples: list[tuple[float | None, float]] = []
        for t in timings:
            end = (t.done_after + t.completed_at) / 2 - t.submitted_at
            if t.done_after <= t.submitted_at and not faster:
                by = t.completed_at - t.submitted_at
                within = bounded[: bisect.bisect_right(bounded, by)]
                end = statistics.median(within) if within else by
            first = None
            # Only a first track seen by an earlier poll than the end tells anything, and
            # not one seen at the very first poll ("by then").
            if (
                t.first_after is not None
                and t.first_seen is not None
                and t.submitted_at < t.first_after
                and t.first_seen <= t.done_after
            ):
                first = (t.first_after + t.first_seen) / 2 - t.submitted_at
            samples.append((first, end))
        if len(samples) < MIN_TASKS:
            return None
        pairs = [(f, e) for f, e in samples if f is not None]
        if len(pairs) < MIN_TASKS:
            return cls(tuple(samples))
        firsts, ends = [f for f, _ in pairs], [e for _, e in pairs]
        mean_f, mean_e = statistics.fmean(firsts), statistics.fmean(ends)
        var_f = sum((f - mean_f) ** 2 for f in firsts)
        cov = sum((f - mean_f) * (e - mean_e) for f, e in pairs)
        slope = min(MAX_SLOPE, max(0.0, cov / var_f)) if var_f > 0 else 0.0
        intercept = mean_e - slope * mean_f
        residuals = tuple(e - (intercept + slope * f) for f, e in pairs)
        if _spread(residuals) > INFORMATIVE * _spread(ends):
            return cls(tuple(samples))  # the first track tells little about the end
        return cls(tuple(samples), slope, intercept, residuals, _spread(firsts))

    @property
    def informative(self) -> bool:
        """Whether seeing the first track narrows down the end."""
        return bool(self.residuals)

    @property
    def earliest_end(self) -> float:
        return min(end for _, end in self.samples)

    @property
    def latest_end(self) -> float:
        return max(end for _, end in self.samples)

    def earliest_first(self) -> float | None:
        """The earliest first track still to come after `elapsed`, in the samples."""
        return min((f for f, _ in self.samples if f is not None), default=None)

    def awaits_first(self, elapsed: float) -> bool:
        """Whether a sample's first track came later than `elapsed`."""
        return any(f is not None and f > elapsed for f, _ in self.samples)

    def candidates(
        self, elapsed: float, first_after: float | None, first_seen: float | None
    ) -> list[float]:
        """The times (sorted, all after `elapsed`) at which this task may end."""
        if self.informative and first_after is not None and first_seen is not None:
            # Its first track was ready within (first_after, first_seen]: the middle, as
            # for the samples, and each sample's residual around the line.
            first = (first_after + first_seen) / 2
            times = [self.intercept + self.slope * first + r for r in self.residuals]
            return sorted(t for t in times if t > elapsed)
        if not self.informative or first_seen is not None:
            return sorted(e for _, e in self.samples if e > elapsed)
        # No first track yet: like the samples whose first came later, or never showed.
        times = [e for f, e in self.samples if e > elapsed and (f is None or f > elapsed)]
        if not times:
            # Later than all of them: after the line through a first track ready now (the
            # earliest it can be), as the samples' ends were after theirs.
            times = [self.intercept + self.slope * elapsed + r for r in self.residuals]
        return sorted(t for t in times if t > elapsed)

    def first_poll_step(self, gap: float) -> float:
        """How far apart to poll while waiting for the first track: far enough to spend
        few calls on it, close enough that the end it points to stays narrow (the square
        root balances the two: calls fall as the step grows, the end's window widens)."""
        return math.sqrt(self.first_spread * gap / max(self.slope, 0.1))


class LearnedTimings:
    """Each model's `EndModel`, read from the store now and then (at start and every
    `LEARN_EVERY`: several processes share what they saw) and told of every task this
    process sees done (`observe`), so a new model learns within its first tasks."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._recent: dict[str, deque[TaskTiming]] = {}
        self._models: dict[str, EndModel | None] = {}

    def get(self, model: str) -> EndModel | None:
        return self._models.get(model)

    def observe(self, timing: TaskTiming) -> None:
        recent = self._recent.setdefault(timing.model, deque(maxlen=PER_MODEL))
        recent.append(timing)
        self._models[timing.model] = EndModel.fit(recent)

    async def refresh(self, now: float) -> None:
        recent: dict[str, deque[TaskTiming]] = {}
        for timing in await self.store.recent_timings(now - RECENT, PER_MODEL):
            recent.setdefault(timing.model, deque(maxlen=PER_MODEL)).appendleft(timing)
        self._recent = recent
        models = {model: EndModel.fit(timings) for model, timings in recent.items()}
        learned = {model for model, fitted in models.items() if fitted is not None}
        if learned != {model for model, fitted in self._models.items() if fitted is not None}:
            log.info("end times learned for: %s", ", ".join(sorted(learned)) or "no model yet")
        self._models = models

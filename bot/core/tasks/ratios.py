"""How long each model takes to finish after its first track, learned from this bot's own
recent tasks: the poll schedule's `done_ratio`, per model."""

from __future__ import annotations

import logging
import statistics

from bot.core.tasks.schedule import PollSchedule
from bot.store import Store, TaskTiming

log = logging.getLogger(__name__)

LEARN_EVERY = 10 * 60.0  # seconds between two readings of the recent tasks
RECENT = 14 * 24 * 60 * 60.0  # tasks done within this long count…
PER_MODEL = 50  # …the latest this many of each model
MIN_TASKS = 5  # fewer, and the model keeps the schedule's ratio (the API's documented 1.0)
LOWEST, HIGHEST = 0.5, 2.0  # a learned ratio stays within these


class DoneRatios:
    """(done - first) / (first - text) per model, read from the store now and then (at
    start and every `LEARN_EVERY`), never per poll.

    A finished task's polls bound its stages: the first track was ready in (first_after,
    first_seen], the end in (done_after, completed_at]. `text` is never seen (the first poll
    comes after it), so it is taken at the middle of the schedule's text_min..text_max. Each
    task gives one ratio, from the middles of its bounds; a model's ratio is their median,
    kept within LOWEST..HIGHEST, once it has MIN_TASKS of them.
    """

    def __init__(self, store: Store, schedule: PollSchedule) -> None:
        self.store = store
        self.schedule = schedule
        self._ratios: dict[str, float] = {}

    def get(self, model: str) -> float:
        return self._ratios.get(model, self.schedule.done_ratio)

    async def refresh(self, now: float) -> None:
        samples: dict[str, list[float]] = {}
        for timing in await self.store.recent_timings(now - RECENT, PER_MODEL):
            ratio = self.ratio_of(timing)
            if ratio is not None:
                samples.setdefault(timing.model, []).append(ratio)
        learned = {
            model: min(HIGHEST, max(LOWEST, statistics.median(ratios)))
            for model, ratios in samples.items()
            if len(ratios) >= MIN_TASKS
        }
        if learned != self._ratios:
            log.info(
                "done ratios learned: %s",
                ", ".join(f"{model} {ratio:.2f}" for model, ratio in sorted(learned.items()))
                or "none yet",
            )
        self._ratios = learned

    def ratio_of(self, timing: TaskTiming) -> float | None:
        """One task's ratio; None if its first track came no later than the assumed `text`."""
        text = (self.schedule.text_min + self.schedule.text_max) / 2
        first = (timing.first_after + timing.first_seen) / 2 - timing.submitted_at
        done = (timing.done_after + timing.completed_at) / 2 - timing.submitted_at
        if first <= text:
            return None
        return (done - first) / (first - text)

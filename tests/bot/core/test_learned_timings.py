"""What the schedule learns: each model's end times from the bounds its polls saw, read
from the store (SQLite and PostgreSQL) and from each task this process sees done."""

from __future__ import annotations

import random
import statistics

import pytest

from bench.common import schedule_walk, walk_timing
from bot.core.tasks import PollSchedule
from bot.core.tasks.timings import MIN_TASKS, PER_MODEL, RECENT, EndModel, LearnedTimings
from bot.store import Progress, Stage, Store, TaskTiming
from simulator import profiles
from tests.support.factories import new_task

NOW = 1_800_000_000.0
SCHEDULE = PollSchedule()


async def finished(store: Store, model: str, timing: TaskTiming, *, at: float = NOW) -> None:
    """A task of `model` submitted at `at` whose polls saw `timing` (seconds from 0)."""
    task, _ = await store.create_task(new_task(model=model), now=at)
    assert await store.claim_for_submit(task.id, at)
    await store.mark_submitted(task.id, f"api-{task.id}", now=at, next_check_at=at)
    assert timing.first_after is not None and timing.first_seen is not None
    await store.schedule_check(
        task.id,
        next_check_at=at + timing.completed_at,
        polled_at=at + timing.done_after,
        first_after=at + timing.first_after,
        first_seen=at + timing.first_seen,
    )
    done = Progress(
        stage=Stage.COMPLETE,
        tracks=[],
        complete=True,
        now=at + timing.completed_at,
        done_after=at + timing.done_after,
    )
    assert await store.apply_progress(task.id, done)


def timing(first: tuple[float, float], end: tuple[float, float]) -> TaskTiming:
    return TaskTiming("m", 0.0, first[0], first[1], end[0], end[1])


@pytest.fixture
def store(each_store: Store) -> Store:
    return each_store


async def test_each_model_learns_from_its_own_recent_tasks(store: Store) -> None:
    for n in range(MIN_TASKS):
        await finished(store, "V5", timing((80.0, 90.0), (150.0 + n, 158.0 + n)))
    for _ in range(MIN_TASKS - 1):
        await finished(store, "V4_5PLUS", timing((20.0, 30.0), (40.0, 48.0)))
    for _ in range(MIN_TASKS):  # done before the last 14 days: forgotten
        await finished(store, "V4", timing((20.0, 30.0), (40.0, 48.0)), at=NOW - RECENT - 600)
    learned = LearnedTimings(store)
    await learned.refresh(NOW + 3600)
    v5 = learned.get("V5")
    assert v5 is not None and v5.earliest_end == 154.0 and v5.latest_end == 161.0
    assert learned.get("V4_5PLUS") is None  # too few: polled as if nothing were known
    assert learned.get("V4") is None
    # One more seen done by this process counts at once, without reading the store.
    learned.observe(TaskTiming("V4_5PLUS", NOW, NOW + 20, NOW + 30, NOW + 40, NOW + 48))
    assert learned.get("V4_5PLUS") is not None


def test_the_first_track_counts_only_when_it_tells_the_end() -> None:
    # The end 60 s after the first track, whatever that was: the line finds it.
    told = [timing((f, f + 4), (f + 62, f + 66)) for f in range(60, 180, 10)]
    model = EndModel.fit(told)
    assert model is not None and model.informative
    assert model.slope == pytest.approx(1.0)
    assert model.candidates(100.0, 90.0, 100.0) == pytest.approx([157.0] * len(told))
    # The first track always early, the end anywhere: it tells nothing, the ends decide.
    rng = random.Random(1)
    untold = [timing((10, 20), (e - 4, e + 4)) for e in (rng.uniform(100, 200) for _ in told)]
    model = EndModel.fit(untold)
    assert model is not None and not model.informative


def test_a_task_seen_done_at_its_first_poll_is_not_taken_for_an_early_one() -> None:
    samples = [timing((60.0, 80.0), (150.0, 158.0)) for _ in range(MIN_TASKS)]
    early = TaskTiming("m", 0.0, 0.0, 140.0, 0.0, 140.0)  # "done by 140 s", nothing more
    model = EndModel.fit([*samples, early])
    assert model is not None and model.earliest_end == 140.0  # not 70 s, its middle


def test_a_model_that_gets_faster_is_followed_within_a_few_tasks() -> None:
    """From 2-4 minutes to a few seconds (a cache): tasks seen done at their first poll
    move the next ones' first poll earlier until it is within seconds again."""
    rng = random.Random(2)
    seen: list[TaskTiming] = []
    waited = []
    for n in range(120):
        times = profiles.draw("documented" if n < 60 else "instant", rng)
        model = EndModel.fit(seen[-PER_MODEL:])
        polls = schedule_walk(
            SCHEDULE, text=times.text, first=times.first, complete=times.complete, model=model
        )
        seen.append(walk_timing(polls, first=times.first))
        waited.append(polls[-1] - times.complete)
    assert waited[60] > 60  # the first cached result waited for the usual first poll
    assert statistics.median(waited[-30:]) <= 3.0

"""The poll schedule against API timing profiles, on computed time (no clock, no waiting).

Every profile of simulator/profiles.py, seeded: the schedule learns from the bounds its
own polls put on each task, as the bot does, and is held to invariants of its own (gaps,
calls) and to the goals against a bot that polls every 30 s.
"""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from bench.common import schedule_walk, walk_timing
from bot.core.tasks import Lifecycle, PollSchedule
from bot.core.tasks.timings import PER_MODEL, EndModel
from bot.music import MusicClient
from bot.store import Stage, Store, TaskTiming
from simulator import profiles
from simulator.profiles import StageTimes
from tests.support.polling import follow
from tests.support.port import MemoryPort

SCHEDULE = PollSchedule()
NOW = 1_800_000_000.0
WARM_UP = 40  # tasks before the goals are measured (nothing is learned at first)


def poller_waits(done: float, every: float = 30.0) -> float:
    """A bot that polls every 30 s (the API's advice): seconds from done to seen."""
    return (int(done // every) + 1) * every - done


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# -- the reproduction, through the real task core --------------------------------


async def test_a_late_first_track_with_a_short_tail_is_seen_soon(
    store: Store, music: MusicClient
) -> None:
    """Issue 21: the first track late, the end quickly after it. The old schedule waited
    for an end it predicted from the first track ((first - text) x ratio later) and saw
    these tasks 4 times later than a 30-s poller (ratio 4.0); now ≤ 1/3, in ≤ 8 calls."""
    clock = [NOW]
    lifecycle = Lifecycle(store, music, MemoryPort(), callback_url="", clock=lambda: clock[0])
    rng = random.Random(21)
    tasks = [profiles.draw("late-first-short-tail", rng) for _ in range(WARM_UP + 60)]
    followed = (await follow(lifecycle, clock, tasks, every=7.5))[WARM_UP:]
    waited = [f.waited for f in followed]
    poller = [poller_waits(f.times.complete) for f in followed]
    calls = statistics.mean(len(f.polls) for f in followed)
    assert statistics.median(waited) <= statistics.median(poller) / 3, (waited, poller)
    assert p(waited, 95) <= p(poller, 95)
    assert calls <= 8


# -- seeded exploration over profiles: invariants of the schedule itself ---------------------


def run_profile(name: str, seed: int, tasks: int) -> list[tuple[StageTimes, list[float]]]:
    """Tasks one after the other, each polled with what the ones before it taught."""
    rng = random.Random(seed)
    seen: list[TaskTiming] = []
    walks = []
    for _ in range(tasks):
        times = profiles.draw(name, rng)
        model = EndModel.fit(seen[-PER_MODEL:])
        polls = schedule_walk(
            SCHEDULE,
            text=times.text,
            first=times.first,
            complete=times.complete,
            model=model,
            skipped=times.skipped,
        )
        check_gaps(polls, times, model, f"profile {name!r} seed {seed}")
        seen.append(walk_timing(polls, first=times.first, skipped=times.skipped))
        walks.append((times, polls))
    return walks


def check_gaps(polls: list[float], times: StageTimes, model: EndModel | None, where: str) -> None:
    repro = f"reproduce: pytest tests/bot/core/test_schedule.py -k '{where}' ({where})"
    first_after = first_seen = None
    for before, at in itertools.pairwise([0.0, *polls]):
        gap = at - before
        assert gap >= SCHEDULE.min_gap - 1e-9, repro
        if model is None:
            assert gap <= SCHEDULE.start_interval, repro  # nothing learned: never far apart
        else:
            if before >= model.earliest_end:
                # Once any task of its model had been seen done by then: never more than
                # a 30-s poller's wait.
                assert gap <= SCHEDULE.max_gap + 1e-9, repro
            if gap > SCHEDULE.done_gap + 1e-9:
                # Longer than `done_gap` only over a stretch in which, by what the bot
                # knew then, few of the times this task may end lie (`rare_share`).
                ends = model.candidates(before, first_after, first_seen)
                within = sum(1 for end in ends if end <= at)
                assert within <= SCHEDULE.rare_share * len(ends), repro
        if "first" not in times.skipped and first_seen is None and at >= times.first:
            first_after, first_seen = before, at
    # Calls are bounded: every task of the documented 2-4 minutes in at most 30 polls.
    assert len(polls) <= 30, repro
    if model is not None and times.complete >= model.earliest_end:
        assert polls[-1] - times.complete <= SCHEDULE.max_gap, repro


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_every_profile_keeps_the_schedules_invariants_and_goals(name: str, seed: int) -> None:
    walks = run_profile(name, seed, WARM_UP + 160)[WARM_UP:]
    waited = [polls[-1] - times.complete for times, polls in walks]
    poller = [poller_waits(times.complete) for times, _ in walks]
    calls = statistics.mean(len(polls) for _, polls in walks)
    repro = f"reproduce: pytest tests/bot/core/test_schedule.py -k '{name} and {seed}'"
    assert statistics.median(waited) <= statistics.median(poller) / 3, repro
    assert p(waited, 95) <= p(poller, 95), repro
    assert calls <= 8, repro


# -- the parts --------------------------------------------------------------------------------


def test_nothing_learned_starts_early_and_never_waits_long() -> None:
    polls = schedule_walk(SCHEDULE, text=1.0, first=2.0, complete=3.0)
    assert polls[0] == SCHEDULE.first_check  # a cached result is seen within seconds
    polls = schedule_walk(SCHEDULE, text=30.0, first=200.0, complete=230.0)
    assert max(b - a for a, b in itertools.pairwise(polls)) == SCHEDULE.start_interval


def test_a_callback_makes_polling_a_safety_net() -> None:
    assert SCHEDULE.next_delay(20.0, stage=Stage.TEXT, callbacks=True) == 180.0
    # Callbacks on, none seen yet, nothing learned: a 30-s poller's pace, not the ladder.
    assert SCHEDULE.first_delay(None, awaiting_callback=True) == SCHEDULE.max_gap


def test_a_stuck_task_is_polled_less_often_far_past_four_minutes() -> None:
    model = EndModel.fit(TaskTiming("m", 0.0, 80.0, 90.0, 140.0, 150.0) for _ in range(10))
    assert model is not None
    for elapsed in (400.0, 590.0):
        assert SCHEDULE.next_delay(elapsed, stage=Stage.FIRST, callbacks=False, model=model) <= 30
    assert SCHEDULE.next_delay(700.0, stage=Stage.FIRST, callbacks=False, model=model) == 60


def test_scaling_keeps_the_shape() -> None:
    fast = PollSchedule().scaled(1 / 10)
    assert fast.first_check == 0.5 and fast.done_gap == 0.8
    assert fast.rare_share == SCHEDULE.rare_share and fast.first_step == SCHEDULE.first_step

"""The poll schedule, in arithmetic (no clock): few calls, tracks seen soon after they are
done. Guards for issue 15's polling goals, not timed."""

from __future__ import annotations

import random
import statistics

from bench.common import schedule_walk
from bot.core.tasks import PollSchedule
from bot.store import Stage


def poller(done: float, every: float = 30.0) -> tuple[int, float]:
    """A bot that polls every 30 s (the API's advice): calls, and seconds done → seen."""
    calls = int(done // every) + 1
    return calls, calls * every - done


def test_a_typical_task_takes_at_most_eight_calls() -> None:
    walk = schedule_walk(PollSchedule(), text=30.0, first=105.0, complete=180.0)
    assert len(walk) <= 8 and walk[-1] - 180.0 <= 8.0


def test_against_a_30_second_poller_on_the_same_seeded_timings() -> None:
    rng = random.Random(15)
    calls, seen, poller_seen = [], [], []
    for _ in range(2000):
        text, done = rng.uniform(20.0, 40.0), rng.uniform(130.0, 240.0)
        walk = schedule_walk(PollSchedule(), text=text, first=(text + done) / 2, complete=done)
        calls.append(len(walk))
        seen.append(walk[-1] - done)
        poller_seen.append(poller(done)[1])
    assert statistics.mean(calls) <= 8
    assert statistics.median(seen) <= statistics.median(poller_seen) / 3


def test_the_window_follows_the_first_track() -> None:
    schedule = PollSchedule()
    # The first track was ready between 90 and 110 s: done between 140 and 200 s.
    delay = schedule.next_delay(
        110.0, stage=Stage.FIRST, callbacks=False, first_after=90.0, first_seen=110.0
    )
    assert 110.0 + delay == 140.0 + 0.2 * 60.0  # a little way into the window
    inside = schedule.next_delay(
        160.0, stage=Stage.FIRST, callbacks=False, first_after=90.0, first_seen=110.0
    )
    assert inside == schedule.done_interval
    late = schedule.next_delay(
        230.0, stage=Stage.FIRST, callbacks=False, first_after=90.0, first_seen=110.0
    )
    assert late == schedule.tight_interval  # past the window: a slow task
    assert schedule.next_delay(20.0, stage=Stage.TEXT, callbacks=True) == 180.0


def test_scaling_keeps_the_ratios() -> None:
    fast = PollSchedule().scaled(1 / 10)
    assert fast.first_check == 7.0 and fast.done_ratio == 1.0 and fast.window_start == 0.2

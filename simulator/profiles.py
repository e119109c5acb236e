"""Timing profiles: how long the simulated API takes over each stage, drawn per task.

The API documents only "2-4 minutes" and three callback stages (text, first, complete);
how the stages are spread is not documented, so the simulator offers several shapes and
the bot's tests and benchmarks run against each. A profile draws one task's stage times
(seconds after submission) from a seeded random generator; a stage it skips is never
reported (no status, no callback).

"fixed" is not drawn: it uses the config's text_delay / first_delay / complete_delay
(today's default behaviour).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

FIXED = "fixed"


@dataclass(frozen=True, slots=True)
class StageTimes:
    """One task's stage times in seconds after submission; `skipped` stages never show."""

    text: float
    first: float
    complete: float
    skipped: frozenset[str] = frozenset()


def _documented(rng: random.Random) -> StageTimes:
    # Text after 20-40 s, done after 2-4 minutes, the first track half-way between.
    text, done = rng.uniform(20.0, 40.0), rng.uniform(120.0, 240.0)
    return StageTimes(text, (text + done) / 2, done)


def _instant(rng: random.Random) -> StageTimes:
    # A cached or sandbox result: everything within a few seconds.
    text = rng.uniform(0.5, 1.5)
    first = text + rng.uniform(0.5, 2.0)
    return StageTimes(text, first, first + rng.uniform(0.5, 3.0))


def _early_first_long_tail(rng: random.Random) -> StageTimes:
    # The first track early; the end a long and varying time after it.
    text = rng.uniform(5.0, 10.0)
    first = rng.uniform(15.0, 30.0)
    return StageTimes(text, first, first + rng.uniform(90.0, 150.0))


def _late_first_short_tail(rng: random.Random) -> StageTimes:
    # The first track late; the end quickly after it (issue 21's reproduction).
    text = rng.uniform(20.0, 40.0)
    first = rng.uniform(130.0, 190.0)
    return StageTimes(text, first, first + rng.uniform(4.0, 12.0))


def _proportional(rng: random.Random) -> StageTimes:
    # Every stage at the same fraction of the task's own length (2-4 minutes).
    total = rng.uniform(120.0, 240.0)
    return StageTimes(0.15 * total, 0.6 * total, total)


def _stages_skipped(rng: random.Random) -> StageTimes:
    # The text stage is never reported, and for a third of the tasks the first track is
    # not either (PENDING straight to FIRST_SUCCESS, or to SUCCESS); done in 2-3.5 min.
    text, done = rng.uniform(20.0, 40.0), rng.uniform(120.0, 210.0)
    skipped = {"text"} if rng.random() < 2 / 3 else {"text", "first"}
    return StageTimes(text, (text + done) / 2, done, frozenset(skipped))


def _no_first(rng: random.Random) -> StageTimes:
    # The first track is never reported: TEXT_SUCCESS, then SUCCESS with both tracks.
    text = rng.uniform(20.0, 40.0)
    done = rng.uniform(120.0, 200.0)
    return StageTimes(text, done, done, frozenset({"first"}))


PROFILES: dict[str, Callable[[random.Random], StageTimes]] = {
    "documented": _documented,
    "instant": _instant,
    "early-first-long-tail": _early_first_long_tail,
    "late-first-short-tail": _late_first_short_tail,
    "proportional": _proportional,
    "stages-skipped": _stages_skipped,
    "no-first": _no_first,
}


def draw(name: str, rng: random.Random, scale: float = 1.0) -> StageTimes:
    """One task's stage times from profile `name`, multiplied by `scale`."""
    times = PROFILES[name](rng)
    return StageTimes(
        times.text * scale, times.first * scale, times.complete * scale, times.skipped
    )

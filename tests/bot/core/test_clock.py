"""The task core's clock ignores wall-clock steps while the process runs."""

from __future__ import annotations

import time

import pytest

from bot.core.clock import SteadyClock


def test_a_clock_step_does_not_move_the_core_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SteadyClock()
    before = clock()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)  # NTP or a VM resume: +1 h
    after = clock()
    assert 0 <= after - before < 5  # only the real time that passed
    assert abs(before - real()) < 5  # and it is wall-clock time (stored, outlives the process)

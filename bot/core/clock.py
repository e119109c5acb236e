"""Time for the task core: wall-clock seconds (they are stored and outlive the process)
that never jump while the process runs.

A clock step (NTP, a VM resumed, a +1 h change) must not make a running task look 20
minutes late, so the wall clock is read once and advanced by the monotonic clock.
"""

from __future__ import annotations

import time


class SteadyClock:
    def __init__(self) -> None:
        self._wall = time.time()
        self._mono = time.monotonic()

    def __call__(self) -> float:
        return self._wall + (time.monotonic() - self._mono)

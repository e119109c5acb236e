"""Time for the task core: wall-clock seconds (they are stored and outlive the process)
that never jump while the process runs.

A clock step (NTP, a VM resumed, a +1 h change) must not make a running task look 20
minutes late, so the wall clock is read once and advanced by the monotonic clock. With
several processes on one database (PostgreSQL) the times they store are compared by the
others, so the scheduler sets this clock to the database's at every heartbeat (`set`): a
process whose own clock is 30 s off stores times the others read right.
"""

from __future__ import annotations

from time import monotonic, time

# Bound at import: simcord swaps `time.monotonic` for its virtual clock while it dispatches
# an interaction, and a clock that read it then would record times days apart from the
# scheduler's.


class SteadyClock:
    def __init__(self) -> None:
        self.set(time())

    def set(self, now: float) -> None:
        """It is `now` (the database's clock): count on from there."""
        self._wall = now
        self._mono = monotonic()

    def __call__(self) -> float:
        return self._wall + (monotonic() - self._mono)

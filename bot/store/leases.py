"""How long work stays with the process doing it (PostgreSQL, several processes), and the
SQL that judges a lease.

Every time in a lease is the database's (`db_now()`, a SQL function on both engines: the
server's `clock_timestamp()` on PostgreSQL, this process's clock on SQLite, where one
process owns the file): processes whose clocks differ by minutes still agree on who holds
what. A process's own clock only times its own waits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Leases:
    """Seconds. A process beats every `beat_every` and renews what it holds then; silent
    for `beat_stale` it counts as dead and its leases are free. A lease runs out after its
    length without a renewal (a process alive but stuck on one piece of work)."""

    beat_every: float = 5.0
    beat_stale: float = 20.0
    task: float = 120.0  # a poll or a submission (its wait in the rate limiter included)
    card: float = 120.0
    track: float = 600.0  # a download of up to 50 MB and its upload

    def scaled(self, factor: float) -> Leases:
        """Every length times `factor` (tests and benchmarks run them short)."""
        return replace(
            self,
            beat_every=self.beat_every * factor,
            beat_stale=self.beat_stale * factor,
            task=self.task * factor,
            card=self.card * factor,
            track=self.track * factor,
        )


def lease_free(until: str, owner: str) -> str:
    """SQL: the lease in (`until`, `owner`) is free: never taken, run out, or held by a
    process that stopped beating (it died or stalls: its work is taken over within
    `beat_stale` seconds, not at the end of a long lease). One parameter: `beat_stale`."""
    return (
        f"({until} IS NULL OR {until} <= db_now() "  # noqa: S608 - column names
        f"OR {owner} NOT IN (SELECT id FROM processes WHERE beat_at > db_now() - ?))"
    )

"""Several processes on one database: leases on work, heartbeats, one shared rate limit.

On SQLite the store serves one process: leases are granted without a write (nothing else
could take the work) and the rate limit stays in memory. On PostgreSQL (`shared`) a lease
is one conditional UPDATE, so each piece of work runs in one process at a time; a process
that dies leaves leases that end, and another process takes the work over then.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from bot.store.database import Conn, Database
from bot.store.rows import TASK_COLUMNS, TRACK_COLUMNS, TaskRow, TrackRow
from bot.store.sql import ACTIVE_SQL
from bot.store.states import Delivery, sql_list

Kind = Literal["task", "card", "track"]
RATE_LOCK = 0x72617465  # "rate": the shared rate limit's window, one writer at a time
SYNC_LOCK = 0x73796E63  # "sync": one process syncs the command tree
BEAT_EVERY = 5.0  # seconds between heartbeats of a process (PostgreSQL)
BEAT_STALE = 20.0  # a process silent this long is dead: its leases are free

_COLUMNS: dict[str, tuple[str, str, str]] = {
    # kind: (table, owner column, until column)
    "task": ("tasks", "lease_owner", "lease_until"),
    "card": ("tasks", "card_lease_owner", "card_lease_until"),
    "track": ("tracks", "lease_owner", "lease_until"),
}


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def lease_free(until: str, owner: str) -> str:
    """SQL: the lease in (`until`, `owner`) is free: never taken, run out, or held by a
    process that stopped beating (it died: its work is taken over within `BEAT_STALE`
    seconds, not at the end of a long lease). Parameters: now, then now - BEAT_STALE."""
    return (
        f"({until} IS NULL OR {until} <= ? "  # noqa: S608 - column names of this module
        f"OR {owner} NOT IN (SELECT id FROM processes WHERE beat_at > ?))"
    )


def lease_params(now: float) -> tuple[float, float]:
    return (now, now - BEAT_STALE)


# The work a lease is for is still to be done (another process may have done it and let
# its lease go since the due list was read).
_STILL_DUE = {
    "task": f"state IN {ACTIVE_SQL}",
    "card": "card_dirty = 1",
    "track": f"delivery NOT IN {sql_list((Delivery.DELIVERED, Delivery.FAILED))}",
}
Leased = TypeVar("Leased", TaskRow, TrackRow)


class ProcessQueries(Database):
    owner: str = process_id()
    shared = False  # True on PostgreSQL: other processes may use the same database

    async def lease(self, kind: Kind, row_id: int, *, now: float, seconds: float) -> bool:
        """Take the work on this row for `seconds`; False if another process holds it."""
        if not self.shared:
            return True
        table, owner, until = _COLUMNS[kind]
        changed = await self._write(
            f"UPDATE {table} SET {owner} = ?, {until} = ? "  # noqa: S608 - constant names
            f"WHERE id = ? AND ({lease_free(until, owner)} OR {owner} = ?)",
            (self.owner, now + seconds, row_id, *lease_params(now), self.owner),
        )
        return changed == 1

    async def leased(self, kind: Kind, row: Leased, *, now: float, seconds: float) -> Leased | None:
        """Lease the work on `row` and return the row as it is now, or None when another
        process holds it or has done it. On SQLite (one process) `row` itself, no write."""
        if not self.shared:
            return row
        table, owner, until = _COLUMNS[kind]
        columns = TASK_COLUMNS if table == "tasks" else TRACK_COLUMNS

        async def take(conn: Conn) -> Sequence[Any] | None:
            return await conn.fetchone(
                f"UPDATE {table} SET {owner} = ?, {until} = ? "  # noqa: S608 - constant names
                f"WHERE id = ? AND {_STILL_DUE[kind]} "
                f"AND ({lease_free(until, owner)} OR {owner} = ?) RETURNING {columns}",
                (self.owner, now + seconds, row.id, *lease_params(now), self.owner),
            )

        fresh = await self._transaction(take)
        return None if fresh is None else type(row).from_row(fresh)

    async def release(self, kind: Kind, row_id: int) -> None:
        if not self.shared:
            return
        table, owner, until = _COLUMNS[kind]
        await self._write(
            f"UPDATE {table} SET {owner} = NULL, {until} = NULL "  # noqa: S608 - constant names
            f"WHERE id = ? AND {owner} = ?",
            (row_id, self.owner),
        )

    async def beat(self, now: float) -> None:
        """This process is alive."""
        await self._write(
            "INSERT INTO processes (id, host, pid, started_at, beat_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at",
            (self.owner, socket.gethostname(), os.getpid(), now, now),
        )

    async def leave(self) -> None:
        await self._write("DELETE FROM processes WHERE id = ?", (self.owner,))

    async def live_processes(self, now: float, stale_after: float) -> int:
        """Processes that beat within `stale_after` seconds."""
        count: int = await self._scalar(
            "SELECT count(*) FROM processes WHERE beat_at > ?", (now - stale_after,)
        )
        return count

    async def take_api_slot(
        self, clock: Callable[[], float] | float, limit: int, period: float
    ) -> float:
        """One call in the shared window: 0 when taken now, else the seconds to wait.

        The time is read once the window is locked (`clock`, wall-clock seconds): waiting
        for the lock must not date the slot earlier than the call it lets out."""

        async def take(conn: Conn) -> float:
            await conn.lock(RATE_LOCK)
            now = clock() if callable(clock) else clock
            await conn.execute("DELETE FROM api_calls WHERE at <= ?", (now - period,))
            row = await conn.fetchone("SELECT count(*), min(at) FROM api_calls")
            assert row is not None
            if row[0] < limit:
                await conn.execute(
                    "INSERT INTO api_calls (at, owner, on_wire) VALUES (?, ?, 1)", (now, self.owner)
                )
                return 0.0
            return max(0.001, float(row[1]) + period - now)

        return await self._transaction(take)

    async def api_slot_answered(self, now: float) -> None:
        """A call of this process is over: one of its slots on the wire is dated `now`.
        Which one does not matter: the oldest taking a later date only keeps the window
        fuller, never emptier. A slot the window already dropped comes back, at `now`."""

        async def answered(conn: Conn) -> None:
            mine = "on_wire = 1 AND owner = ?"
            changed = await conn.execute(
                f"UPDATE api_calls SET at = ?, on_wire = 0 WHERE {mine} "  # noqa: S608 - constant
                f"AND at = (SELECT min(at) FROM api_calls WHERE {mine})",
                (now, self.owner, self.owner),
            )
            if not changed:
                await conn.execute("INSERT INTO api_calls (at) VALUES (?)", (now,))

        await self._transaction(answered)

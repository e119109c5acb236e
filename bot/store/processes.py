"""Several processes on one database: leases on work, heartbeats, one shared rate limit.

On SQLite the store serves one process: leases are granted without a write (nothing else
could take the work) and the rate limit stays in memory. On PostgreSQL (`shared`) a lease
is one conditional UPDATE, so each piece of work runs in one process at a time; a process
renews what it holds at each beat, and one that dies or stalls leaves leases that end:
another process takes the work over then. Every time here is the database's (`db_now()`).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Collection, Sequence
from typing import Any, Literal, TypeVar

from bot.store.database import Conn, Database
from bot.store.leases import lease_free
from bot.store.rows import TASK_COLUMNS, TRACK_COLUMNS, TaskRow, TrackRow
from bot.store.sql import ACTIVE_SQL
from bot.store.states import Delivery, sql_list

Kind = Literal["task", "card", "track"]
RATE_LOCK = 0x72617465  # "rate": the shared rate limit's window, one writer at a time
SYNC_LOCK = 0x73796E63  # "sync": one process syncs the command tree

_COLUMNS: dict[str, tuple[str, str, str]] = {
    # kind: (table, owner column, until column)
    "task": ("tasks", "lease_owner", "lease_until"),
    "card": ("tasks", "card_lease_owner", "card_lease_until"),
    "track": ("tracks", "lease_owner", "lease_until"),
}


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


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

    def lease_length(self, kind: Kind) -> float:
        return {"task": self.leases.task, "card": self.leases.card, "track": self.leases.track}[
            kind
        ]

    async def lease(self, kind: Kind, row_id: int) -> bool:
        """Take the work on this row; False if another process holds it."""
        if not self.shared:
            return True
        table, owner, until = _COLUMNS[kind]
        changed = await self._write(
            f"UPDATE {table} SET {owner} = ?, {until} = db_now() + ? "  # noqa: S608 - constants
            f"WHERE id = ? AND ({lease_free(until, owner)} OR {owner} = ?)",
            (self.owner, self.lease_length(kind), row_id, self.leases.beat_stale, self.owner),
        )
        return changed == 1

    async def leased(self, kind: Kind, row: Leased) -> Leased | None:
        """Lease the work on `row` and return the row as it is now, or None when another
        process holds it or has done it. On SQLite (one process) `row` itself, no write."""
        if not self.shared:
            return row
        table, owner, until = _COLUMNS[kind]
        columns = TASK_COLUMNS if table == "tasks" else TRACK_COLUMNS

        async def take(conn: Conn) -> Sequence[Any] | None:
            return await conn.fetchone(
                f"UPDATE {table} SET {owner} = ?, {until} = db_now() + ? "  # noqa: S608
                f"WHERE id = ? AND {_STILL_DUE[kind]} "
                f"AND ({lease_free(until, owner)} OR {owner} = ?) RETURNING {columns}",
                (self.owner, self.lease_length(kind), row.id, self.leases.beat_stale, self.owner),
            )

        fresh = await self._transaction(take)
        return None if fresh is None else type(row).from_row(fresh)

    async def renew(self, kind: Kind, row_ids: Collection[int]) -> set[int]:
        """Extend the leases this process still holds on `row_ids` (its work is running);
        returns those it holds. The others were taken over while it stalled: their work
        stops before it acts (each act checks its lease in the statement that records it)."""
        if not self.shared or not row_ids:
            return set(row_ids)
        table, owner, until = _COLUMNS[kind]
        ids = tuple(row_ids)
        rows = await self._transaction(
            lambda conn: conn.fetchall(
                f"UPDATE {table} SET {until} = db_now() + ? "  # noqa: S608 - constant names
                f"WHERE {owner} = ? AND id IN ({','.join('?' * len(ids))}) RETURNING id",
                (self.lease_length(kind), self.owner, *ids),
            )
        )
        return {int(row[0]) for row in rows}

    async def release(self, kind: Kind, row_id: int) -> None:
        if not self.shared:
            return
        table, owner, until = _COLUMNS[kind]
        await self._write(
            f"UPDATE {table} SET {owner} = NULL, {until} = NULL "  # noqa: S608 - constant names
            f"WHERE id = ? AND {owner} = ?",
            (row_id, self.owner),
        )

    async def beat(self) -> float:
        """This process is alive; returns the database's clock at the beat."""

        async def beat(conn: Conn) -> float:
            row = await conn.fetchone(
                "INSERT INTO processes (id, host, pid, started_at, beat_at) "
                "VALUES (?, ?, ?, db_now(), db_now()) "
                "ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at RETURNING beat_at",
                (self.owner, socket.gethostname(), os.getpid()),
            )
            assert row is not None
            return float(row[0])

        return await self._transaction(beat)

    async def leave(self) -> None:
        await self._write("DELETE FROM processes WHERE id = ?", (self.owner,))

    async def live_processes(self, stale_after: float) -> int:
        """Processes that beat within `stale_after` seconds."""
        count: int = await self._scalar(
            "SELECT count(*) FROM processes WHERE beat_at > db_now() - ?", (stale_after,)
        )
        return count

    async def take_api_slot(self, limit: int, period: float) -> float:
        """One call in the shared window: 0 when taken now, else the seconds to wait.

        Dated by the database once the window is locked: waiting for the lock must not date
        the slot earlier than the call it lets out, and no process's clock moves the window
        (one running ahead would drop the others' slots and fill it with future ones)."""

        async def take(conn: Conn) -> float:
            await conn.lock(RATE_LOCK)
            row = await conn.fetchone("SELECT db_now()")
            assert row is not None
            now = float(row[0])
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

    async def api_slot_answered(self) -> None:
        """A call of this process is over: one of its slots on the wire is dated now (by
        the database). Which one does not matter: the oldest taking a later date only keeps
        the window fuller, never emptier. A slot the window already dropped comes back."""

        async def answered(conn: Conn) -> None:
            mine = "on_wire = 1 AND owner = ?"
            changed = await conn.execute(
                f"UPDATE api_calls SET at = db_now(), on_wire = 0 WHERE {mine} "  # noqa: S608
                f"AND at = (SELECT min(at) FROM api_calls WHERE {mine})",
                (self.owner, self.owner),
            )
            if not changed:
                await conn.execute("INSERT INTO api_calls (at) VALUES (db_now())")

        await self._transaction(answered)

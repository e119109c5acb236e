"""Retention: finished tasks are kept for a while, then purged; counts by state are kept
as they change, so reading them never scans the tasks table.

A task is purged once it has been final (done or failed) for longer than the retention
and each of its ready tracks is delivered or given up; its tracks go with it (ON DELETE
CASCADE). Counts live in `task_counts`, maintained by triggers (migration 0004).
"""

from __future__ import annotations

import logging

from bot.store.database import Conn, Database
from bot.store.states import Delivery, TaskState, sql_list

log = logging.getLogger(__name__)

DAY = 24 * 60 * 60.0
DEFAULT_RETENTION_DAYS = 30  # the API keeps the audio for 14 days anyway
PURGE_BATCH = 500  # rows per statement: other writers get the lock between batches

# Repeats the partial index tasks_finished's WHERE word for word, so SQLite uses it.
FINISHED_SQL = sql_list((TaskState.DONE, TaskState.FAILED))

# A ready track that may still be posted: neither delivered nor given up.
_UNSETTLED = (
    "tracks.ready_at IS NOT NULL"
    f" AND tracks.delivery NOT IN {sql_list((Delivery.DELIVERED, Delivery.FAILED))}"
)

# One batch: the oldest tasks final before the cut-off with no ready track unsettled.
PURGE_SQL = (
    "DELETE FROM tasks WHERE id IN ("  # noqa: S608 - constant fragments
    f" SELECT id FROM tasks WHERE state IN {FINISHED_SQL} AND completed_at < :before"
    f" AND NOT EXISTS (SELECT 1 FROM tracks WHERE tracks.task_id = tasks.id AND {_UNSETTLED})"
    " ORDER BY completed_at LIMIT :batch)"
)


class RetentionQueries(Database):
    async def count_by_state(self) -> dict[str, int]:
        """Tasks by state (states without tasks left out), from the kept counts."""
        rows = await self._fetchall("SELECT state, n FROM task_counts WHERE n > 0")
        return {TaskState(state): count for state, count in rows}

    async def purge_finished(self, finished_before: float, *, batch: int = PURGE_BATCH) -> int:
        """Delete tasks final since before `finished_before` whose ready tracks are all
        delivered or given up, `batch` rows per transaction; returns how many went."""
        if batch < 1:
            raise ValueError("the batch must hold at least one row")

        async def purge(conn: Conn) -> int:
            return await conn.execute(PURGE_SQL, {"before": finished_before, "batch": batch})

        total = 0
        while True:
            # One transaction per batch: a large backlog never holds the write lock long.
            removed = await self._transaction(purge)
            total += removed
            if removed < batch:
                return total

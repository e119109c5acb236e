"""Tasks: recording a request (inside the quota's transaction) and reading tasks back for
members, lists, the queue and the learned timings; a finished task removed with its posts.

How a recorded task moves on (submission, following) is in `moves.py`, how it ends in
`endings.py`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import fields

from bot.store.database import Conn, Database, Params, Row
from bot.store.retention import FINISHED_SQL
from bot.store.rows import NewTask, TaskRow, TaskTiming, Usage
from bot.store.sql import ACTIVE_SQL, TRACK_WAITING
from bot.store.states import Delivery, TaskState

log = logging.getLogger(__name__)

_NEW_TASK_COLUMNS = [f.name for f in fields(NewTask)]


class TaskQueries(Database):
    """Requests recorded, and tasks read back (a member's, a task's re-rolls, the queue)."""

    async def create_task(
        self,
        new: NewTask,
        *,
        now: float | None = None,
        admit: Callable[[Usage], None] | None = None,
        since: float = 0.0,
    ) -> tuple[TaskRow, bool]:
        """Record a request; a second delivery of the same interaction returns the first row.

        `admit` sees the member's usage in this server (requests since `since`) inside the
        transaction that inserts the task, and raises to refuse it: two requests racing for
        the last slot cannot both pass. Returns the row and whether it was created now.
        """
        now = time.time() if now is None else now
        values = [getattr(new, name) for name in _NEW_TASK_COLUMNS]
        # A part the creator still has to post (no upload_url yet) waits for it; if the
        # placing window closes first, the submission finds no URL and fails, unpaid.
        due = now if new.upload_url else max(now, new.placing_until or now)

        async def insert(conn: Conn) -> bool:
            seen = await conn.fetchone(
                "SELECT 1 FROM tasks WHERE interaction_id = ?", (new.interaction_id,)
            )
            if seen is not None:
                return False
            if admit is not None and new.guild_id is not None:
                await conn.lock(new.guild_id)  # two requests racing for the last slot
                admit(await _usage(conn.fetchone, new.guild_id, new.user_id, since, new.jam_id))
            changed = await conn.execute(
                f"INSERT INTO tasks ({', '.join(_NEW_TASK_COLUMNS)}, "  # noqa: S608 - constant
                "created_at, updated_at, next_check_at) "
                f"VALUES ({', '.join('?' * len(_NEW_TASK_COLUMNS))}, ?, ?, ?)",
                [*values, now, now, due],
            )
            return changed == 1

        created = await self._transaction(insert)
        rows = await self._tasks("WHERE interaction_id = ?", (new.interaction_id,))
        return rows[0], created

    async def usage(
        self, guild_id: int, user_id: int, since: float, jam_id: int | None = None
    ) -> Usage:
        """The member's usage in this server, as `create_task` sees it."""

        return await _usage(self._fetchone, guild_id, user_id, since, jam_id)

    async def get_task(self, task_id: int) -> TaskRow | None:
        rows = await self._tasks("WHERE id = ?", (task_id,))
        return rows[0] if rows else None

    async def get_task_by_api_id(self, api_task_id: str) -> TaskRow | None:
        rows = await self._tasks("WHERE api_task_id = ?", (api_task_id,))
        return rows[0] if rows else None

    async def children(self, task_id: int, limit: int = 10) -> list[TaskRow]:
        """The re-rolls, tweaks and retries of a task, oldest first."""
        return await self._tasks("WHERE parent_id = ? ORDER BY id LIMIT ?", (task_id, limit))

    async def remove_task(self, task_id: int, *, now: float) -> bool:
        """Its posts are being deleted: nothing is drawn or posted for it again. Only a
        finished task; False if it is not (or was removed already)."""

        async def remove(conn: Conn) -> bool:
            changed = await conn.execute(
                "UPDATE tasks SET removed_at = ?, card_dirty = 0, updated_at = ? "  # noqa: S608
                f"WHERE id = ? AND removed_at IS NULL AND state NOT IN {ACTIVE_SQL}",
                (now, now, task_id),
            )
            if changed != 1:
                return False
            await conn.execute(
                f"UPDATE tracks SET delivery = '{Delivery.FAILED}', "  # noqa: S608 - constant
                "delivery_error = 'removed', next_delivery_at = NULL "
                f"WHERE task_id = ? AND delivery != '{Delivery.DELIVERED}'",
                (task_id,),
            )
            return True

        return await self._transaction(remove)

    async def recent_tasks(self, user_id: int, limit: int = 10) -> list[TaskRow]:
        return await self._tasks("WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit))

    async def recent_timings(self, since: float, per_model: int) -> list[TaskTiming]:
        """The stage timings of the latest `per_model` tasks of each model done since
        `since` (the first track's bounds are there only if a poll saw it)."""
        # The first WHERE terms repeat the partial index tasks_finished's, so SQLite uses it.
        rows = await self._fetchall(
            "SELECT model, submitted_at, first_after, first_seen, done_after, completed_at "  # noqa: S608
            "FROM (SELECT model, submitted_at, first_after, first_seen, done_after, "
            " completed_at, row_number() OVER (PARTITION BY model ORDER BY completed_at DESC) "
            f" AS n FROM tasks WHERE state IN {FINISHED_SQL} AND completed_at >= ? "
            f" AND state = '{TaskState.DONE}' AND submitted_at IS NOT NULL "
            " AND done_after IS NOT NULL) AS recent "
            "WHERE n <= ? ORDER BY model, completed_at DESC",
            (since, per_model),
        )
        return [TaskTiming(*row) for row in rows]

    async def queue_position(self, task_id: int) -> int | None:
        """1 for the next task to be submitted; None when the task is not queued."""
        queued = f"'{TaskState.QUEUED}'"
        position: int | None = await self._scalar(
            "SELECT (SELECT count(*) FROM tasks q "  # noqa: S608 - constant
            f" WHERE q.state = {queued} AND q.id <= t.id) "
            f"FROM tasks t WHERE t.id = ? AND t.state = {queued}",
            (task_id,),
        )
        return position

    async def queued_task_ids(self, limit: int) -> list[int]:
        """The first `limit` tasks in line."""
        rows = await self._fetchall(
            f"SELECT id FROM tasks WHERE state = '{TaskState.QUEUED}' ORDER BY id LIMIT ?",  # noqa: S608
            (limit,),
        )
        return [row[0] for row in rows]

    async def is_idle(self) -> bool:
        """No task still active and no finished track waiting to be delivered."""
        return not await self._scalar(
            f"SELECT EXISTS (SELECT 1 FROM tasks WHERE state IN {ACTIVE_SQL})"  # noqa: S608
            f" OR EXISTS (SELECT 1 FROM tracks WHERE {TRACK_WAITING})"
        )


async def _usage(
    fetchone: Callable[[str, Params], Awaitable[Row | None]],
    guild_id: int,
    user_id: int,
    since: float,
    jam_id: int | None,
) -> Usage:
    row = await fetchone(
        "SELECT "  # noqa: S608 - constant fragments
        " (SELECT count(*) FROM tasks WHERE guild_id = :g AND user_id = :u"
        "  AND created_at >= :since AND quota_returned = 0),"
        " (SELECT count(*) FROM tasks WHERE guild_id = :g AND created_at >= :since"
        "  AND quota_returned = 0),"
        f" (SELECT count(*) FROM tasks WHERE guild_id = :g AND user_id = :u"
        f"  AND state IN {ACTIVE_SQL}),"
        " (SELECT max(created_at) FROM tasks WHERE guild_id = :g AND user_id = :u"
        "  AND quota_returned = 0),"
        f" (SELECT count(*) FROM tasks WHERE jam_id = :jam AND user_id = :u"
        f"  AND quota_returned = 0 AND removed_at IS NULL"
        f"  AND NOT (state = '{TaskState.FAILED}'))",
        {"g": guild_id, "u": user_id, "since": since, "jam": jam_id},
    )
    assert row is not None
    return Usage(
        member_today=row[0],
        server_today=row[1],
        running=row[2],
        last_request_at=row[3],
        jam_entries=row[4],
    )

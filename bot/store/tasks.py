"""Tasks: recording requests and moving them through their states.

Every move is one conditional UPDATE (`WHERE state = ...`), so two workers racing for
the same task cannot both win, and a final state is never left again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import fields

from bot.store.database import Conn, Database, Params, Row
from bot.store.leases import lease_free
from bot.store.retention import FINISHED_SQL
from bot.store.rows import NewTask, Progress, TaskRow, TaskTiming, Usage
from bot.store.sql import ACTIVE_SQL, CARD_DUE_AT, TRACK_PLACED, TRACK_WAITING
from bot.store.states import Delivery, Stage, TaskState, sql_list
from bot.store.tracks import merge_track

log = logging.getLogger(__name__)

_NEW_TASK_COLUMNS = [f.name for f in fields(NewTask)]


class TaskQueries(Database):
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

    async def due_tasks(
        self, now: float, limit: int, *, state: TaskState, exclude: Iterable[int] = ()
    ) -> list[TaskRow]:
        """Tasks in `state` (an active one) whose next check is due, oldest due first."""
        # The IN term repeats the partial index tasks_due's condition, so SQLite uses it.
        skip = tuple(exclude)
        marks = ",".join("?" * len(skip))
        return await self._tasks(
            f"WHERE state IN {ACTIVE_SQL} AND state = ? AND next_check_at <= ? "
            f"AND {lease_free('lease_until', 'lease_owner')} "
            f"{f'AND id NOT IN ({marks})' if skip else ''} ORDER BY next_check_at LIMIT ?",
            (state, now, self.leases.beat_stale, *skip, limit),
        )

    async def next_due_at(self) -> float | None:
        """The earliest moment some task, card or track needs attention."""
        due: float | None = await self._scalar(
            "SELECT min(t) FROM ("  # noqa: S608 - constant fragments
            f" SELECT min(next_check_at) AS t FROM tasks WHERE state IN {ACTIVE_SQL}"
            f" UNION ALL SELECT min({CARD_DUE_AT}) FROM tasks WHERE card_dirty = 1"
            " UNION ALL SELECT min(next_delivery_at) FROM tracks"
            f"  WHERE {TRACK_WAITING} AND {TRACK_PLACED}) AS due"
        )
        return due

    async def claim_for_submit(self, task_id: int, now: float) -> bool:
        """queued → submitting, counted, as the request leaves; False if someone else moved
        it first or (PostgreSQL) holds its lease (taken while this process stalled): a
        submission that lost its claim never leaves."""
        claim = "submit_attempts = submit_attempts + 1, updated_at = ?"
        where = f"id = ? AND state = '{TaskState.QUEUED}'"
        params: tuple[float | int | str, ...] = (now, task_id)
        if self.shared:  # the lease is checked (and taken or renewed) in this statement
            claim += ", lease_owner = ?, lease_until = db_now() + ?"
            where += f" AND (lease_owner = ? OR {lease_free('lease_until', 'lease_owner')})"
            params = (
                now,
                self.owner,
                self.leases.task,
                task_id,
                self.owner,
                self.leases.beat_stale,
            )
        changed = await self._write(
            f"UPDATE tasks SET state = '{TaskState.SUBMITTING}', {claim} WHERE {where}",  # noqa: S608
            params,
        )
        return changed == 1

    async def mark_submitted(
        self, task_id: int, api_task_id: str, *, now: float, next_check_at: float
    ) -> bool:
        """The API took the submission: follow it. False if the task is no longer being
        submitted (another process judged it interrupted while this one stalled)."""
        changed = await self._write(
            f"UPDATE tasks SET state = '{TaskState.FOLLOWING}', "  # noqa: S608 - constant
            f"stage = '{Stage.PENDING}', api_task_id = ?, submitted_at = ?, "
            "next_check_at = ?, card_dirty = 1, updated_at = ? "
            f"WHERE id = ? AND state = '{TaskState.SUBMITTING}'",
            (api_task_id, now, next_check_at, now, task_id),
        )
        return changed == 1

    async def follow_again(self, task_id: int, api_task_id: str, *, now: float) -> bool:
        """The API reported on this task after the bot stopped following it: its answer to
        the submission was lost (the task was queued, submitting, or failed as interrupted),
        or it timed out. Follow it again under that API task id; False if it does not fit."""
        changed = await self._write(
            f"UPDATE tasks SET state = '{TaskState.FOLLOWING}', "  # noqa: S608 - constant
            "api_task_id = :api, "
            f"stage = CASE WHEN stage = '{Stage.NONE}' THEN '{Stage.PENDING}' ELSE stage END, "
            "submitted_at = coalesce(submitted_at, :now), next_check_at = :now, error = NULL, "
            "can_retry = 0, completed_at = NULL, quota_returned = 0, card_dirty = 1, "
            "card_retry_at = 0, "
            "updated_at = :now "
            "WHERE id = :id AND (api_task_id IS NULL OR api_task_id = :api) "
            f"AND state IN {sql_list((TaskState.QUEUED, TaskState.SUBMITTING, TaskState.FAILED))}",
            {"api": api_task_id, "now": now, "id": task_id},
        )
        return changed == 1

    async def requeue(self, task_id: int, *, now: float, next_check_at: float) -> None:
        """The API certainly did not take the submission: try again later."""
        await self._write(
            f"UPDATE tasks SET state = '{TaskState.QUEUED}', "  # noqa: S608 - constant
            "next_check_at = ?, error_count = error_count + 1, updated_at = ? "
            f"WHERE id = ? AND state = '{TaskState.SUBMITTING}'",
            (next_check_at, now, task_id),
        )

    async def schedule_check(
        self,
        task_id: int,
        *,
        next_check_at: float,
        error: bool = False,
        polled_at: float | None = None,
        first_after: float | None = None,
        first_seen: float | None = None,
    ) -> None:
        """The next check; with `polled_at`, a poll that answered (and, once, the bounds of
        when the first track became ready)."""
        await self._write(
            # updated_at stays: a routine check changes nothing a member sees.
            "UPDATE tasks SET next_check_at = ?, poll_count = poll_count + ?, "  # noqa: S608
            "error_count = error_count + ?, polled_at = coalesce(?, polled_at), "
            "first_after = coalesce(first_after, ?), first_seen = coalesce(first_seen, ?) "
            f"WHERE id = ? AND state = '{TaskState.FOLLOWING}'",
            (
                next_check_at,
                0 if error else 1,
                1 if error else 0,
                polled_at,
                first_after,
                first_seen,
                task_id,
            ),
        )

    async def apply_progress(self, task_id: int, progress: Progress) -> bool:
        """Merge what the API reported, in one transaction. Stages only move forward;
        a track's ready data is recorded once; a finished task is never changed again.

        Returns True when anything a member can see changed.
        """

        async def apply(conn: Conn) -> bool:
            row = await conn.fetchone(
                f"SELECT state, stage FROM tasks WHERE id = ?{self.dialect.for_update}",  # noqa: S608
                (task_id,),
            )
            if row is None or row[0] != TaskState.FOLLOWING:
                return False
            forward = progress.stage.rank > Stage(row[1]).rank
            changed = forward
            for track in progress.tracks:
                changed |= await merge_track(conn, task_id, track, progress.now)
            await conn.execute(
                "UPDATE tasks SET stage = CASE WHEN :forward THEN :stage ELSE stage END, "  # noqa: S608
                f"state = CASE WHEN :complete THEN '{TaskState.DONE}' ELSE state END, "
                "completed_at = CASE WHEN :complete THEN :now ELSE completed_at END, "
                "done_after = CASE WHEN :complete THEN coalesce(:done_after, :now) "
                " ELSE done_after END, "
                "next_check_at = CASE WHEN :complete THEN NULL "
                " ELSE coalesce(:next_check_at, next_check_at) END, "
                "callback_at = CASE WHEN :from_callback THEN :now ELSE callback_at END, "
                "card_dirty = CASE WHEN :shown THEN 1 ELSE card_dirty END, "
                "updated_at = :now WHERE id = :id",
                {
                    "id": task_id,
                    "forward": forward,
                    "stage": progress.stage,
                    "complete": progress.complete,
                    "now": progress.now,
                    "next_check_at": progress.next_check_at,
                    "from_callback": progress.from_callback,
                    "done_after": progress.done_after,
                    "shown": changed or progress.complete,
                },
            )
            return changed or progress.complete

        return await self._transaction(apply)

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

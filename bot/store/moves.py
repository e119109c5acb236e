"""Tasks moving on towards their result: picked when due, claimed as the request leaves,
recorded as submitted (or put back in the queue), and followed: the next check planned,
what polls and callbacks report merged. The scheduler and the API work drive these;
failures and drops are in `endings.py`.

Every move is one conditional UPDATE (`WHERE state = ...`), so two workers racing for
the same task cannot both win, and a final state is never left again (but by
`follow_again`, for a task the API reports on after the bot stopped following it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.store.database import Conn, Database
from bot.store.leases import lease_free
from bot.store.rows import Progress, TaskRow
from bot.store.sql import ACTIVE_SQL, CARD_DUE_AT, TRACK_PLACED, TRACK_WAITING
from bot.store.states import Stage, TaskState, sql_list
from bot.store.tracks import merge_track

log = logging.getLogger(__name__)


class TaskMoves(Database):
    """A task's way from the queue through its submission to its result."""

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

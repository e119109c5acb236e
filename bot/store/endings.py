"""Tasks that end: failed (with a member-readable reason), dropped before they were sent,
caught mid-submission by a crash; and the late looks at a task failed by its time-out.

Every move is one conditional UPDATE (`WHERE state = ...`), as in `moves.py`: a final state
is never left again, except by `TaskMoves.follow_again`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.store.database import Database
from bot.store.leases import lease_free
from bot.store.rows import TaskRow
from bot.store.sql import ACTIVE_SQL
from bot.store.states import TaskState

log = logging.getLogger(__name__)


class TaskEndings(Database):
    async def late_checks(
        self, now: float, limit: int, *, exclude: Iterable[int] = ()
    ) -> list[TaskRow]:
        """Tasks failed by their time-out whose next look at the API is due (their result
        may still come), oldest due first."""
        skip = tuple(exclude)
        marks = ",".join("?" * len(skip))
        # The first terms imply the partial index tasks_late's condition.
        return await self._tasks(
            f"WHERE state = '{TaskState.FAILED}' AND next_check_at <= ? "
            f"AND api_task_id IS NOT NULL {f'AND id NOT IN ({marks})' if skip else ''} "
            "ORDER BY next_check_at LIMIT ?",
            (now, *skip, limit),
        )

    async def schedule_late_check(self, task_id: int, at: float | None) -> None:
        """The next look at a task failed by its time-out; None: no more."""
        await self._write(
            f"UPDATE tasks SET next_check_at = ? WHERE id = ? AND state = '{TaskState.FAILED}'",  # noqa: S608
            (at, task_id),
        )

    async def fail_task(
        self,
        task_id: int,
        reason: str,
        *,
        now: float,
        can_retry: bool = False,
        not_taken: bool = False,
        late_check_at: float | None = None,
    ) -> bool:
        """Final failure with a member-readable reason; False if the task had already ended.

        `not_taken`: the API certainly did not take it, so its quota slot is given back.
        `late_check_at`: failed by its time-out, the API is asked again then (`late_checks`).
        """
        changed = await self._write(
            f"UPDATE tasks SET state = '{TaskState.FAILED}', "  # noqa: S608 - constant
            "error = ?, can_retry = ?, next_check_at = ?, completed_at = ?, "
            "quota_returned = CASE WHEN ? AND api_task_id IS NULL THEN 1 ELSE 0 END, "
            "card_dirty = 1, card_retry_at = 0, updated_at = ? "
            f"WHERE id = ? AND state IN {ACTIVE_SQL}",
            (reason, can_retry, late_check_at, now, not_taken, now, task_id),
        )
        return changed == 1

    async def explain_failure(
        self, task_id: int, reason: str, *, can_retry: bool, now: float
    ) -> bool:
        """A task failed by its time-out that the API then failed: the API's reason replaces
        the time-out's (the card is drawn again) and the late looks stop."""
        changed = await self._write(
            f"UPDATE tasks SET error = ?, can_retry = ?, next_check_at = NULL, "  # noqa: S608
            "card_dirty = 1, card_retry_at = 0, updated_at = ? "
            f"WHERE id = ? AND state = '{TaskState.FAILED}' AND next_check_at IS NOT NULL",
            (reason, can_retry, now, task_id),
        )
        return changed == 1

    async def drop_queued(self, task_id: int, reason: str, *, now: float) -> bool:
        """A queued request whose place is gone for good: failed before it is ever sent
        (its quota slot returns). False if it left the queue first: a claim for
        submission and this drop cannot both win, so a sent request is never dropped."""
        changed = await self._write(
            f"UPDATE tasks SET state = '{TaskState.FAILED}', "  # noqa: S608 - constant
            "error = ?, can_retry = 0, next_check_at = NULL, completed_at = ?, "
            "quota_returned = 1, updated_at = ? "
            f"WHERE id = ? AND state = '{TaskState.QUEUED}'",
            (reason, now, now, task_id),
        )
        return changed == 1

    async def fail_interrupted_submissions(
        self, reason: str, *, now: float, exclude: Iterable[int] = ()
    ) -> list[int]:
        """Tasks left in 'submitting' may or may not have reached the API: those of a
        process that is gone (on SQLite every one at start-up; on PostgreSQL those whose
        submitting process let its lease end), and, checked all along, this process's own
        but for `exclude` (its submissions in flight)."""
        skip = tuple(exclude)
        marks = ",".join("?" * len(skip))
        rows = await self._tasks(
            f"WHERE state = '{TaskState.SUBMITTING}' "
            f"AND {lease_free('lease_until', 'lease_owner')} "
            f"{f'AND id NOT IN ({marks})' if skip else ''}",
            (self.leases.beat_stale, *skip),
        )
        for row in rows:
            await self.fail_task(row.id, reason, now=now, can_retry=True)
        return [row.id for row in rows]

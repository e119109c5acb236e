"""The state words: one mapping from API statuses, and SQL that cannot drift from Python."""

from __future__ import annotations

import re
from enum import StrEnum

import pytest

from bot.music.models import TaskStatus
from bot.store import ACTIVE_STATES, Delivery, Stage, Store, TaskState
from bot.store.sql import ACTIVE_SQL
from bot.store.states import sql_list

CHECK_LIST = re.compile(r"CHECK \((\w+) IN \(([^)]*)\)\)")


@pytest.mark.sqlite_only
async def test_check_constraints_list_exactly_the_enum_values(store: Store) -> None:
    async with store._conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN ('tasks', 'tracks')"
    ) as cursor:
        schema: dict[str, str] = {name: sql for name, sql in await cursor.fetchall()}
    checks = {
        (table, column): re.findall(r"'([^']*)'", words)
        for table, sql in schema.items()
        for column, words in CHECK_LIST.findall(sql)
    }
    assert checks[("tasks", "state")] == [s.value for s in TaskState]
    assert checks[("tasks", "stage")] == [s.value for s in Stage]
    assert checks[("tracks", "delivery")] == [d.value for d in Delivery]


@pytest.mark.sqlite_only
async def test_partial_index_of_due_tasks_repeats_the_active_list(store: Store) -> None:
    sql = await store._scalar("SELECT sql FROM sqlite_master WHERE name = 'tasks_due'")
    assert sql.endswith(f"WHERE state IN {ACTIVE_SQL}")
    async with store._conn.execute(
        f"EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE state IN {ACTIVE_SQL} "
        "AND state = ? AND next_check_at <= ? ORDER BY next_check_at",
        (TaskState.QUEUED, 1.0),
    ) as cursor:
        plan = " ".join(row[-1] for row in await cursor.fetchall())
    assert "tasks_due" in plan


def test_sql_list() -> None:
    assert ACTIVE_SQL == "('queued', 'submitting', 'following')"
    assert ACTIVE_STATES == (TaskState.QUEUED, TaskState.SUBMITTING, TaskState.FOLLOWING)

    class Odd(StrEnum):
        QUOTE = "it's"

    with pytest.raises(ValueError, match="plain SQL words"):
        sql_list([Odd.QUOTE])
    with pytest.raises(ValueError, match="plain SQL words"):
        sql_list([])


def test_stage_ranks_only_move_forward() -> None:
    order = [Stage.NONE, Stage.PENDING, Stage.TEXT, Stage.FIRST, Stage.COMPLETE]
    assert [stage.rank for stage in order] == [0, 1, 2, 3, 4]
    assert Stage.ERROR.rank == 0


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        (TaskStatus.PENDING, Stage.PENDING),
        (TaskStatus.TEXT_SUCCESS, Stage.TEXT),
        (TaskStatus.FIRST_SUCCESS, Stage.FIRST),
        (TaskStatus.SUCCESS, Stage.COMPLETE),
        (TaskStatus.CALLBACK_EXCEPTION, Stage.COMPLETE),
        (TaskStatus.CREATE_TASK_FAILED, None),
        (TaskStatus.SENSITIVE_WORD_ERROR, None),
        ("SUCCESS", Stage.COMPLETE),
        ("SOMETHING_NEW", None),
    ],
)
def test_stage_of_status(status: str, stage: Stage | None) -> None:
    assert Stage.of_status(status) is stage

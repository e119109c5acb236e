"""The state words: one mapping from API statuses, and SQL that cannot drift from Python."""

from __future__ import annotations

from enum import StrEnum

import pytest

from bot.music.models import TaskStatus
from bot.store import (
    ACTIVE_STATES,
    Delivery,
    JamPhase,
    Origin,
    PgStore,
    Stage,
    Store,
    TaskState,
    VocalGender,
)
from bot.store.sql import ACTIVE_SQL
from bot.store.states import sql_list
from tests.support.schema import plain_sql, schema_of


async def test_check_constraints_list_exactly_the_enum_values(store: Store | PgStore) -> None:
    checks = (await schema_of(store)).checks
    for (table, column), enum in {
        ("tasks", "state"): TaskState,
        ("tasks", "stage"): Stage,
        ("tracks", "delivery"): Delivery,
        ("tasks", "origin"): Origin,
        ("jams", "phase"): JamPhase,
        ("tasks", "vocal_gender"): VocalGender,
    }.items():
        values = tuple(member.value for member in enum)
        # The column's own CHECK is the whole list, in order; others name some of it.
        assert values in checks[(table, column)], (table, column)
        assert all(set(words) <= set(values) for words in checks[(table, column)])


async def test_a_new_jam_has_announced_a_phase(store: Store | PgStore) -> None:
    """`announced` has no CHECK of its own: its default must be a phase, read back as one."""
    jam = await store.create_jam(
        guild_id=1, channel_id=2, host_id=3, theme="t", tags=None, negative_tags=None,
        model=None, anonymous=False, max_entries=1, submit_until=10.0, vote_until=20.0, now=0.0,
    )  # fmt: skip
    assert jam is not None
    assert (jam.phase, jam.announced) == (JamPhase.SUBMITTING, JamPhase.SUBMITTING)
    assert type(jam.announced) is JamPhase


async def test_partial_index_of_due_tasks_repeats_the_active_list(store: Store | PgStore) -> None:
    index = (await schema_of(store)).indexes["tasks_due"]
    assert index.where == plain_sql(f"state IN {ACTIVE_SQL}")
    query = (
        f"SELECT id FROM tasks WHERE state IN {ACTIVE_SQL} "
        "AND state = 'queued' AND next_check_at <= 1.0 ORDER BY next_check_at"
    )
    if isinstance(store, PgStore):
        async with store._pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")  # the table is empty
            plan = " ".join(row[0] for row in await conn.fetch(f"EXPLAIN {query}"))
    else:
        plan = " ".join(row[-1] for row in await store._fetchall(f"EXPLAIN QUERY PLAN {query}"))
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

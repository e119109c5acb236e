"""Several processes on one database: leases, heartbeats, the shared rate limit, wake-ups.

On SQLite (one process) a lease is granted without a write; on PostgreSQL each is a
conditional update, so two processes never hold the same work."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.guilds import GuildSettings
from bot.store import PgStore, Store
from tests.bot.core.test_intake import RULES
from tests.support.factories import new_task
from tests.support.postgres import fresh_postgres

T0 = 1_900_000_000.0


async def two_processes() -> tuple[PgStore, PgStore]:
    url = await fresh_postgres()
    first, second = await PgStore.open(url), await PgStore.open(url)
    first.owner, second.owner = "host:1:a", "host:2:b"
    return first, second


async def test_a_lease_is_one_process_at_a_time_until_it_runs_out() -> None:
    first, second = await two_processes()
    try:
        task, _ = await first.create_task(new_task(), now=T0)
        await first.beat(T0)
        assert await first.lease("task", task.id, now=T0, seconds=60)
        assert await first.lease("task", task.id, now=T0 + 1, seconds=60)  # renewed by its owner
        await first.beat(T0 + 25)
        assert not await second.lease("task", task.id, now=T0 + 30, seconds=60)
        assert await first.due_tasks(T0 + 30, 10, state="queued") == []  # leased: not due
        assert await second.lease("card", task.id, now=T0 + 30, seconds=60)  # another kind
        await first.beat(T0 + 60)
        assert await second.lease("task", task.id, now=T0 + 62, seconds=60)  # ran out: taken
        await second.release("task", task.id)
        assert await first.lease("task", task.id, now=T0 + 63, seconds=60)
    finally:
        await first.close()
        await second.close()


async def test_a_dead_processs_leases_are_free_once_it_stops_beating() -> None:
    first, second = await two_processes()
    try:
        task, _ = await first.create_task(new_task(), now=T0)
        await first.beat(T0)
        assert await first.lease("card", task.id, now=T0, seconds=600)
        assert not await second.lease("card", task.id, now=T0 + 10, seconds=600)
        # no beat since T0: after BEAT_STALE (20 s) it is dead, its 10-minute lease free
        assert await second.lease("card", task.id, now=T0 + 21, seconds=600)
    finally:
        await first.close()
        await second.close()


async def test_only_a_dead_processs_submissions_fail_as_interrupted() -> None:
    first, second = await two_processes()
    try:
        task, _ = await first.create_task(new_task(), now=T0)
        await first.beat(T0)
        assert await first.lease("task", task.id, now=T0, seconds=120)
        assert await first.claim_for_submit(task.id, T0)
        await first.beat(T0 + 50)
        assert await second.fail_interrupted_submissions("gone", now=T0 + 60) == []  # alive
        # it stopped beating at T0 + 50: dead 20 s later, its submission's fate unknown
        assert await second.fail_interrupted_submissions("gone", now=T0 + 71) == [task.id]
    finally:
        await first.close()
        await second.close()


async def test_processes_beat_and_leave() -> None:
    first, second = await two_processes()
    try:
        await first.beat(T0)
        await second.beat(T0 + 20)
        assert await first.live_processes(T0 + 25, 30) == 2
        assert await first.live_processes(T0 + 40, 30) == 1  # the first went silent
        await second.leave()
        assert await first.live_processes(T0 + 40, 30) == 0
    finally:
        await first.close()
        await second.close()


async def test_the_rate_window_is_shared() -> None:
    first, second = await two_processes()
    try:
        taken = [await (first if n % 2 else second).take_api_slot(T0, 20, 10.0) for n in range(20)]
        assert taken == [0.0] * 20
        assert await first.take_api_slot(T0 + 1, 20, 10.0) == pytest.approx(9.0)
        assert await second.take_api_slot(T0 + 10.5, 20, 10.0) == 0.0  # the window moved on
    finally:
        await first.close()
        await second.close()


async def test_a_slot_counts_from_its_answer() -> None:
    """A call let out at T0 and answered at T0 + 5 (held up on its way) holds its slot
    until T0 + 15; an answer whose slot the window already dropped takes one again."""
    first, second = await two_processes()
    try:
        assert await first.take_api_slot(T0, 2, 10.0) == 0.0
        assert await second.take_api_slot(T0, 2, 10.0) == 0.0
        await first.api_slot_answered(T0 + 5)
        assert await second.take_api_slot(T0 + 10.5, 2, 10.0) == 0.0  # second's dropped
        assert await second.take_api_slot(T0 + 10.5, 2, 10.0) == pytest.approx(4.5)
        await second.api_slot_answered(T0 + 30)  # its slot of T0 + 10.5 is the one dated
        await second.api_slot_answered(T0 + 31)  # none left on the wire: one is taken
        assert await first.take_api_slot(T0 + 31, 2, 10.0) == pytest.approx(9.0)
    finally:
        await first.close()
        await second.close()


async def test_a_wake_up_crosses_processes() -> None:
    first, second = await two_processes()
    woken = asyncio.Event()
    try:
        await first.listen("backline_wake", lambda _: woken.set())
        await second.announce("backline_wake")
        await asyncio.wait_for(woken.wait(), 5)
    finally:
        await first.close()
        await second.close()


async def test_a_settings_change_in_one_process_is_seen_at_once_in_another() -> None:
    first, second = await two_processes()
    rules = lambda: RULES  # noqa: E731
    here, there = GuildSettings(first, rules), GuildSettings(second, rules)
    try:
        await here.follow_changes()
        assert (await here.get(3)).tags is None  # cached for a minute
        await there.change(3, tags="lo-fi")
        for _ in range(100):
            if (await here.get(3)).tags == "lo-fi":
                break
            await asyncio.sleep(0.02)
        assert (await here.get(3)).tags == "lo-fi"
    finally:
        await first.close()
        await second.close()


@pytest.mark.sqlite_only
async def test_sqlite_grants_leases_without_writing(store: Store) -> None:
    task, _ = await store.create_task(new_task(), now=T0)
    assert await store.lease("task", task.id, now=T0, seconds=60)
    assert (await store.get_task(task.id)).lease_owner is None  # type: ignore[union-attr]

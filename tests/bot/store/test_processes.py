"""Several processes on one database: leases, heartbeats, the shared rate limit, wake-ups.

On SQLite (one process) a lease is granted without a write; on PostgreSQL each is a
conditional update, so two processes never hold the same work."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.guilds import GuildSettings
from bot.store import PgStore, Store
from bot.store.leases import Leases
from tests.bot.core.test_intake import RULES
from tests.support.factories import new_task
from tests.support.port import MemoryModLog
from tests.support.postgres import fresh_postgres

T0 = 1_900_000_000.0


async def two_processes(leases: Leases | None = None) -> tuple[PgStore, PgStore]:
    """Two stores as two processes would open them; `leases` scaled down so the test
    waits for a lease to end in real time (every time here is the database's)."""
    url = await fresh_postgres()
    first, second = await PgStore.open(url), await PgStore.open(url)
    first.owner, second.owner = "host:1:a", "host:2:b"
    for store in (first, second):
        store.leases = leases or Leases()
    return first, second


async def test_a_lease_is_one_process_at_a_time_until_it_runs_out() -> None:
    first, second = await two_processes(Leases(task=0.5, card=0.5))
    try:
        task, _ = await first.create_task(new_task(), now=T0)
        await first.beat()
        assert await first.lease("task", task.id)
        assert await first.lease("task", task.id)  # taken again by its owner
        assert not await second.lease("task", task.id)
        assert await first.due_tasks(T0 + 30, 10, state="queued") == []  # leased: not due
        assert await second.lease("card", task.id)  # another kind
        await asyncio.sleep(0.7)
        await first.beat()  # alive, but its lease ran out without a renewal
        assert await second.lease("task", task.id)
        await second.release("task", task.id)
        assert await first.lease("task", task.id)
    finally:
        await first.close()
        await second.close()


async def test_a_lease_renewed_while_its_work_runs_stays() -> None:
    """Issue 22: a lease no longer runs out under work that outlives it (a submission
    waiting in the rate limiter, a long upload): each beat renews what the process holds."""
    first, second = await two_processes(Leases(card=0.5))
    try:
        task, _ = await first.create_task(new_task(), now=T0)
        await first.beat()
        assert await first.lease("card", task.id)
        for _ in range(4):  # two lease lengths
            await asyncio.sleep(0.25)
            await first.beat()
            assert await first.renew("card", [task.id]) == {task.id}
        assert not await second.lease("card", task.id)
        assert await second.renew("card", [task.id]) == set()  # not the second's to renew
    finally:
        await first.close()
        await second.close()


async def test_a_dead_processs_leases_are_free_once_it_stops_beating() -> None:
    first, second = await two_processes(Leases(beat_stale=0.5, card=600.0))
    try:
        task, _ = await first.create_task(new_task(), now=T0)
        await first.beat()
        assert await first.lease("card", task.id)
        assert not await second.lease("card", task.id)
        await asyncio.sleep(0.7)  # no beat since: it is dead, its 10-minute lease free
        assert await second.lease("card", task.id)
        assert await first.renew("card", [task.id]) == set()  # it wakes: the lease is gone
    finally:
        await first.close()
        await second.close()


async def test_only_a_dead_processs_submissions_fail_as_interrupted() -> None:
    first, second = await two_processes(Leases(beat_stale=0.5))
    try:
        task, _ = await first.create_task(new_task(), now=T0)
        await first.beat()
        assert await first.lease("task", task.id)
        assert await first.claim_for_submit(task.id, T0)
        assert await second.fail_interrupted_submissions("gone", now=T0) == []  # alive
        await asyncio.sleep(0.7)  # it stopped beating: dead, its submission's fate unknown
        assert await second.fail_interrupted_submissions("gone", now=T0) == [task.id]
    finally:
        await first.close()
        await second.close()


async def test_a_submission_whose_lease_was_taken_never_leaves() -> None:
    """Issue 22: a process that stalled past `beat_stale` and wakes does not claim a task
    another process took over meanwhile (the claim checks the lease in its statement)."""
    first, second = await two_processes(Leases(beat_stale=0.5))
    try:
        task, _ = await first.create_task(new_task(), now=T0)
        await first.beat()
        assert await first.lease("task", task.id)
        await asyncio.sleep(0.7)  # the first stalls
        await second.beat()
        assert await second.lease("task", task.id)
        assert not await first.claim_for_submit(task.id, T0)  # it wakes: not its claim
        assert await second.claim_for_submit(task.id, T0)
    finally:
        await first.close()
        await second.close()


async def test_processes_beat_on_the_databases_clock_and_leave() -> None:
    first, second = await two_processes()
    try:
        at = await first.beat()
        assert abs(at - await second.db_now()) < 5  # the server's clock, not this process's
        await asyncio.sleep(0.5)
        await second.beat()
        assert await first.live_processes(30) == 2
        assert await first.live_processes(0.4) == 1  # the first beat longer ago than that
        await second.leave()
        assert await first.live_processes(0.4) == 0
    finally:
        await first.close()
        await second.close()


async def test_the_rate_window_is_shared() -> None:
    first, second = await two_processes()
    try:
        taken = [await (first if n % 2 else second).take_api_slot(20, 10.0) for n in range(20)]
        assert taken == [0.0] * 20
        assert 8.0 < await first.take_api_slot(20, 10.0) <= 10.0  # full until the first ends
        assert 0 < await second.take_api_slot(20, 1.0) <= 1.0  # a shorter window moves on
    finally:
        await first.close()
        await second.close()


async def test_a_slot_counts_from_its_answer() -> None:
    """A call held up on its way holds its slot until a period after its answer."""
    first, second = await two_processes()
    try:
        assert await first.take_api_slot(2, 1.0) == 0.0
        assert await second.take_api_slot(2, 1.0) == 0.0
        await asyncio.sleep(0.5)
        await first.api_slot_answered()  # its slot now counts from here
        await asyncio.sleep(0.7)
        assert await second.take_api_slot(2, 1.0) == 0.0  # the second's slot left the window
        assert 0 < await second.take_api_slot(2, 1.0) <= 0.5  # the first's has not
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
    here, there = (
        GuildSettings(first, rules, MemoryModLog()),
        GuildSettings(second, rules, MemoryModLog()),
    )
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
    assert await store.lease("task", task.id)
    assert (await store.get_task(task.id)).lease_owner is None  # type: ignore[union-attr]

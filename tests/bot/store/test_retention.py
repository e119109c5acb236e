"""Retention: old finished tasks are purged, nothing else; counts by state are kept by
triggers and always equal a real count."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.tasks import Lifecycle
from bot.music import MusicClient
from bot.settings import SettingError, load_settings
from bot.store import Progress, Stage, Store, TaskRow, TaskState, TrackData
from bot.store import database as database_module
from bot.store.retention import DAY, PURGE_SQL
from bot.web import NO_CALLBACK_URL
from tests.support.factories import new_task
from tests.support.port import MemoryPort
from tests.support.waiting import wait_until

T0 = 1_000_000_000.0  # an old moment, far before the tests' cut-offs
CUTOFF = T0 + 10 * DAY


async def real_counts(store: Store) -> dict[str, int]:
    """The count the kept one must always equal: a scan of the tasks table."""
    rows = await store._fetchall("SELECT state, count(*) FROM tasks GROUP BY state")
    return {state: count for state, count in rows}


async def following(store: Store, *, at: float) -> TaskRow:
    task, _ = await store.create_task(new_task(), now=at)
    assert await store.claim_for_submit(task.id, at)
    await store.mark_submitted(task.id, f"api-{task.id}", now=at, next_check_at=at + 5)
    return task


async def done(store: Store, *, at: float, deliver: bool = True) -> TaskRow:
    """A finished task with two ready tracks, posted (or not yet)."""
    task = await following(store, at=at)
    tracks = [TrackData(name, audio_url=f"https://cdn.invalid/{name}.mp3") for name in "ab"]
    progress = Progress(stage=Stage.COMPLETE, tracks=tracks, complete=True, now=at)
    assert await store.apply_progress(task.id, progress)
    if deliver:
        for number, track in enumerate(await store.tracks_for_task(task.id), 1):
            await store.delivered(track.id, number, at)
    return task


async def failed(store: Store, *, at: float) -> TaskRow:
    task, _ = await store.create_task(new_task(), now=at)
    assert await store.fail_task(task.id, "nope", now=at)
    return task


async def ids(store: Store) -> set[int]:
    return {row[0] for row in await store._fetchall("SELECT id FROM tasks")}


async def test_purge_removes_only_old_finished_tasks(store: Store) -> None:
    old_done = [await done(store, at=T0 + n) for n in range(5)]
    old_failed = [await failed(store, at=T0 + n) for n in range(3)]
    # A failed task with a track that never became ready: nothing waits to be posted.
    half = await following(store, at=T0)
    partial = Progress(stage=Stage.TEXT, tracks=[TrackData("a")], complete=False, now=T0)
    await store.apply_progress(half.id, partial)
    assert await store.fail_task(half.id, "timed out", now=T0)
    kept = {
        (await store.create_task(new_task(), now=T0))[0].id,  # queued since long ago
        (await following(store, at=T0)).id,  # still running
        (await done(store, at=T0, deliver=False)).id,  # its tracks are not posted yet
        (await done(store, at=CUTOFF + 1)).id,  # finished recently
        (await failed(store, at=CUTOFF + 1)).id,
    }
    gone = {t.id for t in [*old_done, *old_failed, half]}
    assert await store.tracks_for_task(old_done[0].id)

    assert await store.purge_finished(CUTOFF, batch=2) == len(gone)  # several batches

    assert await ids(store) == kept
    for task_id in gone:  # tracks went with their task
        assert await store.tracks_for_task(task_id) == []
    assert await store.purge_finished(CUTOFF) == 0
    assert await store.count_by_state() == await real_counts(store)


async def test_a_task_is_purged_once_its_tracks_are_posted(store: Store) -> None:
    task = await done(store, at=T0, deliver=False)
    assert await store.purge_finished(CUTOFF) == 0
    tracks = await store.tracks_for_task(task.id)
    await store.delivered(tracks[0].id, 1, T0)
    assert await store.purge_finished(CUTOFF) == 0  # one still waits
    await store.delivered(tracks[1].id, 2, T0)
    assert await store.purge_finished(CUTOFF) == 1
    assert await store.get_task(task.id) is None


async def test_a_track_given_up_does_not_keep_its_task(store: Store) -> None:
    task = await done(store, at=T0, deliver=False)
    first, second = await store.tracks_for_task(task.id)
    await store.delivered(first.id, 1, T0)
    assert await store.delivery_gave_up(second.id, "Discord refused the post.", T0)
    assert await store.purge_finished(CUTOFF) == 1
    assert await store.get_task(task.id) is None


@pytest.mark.sqlite_only
async def test_purge_batches_use_the_finished_index(store: Store) -> None:
    async with store._conn.execute(
        f"EXPLAIN QUERY PLAN {PURGE_SQL}", {"before": CUTOFF, "batch": 500}
    ) as cursor:
        plan = " ".join(row[-1] for row in await cursor.fetchall())
    assert "tasks_finished" in plan
    with pytest.raises(ValueError, match="at least one row"):
        await store.purge_finished(CUTOFF, batch=0)


async def test_counts_follow_every_change(store: Store) -> None:
    async def check() -> None:
        assert await store.count_by_state() == await real_counts(store)

    assert await store.count_by_state() == {}
    first, _ = await store.create_task(new_task(), now=T0)
    second, _ = await store.create_task(new_task(), now=T0)
    _, created = await store.create_task(new_task(interaction_id=first.interaction_id))
    assert not created  # a repeated interaction is not counted twice
    await check()
    assert await store.count_by_state() == {TaskState.QUEUED: 2}

    assert await store.claim_for_submit(first.id, T0)
    assert not await store.claim_for_submit(first.id, T0)  # a lost race changes nothing
    await check()
    await store.requeue(first.id, now=T0, next_check_at=T0)
    await check()
    assert await store.claim_for_submit(first.id, T0)
    await store.mark_submitted(first.id, "api-1", now=T0, next_check_at=T0)
    await check()
    await store.schedule_check(first.id, next_check_at=T0 + 1)  # no state change
    await store.mark_card_dirty([first.id, second.id], T0)
    await check()

    assert await store.claim_for_submit(second.id, T0)
    assert await store.fail_interrupted_submissions("restarted", now=T0) == [second.id]
    assert not await store.fail_task(second.id, "again", now=T0)  # already final
    await check()
    assert await store.follow_again(second.id, "api-2", now=T0)  # failed → following
    await check()
    complete = Progress(
        stage=Stage.COMPLETE, tracks=[TrackData("a", audio_url="https://x/a")], complete=True,
        now=T0,
    )  # fmt: skip
    assert await store.apply_progress(second.id, complete)
    assert not await store.apply_progress(second.id, complete)  # final: never changed again
    await check()
    assert await store.count_by_state() == {TaskState.FOLLOWING: 1, TaskState.DONE: 1}

    for n in range(4):
        await done(store, at=T0 + n)
        await failed(store, at=T0 + n)
    await check()
    await store.purge_finished(CUTOFF, batch=3)
    await check()
    assert await store.count_by_state() == {TaskState.FOLLOWING: 1, TaskState.DONE: 1}


@pytest.mark.sqlite_only
async def test_reading_the_counts_does_not_scan_the_tasks(store: Store) -> None:
    for _ in range(3):
        await store.create_task(new_task())
    statements: list[str] = []
    await store._conn.set_trace_callback(statements.append)
    try:
        assert await store.count_by_state() == {TaskState.QUEUED: 3}
    finally:
        await store._conn.set_trace_callback(None)
    assert statements and not any("tasks" in sql.replace("task_counts", "") for sql in statements)


async def test_the_migration_counts_the_tasks_already_there(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database from before the counts existed starts with the right ones."""
    every = database_module.migrations
    monkeypatch.setattr(database_module, "migrations", lambda: [m for m in every() if m[0] < 4])
    older = await Store.open(db_path)  # today's code cannot write the old schema: plain SQL
    for key, state, api_id in [
        (1, "queued", None),
        (2, "done", "a2"),
        (3, "failed", None),
        (4, "failed", "a4"),
    ]:
        await older._write(
            "INSERT INTO tasks (interaction_id, channel_id, user_id, upload_url, title, tags, "
            "negative_tags, model, state, api_task_id, created_at, updated_at) "
            "VALUES (?, 1, 1, 'https://cdn.example/a.wav', 't', 'x', 'y', 'V5', ?, ?, ?, ?)",
            (key, state, api_id, T0, T0),
        )
    await older.close()
    monkeypatch.setattr(database_module, "migrations", every)
    store = await Store.open(db_path)
    try:
        assert await store.count_by_state() == await real_counts(store)
        assert await store.count_by_state() == {"queued": 1, "done": 1, "failed": 2}
        await failed(store, at=T0)  # and the triggers keep them from there
        assert await store.count_by_state() == await real_counts(store)
    finally:
        await store.close()


# -- the scheduler purges at start and about once an hour ---------------------------------


async def test_the_scheduler_purges_at_start_and_then_hourly(
    store: Store, music: MusicClient
) -> None:
    now = [time.time()]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731
    old = await failed(store, at=now[0] - 31 * DAY)
    month = await failed(store, at=now[0] - 30 * DAY + 600)  # 10 minutes short
    week = await failed(store, at=now[0] - 7 * DAY)
    service = Lifecycle(store, music, MemoryPort(), callback_url=NO_CALLBACK_URL, clock=clock)
    service.start()  # the default retention: 30 days
    try:
        await wait_until(lambda: _gone(store, old.id))
        assert await store.get_task(month.id) is not None

        now[0] += 20 * 60.0  # the month-old task is now past the 30 days …
        service.wake()
        await asyncio.sleep(0.3)  # … but the next purge is not due yet
        assert await store.get_task(month.id) is not None

        now[0] += 45 * 60.0
        service.wake()
        await wait_until(lambda: _gone(store, month.id))
        assert await store.get_task(week.id) is not None
    finally:
        await service.stop()


async def test_the_retention_is_configurable(store: Store, music: MusicClient) -> None:
    week = await failed(store, at=time.time() - 7 * DAY)
    service = Lifecycle(store, music, MemoryPort(), callback_url=NO_CALLBACK_URL)
    service.scheduler.retention = 5 * DAY
    service.start()
    try:
        await wait_until(lambda: _gone(store, week.id))
    finally:
        await service.stop()


async def _gone(store: Store, task_id: int) -> bool:
    return await store.get_task(task_id) is None


def test_retention_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    base = {"discord_token": "t", "suno_api_key": "k"}
    assert load_settings(**base).task_retention_days == 30
    assert load_settings(**base, task_retention_days="7").task_retention_days == 7
    with pytest.raises(SettingError, match="TASK_RETENTION_DAYS"):
        load_settings(**base, task_retention_days=0)

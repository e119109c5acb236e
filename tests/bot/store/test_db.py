"""The SQLite store: migrations, pragmas, constraints, the merge rules."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.store import (
    Delivery,
    NewTask,
    Progress,
    Stage,
    Store,
    StoreError,
    TaskState,
    TrackData,
)
from bot.store.database import migrations


def task(interaction_id: int = 1, **overrides: object) -> NewTask:
    fields = {
        "interaction_id": interaction_id,
        "user_id": 2,
        "channel_id": 3,
        "upload_url": "https://cdn/x.wav",
        "title": "t",
        "tags": "lofi",
        "negative_tags": "metal",
        "model": "V5",
    }
    fields.update(overrides)
    return NewTask(**fields)  # type: ignore[arg-type]


async def test_creates_folder_applies_migrations_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "b.db"
    store = await Store.open(path)
    assert await store._scalar("PRAGMA user_version") == migrations()[-1][0]
    assert await store._scalar("PRAGMA journal_mode") == "wal"
    assert await store._scalar("PRAGMA foreign_keys") == 1
    assert await store._scalar("PRAGMA synchronous") == 2  # FULL: marks survive power loss
    await store.close()
    again = await Store.open(path)  # nothing left to apply
    assert await again.ping()
    await again.close()


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99, newer than this code"):
        await Store.open(path)


async def test_one_task_per_interaction(store: Store) -> None:
    first, created = await store.create_task(task(7))
    again, created_again = await store.create_task(task(7, title="other"))
    assert created and not created_again and again == first


async def test_constraints_hold(store: Store) -> None:
    with pytest.raises(store.dialect.integrity_error):
        await store.create_task(task(8, title=""))
    with pytest.raises(store.dialect.integrity_error):
        await store.create_task(task(9, style_weight=1.5))
    with pytest.raises(store.dialect.integrity_error):
        await store.create_task(task(10, vocal_gender="x"))
    row, _ = await store.create_task(task(11))
    with pytest.raises(store.dialect.integrity_error):  # following needs an API task id
        await store._write("UPDATE tasks SET state = 'following' WHERE id = ?", (row.id,))
    with pytest.raises(store.dialect.integrity_error):  # tracks belong to a task
        await store._write(
            "INSERT INTO tracks (task_id, api_track_id, position) VALUES (999, 'a', 0)"
        )


async def test_progress_only_moves_forward_and_tracks_are_one_row_each(store: Store) -> None:
    row, _ = await store.create_task(task(12))
    assert await store.claim_for_submit(row.id, 1.0)
    assert not await store.claim_for_submit(row.id, 1.0)  # claimed once
    await store.mark_submitted(row.id, "api-1", now=2.0, next_check_at=3.0)
    half = [TrackData("a", "https://a.wav"), TrackData("b")]
    assert await store.apply_progress(row.id, Progress(Stage.FIRST, half, complete=False, now=4.0))
    assert not await store.apply_progress(
        row.id, Progress(Stage.TEXT, half, complete=False, now=5.0)
    )
    full = [TrackData("a", "https://changed.wav"), TrackData("b", "https://b.wav")]
    assert await store.apply_progress(
        row.id, Progress(Stage.COMPLETE, full, complete=True, now=6.0)
    )
    tracks = await store.tracks_for_task(row.id)
    assert [(t.api_track_id, t.position, t.audio_url) for t in tracks] == [
        ("a", 0, "https://a.wav"),  # a ready track is recorded once, never rewritten
        ("b", 1, "https://b.wav"),
    ]
    done = await store.get_task(row.id)
    assert done is not None
    assert (done.state, done.stage) == (TaskState.DONE, Stage.COMPLETE)
    assert not await store.apply_progress(
        row.id, Progress(Stage.COMPLETE, full, complete=True, now=7.0)
    )
    assert not await store.fail_task(row.id, "late failure", now=8.0)  # final is final


async def test_delivery_marks(store: Store) -> None:
    row, _ = await store.create_task(task(13))
    await store.claim_for_submit(row.id, 1.0)
    await store.mark_submitted(row.id, "api-2", now=1.0, next_check_at=1.0)
    await store.set_discord_place(row.id, thread_id=None, card_message_id=90)
    await store.apply_progress(
        row.id, Progress(Stage.FIRST, [TrackData("a", "https://a")], complete=False, now=2.0)
    )
    [track] = await store.due_deliveries(now=3.0, limit=10)
    await store.delivery_attempted(track.id)
    [attempted] = await store.tracks_for_task(row.id)
    assert attempted.delivery is Delivery.ATTEMPTED and attempted.delivery_attempts == 1
    await store.delivered(track.id, 555, now=4.0)
    await store.delivered(track.id, 556, now=5.0)  # a second report changes nothing
    [delivered] = await store.tracks_for_task(row.id)
    assert (delivered.delivery, delivered.message_id) == (Delivery.DELIVERED, 555)
    assert await store.due_deliveries(now=100.0, limit=10) == []


async def test_queue_positions_and_interrupted_submissions(store: Store) -> None:
    rows = [(await store.create_task(task(20 + i)))[0] for i in range(3)]
    assert [await store.queue_position(r.id) for r in rows] == [1, 2, 3]
    await store.claim_for_submit(rows[0].id, 1.0)
    assert await store.queue_position(rows[1].id) == 1
    assert await store.fail_interrupted_submissions("restarted", now=2.0) == [rows[0].id]
    failed = await store.get_task(rows[0].id)
    assert failed is not None
    assert (failed.state, failed.error, failed.can_retry) == (TaskState.FAILED, "restarted", True)


async def test_key_values(store: Store) -> None:
    assert await store.get_value("k") is None
    assert await store.set_value_once("k", "first") == "first"
    assert await store.set_value_once("k", "second") == "first"
    await store.set_value("k", "third")
    assert await store.get_value("k") == "third"


async def test_only_tasks_failed_by_their_time_out_are_looked_at_later(store: Store) -> None:
    waiting, _ = await store.create_task(task(30), now=1.0)
    timed_out, _ = await store.create_task(task(31), now=1.0)
    refused, _ = await store.create_task(task(32), now=1.0)
    for row, api in ((timed_out, "api-3"), (refused, "api-4")):
        await store.claim_for_submit(row.id, 2.0)
        await store.mark_submitted(row.id, api, now=2.0, next_check_at=3.0)
    await store.fail_task(timed_out.id, "too slow", now=5.0, late_check_at=10.0)
    await store.fail_task(refused.id, "refused", now=5.0)
    assert await store.late_checks(9.0, 10) == []
    assert [t.id for t in await store.late_checks(10.0, 10)] == [timed_out.id]
    assert await store.late_checks(10.0, 10, exclude=[timed_out.id]) == []
    await store.schedule_late_check(timed_out.id, None)
    assert await store.late_checks(1e9, 10) == []
    assert (await store.get_task(waiting.id)).state == "queued"  # type: ignore[union-attr]


async def test_rows_carry_enums_and_booleans(store: Store) -> None:
    row, _ = await store.create_task(task(40))
    assert row.state is TaskState.QUEUED and row.stage is Stage.NONE and row.active
    assert row.card_dirty is True and row.can_retry is False
    await store.fail_task(row.id, "no", now=2.0, can_retry=True)
    failed = await store.get_task(row.id)
    assert failed is not None and failed.can_retry is True and not failed.active
    assert await store.count_by_state() == {TaskState.FAILED: 1}


async def test_due_tasks_by_state(store: Store) -> None:
    first, _ = await store.create_task(task(50), now=1.0)
    second, _ = await store.create_task(task(51), now=2.0)
    later, _ = await store.create_task(task(52), now=9.0)
    due = await store.due_tasks(5.0, 10, state=TaskState.QUEUED)
    assert [t.id for t in due] == [first.id, second.id]
    skipping = await store.due_tasks(5.0, 10, state=TaskState.QUEUED, exclude=[first.id])
    assert [t.id for t in skipping] == [second.id]
    assert await store.due_tasks(5.0, 10, state=TaskState.FOLLOWING) == []
    assert later.id not in {t.id for t in due}


async def test_processes_opening_a_fresh_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    """Issue 22: the schema version is read inside the exclusive transaction that
    migrates, so a second process waits and then finds nothing left to apply (before, both
    read version 0 and the second failed on "table tasks already exists")."""
    opener = "import asyncio, sys\nfrom bot.store import Store\n" + (
        "async def main():\n    await (await Store.open(sys.argv[1])).close()\n"
        "asyncio.run(main())\n"
    )
    for round_ in range(3):
        path = tmp_path / f"fresh{round_}.db"
        starts = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", opener, str(path), stderr=asyncio.subprocess.PIPE
            )
            for _ in range(4)
        ]
        results = [await asyncio.wait_for(start.communicate(), 60) for start in starts]
        pairs = zip(results, starts, strict=True)
        failures = [err.decode()[-300:] for (_, err), start in pairs if start.returncode]
        assert failures == []
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations()[-1][0]

"""Delivery limits in the store (migration 0003): counted card draws and lookups, a track
ended as 'failed' with its reason, a card given up, the requester told once; and the
scheduler's queries never offering given-up work again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.store import Delivery, Progress, Stage, Store, TaskRow, TrackData, TrackRow
from bot.store.database import migrations

from .test_db import task


async def finished(store: Store, interaction_id: int, *, placed: bool = True) -> TaskRow:
    """A done task with two tracks waiting to be posted, its card drawn (nothing else due)."""
    row, _ = await store.create_task(
        task(interaction_id, card_message_id=9 if placed else None), now=1.0
    )
    await store.claim_for_submit(row.id, 1.0)
    await store.mark_submitted(row.id, f"api-{interaction_id}", now=1.0, next_check_at=1.0)
    tracks = [TrackData(f"t{i}", audio_url=f"https://cdn.example/{i}.mp3") for i in range(2)]
    await store.apply_progress(
        row.id, Progress(stage=Stage.COMPLETE, tracks=tracks, complete=True, now=2.0)
    )
    done = await store.get_task(row.id)
    assert done is not None
    await store.card_shown(row.id, done.updated_at)
    return done


async def tracks_of(store: Store, task_id: int) -> list[TrackRow]:
    return await store.tracks_for_task(task_id)


async def test_a_track_given_up_ends_with_its_reason_and_is_never_due(store: Store) -> None:
    row = await finished(store, 1)
    first, second = await tracks_of(store, row.id)
    assert await store.next_due_at() == 2.0

    assert await store.delivery_gave_up(first.id, "Gone.", 5.0, count=True)
    assert not await store.delivery_gave_up(first.id, "Again.", 6.0)  # already ended
    ended = (await tracks_of(store, row.id))[0]
    assert (ended.delivery, ended.delivery_error, ended.next_delivery_at) == (
        Delivery.FAILED,
        "Gone.",
        None,
    )
    assert ended.delivery_attempts == 1
    assert [t.id for t in await store.due_deliveries(1e9, 10)] == [second.id]

    await store.delivery_gave_up(second.id, "Refused.", 7.0)
    assert await store.due_deliveries(1e9, 10) == []
    after = await store.get_task(row.id)
    assert after is not None
    assert after.delivery_error == "Gone."  # the first reason is kept
    assert after.card_dirty  # the card says so
    await store.card_shown(row.id, after.updated_at)
    assert await store.next_due_at() is None  # nothing left to do: no spinning scheduler

    # A track given up is not "attempted" again, nor failed back into a retry.
    await store.delivery_attempted(second.id)
    await store.delivery_failed(second.id, 50.0, count=True)
    again = (await tracks_of(store, row.id))[1]
    assert (again.delivery, again.next_delivery_at, again.delivery_attempts) == (
        Delivery.FAILED,
        None,
        0,
    )


async def test_failed_lookups_count_as_attempts(store: Store) -> None:
    row = await finished(store, 2)
    track = (await tracks_of(store, row.id))[0]
    await store.delivery_attempted(track.id)
    await store.delivery_failed(track.id, 10.0, count=True)  # a lookup that failed
    await store.delivery_failed(track.id, 20.0)  # a post that failed (counted as it started)
    counted = (await tracks_of(store, row.id))[0]
    assert (counted.delivery_attempts, counted.next_delivery_at) == (2, 20.0)


async def test_card_draws_are_counted_and_a_card_given_up_is_not_due(store: Store) -> None:
    row = await finished(store, 3)
    for track in await tracks_of(store, row.id):
        await store.delivered(track.id, 100 + track.id, 3.0)
    current = await store.get_task(row.id)
    assert current is not None and current.card_dirty

    await store.card_failed(row.id, retry_at=10.0)
    await store.card_failed(row.id, retry_at=30.0)
    counted = await store.get_task(row.id)
    assert counted is not None and (counted.card_attempts, counted.card_retry_at) == (2, 30.0)
    assert await store.next_due_at() == 30.0

    await store.card_gave_up(row.id, "Deleted.", updated_at=counted.updated_at, retry_at=90.0)
    given_up = await store.get_task(row.id)
    assert given_up is not None
    assert (given_up.card_dirty, given_up.card_attempts, given_up.card_error) == (
        False,
        3,
        "Deleted.",
    )
    assert await store.tasks_needing_card(1e9, 10) == []
    assert await store.next_due_at() is None

    # A later change a member should see tries once more; a card drawn forgets it all.
    await store.mark_card_dirty([row.id], 40.0)
    [due] = await store.tasks_needing_card(40.0, 10)
    await store.card_shown(row.id, due.updated_at)
    shown = await store.get_task(row.id)
    assert shown is not None
    assert (shown.card_dirty, shown.card_attempts, shown.card_error) == (False, 0, None)


async def test_a_card_given_up_while_the_task_changed_stays_due(store: Store) -> None:
    row = await finished(store, 4)
    await store.mark_card_dirty([row.id], 5.0)
    seen = await store.get_task(row.id)
    assert seen is not None
    await store.mark_card_dirty([row.id], 6.0)  # changed again while the draw failed
    await store.card_gave_up(row.id, "Deleted.", updated_at=seen.updated_at, retry_at=60.0)
    [due] = await store.tasks_needing_card(60.0, 10)
    assert due.card_dirty and due.card_error == "Deleted."


async def test_an_unplaced_tasks_waiting_tracks_end_together(store: Store) -> None:
    row = await finished(store, 5, placed=False)
    assert await store.task_deliveries_gave_up(row.id, "Gone.", 8.0) == 2
    assert {t.delivery for t in await tracks_of(store, row.id)} == {Delivery.FAILED}
    assert await store.task_deliveries_gave_up(row.id, "Gone.", 9.0) == 0
    after = await store.get_task(row.id)
    assert after is not None and after.delivery_error == "Gone."


async def test_the_requester_is_told_once(store: Store) -> None:
    row = await finished(store, 6)
    assert await store.claim_give_up_notice(row.id, 10.0)
    assert not await store.claim_give_up_notice(row.id, 11.0)
    told = await store.get_task(row.id)
    assert told is not None and told.gave_up_at == 10.0


async def test_the_database_keeps_a_failed_track_honest(store: Store) -> None:
    row = await finished(store, 7)
    track = (await tracks_of(store, row.id))[0]
    with pytest.raises(store.dialect.integrity_error):  # failed without a reason
        await store._write("UPDATE tracks SET delivery = 'failed' WHERE id = ?", (track.id,))
    with pytest.raises(store.dialect.integrity_error):  # failed, yet still due
        await store._write(
            "UPDATE tracks SET delivery = 'failed', delivery_error = 'x' WHERE id = ?", (track.id,)
        )
    with pytest.raises(store.dialect.integrity_error):  # not a delivery state
        await store._write("UPDATE tracks SET delivery = 'lost' WHERE id = ?", (track.id,))
    await store._write(  # failed, with why, and never due again: allowed
        "UPDATE tracks SET delivery = 'failed', delivery_error = 'x', next_delivery_at = NULL "
        "WHERE id = ?",
        (track.id,),
    )


async def test_migration_keeps_existing_tracks(tmp_path: Path) -> None:
    """A database from before 0003, with a track in each delivery state, comes through
    the rebuild of the tracks table whole."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    before = [(number, sql) for number, sql in migrations() if number < 3]
    for _, sql in before:
        conn.executescript(sql)
    conn.execute(f"PRAGMA user_version = {before[-1][0]}")
    conn.execute(
        "INSERT INTO tasks (id, interaction_id, channel_id, user_id, upload_url, title, tags, "
        "negative_tags, model, state, api_task_id, created_at, updated_at) "
        "VALUES (1, 1, 7, 42, 'u', 't', '', '', 'V5', 'done', 'api-1', 1, 1)"
    )
    conn.executemany(
        "INSERT INTO tracks (task_id, api_track_id, position, ready_at, delivery, "
        "delivery_attempts, next_delivery_at, message_id) VALUES (1, ?, ?, 2, ?, ?, ?, ?)",
        [
            ("a", 0, "pending", 0, 2.0, None),
            ("b", 1, "attempted", 3, 9.0, None),
            ("c", 2, "delivered", 1, None, 77),
        ],
    )
    conn.commit()
    conn.close()

    store = await Store.open(path)
    try:
        tracks = await store.tracks_for_task(1)
        assert [(t.delivery, t.delivery_attempts, t.message_id) for t in tracks] == [
            (Delivery.PENDING, 0, None),
            (Delivery.ATTEMPTED, 3, None),
            (Delivery.DELIVERED, 1, 77),
        ]
        assert {t.delivery_error for t in tracks} == {None}
        old = await store.get_task(1)
        assert old is not None
        assert (old.card_attempts, old.card_error, old.delivery_error, old.gave_up_at) == (
            0,
            None,
            None,
            None,
        )
        index = await store._scalar(
            "SELECT sql FROM sqlite_master WHERE name = 'tracks_undelivered'"
        )
        assert index is not None
        assert [t.api_track_id for t in await store.due_deliveries(1e9, 10)] == []  # unplaced
    finally:
        await store.close()

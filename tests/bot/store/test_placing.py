"""Where a task lives in Discord, and the placing window in which the scheduler keeps away."""

from __future__ import annotations

from bot.store import Progress, Stage, Store, TaskRow, TrackData

from .test_db import task


async def following(store: Store, interaction_id: int, **overrides: object) -> TaskRow:
    row, _ = await store.create_task(task(interaction_id, **overrides), now=1.0)
    await store.claim_for_submit(row.id, 1.0)
    await store.mark_submitted(row.id, f"api-{interaction_id}", now=1.0, next_check_at=1.0)
    return row


async def quiet(store: Store, task_id: int) -> None:
    """No check and no card due: only the task's tracks can be due."""
    current = await store.get_task(task_id)
    assert current is not None
    await store.card_shown(task_id, current.updated_at)
    await store._write("UPDATE tasks SET next_check_at = NULL WHERE id = ?", (task_id,))


async def test_new_columns_are_recorded(store: Store) -> None:
    row, _ = await store.create_task(task(1, placing_until=60.0), now=1.0)
    assert (row.placing_until, row.input_message_id, row.notice_message_id) == (60.0, None, None)
    await store.set_discord_place(row.id, thread_id=5, card_message_id=6, input_message_id=7)
    await store.set_discord_place(row.id, thread_id=None, card_message_id=None, now=3.0)
    await store.set_notice_message(row.id, 8)
    placed = await store.get_task(row.id)
    assert placed is not None
    assert (placed.thread_id, placed.card_message_id, placed.input_message_id) == (5, 6, 7)
    assert (placed.placing_until, placed.notice_message_id) == (None, 8)


async def test_a_card_being_placed_is_left_alone_until_its_window_closes(store: Store) -> None:
    row, _ = await store.create_task(task(2, placing_until=100.0), now=1.0)
    await store.fail_task(row.id, "no", now=2.0)  # no check due: only the card is
    assert await store.tasks_needing_card(now=99.0, limit=10) == []
    assert await store.next_due_at() == 100.0  # not "due now": the scheduler would spin
    assert [t.id for t in await store.tasks_needing_card(now=100.0, limit=10)] == [row.id]
    await store.card_failed(row.id, retry_at=150.0)  # the later of the two counts
    assert await store.next_due_at() == 150.0
    assert await store.tasks_needing_card(now=120.0, limit=10) == []


async def test_placing_the_card_makes_it_due_at_once(store: Store) -> None:
    row, _ = await store.create_task(task(3, placing_until=100.0), now=1.0)
    await store.fail_task(row.id, "no", now=2.0)
    await store.card_failed(row.id, retry_at=50.0)
    await store.set_discord_place(row.id, thread_id=None, card_message_id=9, now=3.0)
    [placed] = await store.tasks_needing_card(now=3.0, limit=10)
    assert (placed.card_dirty, placed.card_retry_at, placed.placing_until) == (True, 0.0, None)
    assert await store.next_due_at() == 0.0


async def test_a_creator_that_gave_up_hands_the_card_to_the_scheduler(store: Store) -> None:
    row, _ = await store.create_task(task(4, placing_until=100.0), now=1.0)
    assert await store.tasks_needing_card(now=2.0, limit=10) == []
    await store.end_placing(row.id, now=2.0)
    assert [t.id for t in await store.tasks_needing_card(now=2.0, limit=10)] == [row.id]


async def test_tracks_wait_for_their_card_whatever_the_window(store: Store) -> None:
    row = await following(store, 5)  # no placing window at all, and no card yet
    ready = [TrackData("a", "https://a.wav")]
    await store.apply_progress(row.id, Progress(Stage.COMPLETE, ready, complete=True, now=2.0))
    await quiet(store, row.id)
    assert await store.due_deliveries(now=1_000.0, limit=10) == []
    assert await store.next_due_at() is None
    assert not await store.is_idle()  # still work to do once the card is placed
    await store.set_discord_place(row.id, thread_id=None, card_message_id=10, now=3.0)
    await quiet(store, row.id)
    [track] = await store.due_deliveries(now=2.0, limit=10)
    assert track.task_id == row.id
    assert await store.next_due_at() == 2.0


async def test_apply_progress_keeps_its_rules(store: Store) -> None:
    row = await following(store, 6)
    text = Progress(Stage.TEXT, [TrackData("a")], complete=False, now=2.0, next_check_at=9.0)
    assert await store.apply_progress(row.id, text)
    callback = Progress(Stage.PENDING, [], complete=False, now=3.0, from_callback=True)
    assert not await store.apply_progress(row.id, callback)  # backwards: nothing to show
    current = await store.get_task(row.id)
    assert current is not None
    assert (current.stage, current.next_check_at, current.callback_at) == (Stage.TEXT, 9.0, 3.0)
    assert not await store.apply_progress(999, text)  # unknown task

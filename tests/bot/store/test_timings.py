"""The stage timings of recently finished tasks, which the poll schedule learns from."""

from __future__ import annotations

from bot.store import Progress, Stage, Store, TaskTiming
from tests.support.factories import new_task

T0 = 1_900_000_000.0


async def following(store: Store, model: str = "V5") -> int:
    task, _ = await store.create_task(new_task(model=model), now=T0)
    assert await store.claim_for_submit(task.id, T0)
    await store.mark_submitted(task.id, f"api-{task.id}", now=T0, next_check_at=T0)
    return task.id


async def polled(store: Store, task_id: int, at: float, *, first: tuple[float, float]) -> None:
    await store.schedule_check(
        task_id, next_check_at=at, polled_at=at, first_after=first[0], first_seen=first[1]
    )


def done(at: float, *, after: float | None) -> Progress:
    return Progress(stage=Stage.COMPLETE, tracks=[], complete=True, now=at, done_after=after)


async def test_every_done_task_with_the_bounds_its_polls_saw(store: Store) -> None:
    counted = await following(store)
    await polled(store, counted, T0 + 110, first=(T0 + 90, T0 + 110))
    assert await store.apply_progress(counted, done(T0 + 190, after=T0 + 182))

    failed = await following(store)
    await polled(store, failed, T0 + 110, first=(T0 + 90, T0 + 110))
    assert await store.fail_task(failed, "no", now=T0 + 150)

    at_once = await following(store)  # one poll saw the first track and the end
    await polled(store, at_once, T0 + 90, first=(T0 + 70, T0 + 90))
    assert await store.apply_progress(at_once, done(T0 + 90, after=T0 + 70))

    told = await following(store)  # a callback said done; no poll saw the first track
    assert await store.apply_progress(told, done(T0 + 170, after=None))
    fresh = await store.get_task(told)
    assert fresh is not None and fresh.done_after == T0 + 170  # the callback's moment

    other = await following(store, "V4_5PLUS")
    await polled(store, other, T0 + 130, first=(T0 + 110, T0 + 130))
    assert await store.apply_progress(other, done(T0 + 250, after=T0 + 242))

    assert await store.recent_timings(T0, per_model=50) == [
        TaskTiming("V4_5PLUS", T0, T0 + 110, T0 + 130, T0 + 242, T0 + 250),
        TaskTiming("V5", T0, T0 + 90, T0 + 110, T0 + 182, T0 + 190),
        TaskTiming("V5", T0, None, None, T0 + 170, T0 + 170),  # no poll saw its first track
        TaskTiming("V5", T0, T0 + 70, T0 + 90, T0 + 70, T0 + 90),  # failed ones never count
    ]
    assert len(await store.recent_timings(T0, per_model=2)) == 3  # the latest 2 of each
    assert await store.recent_timings(T0 + 200, per_model=50) == [
        TaskTiming("V4_5PLUS", T0, T0 + 110, T0 + 130, T0 + 242, T0 + 250)
    ]

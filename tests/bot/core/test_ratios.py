"""Each model's done ratio, learned from the store's recent tasks (SQLite and PostgreSQL),
and the poll schedule that uses it."""

from __future__ import annotations

import itertools
import random
import statistics
from dataclasses import replace

import pytest

from bench.common import schedule_walk
from bot.core.tasks import Lifecycle, PollSchedule
from bot.core.tasks.ratios import RECENT, DoneRatios
from bot.music import MusicClient, TaskInfo
from bot.store import Progress, Stage, Store
from tests.bot.core.test_schedule import poller
from tests.support.factories import new_task
from tests.support.port import MemoryPort
from tests.support.waiting import wait_until

NOW = 1_800_000_000.0
SCHEDULE = PollSchedule()
_api_ids = itertools.count(1)


@pytest.fixture
def store(each_store: Store) -> Store:
    return each_store


def timings(rng: random.Random, ratio: float) -> tuple[float, float, float]:
    """The API's spread (text 20-40 s, done 130-240 s), the end `ratio` times as long
    after the first track as the first track after text: (text, first, done)."""
    text, done = rng.uniform(20.0, 40.0), rng.uniform(130.0, 240.0)
    return text, text + (done - text) / (1 + ratio), done


async def finished(
    store: Store,
    model: str,
    stages: tuple[float, float, float],
    *,
    at: float = NOW,
) -> None:
    """A task of `model` submitted at `at` and polled with the API's ratio until done, as
    the lifecycle records it: first track in (first_after, first_seen], done in
    (done_after, completed_at]."""
    text, first, done = stages
    polls = schedule_walk(SCHEDULE, text=text, first=first, complete=done)
    seen = next(i for i, t in enumerate(polls) if t >= first)
    task, _ = await store.create_task(new_task(model=model), now=at)
    assert await store.claim_for_submit(task.id, at)
    await store.mark_submitted(task.id, f"api-{next(_api_ids)}", now=at, next_check_at=at)
    await store.schedule_check(
        task.id,
        next_check_at=at + polls[-1],
        polled_at=at + polls[-2],
        first_after=at + (polls[seen - 1] if seen else 0.0),
        first_seen=at + polls[seen],
    )
    complete = Progress(
        stage=Stage.COMPLETE,
        tracks=[],
        complete=True,
        now=at + polls[-1],
        done_after=at + polls[-2],
    )
    assert await store.apply_progress(task.id, complete)


async def learned(store: Store, *, now: float = NOW + 3600.0) -> DoneRatios:
    ratios = DoneRatios(store, SCHEDULE)
    await ratios.refresh(now)
    return ratios


async def test_too_few_recent_tasks_keep_the_documented_ratio(store: Store) -> None:
    rng = random.Random(1)
    for _ in range(10):  # plenty, but done before the last 14 days
        await finished(store, "V5", timings(rng, 1.5), at=NOW - RECENT - 3600.0)
    for _ in range(4):
        await finished(store, "V5", timings(rng, 1.5))
    assert (await learned(store)).get("V5") == 1.0


async def test_each_model_learns_its_own_ratio(store: Store) -> None:
    rng = random.Random(2)
    for _ in range(20):
        await finished(store, "V5", timings(rng, 1.5))
    for _ in range(4):
        await finished(store, "V4_5PLUS", timings(rng, 1.5))
    ratios = await learned(store)
    assert ratios.get("V5") == pytest.approx(1.5, abs=0.15)
    assert ratios.get("V4_5PLUS") == 1.0  # too few of its own
    assert ratios.get("V4") == 1.0  # none
    # Only the latest 50 of a model count: 60 more at the API's 1.0 outweigh the 20 above.
    for _ in range(60):
        await finished(store, "V5", timings(rng, 1.0), at=NOW + 600.0)
    assert (await learned(store)).get("V5") == pytest.approx(1.0, abs=0.1)


async def test_polls_use_the_models_ratio_and_record_when_it_ended(
    store: Store, music: MusicClient
) -> None:
    rng = random.Random(3)
    for _ in range(10):
        await finished(store, "V5", timings(rng, 1.5))
    clock = [NOW + 3600.0]
    lifecycle = Lifecycle(
        store, music, callback_url="https://callbacks.invalid/x", clock=lambda: clock[0]
    )
    api = lifecycle.api
    lifecycle.port = MemoryPort()
    await lifecycle.resume()  # the scheduler's first round reads the recent tasks
    await wait_until(lambda: api.ratios.get("V5") != 1.0)
    await lifecycle.stop()
    ratio = api.ratios.get("V5")
    assert ratio == pytest.approx(1.5, abs=0.15)

    task, _ = await store.create_task(new_task(model="V5"), now=clock[0])
    submitted = clock[0]
    assert await store.claim_for_submit(task.id, submitted)
    await store.mark_submitted(task.id, "api-v5", now=submitted, next_check_at=submitted)
    await store.schedule_check(task.id, next_check_at=submitted + 90.0, polled_at=submitted + 90.0)
    # The first track was ready between the polls at 90 and 110 s.
    clock[0] = submitted + 110.0
    following = await store.get_task(task.id)
    assert following is not None
    await api._apply(following, TaskInfo(task_id="api-v5", status="FIRST_SUCCESS"))
    earliest, latest = 90.0 + ratio * (90.0 - 40.0), 110.0 + ratio * (110.0 - 20.0)
    polled = await store.get_task(task.id)
    assert polled is not None and polled.next_check_at is not None
    assert polled.next_check_at - submitted == pytest.approx(earliest + 0.2 * (latest - earliest))
    assert polled.next_check_at - submitted > 110.0 + SCHEDULE.next_delay(
        110.0, stage=Stage.FIRST, callbacks=False, first_after=90.0, first_seen=110.0
    )  # later than the API's 1.0 would say

    clock[0] = submitted + 205.0
    done = TaskInfo.model_validate(
        {
            "taskId": "api-v5",
            "status": "SUCCESS",
            "response": {"sunoData": [{"id": "t1", "audioUrl": "https://cdn.invalid/t1.mp3"}]},
        }
    )
    await api._apply(polled, done)
    ended = await store.get_task(task.id)
    assert ended is not None and ended.completed_at == submitted + 205.0
    assert ended.done_after == polled.polled_at  # the poll before the one that saw it done


def walks(schedule: PollSchedule, ratio: float) -> tuple[float, float, float]:
    """On 2000 seeded tasks of this `ratio`: mean calls, done → seen p50, and a 30-s
    poller's done → seen p50."""
    rng = random.Random(15)
    calls, seen, poller_seen = [], [], []
    for _ in range(2000):
        text, first, done = timings(rng, ratio)
        walk = schedule_walk(schedule, text=text, first=first, complete=done)
        calls.append(len(walk))
        seen.append(walk[-1] - done)
        poller_seen.append(poller(done)[1])
    return statistics.mean(calls), statistics.median(seen), statistics.median(poller_seen)


@pytest.mark.parametrize("true_ratio", [1.0, 1.5])
async def test_the_learned_schedule_keeps_the_polling_goals(
    store: Store, true_ratio: float
) -> None:
    rng = random.Random(4)
    for _ in range(50):  # a model's tasks as the bot polled them with the API's 1.0
        await finished(store, "V5", timings(rng, true_ratio))
    ratio = (await learned(store)).get("V5")
    # Polls fall on one grid, so each task's bounds are coarse and its ratio too: a median
    # of 50 lands within about 0.15 (here 1.03 and 1.37).
    assert ratio == pytest.approx(true_ratio, abs=0.15)
    fixed = walks(SCHEDULE, true_ratio)
    calls, seen, poller_seen = walks(replace(SCHEDULE, done_ratio=ratio), true_ratio)
    assert calls <= 8 and seen <= poller_seen / 3
    if true_ratio == 1.5:
        # Seed 15: the API's 1.0 misses both goals on these tasks (9.8 calls, done → seen
        # p50 5.4 s against the 30-s poller's 13.4 s); the learned 1.37 meets them (7.9
        # calls, 4.0 s). On the API's own timings the learned 1.03 gives 7.0 calls, 4.3 s
        # (the fixed 1.0: 7.2 calls, 4.1 s).
        assert calls < fixed[0] and seen < fixed[1]

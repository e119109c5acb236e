"""Cards and posts that keep failing end (issue 9): at most `MAX_ATTEMPTS` tries with a
growing backoff against transient errors, one try against a permanent one, failed lookups
counted, a clear final state, the requester told once. The core alone, on a real SQLite
file, a clock the test moves, and the in-memory port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import aiohttp
import pytest

from bot.core.tasks import Lifecycle, PollSchedule, display_of
from bot.core.tasks.delivery import KEPT_FAILING, MAX_ATTEMPTS
from bot.core.tasks.port import PermanentDeliveryError
from bot.music import MusicClient
from bot.store import Delivery, Progress, Stage, Store, TaskRow, TrackData, TrackRow
from tests.support.factories import make_client, new_task
from tests.support.port import MemoryPort
from tests.support.waiting import wait_until

GONE = "That channel or thread is gone, or I can no longer reach it."
SCHEDULE = PollSchedule()  # production backoff: 5 s doubling up to 120 s


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    service: Lifecycle
    port: MemoryPort
    clock: Clock
    calls: list[tuple[str, float]]  # ("show" | "post" | "lookup", clock time)

    @property
    def store(self) -> Store:
        return self.service.store

    def times(self, kind: str) -> list[float]:
        return [at for what, at in self.calls if what == kind]


@pytest.fixture
async def rig(store: Store, session: aiohttp.ClientSession) -> AsyncIterator[Rig]:
    clock = Clock()
    port = MemoryPort()
    service = Lifecycle(
        store,
        make_client(session, "http://127.0.0.1:9"),  # never called: no task is queued
        port,
        callback_url="",
        schedule=SCHEDULE,
        clock=clock,
    )
    calls: list[tuple[str, float]] = []

    def noting(kind: str, method: Callable) -> Callable:
        async def call(*args: object) -> object:
            calls.append((kind, clock.now))
            return await method(*args)

        return call

    port.show = noting("show", port.show)  # type: ignore[method-assign]
    port.deliver = noting("post", port.deliver)  # type: ignore[method-assign]
    port.find_delivery = noting("lookup", port.find_delivery)  # type: ignore[method-assign]
    yield Rig(service, port, clock, calls)


async def finished(rig: Rig, *, placed: bool = True, tracks: int = 2) -> TaskRow:
    """A done task whose tracks wait to be posted (under its card if `placed`)."""
    store, now = rig.store, rig.clock.now
    task, _ = await store.create_task(new_task(card_message_id=555 if placed else None), now=now)
    await store.claim_for_submit(task.id, now)
    await store.mark_submitted(task.id, f"api-{task.id}", now=now, next_check_at=now + 1e6)
    data = [TrackData(f"t{i}", audio_url=f"https://cdn.example/{i}.mp3") for i in range(tracks)]
    progress = Progress(stage=Stage.COMPLETE, tracks=data, complete=True, now=now)
    await store.apply_progress(task.id, progress)
    fresh = await store.get_task(task.id)
    assert fresh is not None
    return fresh


async def run_until_quiet(rig: Rig, rounds: int = 200) -> None:
    """The scheduler's choices by hand: draw due cards, post due tracks, move the clock to
    the next due moment; until nothing is due any more (or fail: work left forever)."""
    store, work = rig.store, rig.service.delivery
    for _ in range(rounds):
        for task in await store.tasks_needing_card(rig.clock.now, 100):
            await work.show(task)
        for track in await store.due_deliveries(rig.clock.now, 100):
            await work.deliver(track)
        due = await store.next_due_at()
        if due is None:
            return
        rig.clock.now = max(rig.clock.now, due)
    raise AssertionError(f"still busy after {rounds} rounds")


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in pairwise(times)]


def assert_growing(waits: list[float], first: float = SCHEDULE.retry_base) -> None:
    """Doubling from `first` (jitter ±20 %) until `retry_cap`, then at the cap."""
    below_cap = [w for w in waits if w < 0.8 * SCHEDULE.retry_cap]
    assert below_cap == waits[: len(below_cap)] and len(below_cap) >= 4
    assert all(b > a for a, b in pairwise(below_cap))
    assert all(w <= 1.2 * SCHEDULE.retry_cap for w in waits)
    assert 0.8 * first <= waits[0] <= 1.2 * first


async def tracks_of(rig: Rig, task: TaskRow) -> list[TrackRow]:
    return await rig.store.tracks_for_task(task.id)


# -- status cards ---------------------------------------------------------------------------


async def test_a_card_that_always_fails_is_tried_a_bounded_number_of_times(rig: Rig) -> None:
    task = await finished(rig, tracks=0)
    rig.port.fail_shows = 10**6

    await run_until_quiet(rig)

    shows = rig.times("show")
    assert len(shows) == rig.port.failed_shows == MAX_ATTEMPTS
    assert_growing(gaps(shows))
    ended = await rig.store.get_task(task.id)
    assert ended is not None
    assert (ended.card_dirty, ended.card_attempts, ended.card_error) == (
        False,
        MAX_ATTEMPTS,
        KEPT_FAILING,
    )
    assert await rig.store.tasks_needing_card(rig.clock.now + 1e6, 10) == []
    assert rig.port.given_up == []  # the card was placed: its tracks can still be posted


async def test_a_permanent_card_error_gives_up_at_once(rig: Rig) -> None:
    task = await finished(rig, tracks=0)
    rig.port.fail_shows = 10**6
    rig.port.fail_with = lambda: PermanentDeliveryError(GONE)

    await run_until_quiet(rig)

    assert len(rig.times("show")) == 1
    ended = await rig.store.get_task(task.id)
    assert ended is not None and (ended.card_dirty, ended.card_error) == (False, GONE)


async def test_a_card_given_up_is_tried_once_per_later_change_and_recovers(rig: Rig) -> None:
    task = await finished(rig, tracks=0)
    rig.port.fail_shows = 10**6
    await run_until_quiet(rig)
    assert len(rig.times("show")) == MAX_ATTEMPTS

    await rig.store.mark_card_dirty([task.id], rig.clock.now)  # something a member should see
    await run_until_quiet(rig)
    assert len(rig.times("show")) == MAX_ATTEMPTS + 1  # one more try, not eight

    rig.port.fail_shows = 0  # Discord is back
    await rig.store.mark_card_dirty([task.id], rig.clock.now)
    await run_until_quiet(rig)
    shown = await rig.store.get_task(task.id)
    assert shown is not None
    assert (shown.card_dirty, shown.card_attempts, shown.card_error) == (False, 0, None)


async def test_a_card_that_can_never_be_placed_ends_its_tracks_and_tells_once(rig: Rig) -> None:
    task = await finished(rig, placed=False)
    rig.port.fail_shows = 10**6
    rig.port.fail_with = lambda: PermanentDeliveryError(GONE)

    await run_until_quiet(rig)

    tracks = await tracks_of(rig, task)
    assert [(t.delivery, t.delivery_error) for t in tracks] == [(Delivery.FAILED, GONE)] * 2
    assert rig.port.given_up == [(task.id, GONE)]
    assert rig.times("post") == []


# -- track posts ----------------------------------------------------------------------------


async def test_a_post_that_always_fails_is_tried_a_bounded_number_of_times(rig: Rig) -> None:
    task = await finished(rig, tracks=1)
    rig.port.fail_deliveries = 10**6

    await run_until_quiet(rig)

    posts = rig.times("post")
    assert len(posts) == rig.port.failed_posts == MAX_ATTEMPTS
    assert_growing(gaps(posts))
    [track] = await tracks_of(rig, task)
    assert (track.delivery, track.delivery_error, track.next_delivery_at) == (
        Delivery.FAILED,
        KEPT_FAILING,
        None,
    )
    assert track.delivery_attempts == MAX_ATTEMPTS
    assert await rig.store.due_deliveries(rig.clock.now + 1e6, 10) == []
    assert rig.port.given_up == [(task.id, KEPT_FAILING)]


async def test_a_permanent_post_error_gives_up_at_once_and_tells_once(rig: Rig) -> None:
    task = await finished(rig, tracks=2)
    rig.port.fail_deliveries = 10**6
    rig.port.fail_with = lambda: PermanentDeliveryError("I'm no longer allowed to post there.")

    await run_until_quiet(rig)

    assert len(rig.times("post")) == 2  # one try per track
    tracks = await tracks_of(rig, task)
    assert {t.delivery for t in tracks} == {Delivery.FAILED}
    assert rig.port.given_up == [(task.id, "I'm no longer allowed to post there.")]
    ended = await rig.store.get_task(task.id)
    assert ended is not None and ended.delivery_error == "I'm no longer allowed to post there."
    assert ended.gave_up_at is not None
    # The card says so (drawn again after each give-up, and it works).
    last = rig.port.last_view(task.id)
    assert last.display == "undelivered" and display_of(ended, []) == "undelivered"


async def test_failed_lookups_count_as_attempts(rig: Rig) -> None:
    """A post interrupted before its answer is looked up before it is made again; a lookup
    that keeps failing used to be retried forever, never counted."""
    task = await finished(rig, tracks=1)
    [track] = await tracks_of(rig, task)
    await rig.store.delivery_attempted(track.id)  # the interrupted post
    rig.port.fail_lookups = 10**6

    await run_until_quiet(rig)

    assert len(rig.times("lookup")) == MAX_ATTEMPTS - 1  # the post itself counted once
    assert rig.times("post") == []
    assert_growing(gaps(rig.times("lookup")), first=2 * SCHEDULE.retry_base)
    [ended] = await tracks_of(rig, task)
    assert (ended.delivery, ended.delivery_attempts) == (Delivery.FAILED, MAX_ATTEMPTS)


async def test_a_post_that_recovers_is_posted_once(rig: Rig) -> None:
    task = await finished(rig, tracks=2)
    rig.port.fail_deliveries = 3  # a short outage

    await run_until_quiet(rig)

    tracks = await tracks_of(rig, task)
    assert {t.delivery for t in tracks} == {Delivery.DELIVERED}
    assert rig.port.copies() == [1, 1] and rig.port.given_up == []
    ended = await rig.store.get_task(task.id)
    assert ended is not None and ended.delivery_error is None


async def test_the_requester_is_told_once_even_if_telling_fails(rig: Rig) -> None:
    task = await finished(rig, tracks=2)
    rig.port.fail_deliveries = 10**6
    rig.port.fail_with = lambda: PermanentDeliveryError(GONE)
    told: list[int] = []

    async def unreachable(task: TaskRow, reason: str) -> None:
        told.append(task.id)
        raise RuntimeError("DMs closed")

    rig.port.give_up = unreachable  # type: ignore[method-assign]
    await run_until_quiet(rig)
    assert told == [task.id]


# -- with the real scheduler ------------------------------------------------------------------


async def test_the_scheduler_stops_picking_given_up_work(db_path: Path, music: MusicClient) -> None:
    """Real time, a small schedule: the card fails forever, then nothing is due."""
    store = await Store.open(db_path)
    port = MemoryPort(fail_shows=10**6)
    service = Lifecycle(
        store, music, port, callback_url="", schedule=PollSchedule().scaled(1 / 1000)
    )
    try:
        task, _ = await store.create_task(new_task(card_message_id=555))
        await store.fail_task(task.id, "The music service refused it.", now=service.now())
        service.start()
        await wait_until(lambda: port.failed_shows >= MAX_ATTEMPTS, timeout=5)
        await asyncio.sleep(0.3)  # a ninth try would come within 0.15 s
        assert port.failed_shows == MAX_ATTEMPTS
        assert await store.next_due_at() is None
        ended = await store.get_task(task.id)
        assert ended is not None and ended.card_error == KEPT_FAILING
    finally:
        await service.stop()
        await store.close()

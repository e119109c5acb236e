"""Issue 22: work that outlives its claim. A take deleted while its track uploads stays
deleted; a submission held in the rate limiter past its lease is not judged interrupted by
its own process; an upload that outlives its lease is not posted again by another process.
The core alone, on real stores, with the in-memory port."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from bot.core.tasks import Lifecycle
from bot.store import Delivery, PgStore, Progress, Stage, Store, TaskRow, TaskState, TrackData
from bot.store.leases import Leases
from simulator import Simulator
from simulator.faults import LATE, AnswerShape
from tests.support.factories import make_client, new_task
from tests.support.port import MemoryPort
from tests.support.postgres import fresh_postgres
from tests.support.waiting import wait_until


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


async def finished(store: Store, now: float, *, tracks: int = 1) -> TaskRow:
    """A done task whose tracks wait to be posted under its card."""
    task, _ = await store.create_task(new_task(card_message_id=555), now=now)
    assert await store.lease("task", task.id)
    assert await store.claim_for_submit(task.id, now)
    await store.mark_submitted(task.id, f"api-{task.id}", now=now, next_check_at=now + 1e6)
    data = [TrackData(f"t{i}", audio_url=f"https://cdn.example/{i}.mp3") for i in range(tracks)]
    progress = Progress(stage=Stage.COMPLETE, tracks=data, complete=True, now=now)
    await store.apply_progress(task.id, progress)
    await store.release("task", task.id)
    fresh = await store.get_task(task.id)
    assert fresh is not None
    return fresh


async def test_a_take_deleted_while_its_track_uploads_stays_deleted(
    each_store: Store, session: aiohttp.ClientSession
) -> None:
    """Defect 5: the upload finished after the deletion and recorded the track as
    delivered over `removed`; the post appeared after the deletion and stayed."""
    store, clock = each_store, Clock()
    port = MemoryPort(uploads=asyncio.Event())
    service = Lifecycle(
        store, make_client(session, "http://127.0.0.1:9"), port, callback_url="", clock=clock
    )
    task = await finished(store, clock.now)
    if store.shared:
        await store.beat()
    (due,) = await store.due_deliveries(clock.now, 10)
    track = await store.leased("track", due)
    assert track is not None
    posting = asyncio.create_task(service.delivery.deliver(track))
    await asyncio.wait_for(port.uploading.wait(), 10)

    assert await service.remove(task.id)  # the member deletes the take meanwhile
    port.uploads.set()  # the upload finishes
    await asyncio.wait_for(posting, 10)

    (ended,) = await store.tracks_for_task(task.id)
    assert (ended.delivery, ended.delivery_error, ended.message_id) == (
        Delivery.FAILED,
        "removed",
        None,
    )
    assert port.posts == 1 and port.copies() == [0]  # made once, then withdrawn
    assert await store.due_deliveries(clock.now + 1e6, 10) == []


LEASES = Leases(beat_every=0.1, beat_stale=5.0, task=0.5, card=0.5, track=0.5)


async def pg_process(url: str, owner: str) -> PgStore:
    """A store as one process opens it, with leases scaled down to half a second."""
    store = await PgStore.open(url)
    store.owner, store.leases = owner, LEASES
    return store


async def test_a_submission_held_past_its_lease_is_not_judged_interrupted(
    session: aiohttp.ClientSession, simulator: Simulator, uploads: str
) -> None:
    """Defect 2: the lease included the wait in the rate limiter, so a task claimed after
    it ran out was failed as interrupted by its own process while its POST was on the
    wire (charged, lost). Now the beat renews the lease while the work runs."""
    store = await pg_process(await fresh_postgres(), "host:1:a")
    client = make_client(session, simulator.base_url, limit=1, period=1.0, timeout=10.0)
    service = Lifecycle(store, client, MemoryPort(), callback_url="http://127.0.0.1:9/cb")
    try:
        # Each answer comes 1.5 s late: a submission is on the wire past its lease too.
        simulator.shape_next(AnswerShape(LATE, seconds=1.5), times=3, endpoint="add-instrumental")
        for number in range(3):  # one call a second: the later ones wait past the lease
            await store.create_task(new_task(f"{uploads}/voice.wav", title=f"take {number}"))
        await service.resume()
        await wait_until(lambda: sent(store, 3), timeout=30)
    finally:
        await service.stop()
        tasks = await store.recent_tasks(42, 10)
        await store.close()
    assert [(t.state, t.error) for t in tasks] == [(TaskState.FOLLOWING, None)] * 3
    assert len(simulator.tasks) == 3


async def sent(store: Store, count: int) -> bool:
    tasks = await store.recent_tasks(42, count)
    return all(t.state not in (TaskState.QUEUED, TaskState.SUBMITTING) for t in tasks)


async def test_an_upload_that_outlives_its_lease_is_not_posted_again_by_another_process(
    session: aiohttp.ClientSession,
) -> None:
    """Defect 2: the post's lease ran out under a long upload and another process,
    finding nothing posted yet, posted the track again."""
    url = await fresh_postgres()
    first, second = await pg_process(url, "host:1:a"), await pg_process(url, "host:2:b")
    discord = MemoryPort(uploads=asyncio.Event())  # the first process's upload is slow
    services = []
    for store, port in ((first, discord), (second, MemoryPort(posted=discord.posted))):
        service = Lifecycle(
            store, make_client(session, "http://127.0.0.1:9"), port, callback_url=""
        )
        services.append(service)
    try:
        task = await finished(first, 1_000.0)
        await services[0].resume()
        await asyncio.wait_for(discord.uploading.wait(), 10)
        await services[1].resume()
        await asyncio.sleep(4 * LEASES.track)  # the upload outlives its lease many times
        discord.uploads.set()
        await wait_until(lambda: delivered(first, task.id), timeout=10)
        await asyncio.sleep(4 * LEASES.track)  # time for a second post, if one were coming
    finally:
        for service in services:
            await service.stop()
        await first.close()
        await second.close()
    assert discord.copies() == [1]


async def delivered(store: Store, task_id: int) -> bool:
    return all(t.delivery == Delivery.DELIVERED for t in await store.tracks_for_task(task_id))

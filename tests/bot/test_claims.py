"""Issue 22: work that outlives its claim. A take deleted while its track uploads stays
deleted; a submission held in the rate limiter past its lease is not judged interrupted by
its own process; an upload that outlives its lease is not posted again by another process.
The core alone, on real stores, with the in-memory port."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from bot.core.tasks import Lifecycle
from bot.store import Delivery, Progress, Stage, Store, TaskRow, TrackData
from tests.support.factories import make_client, new_task
from tests.support.port import MemoryPort


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
    service = Lifecycle(
        store, make_client(session, "http://127.0.0.1:9"), callback_url="", clock=clock
    )
    port = MemoryPort(uploads=asyncio.Event())
    service.port = port
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

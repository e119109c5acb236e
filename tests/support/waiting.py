"""Waiting for the real, concurrent code to get somewhere, in real time, with a bound."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from bot.core.tasks import Lifecycle
from bot.store import Delivery, Store, TaskRow, TaskState


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.02
) -> Any:
    """Poll `predicate` (plain or async) until it returns something truthy; returns it or
    fails the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


async def settled(service: Lifecycle, task_id: int, timeout: float = 10.0) -> TaskRow:
    """Wait until the task is final and every ready track is delivered."""

    async def done() -> TaskRow | None:
        task = await service.store.get_task(task_id)
        tracks = await service.store.tracks_for_task(task_id)
        finished = task is not None and not task.active
        delivered = all(t.delivery == Delivery.DELIVERED for t in tracks if t.ready_at)
        return task if finished and delivered else None

    task: TaskRow = await wait_until(done, timeout)
    return task


async def requests_finished(store: Store, requests: int, user_id: int = 42) -> bool:
    """The member's last `requests` tasks are all final, and each done one has every track
    posted (the end of a run of the fault tests and the processes benchmark)."""
    tasks = await store.recent_tasks(user_id, requests)
    if len(tasks) < requests or any(task.active for task in tasks):
        return False
    for task in tasks:
        if task.state == TaskState.DONE:
            tracks = await store.tracks_for_task(task.id)
            if not tracks or any(t.delivery != Delivery.DELIVERED for t in tracks):
                return False
    return True

"""A guard for a large backlog (issue 15): what the scheduler and `resume()` ask SQLite is
a search of an index, never a read of every task, however many are in flight. Not timed:
the query plans of the statements actually run are checked."""

from __future__ import annotations

import re
import time
from pathlib import Path

import aiohttp

from bot.core.tasks import Lifecycle
from bot.music import MusicClient
from bot.store import Store
from simulator import Simulator
from tests.conftest import FAST, FAST_SCHEDULE
from tests.support.backlog import check_at, copy_task_rows
from tests.support.factories import make_client, new_task
from tests.support.port import MemoryPort
from tests.support.waiting import wait_until

BACKLOG = 3000
# A plan line reading a whole table: "SCAN tasks" (no index at all). "SCAN tasks USING
# INDEX tasks_due" walks a partial index in order and stops at the LIMIT: fine.
FULL_SCAN = re.compile(r"^SCAN (tasks|tracks)$")


def lifecycle(store: Store, music: MusicClient, port: MemoryPort) -> Lifecycle:
    return Lifecycle(
        store,
        music,
        port,
        callback_url="https://callbacks.invalid/backline",
        schedule=FAST_SCHEDULE,
    )


async def test_the_scheduler_never_reads_every_task(
    db_path: Path, session: aiohttp.ClientSession, simulator: Simulator, uploads: str
) -> None:
    # The limit lifted: the scaled schedule polls the backlog's due tasks every 0.1 s.
    simulator.config.rate_limit, simulator.config.rate_period = 1000, 1.0
    music = make_client(session, simulator.base_url, limit=1000, period=1.0)
    store = await Store.open(db_path)
    port = MemoryPort()
    # A backlog that stays in flight: one task through the real path, then copies of it.
    simulator.config.first_delay = simulator.config.complete_delay = 3600.0
    svc = lifecycle(store, music, port)
    await svc.resume()
    template, _ = await svc.request(new_task(f"{uploads}/voice.wav"))
    accepted = await wait_until(lambda: _following(store, template.id))
    await svc.stop()
    simulator.config.check_upload = False
    body = simulator.tasks[accepted].params
    await copy_task_rows(
        store, template.id, [simulator.create_task(body).task_id for _ in range(BACKLOG)]
    )
    # Checked on their schedule (20 due now).
    await check_at(
        store,
        "CASE WHEN id % 150 = 0 THEN 0 ELSE ? END",
        "id > ?",
        (time.time() + 3600, template.id),
    )
    # A few quick ones alongside, so cards are drawn and tracks delivered too.
    for name, value in FAST.items():
        setattr(simulator.config, name, value)

    statements: list[str] = []
    await store._conn.set_trace_callback(statements.append)
    svc = lifecycle(store, music, port)
    await svc.resume()
    quick = [(await svc.request(new_task(f"{uploads}/voice.wav")))[0] for _ in range(3)]
    for task in quick:
        await wait_until(lambda task=task: _done(store, task.id))
    await svc.stop()
    await store._conn.set_trace_callback(None)

    checked = 0
    for sql in {s.strip() for s in statements}:
        if not re.match(r"(SELECT|UPDATE|DELETE|WITH)\b", sql) or not re.search(
            r"\b(tasks|tracks)\b", sql
        ):
            continue
        plan = [row[3] for row in await store._fetchall(f"EXPLAIN QUERY PLAN {sql}")]
        assert not any(FULL_SCAN.match(line) for line in plan), f"{sql}\n{plan}"
        checked += 1
    assert checked >= 10  # the round's reads, leases, progress, cards and deliveries
    counts = await store.count_by_state()
    assert counts["following"] == BACKLOG + 1 and counts["done"] == 3
    await store.close()


async def _following(store: Store, task_id: int) -> str | None:
    task = await store.get_task(task_id)
    return task.api_task_id if task is not None and task.state == "following" else None


async def _done(store: Store, task_id: int) -> bool:
    task = await store.get_task(task_id)
    return task is not None and task.state == "done"

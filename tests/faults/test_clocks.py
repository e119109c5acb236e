"""Issue 22: processes whose wall clocks differ (libfaketime, real processes, real
PostgreSQL) agree on time, because every time they compare is the database's."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import Process
from collections import Counter
from pathlib import Path

from bot.store import PgStore, TaskState
from simulator import Simulator, SimulatorConfig
from simulator.faults import Shapes
from tests.support.factories import API_KEY, new_task
from tests.support.faults import free_port
from tests.support.partition import start_worker
from tests.support.postgres import fresh_postgres
from tests.support.skew import skewed
from tests.support.waiting import requests_finished, wait_until
from tests.support.worker import FilePort

LATE = 5.0  # seconds a submission's answer is on the wire (the API's answer comes late)


async def in_flight(store: PgStore) -> bool:
    return any(t.state == TaskState.SUBMITTING for t in await store.recent_tasks(42, 10))


async def slots(url: str, skew: float, *, limit: int, period: float, seconds: float) -> int:
    """Calls one process let out of the shared window in `seconds`."""
    taker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.slots", "--db", url, "--limit", str(limit),
        "--period", str(period), "--for", str(seconds),
        stdout=asyncio.subprocess.PIPE, env=skewed(skew),
    )  # fmt: skip
    out, _ = await asyncio.wait_for(taker.communicate(), 60)
    assert taker.returncode == 0
    return int(out)


async def test_a_clock_running_ahead_does_not_empty_the_shared_rate_window() -> None:
    """Defect 3: a process 30 s ahead dropped the others' slots as old and filled the
    window with slots dated in the future: 40 calls against 20 per 10 s."""
    url = await fresh_postgres()
    assert await slots(url, 0.0, limit=20, period=10.0, seconds=1.5) == 20
    assert await slots(url, 30.0, limit=20, period=10.0, seconds=1.5) == 0  # window full


async def test_a_clock_30_s_ahead_does_not_take_over_a_live_processs_work(
    tmp_path: Path, uploads: str
) -> None:
    """Defect 1: heartbeats dated by each process's clock made the process 30 s ahead see
    the other as dead (silent for 20 s) and fail its submissions in flight as interrupted:
    charged, never delivered. Callbacks off, so nothing else could bring them back."""
    url = await fresh_postgres()
    posts = FilePort(tmp_path / "posts.jsonl")
    config = SimulatorConfig(
        api_key=API_KEY, credits=1e6, seed=1, text_delay=0.3, first_delay=0.6,
        complete_delay=0.9, audio_seconds=0.5, send_callbacks=False,
        shapes=Shapes(late=1.0, late_seconds=LATE, endpoints=("add-instrumental",)),
    )  # fmt: skip
    async with Simulator(config) as sim:
        store = await PgStore.open(url)
        workers: list[Process] = []
        try:
            for number in range(4):
                await store.create_task(new_task(f"{uploads}/voice.wav", title=f"take {number}"))
            command = [
                sys.executable, "-m", "tests.support.worker", "--db", url, "--api",
                sim.base_url, "--posts", str(posts.path), "--scale", str(1 / 20),
                "--timeout", str(2 * LATE), "--port",
            ]  # fmt: skip
            workers.append(await start_worker([*command, str(free_port())], 0.0))
            await wait_until(lambda: in_flight(store), timeout=30)  # its POSTs on the wire
            workers.append(await start_worker([*command, str(free_port())], 30.0))
            await wait_until(lambda: requests_finished(store, 4), timeout=90)
        finally:
            for worker in workers:
                worker.terminate()
                await asyncio.wait_for(worker.wait(), 60)
            tasks = await store.recent_tasks(42, 10)
            await store.close()
    assert [(t.state, t.error) for t in tasks] == [(TaskState.DONE, None)] * 4
    received = Counter(str(t.params.get("title")) for t in sim.tasks.values())
    assert sorted(received.values()) == [1] * 4
    made = Counter((p["task"], p["track"]) for p in posts.posts())
    assert sorted(made.values()) == [1] * 8  # two tracks each, posted once

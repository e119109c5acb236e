"""Several bot processes on one PostgreSQL: real processes, real PostgreSQL, the simulator
over HTTP, posts to a shared append-only file standing in for Discord.

300 requests, 3 processes, one killed with SIGKILL midway and restarted: nothing lost,
nothing posted or submitted twice, and the API never refused a call for the rate limit
(the processes share one limit for the key). The limit is the API's 20 calls per 10 s
scaled to 20 per 1 s (bot and simulator alike) so the run takes a minute, not ten.
"""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE, Process
from collections import Counter
from pathlib import Path

from bot.store import Delivery, PgStore, TaskState
from simulator import Simulator, SimulatorConfig
from tests.support.factories import API_KEY, new_task
from tests.support.faults import free_port, said
from tests.support.postgres import fresh_postgres
from tests.support.worker import FilePort

REQUESTS = 300
PROCESSES = 3
LIMIT, PERIOD = 20, 1.0
FINISH_TIMEOUT = 240.0


async def start(command: list[str]) -> Process:
    worker = await asyncio.create_subprocess_exec(*command, stdout=PIPE)
    await said(worker, "ready")
    return worker


async def progress(store: PgStore, posts: Path) -> tuple[int, bool]:
    """Tracks posted so far, and whether every task has ended with its tracks posted."""
    posted = len(FilePort(posts).posts())
    tasks = await store.recent_tasks(42, REQUESTS)
    if any(task.active for task in tasks):
        return posted, False
    for task in tasks:
        if task.state == TaskState.DONE:
            tracks = await store.tracks_for_task(task.id)
            if not tracks or any(t.delivery != Delivery.DELIVERED for t in tracks):
                return posted, False
    return posted, True


async def test_three_processes_one_killed(tmp_path: Path, uploads: str) -> None:
    url = await fresh_postgres()
    posts = tmp_path / "posts.jsonl"
    config = SimulatorConfig(
        api_key=API_KEY,
        credits=1e6,
        seed=3,
        text_delay=0.3,
        first_delay=0.8,
        complete_delay=1.2,
        rate_limit=LIMIT,
        rate_period=PERIOD,
        audio_seconds=0.5,
        callback_retries=5,
        callback_backoff=1.0,
    )
    async with Simulator(config) as sim:
        store = await PgStore.open(url)
        try:
            for number in range(REQUESTS):
                await store.create_task(new_task(f"{uploads}/voice.wav", title=f"take {number}"))
            commands = [
                [sys.executable, "-m", "tests.support.worker", "--db", url, "--api",
                 sim.base_url, "--port", str(free_port()), "--posts", str(posts),
                 "--limit", str(LIMIT), "--period", str(PERIOD), "--scale", str(1 / 20)]
                for _ in range(PROCESSES)
            ]  # fmt: skip
            workers = [await start(command) for command in commands]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + FINISH_TIMEOUT
            killed = False
            try:
                while loop.time() < deadline:
                    posted, settled = await progress(store, posts)
                    if not killed and posted >= REQUESTS:  # about half the tracks out
                        workers[0].kill()  # SIGKILL: leases and submissions left in flight
                        await workers[0].wait()
                        workers[0] = await start(commands[0])
                        killed = True
                    if settled:
                        break
                    await asyncio.sleep(0.5)
            finally:
                for worker in workers:
                    if worker.returncode is None:
                        worker.terminate()
                codes = [await asyncio.wait_for(w.wait(), 60) for w in workers]

            assert killed and codes == [0] * PROCESSES
            received = Counter(str(task.params.get("title")) for task in sim.tasks.values())
            post_counts = Counter((p["task"], p["track"]) for p in FilePort(posts).posts())
            tasks = await store.recent_tasks(42, REQUESTS)
            interrupted = [t for t in tasks if t.state == TaskState.FAILED]
            lost = [
                t for t in tasks
                if received[t.title] and t.state != TaskState.DONE
            ]  # fmt: skip
            assert len(tasks) == REQUESTS
            assert lost == [], f"{len(lost)} paid tasks not delivered"
            assert [k for k, n in post_counts.items() if n > 1] == []  # posted twice
            assert [k for k, n in received.items() if n > 1] == []  # submitted twice
            assert sim.rejections == 0  # never over the limit, whatever the process
            # A task the killed process was submitting has an unknown fate: failed, not resent.
            assert all(not received[t.title] or t.api_task_id for t in interrupted)
            assert len(interrupted) <= 20
        finally:
            await store.close()

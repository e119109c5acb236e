"""The partition and skew run (issue 22), shared by the fault suite (short) and
`bench/bench_partition.py` (300 requests): three Discord-less bot processes
(`tests.support.worker`) on one PostgreSQL, their wall clocks skewed by tens of seconds
(libfaketime), one paused with SIGSTOP for longer than a lease and resumed, one killed with
SIGKILL and restarted, while the requests run. The API's 20 calls per 10 s and the lease
lengths are scaled down alike so a run takes a minute, not an hour."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from asyncio.subprocess import PIPE, Process
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bot.store import PgStore, TaskState
from bot.store.leases import Leases
from simulator import Simulator, SimulatorConfig
from tests.support.factories import API_KEY, new_task
from tests.support.faults import free_port, said
from tests.support.postgres import fresh_postgres
from tests.support.skew import skewed
from tests.support.waiting import requests_finished
from tests.support.worker import FilePort

LIMIT, PERIOD = 20, 1.0  # the API's 20 per 10 s, scaled
LEASES = 1 / 20  # beat every 0.25 s, dead after 1 s, a task lease 6 s, a post's 30 s
SKEWS = (0.0, 30.0, -20.0)  # seconds each process's wall clock is off
PAUSE = 8.0  # SIGSTOP this long: past a task lease and four times past `beat_stale`


@dataclass
class Figures:
    requests: int
    lost: int  # paid (the API took it) and not delivered
    submitted_twice: int
    posted_twice: int  # a track members still see twice
    made_twice: int  # a track posted twice at some moment (the second withdrawn)
    refusals: int  # the API refused a call for the rate limit (430)
    interrupted: int  # failed as interrupted, never reached the API: retryable, not charged
    seconds: float

    def line(self) -> str:
        return (
            f"lost {self.lost}, submitted twice {self.submitted_twice}, posted twice "
            f"{self.posted_twice} (made twice {self.made_twice}), rate-limit refusals "
            f"{self.refusals}; {self.interrupted} interrupted before the API took them"
        )


async def start_worker(command: list[str], skew: float) -> Process:
    worker = await asyncio.create_subprocess_exec(*command, stdout=PIPE, env=skewed(skew))
    await said(worker, "ready")
    return worker


async def partition_run(folder: Path, upload: str, requests: int, timeout: float) -> Figures:
    url = await fresh_postgres()
    posts = FilePort(folder / "posts.jsonl")
    config = SimulatorConfig(
        api_key=API_KEY, credits=1e9, seed=22, text_delay=0.3, first_delay=0.8,
        complete_delay=1.2, rate_limit=LIMIT, rate_period=PERIOD, audio_seconds=0.5,
        callback_retries=5, callback_backoff=1.0,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    async with Simulator(config) as sim:
        store = await PgStore.open(url)
        store.leases = Leases().scaled(LEASES)
        try:
            for number in range(requests):
                await store.create_task(new_task(upload, title=f"take {number}"))
            commands = [
                [sys.executable, "-m", "tests.support.worker", "--db", url, "--api",
                 sim.base_url, "--port", str(free_port()), "--posts", str(posts.path),
                 "--limit", str(LIMIT), "--period", str(PERIOD), "--scale", str(1 / 20),
                 "--leases", str(LEASES)]
                for _ in SKEWS
            ]  # fmt: skip
            started = loop.time()
            workers = [await start_worker(c, skew) for c, skew in zip(commands, SKEWS, strict=True)]
            paused = killed = False
            try:
                while loop.time() - started < timeout:
                    posted = len(posts.posts())
                    if not paused and posted >= requests // 3:  # a third of the tracks out
                        workers[1].send_signal(signal.SIGSTOP)  # a GC pause, a frozen VM
                        await asyncio.sleep(PAUSE)
                        workers[1].send_signal(signal.SIGCONT)
                        paused = True
                    elif paused and not killed and posted >= requests:  # half of them
                        workers[2].kill()  # SIGKILL: leases and submissions left in flight
                        await workers[2].wait()
                        workers[2] = await start_worker(commands[2], SKEWS[2])
                        killed = True
                    if killed and await requests_finished(store, requests):
                        # A submission the killed process left in flight is failed as
                        # interrupted, and adopted again when its callback reaches the
                        # restarted process: the run is over once the API has nothing more
                        # to tell (its callbacks delivered or given up), not before.
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(timeout - (loop.time() - started)):
                                await sim.wait_idle()
                        if await requests_finished(store, requests):
                            break
                    await asyncio.sleep(0.25)
            finally:
                for worker in workers:
                    if worker.returncode is None:
                        worker.send_signal(signal.SIGCONT)
                        worker.terminate()
                codes = [await asyncio.wait_for(w.wait(), 60) for w in workers]
            elapsed = loop.time() - started
            assert paused and killed, "the run ended before its faults"
            assert codes == [0] * len(SKEWS), f"workers exited with {codes}"
            received = Counter(str(task.params.get("title")) for task in sim.tasks.values())
            tasks = await store.recent_tasks(42, requests)
            made = Counter((p["task"], p["track"]) for p in posts.posts())
            seen = Counter((p["task"], p["track"]) for p in posts.live())
            return Figures(
                requests=len(tasks),
                lost=sum(1 for t in tasks if received[t.title] and t.state != TaskState.DONE),
                submitted_twice=sum(1 for n in received.values() if n > 1),
                posted_twice=sum(1 for n in seen.values() if n > 1),
                made_twice=sum(1 for n in made.values() if n > 1),
                refusals=sim.rejections,
                interrupted=sum(1 for t in tasks if t.state == TaskState.FAILED),
                seconds=elapsed,
            )
        finally:
            await store.close()

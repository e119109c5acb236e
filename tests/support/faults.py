"""The kill -9 scenario shared by the fault suite (tests) and its soak (bench): requests
recorded, a worker process killed with SIGKILL at random moments and restarted, then left
to finish; the figures say what a member or an owner would have lost."""

from __future__ import annotations

import asyncio
import random
import socket
import sys
from asyncio.subprocess import PIPE, Process
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bot.store import Delivery, Store, TaskState
from simulator import Simulator, SimulatorConfig
from tests.support.factories import API_KEY, new_task
from tests.support.waiting import wait_until
from tests.support.worker import FilePort

FINISH_TIMEOUT = 90.0


@dataclass(frozen=True)
class Figures:
    requests: int
    kills: int
    accepted: int  # tasks the API created (paid)
    lost: int  # paid tasks not delivered in full
    posted_twice: int  # tracks posted more than once
    submitted_twice: int  # requests the API received more than once
    unsent_failed: int  # failed before the API had them (no charge, member told)


async def said(worker: Process, word: str) -> None:
    """Until the worker prints `word` ("started" as it begins, "ready" once it runs)."""
    assert worker.stdout is not None
    async with asyncio.timeout(FINISH_TIMEOUT):
        while (line := await worker.stdout.readline()) and line.decode().strip() != word:
            pass
    if not line:
        raise RuntimeError(f"the worker exited before it said {word!r}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def kill_nine(
    folder: Path, *, requests: int = 30, kills: int = 10, seed: int = 0, uploads: str
) -> Figures:
    """`uploads` serves the recordings (a URL whose `/voice.wav` is audio)."""
    rng = random.Random(seed)
    db, posts = folder / "bot.db", folder / "posts.jsonl"
    config = SimulatorConfig(
        api_key=API_KEY,
        seed=seed,
        text_delay=0.2,
        first_delay=0.5,
        complete_delay=0.8,
        rate_limit=200,
        rate_period=1.0,
        audio_seconds=1.0,
        # The provider retries a callback a few times; here its retries outlast the storm
        # of restarts (each takes about a second): a bot that is back within the window
        # learns every task. Past it, a task whose answer was lost cannot be learned (the
        # API has no list of tasks): it stays failed as interrupted, the member told.
        callback_retries=5,
        callback_backoff=1.0,
    )
    async with Simulator(config) as sim:
        command = await _requested(db, posts, sim, requests, uploads)
        for _ in range(kills):
            worker = await asyncio.create_subprocess_exec(*command, stdout=PIPE)
            await said(worker, "ready")
            await asyncio.sleep(rng.uniform(0.0, 0.8))  # anywhere in submitting, following,
            if worker.returncode is None:  # delivering
                worker.kill()
            await worker.wait()
        worker = await asyncio.create_subprocess_exec(*command, stdout=PIPE)
        await _last_run(worker, db, posts, sim, requests)
        return await _figures(db, posts, sim, requests, kills)


async def _requested(
    db: Path, posts: Path, sim: Simulator, requests: int, uploads: str
) -> list[str]:
    """`requests` recorded in the store; the command that runs a worker on them."""
    store = await Store.open(db)
    for number in range(requests):
        await store.create_task(new_task(f"{uploads}/voice.wav", title=f"take {number}"))
    await store.close()
    return [sys.executable, "-m", "tests.support.worker", "--db", str(db), "--api",
            sim.base_url, "--port", str(free_port()), "--posts", str(posts)]  # fmt: skip


async def _last_run(worker: Process, db: Path, posts: Path, sim: Simulator, requests: int) -> None:
    """The worker left to finish, then stopped cleanly (SIGTERM): it must exit 0."""
    try:
        await said(worker, "ready")
        await _settled(db, posts, sim, requests)
    finally:
        worker.terminate()
        code = await asyncio.wait_for(worker.wait(), FINISH_TIMEOUT)
    if code != 0:
        raise RuntimeError(f"the last worker exited with {code}")


async def kill_after_accept(
    folder: Path, *, requests: int = 3, discord_start: float = 12.0, uploads: str
) -> Figures:
    """The API accepts `requests` submissions and the worker dies (SIGKILL) before it hears
    the answers: their API ids are never recorded. The API then finishes them while the
    restarted worker waits `discord_start` seconds for Discord; it retries each callback
    only a few times within seconds. Only those callbacks can save the tasks."""
    db, posts = folder / "bot.db", folder / "posts.jsonl"
    config = SimulatorConfig(
        api_key=API_KEY,
        text_delay=600.0,  # the stages come when the test says (`finish_now`)
        first_delay=600.0,
        complete_delay=600.0,
        audio_seconds=1.0,
        # Each stage's callback is tried at 0, 0.5 and 1.5 s, then given up; the three
        # stages come one after the other: no callback after 4.5 s.
        callback_retries=2,
        callback_backoff=0.5,
        submit_answer_delay=1.0,  # the kill lands between charge and answer
    )
    async with Simulator(config) as sim:
        command = await _requested(db, posts, sim, requests, uploads)
        worker = await asyncio.create_subprocess_exec(*command, stdout=PIPE)
        await said(worker, "started")
        await wait_until(lambda: len(sim.tasks) >= requests, FINISH_TIMEOUT, step=0.01)
        worker.kill()
        await worker.wait()
        command += ["--discord-start", str(discord_start)]
        worker = await asyncio.create_subprocess_exec(*command, stdout=PIPE)
        await said(worker, "started")  # its store is not even open yet
        for task_id in list(sim.tasks):
            sim.finish_now(task_id)
        await _last_run(worker, db, posts, sim, requests)
        return await _figures(db, posts, sim, requests, 1)


async def _settled(db: Path, posts: Path, sim: Simulator, requests: int) -> None:
    """Until every paid task is delivered and nothing is still running, or the time-out
    (then the figures tell what was lost)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FINISH_TIMEOUT
    while loop.time() < deadline:
        figures = await _figures(db, posts, sim, requests, 0)
        store = await Store.open(db)
        try:
            idle = await store.is_idle()
        finally:
            await store.close()
        if idle and figures.lost == 0:
            return
        await asyncio.sleep(0.25)


async def _figures(db: Path, posts: Path, sim: Simulator, requests: int, kills: int) -> Figures:
    received = Counter(str(task.params.get("title")) for task in sim.tasks.values())
    post_counts = Counter((p["task"], p["track"]) for p in FilePort(posts).posts())
    store = await Store.open(db)
    try:
        lost = unsent = 0
        for task in await store.recent_tasks(42, requests):
            tracks = await store.tracks_for_task(task.id)
            delivered = task.state == TaskState.DONE and all(
                t.delivery == Delivery.DELIVERED for t in tracks
            )
            if received[task.title] and not delivered:
                lost += 1
            if not received[task.title] and task.state == TaskState.FAILED:
                unsent += 1
    finally:
        await store.close()
    return Figures(
        requests=requests,
        kills=kills,
        accepted=len(sim.tasks),
        lost=lost,
        posted_twice=sum(1 for n in post_counts.values() if n > 1),
        submitted_twice=sum(1 for n in received.values() if n > 1),
        unsent_failed=unsent,
    )

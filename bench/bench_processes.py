"""Issue 14: throughput and completion → post latency with 1, 2 and 4 bot processes on
PostgreSQL, and 1 on SQLite, in the same run.

Each configuration gets the same requests: Discord-less bot processes (`tests.support.worker`:
the real store, client, lifecycle and web server, callbacks on; posts go to a shared file),
the simulator over HTTP with callbacks, the API's limit of 20 calls per 10 s scaled to 20
per 1 s for bot and simulator alike. Figures: requests finished per second (all tracks
posted), and the time from the simulator making each track ready to its post (p50, p95).

    .venv/bin/python -m bench.bench_processes [--tasks 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from asyncio.subprocess import PIPE, Process
from pathlib import Path

from aiohttp import web

from bench.common import Report, fresh_database
from bot.store import TaskState, open_store
from simulator import Simulator, SimulatorConfig
from simulator.media import make_wav
from tests.support.factories import API_KEY, new_task
from tests.support.faults import free_port, said
from tests.support.waiting import requests_finished
from tests.support.worker import FilePort

LIMIT, PERIOD = 20, 1.0
TIMEOUT = 600.0


async def serve_upload() -> tuple[web.AppRunner, str]:
    wav = make_wav(6.0)

    async def voice(_: web.Request) -> web.Response:
        return web.Response(body=wav, content_type="audio/wav")

    app = web.Application()
    app.router.add_get("/voice.wav", voice)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/voice.wav"


async def run(database: str, processes: int, tasks: int, upload: str) -> dict[str, float]:
    config = SimulatorConfig(
        api_key=API_KEY, credits=1e9, seed=5, text_delay=0.5, first_delay=1.5,
        complete_delay=2.5, rate_limit=LIMIT, rate_period=PERIOD, audio_seconds=0.5,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        posts = Path(folder) / "posts.jsonl"
        async with Simulator(config) as sim:
            store = await open_store(database)
            workers: list[Process] = []
            try:
                for number in range(tasks):
                    await store.create_task(new_task(upload, title=f"take {number}"))
                started = time.monotonic()
                for _ in range(processes):
                    worker = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "tests.support.worker", "--db", database,
                        "--api", sim.base_url, "--port", str(free_port()), "--posts", str(posts),
                        "--limit", str(LIMIT), "--period", str(PERIOD), "--scale", str(1 / 20),
                        stdout=PIPE,
                    )  # fmt: skip
                    await said(worker, "ready")
                    workers.append(worker)
                while not await requests_finished(store, tasks):
                    if time.monotonic() - started > TIMEOUT:
                        raise TimeoutError("not settled")
                    await asyncio.sleep(0.2)
                elapsed = time.monotonic() - started
                done = {t.id: t for t in await store.recent_tasks(42, tasks)}
            finally:
                for worker in workers:
                    worker.terminate()
                for worker in workers:
                    await worker.wait()
                await store.close()
            ready_at = {  # when the simulator made each track ready, wall clock: the first
                # at the task's "first" stage, the second at completion
                track.track_id: sim_task.created_ms / 1000 + sim_task.delays[min(1 + n, 2)]
                for sim_task in sim.tasks.values()
                for n, track in enumerate(sim_task.tracks)
            }
            latencies = [
                post["message"] / 1e9 - ready_at[str(post["track"])]
                for post in FilePort(posts).posts()
            ]
            return {
                "throughput": sum(t.state == TaskState.DONE for t in done.values()) / elapsed,
                "p50": statistics.median(latencies),
                "p95": statistics.quantiles(latencies, n=20)[18],
                "rejections": float(sim.rejections),
            }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    args = parser.parse_args()
    runner, upload = await serve_upload()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for engine, processes in (
                ("sqlite", 1),
                ("postgresql", 1),
                ("postgresql", 2),
                ("postgresql", 4),
            ):
                url = await fresh_database(engine, Path(folder))
                name = "SQLite" if engine == "sqlite" else "PostgreSQL"
                rows.append((name, processes, await run(url, processes, args.tasks, upload)))
    finally:
        await runner.cleanup()
    base = rows[0][2]["throughput"]
    report = Report("backline processes benchmark (issue 14)")
    report.param("requests", f"{args.tasks}, callbacks on, Discord-less worker processes")
    report.param("rate limit", f"{LIMIT} calls per {PERIOD:g} s (20 per 10 s scaled)")
    for engine, processes, figures in rows:
        throughput = figures["throughput"]
        report.section(f"{engine}, {processes} process{'es' if processes > 1 else ''}")
        report.figure(
            "requests/s (against SQLite, 1 process)", f"{throughput:.2f} ({throughput / base:.2f})"
        )
        report.figure(
            "track ready -> posted p50 / p95", f"{figures['p50']:.2f} s / {figures['p95']:.2f} s"
        )
        rejections = figures["rejections"]
        report.figure("rate-limit rejections (430)", f"{rejections:.0f}", "0", rejections == 0)
    report.print()


if __name__ == "__main__":
    asyncio.run(main())

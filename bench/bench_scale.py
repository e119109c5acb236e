"""Issues 3 (b) and 15 (4): 100,000 tasks in flight in one process, on SQLite or
PostgreSQL: memory, event-loop lag, and resume after a restart.

    python -m bench.bench_scale [--engine sqlite|postgresql] [--tasks 100000] [--duration 60]

Real time scale, default PollSchedule, the API's real limit (20 requests per 10 s). The
simulator runs in a child process (the API is remote in production), so this process's
memory and event loop are the bot's alone.

1. setup: the first 1,000 requests are recorded with `Lifecycle.request` and submitted by
   the scheduler through the real path, against a simulator whose limit is lifted for the
   setup only (a separate API key, so the setup's burst does not count against the real
   limit afterwards); the rest are copies of the first (`clone_in_flight`: the simulator
   accepts the same submission again, the store gets a copy of the row), since the real
   path at the API's limit would take hours. Generation takes 30 minutes, so every task
   stays in flight.
2. steady: the real limit is set (simulator 20/10 s, client RateLimiter(20, 10)); the
   scheduler follows every task for --duration seconds. At 2 calls/s most polls are
   late: expected; the loop must stay responsive.
3. restart: the service dies (stop + close store, no clean shutdown of tasks); a new store
   and Lifecycle open the same database; `await resume()` is timed, then the time until the
   scheduler's first round has completed.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import (
    ENGINES,
    NO_CALLBACK_URL,
    LagProbe,
    MemoryPort,
    Report,
    SimulatorProcess,
    api_calls,
    clone_in_flight,
    fresh_database,
    make_client,
    new_task,
    percentile,
    proc_status_mb,
    quiet_logging,
)
from bot.core.tasks import Lifecycle, PollSchedule
from bot.store import Store, open_store
from tests.support.backlog import check_at

SETUP_KEY = "bench-setup-key-0123456789"
REAL_KEY = "bench-real-key-0123456789"
THROUGH_THE_API = 1000  # tasks recorded and submitted through the real path in the setup


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_scale")
    add = parser.add_argument
    add("--engine", choices=ENGINES, default="sqlite", help="the store's engine (sqlite)")
    add("--tasks", type=int, default=100_000, help="tasks in flight (default 100000)")
    add("--duration", type=float, default=60.0, help="seconds of the steady phase (60)")
    add("--after", type=float, default=15.0, help="seconds measured after the restart (15)")
    add("--setup-timeout", type=float, default=600.0, help="give up on the setup after this")
    return parser.parse_args()


def lag_figures(report: Report, label: str, samples: list[float], target: bool) -> None:
    p50, p99 = percentile(samples, 50) * 1000, percentile(samples, 99) * 1000
    worst = max(samples, default=0.0) * 1000
    report.figure(
        f"loop lag p99, {label}",
        f"{p99:.1f} ms (p50 {p50:.1f}, max {worst:.0f}, n={len(samples)})",
        "<= 50 ms" if target else "",
        p99 <= 50 if target else None,
    )


async def sample_rss(into: list[float]) -> None:
    while True:
        into.append(proc_status_mb("VmRSS"))
        await asyncio.sleep(1.0)


async def wait_state(store: Store, state: str, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await store.count_by_state()).get(state, 0) >= count:
            return True
        await asyncio.sleep(0.5)
    return False


async def run(args: argparse.Namespace, report: Report) -> None:
    n = args.tasks
    report.param("engine", args.engine)
    report.param("tasks in flight", n)
    report.param("time scale", "real (1.0); default PollSchedule, task time-out 20 min")
    report.param("rate limit", "setup: lifted (own key); steady and restart: 20 per 10 s")
    report.param("generation (simulator)", "text 30 s, first 1500 s, done 1800 s (stays in flight)")
    report.param("steady phase", f"{args.duration:g} s; after restart {args.after:g} s")
    report.param("simulator", "child process, HTTP on 127.0.0.1, check_upload off")
    report.param("lag probe", "asyncio.sleep(10 ms) in a loop, overshoot recorded")

    sim = SimulatorProcess.for_backlog()
    sim.start()
    probe = LagProbe()
    rss: list[float] = []
    try:
        async with aiohttp.ClientSession() as http:
            with tempfile.TemporaryDirectory(prefix="backline-bench-") as tmp:
                url = await fresh_database(args.engine, Path(tmp))
                await _phases(args, report, sim, http, url, probe, rss)
    finally:
        await probe.stop()
        sim.stop()


async def _phases(
    args: argparse.Namespace,
    report: Report,
    sim: SimulatorProcess,
    http: aiohttp.ClientSession,
    url: str,
    probe: LagProbe,
    rss: list[float],
) -> None:
    n = args.tasks
    baseline = proc_status_mb("VmRSS")
    store = await open_store(url)
    setup_client = make_client(http, sim.base_url, limit=1_000_000, period=1.0, api_key=SETUP_KEY)
    port = MemoryPort(keep_views=False)
    # Setup only submits: the first checks come after it, so polls do not take turns with
    # the submissions here (they do in the steady phase).
    svc = Lifecycle(
        store,
        setup_client,
        port,
        callback_url=NO_CALLBACK_URL,
        schedule=PollSchedule(first_check=3600),
    )
    probe.start()
    sampler = asyncio.create_task(sample_rss(rss))

    # -- 1. setup -----------------------------------------------------------------------
    mark = probe.mark()
    real = min(n, THROUGH_THE_API)
    started = time.monotonic()
    first, _ = await svc.request(new_task(user_id=1))
    for _ in range(real - 1):
        await svc.request(new_task(user_id=1))
    recorded = time.monotonic() - started
    await svc.resume()
    submitted_ok = await wait_state(store, "following", real, args.setup_timeout)
    submitted = time.monotonic() - started - recorded
    setup_lag = probe.since(mark)
    await svc.stop()  # the copies are made with the scheduler off, then it follows them all
    started = time.monotonic()
    await clone_in_flight(store, sim, http, first.id, n - real)
    cloned = time.monotonic() - started
    report.section(f"setup: {n} tasks in flight (limit lifted)")
    report.figure(
        f"record {real} (Lifecycle.request)", f"{recorded:.1f} s ({real / recorded:.0f}/s)"
    )
    report.figure(
        f"submit {real} through the scheduler",
        f"{submitted:.1f} s ({real / submitted:.0f}/s)" if submitted_ok else "NOT FINISHED",
        "",
        None if submitted_ok else False,
    )
    lag_figures(report, "during setup", setup_lag, target=False)
    report.figure(f"copy {n - real} more (clone_in_flight)", f"{cloned:.1f} s")

    # -- 2. steady ----------------------------------------------------------------------
    # Every task due for a check within the next 30 s, as after a real steady submission rate.
    await check_at(store, "? + (id % 30)", "state = 'following'", (time.time(),))
    before = await sim.stats(http)
    await sim.configure(http, rate_limit=20, rate_period=10.0)
    real_client = make_client(http, sim.base_url, api_key=REAL_KEY)  # 20 per 10 s
    svc = Lifecycle(store, real_client, port, callback_url=NO_CALLBACK_URL)  # default schedule
    svc.start()
    mark = probe.mark()
    rss_mark = len(rss)
    await asyncio.sleep(args.duration)
    steady_lag = probe.since(mark)
    after = await sim.stats(http)
    steady_rss = max(rss[rss_mark:], default=proc_status_mb("VmRSS"))
    polls = api_calls(after["calls"], "record-info") - api_calls(before["calls"], "record-info")
    counts = await store.count_by_state()
    report.section(f"steady: {n} tasks followed for {args.duration:g} s at 20 requests / 10 s")
    report.figure(
        "tasks in flight at the end",
        str(counts.get("following", 0)),
        f"{n}",
        counts.get("following", 0) == n,
    )
    report.figure("record-info calls (rate-limited)", f"{polls} ({polls / args.duration:.2f}/s)")
    report.figure(
        "rate-limit rejections (430)", str(after["rejections"]), "0", after["rejections"] == 0
    )
    lag_figures(report, "steady", steady_lag, target=True)
    report.figure(
        "resident memory (VmRSS), max in steady",
        f"{steady_rss:.0f} MB",
        "<= 300 MB",
        steady_rss <= 300,
    )

    # -- 3. restart ---------------------------------------------------------------------
    await svc.stop()
    await store.close()
    del svc, store
    mark = probe.mark()
    t0 = time.monotonic()
    store = await open_store(url)
    t_open = time.monotonic()
    svc = Lifecycle(store, real_client, port, callback_url=NO_CALLBACK_URL)
    await svc.resume()
    t_resume = time.monotonic()
    # The scheduler sets `heartbeat` after each round; no event to wait on, so poll it.
    while svc.heartbeat == 0.0 and time.monotonic() - t_resume < 60:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    t_round = time.monotonic()
    await asyncio.sleep(args.after)
    restart_lag = probe.since(mark)
    final = await sim.stats(http)
    counts = await store.count_by_state()
    await svc.stop()
    await store.close()
    sampler.cancel()
    report.section("restart: new store + Lifecycle on the same database")
    report.figure("open_store (migrations check)", f"{(t_open - t0) * 1000:.0f} ms")
    resume = t_resume - t_open
    report.figure("await resume()", f"{resume * 1000:.0f} ms", "<= 2 s", resume <= 2.0)
    first_round = t_round - t0
    report.figure(
        "open -> first scheduler round done",
        f"{first_round * 1000:.0f} ms",
        "<= 2 s",
        first_round <= 2.0,
    )
    report.figure(
        "tasks in flight after restart",
        str(counts.get("following", 0)),
        f"{n}",
        counts.get("following", 0) == n,
    )
    report.figure(
        "rate-limit rejections (430), total",
        str(final["rejections"]),
        "0",
        final["rejections"] == 0,
    )
    lag_figures(report, f"{args.after:g} s after restart", restart_lag, target=True)
    peak = proc_status_mb("VmHWM")
    report.section("memory (this process: bot + benchmark harness)")
    report.figure("VmRSS before the store was opened", f"{baseline:.0f} MB")
    report.figure("VmRSS at the end", f"{proc_status_mb('VmRSS'):.0f} MB")
    report.figure("peak VmHWM (whole run)", f"{peak:.0f} MB", "<= 300 MB", peak <= 200)
    report.figure("status cards drawn / tracks posted", f"{port.shows} / {port.posts}")


async def main() -> None:
    args = parse_args()
    quiet_logging()
    report = Report(f"backline scale benchmark on {args.engine} (issues 3b, 15)")
    await run(args, report)
    report.print()


if __name__ == "__main__":
    asyncio.run(main())

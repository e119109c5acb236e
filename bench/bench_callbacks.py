"""Issue 5: callbacks on: API completion -> first track delivered, and record-info calls.

    python -m bench.bench_callbacks [--tasks 200] [--scale 0.1] [--rate 20 | --burst]

The bot's real WebServer (bot.web) listens on 127.0.0.1 (any free port) with a secret made
by `bot.web.callback_secret` (kept in the store); the Lifecycle has callbacks_enabled=True
and sends `bot.web.callback_url(...)` with each submission, so the simulator POSTs every
stage to it. Polling stays on as the safety net.

Time scale: the simulator's stage times (30/90/150 s), the PollSchedule, the API's window
(20 requests per 10 s) and the client's backoff are all multiplied by --scale, so safety
polls keep their real proportion to the generation time. The completion -> delivery
latency involves no scaled wait (callback, store, scheduler, port), so it is reported as
measured, in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import aiohttp

from bench.common import (
    API_KEY,
    MemoryPort,
    Report,
    api_calls,
    delivery_latencies,
    feed_until_idle,
    make_client,
    percentile,
    quiet_logging,
    seconds,
)
from bot.core.tasks import PollSchedule
from simulator import Simulator, SimulatorConfig
from tests.support.rig import open_rig

USER = 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_callbacks")
    add = parser.add_argument
    add("--tasks", type=int, default=200, help="tasks to run (default 200)")
    add("--scale", type=float, default=0.1, help="time scale factor (default 0.1)")
    add("--rate", type=float, default=20.0, help="arrivals per real-scale minute (default 20)")
    add("--burst", action="store_true", help="all tasks arrive at once instead of --rate")
    add("--timeout", type=float, default=300.0, help="give up after this many wall seconds")
    add("--seed", type=int, default=5)
    return parser.parse_args()


async def run(args: argparse.Namespace, report: Report) -> None:
    scale = args.scale
    defaults = SimulatorConfig()
    config = SimulatorConfig(
        api_key=API_KEY,
        rate_limit=20,
        rate_period=10.0 * scale,
        check_upload=False,
        send_callbacks=True,
        credits=1e9,
        audio_seconds=0.5,
        text_delay=defaults.text_delay * scale,
        first_delay=defaults.first_delay * scale,
        complete_delay=defaults.complete_delay * scale,
        seed=args.seed,
    )
    schedule = PollSchedule().scaled(scale)
    report.param("tasks", args.tasks)
    report.param("scale factor", f"{scale:g} (1/{1 / scale:g})")
    report.param(
        "generation (simulator)",
        f"text {config.text_delay:g} s, first {config.first_delay:g} s, done "
        f"{config.complete_delay:g} s (real 30/90/150 s)",
    )
    report.param(
        "poll schedule",
        f"PollSchedule().scaled({scale:g}): first check {schedule.first_check:g} s, "
        f"safety poll every {schedule.callback_interval:g} s once a callback is seen",
    )
    report.param("rate limit", f"20 per {10 * scale:g} s (real: 20 per 10 s)")
    report.param(
        "arrivals",
        "all at once" if args.burst else f"{args.rate:g} per real minute, evenly spaced",
    )
    report.param("callbacks", "on: simulator -> bot.web.WebServer on 127.0.0.1, real secret")

    async with Simulator(config) as sim, aiohttp.ClientSession() as http:
        client = make_client(
            http, sim.base_url, period=10.0 * scale, margin=0.25 * scale, backoff=scale
        )
        port = MemoryPort(keep_views=False)
        with tempfile.TemporaryDirectory(prefix="backline-bench-") as tmp:
            # The core as the bot builds it, its callback receiver listening (the tests' rig).
            async with open_rig(
                Path(tmp) / "backline.db",
                client,
                schedule=schedule,
                task_timeout=20 * 60.0 * scale,
                port=port,
            ) as rig:
                gap = 0.0 if args.burst else 60.0 / args.rate * scale
                finished, wall = await feed_until_idle(
                    rig.service, tasks=args.tasks, gap=gap, timeout=args.timeout, user_id=USER
                )
                counts = await rig.store.count_by_state()
                tasks = await rig.store.recent_tasks(USER, limit=args.tasks + 1)

    n = max(1, len(tasks))
    every, firsts = delivery_latencies(sim, port)
    record_info = api_calls(sim.calls, "record-info")
    submits = api_calls(sim.calls, "add-instrumental")
    sent = len(sim.callbacks_sent)
    delivered = sum(1 for c in sim.callbacks_sent if c["delivered"])
    polls = [t.poll_count for t in tasks]
    p50_first = percentile(firsts, 50)

    report.section(f"{args.tasks} tasks with callbacks")
    report.figure("finished within time-out", "yes" if finished else "NO", "yes", finished)
    report.figure(
        "tasks done / failed",
        f"{counts.get('done', 0)} / {counts.get('failed', 0)}",
        f"{args.tasks} / 0",
        counts.get("done", 0) == args.tasks,
    )
    report.figure("callbacks sent / answered 2xx", f"{sent} / {delivered}")
    report.figure("tracks delivered twice", str(port.duplicates), "0", port.duplicates == 0)
    report.figure("rate-limit rejections (430)", str(sim.rejections), "0", sim.rejections == 0)
    report.figure("submissions per task", f"{submits / n:.2f}", "1.00", submits == n)
    report.figure(
        "record-info calls per task", f"{record_info / n:.2f}", "<= 3", record_info / n <= 3
    )
    report.figure("  record-info per task p50 / max", f"{percentile(polls, 50):.0f} / {max(polls)}")
    report.figure(
        "API completion -> first track delivered p50",
        seconds(p50_first, 3),
        "<= 0.5 s",
        p50_first <= 0.5,
    )
    report.figure("API completion -> first track delivered p95", seconds(percentile(firsts, 95), 3))
    report.figure(
        "API completion -> any track delivered p50 / p95",
        f"{seconds(percentile(every, 50), 3)} / {seconds(percentile(every, 95), 3)}",
    )
    report.figure("wall time", f"{wall:.1f} s (real-scale {wall / scale / 60:.0f} min)")
    report.note(
        "latency includes the simulator's callback ticker (fires stages within 20 ms), the "
        "HTTP POST, the store transaction, the scheduler's wake-up and the port's post."
    )


async def main() -> None:
    args = parse_args()
    quiet_logging()
    report = Report("backline callbacks benchmark (issue 5)")
    await run(args, report)
    report.print()


if __name__ == "__main__":
    asyncio.run(main())

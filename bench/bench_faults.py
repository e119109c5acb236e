"""The fault suite's soak (issue 9): the kill -9 scenario of `tests/faults/` run many times
with different seeds, the figures summed. On demand, not in CI.

Each run: 30 requests recorded, a Discord-less bot process (real store, client, lifecycle,
web server; callbacks on) killed with SIGKILL at a random moment after it is ready, 10
times, then left to finish against the simulator over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from aiohttp import web

from bench.common import Report, quiet_logging
from simulator.media import make_wav
from tests.support.faults import kill_nine
from tests.support.servers import serve


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=100, help="first seed; one per run")
    return parser.parse_args()


async def main() -> None:
    args = parse_args()
    quiet_logging()
    report = Report("backline fault soak: kill -9 at random moments (issue 9)")
    for name in ("runs", "requests", "kills", "seed"):
        report.param(name, getattr(args, name))
    wav = make_wav(12.0)
    app = web.Application()

    async def voice(_: web.Request) -> web.Response:
        return web.Response(body=wav, content_type="audio/wav")

    app.router.add_get("/voice.wav", voice)
    totals = {"accepted": 0, "lost": 0, "posted_twice": 0, "submitted_twice": 0, "unsent": 0}
    started = time.monotonic()
    async with serve(app) as uploads:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                figures = await kill_nine(
                    Path(folder),
                    requests=args.requests,
                    kills=args.kills,
                    seed=args.seed + run,
                    uploads=uploads,
                )
            totals["accepted"] += figures.accepted
            totals["lost"] += figures.lost
            totals["posted_twice"] += figures.posted_twice
            totals["submitted_twice"] += figures.submitted_twice
            totals["unsent"] += figures.unsent_failed
            print(f"run {run + 1}/{args.runs}: {figures}", flush=True)
    requests = args.runs * args.requests
    report.figure("requests / processes killed", f"{requests} / {args.runs * args.kills}")
    report.figure("paid tasks (the API created them)", str(totals["accepted"]))
    report.figure("paid tasks lost", str(totals["lost"]), "0", totals["lost"] == 0)
    report.figure(
        "tracks posted twice", str(totals["posted_twice"]), "0", totals["posted_twice"] == 0
    )
    report.figure(
        "requests submitted twice",
        str(totals["submitted_twice"]),
        "0",
        totals["submitted_twice"] == 0,
    )
    report.figure("failed before sending (no charge, member told)", str(totals["unsent"]))
    report.note(f"wall time {time.monotonic() - started:.0f} s")
    report.print()


if __name__ == "__main__":
    asyncio.run(main())

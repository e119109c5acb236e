"""Issue 22: the partition and skew run with 300 requests (the fault suite runs 60):
three bot processes on one PostgreSQL, wall clocks +0 s, +30 s and -20 s (libfaketime),
one paused with SIGSTOP past its leases and resumed, one killed with SIGKILL and
restarted (tests/support/partition.py). Prints the figures; each must be 0.

    .venv/bin/python -m bench.bench_partition [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bench.bench_processes import serve_upload
from bench.common import Report
from tests.support.partition import PAUSE, SKEWS, partition_run


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    runner, upload = await serve_upload()
    try:
        with tempfile.TemporaryDirectory() as folder:
            figures = await partition_run(Path(folder), upload, args.requests, timeout=900.0)
    finally:
        await runner.cleanup()
    report = Report("backline partition and skew benchmark (issue 22)")
    report.param("requests", f"{figures.requests}, 3 processes, callbacks on")
    report.param("clocks", ", ".join(f"{skew:+g} s" for skew in SKEWS))
    report.param("faults", f"SIGSTOP {PAUSE:g} s (past a lease), SIGKILL and restart")
    for name, value in (
        ("lost (paid, not delivered)", figures.lost),
        ("submitted twice", figures.submitted_twice),
        ("posted twice (still visible)", figures.posted_twice),
        ("rate-limit refusals (430)", figures.refusals),
    ):
        report.figure(name, f"{value}", "0", value == 0)
    report.figure("posted twice, then withdrawn", f"{figures.made_twice}")
    report.figure("interrupted before the API took them", f"{figures.interrupted}")
    report.figure("run time", f"{figures.seconds:.0f} s")
    report.print()


if __name__ == "__main__":
    asyncio.run(main())

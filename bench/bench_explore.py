"""The fault explorer (tests/explore/) over thousands of seeds, on demand: episodes of the
real task core against the simulator over HTTP, faults drawn at every step, invariants
checked after each. Prints episodes, faults injected (by kind), violations (by invariant
and by defect of issue 21, with the seeds that found them and the line that replays one).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.common import Report, quiet_logging
from tests.explore.episode import Result
from tests.explore.invariants import INVARIANTS
from tests.explore.runner import CRASHED, HUNG, reproduce, run_seeds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--first", type=int, default=0, help="first seed; one per episode")
    parser.add_argument("--jobs", type=int, default=8, help="episodes at a time")
    return parser.parse_args()


async def main() -> None:
    args = parse_args()
    quiet_logging()
    report = Report("backline fault explorer: seeded episodes, invariants after each (issue 21)")
    for name in ("episodes", "first", "jobs"):
        report.param(name, getattr(args, name))
    started = time.monotonic()
    done = 0

    def each(result: Result) -> None:
        nonlocal done
        done += 1
        for violation in result.violations:
            print(f"seed {result.setting.seed}: {violation.line()}", flush=True)
        if done % 100 == 0:
            print(f"{done}/{args.episodes} episodes", flush=True)

    seeds = range(args.first, args.first + args.episodes)
    figures = await run_seeds(seeds, jobs=args.jobs, each=each)
    report.figure("episodes", str(figures.episodes))
    report.figure("process kills and restarts", str(figures.restarts))
    report.figure("faults injected", str(figures.faults))
    report.section("faults by kind")
    for kind, count in sorted(figures.kinds.items(), key=lambda item: -item[1]):
        report.figure(f"  {kind}", str(count))
    report.section("violations")
    by_invariant = figures.by_invariant()
    for invariant in (*INVARIANTS, CRASHED, HUNG):
        count = by_invariant.get(invariant, 0)
        report.figure(f"  {invariant}", str(count), "0", count == 0)
    total = len(figures.violations)
    report.figure("violations", str(total), "0", total == 0)
    for defect, found in sorted(figures.by_defect().items()):
        name = f"defect {defect}" if defect != "other" else "no known defect"
        shown = ", ".join(str(seed) for seed in found[:8])
        more = f" (+{len(found) - 8})" if len(found) > 8 else ""
        report.note(f"{name}: {len(found)} seeds: {shown}{more}; e.g. {reproduce(found[0])}")
    report.note(f"wall time {time.monotonic() - started:.0f} s")
    report.print()


if __name__ == "__main__":
    asyncio.run(main())

"""`python -m tests.explore --seed N` (one episode, told in full) or `--episodes K
--first S` (K seeds from S): each violation on one line with the line that replays it."""

from __future__ import annotations

import argparse
import asyncio
import logging

from tests.explore.episode import Result
from tests.explore.runner import reproduce, run_seeds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, action="append", help="replay this seed (repeatable)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--first", type=int, default=0, help="first seed of --episodes")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each seed this many times (the event "
        "loop's timing is not part of the seed: a race may need a few runs)",
    )
    parser.add_argument("--jobs", type=int, default=4, help="episodes at a time")
    parser.add_argument("--verbose", action="store_true", help="the core's warnings too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    seeds = (args.seed or list(range(args.first, args.first + args.episodes))) * args.repeat
    told = args.seed is not None

    def each(result: Result) -> None:
        if told:
            print(result.setting.describe())
        for violation in result.violations:
            print(f"seed {result.setting.seed}: {violation.line()}")
            print(f"  reproduce: {reproduce(result.setting.seed)}")

    figures = asyncio.run(run_seeds(seeds, jobs=args.jobs, each=each))
    print(figures.summary())
    return 1 if figures.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())

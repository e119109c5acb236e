"""A process that takes what it can of the shared rate window (PostgreSQL) for a while
and prints how many calls it let out: `python -m tests.support.slots --db … --limit 20
--period 10 --for 2`. Each call is answered at once."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bot.music.ratelimit import SharedRateLimiter
from bot.store import open_store


async def run(db: str, limit: int, period: float, seconds: float) -> int:
    store = await open_store(db)
    limiter = SharedRateLimiter(
        store.take_api_slot, store.api_slot_answered, limit, period, margin=0.0
    )
    taken = 0

    async def take() -> None:
        nonlocal taken
        while True:
            await limiter.acquire()
            taken += 1
            await limiter.release()

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):  # this process's own wait: monotonic
            await take()
    await store.close()
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--limit", type=int, required=True)
    parser.add_argument("--period", type=float, required=True)
    parser.add_argument("--for", dest="seconds", type=float, required=True)
    args = parser.parse_args()
    print(asyncio.run(run(args.db, args.limit, args.period, args.seconds)), flush=True)


if __name__ == "__main__":
    main()

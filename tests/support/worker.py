"""A bot process without Discord, for the fault suite: the bot's own services (store, music
client, lifecycle, web server with callbacks on) in the bot's start-up order; posts go to an
append-only file, the way Discord keeps messages, so a post survives the process that made
it.

`python -m tests.support.worker --db … --api … --port … --posts …` runs like a bot: until
SIGTERM (then it stops cleanly and exits 0). It prints "started" as it begins and "ready"
once its loops run. The fault suite kills it with SIGKILL at random moments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

from bot.core.tasks import PollSchedule, PostMark, Shown, TaskView
from bot.music.ratelimit import SharedRateLimiter
from bot.services import Services
from bot.settings import load_settings
from bot.store import TaskRow, TrackRow
from bot.store.leases import Leases
from tests.support.factories import make_client
from tests.support.port import memory_ports

SECRET = "fault-suite-callback-secret-0123"


class FilePort:
    """The delivery port on an append-only JSON-lines file (one line a post, fsynced)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _lines(self) -> list[dict[str, int | str]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def posts(self) -> list[dict[str, int | str]]:
        """Every post made, withdrawn ones included."""
        return [line for line in self._lines() if "withdrawn" not in line]

    def withdrawn(self) -> set[int]:
        return {int(line["withdrawn"]) for line in self._lines() if "withdrawn" in line}

    def live(self) -> list[dict[str, int | str]]:
        """The posts members see: those not withdrawn."""
        gone = self.withdrawn()
        return [post for post in self.posts() if int(post["message"]) not in gone]

    def _append(self, line: dict[str, int | str]) -> None:
        with self.path.open("a") as posts:
            posts.write(json.dumps(line) + "\n")
            posts.flush()
            os.fsync(posts.fileno())

    async def show(self, view: TaskView) -> Shown:
        if view.task.card_message_id is None:
            return Shown(card_message_id=view.task.id)
        return Shown()

    async def mark(self, task: TaskRow, track: TrackRow) -> PostMark:
        return PostMark(f"t{track.id}")

    async def deliver(self, task: TaskRow, track: TrackRow, total: int) -> int:
        message_id = time.time_ns()
        self._append({"task": task.id, "track": track.api_track_id, "message": message_id})
        return message_id

    async def withdraw(self, task: TaskRow, message_id: int) -> None:
        self._append({"withdrawn": message_id})

    async def give_up(self, task: TaskRow, reason: str) -> None:
        """Never called here: posting to a file does not fail."""

    async def find_delivery(self, task: TaskRow, track: TrackRow) -> int | None:
        for post in self.live():
            if post["task"] == task.id and post["track"] == track.api_track_id:
                return int(post["message"])
        return None


async def run(
    db: str,
    api: str,
    port: int,
    posts: Path,
    *,
    limit: int,
    period: float,
    scale: float,
    discord_start: float,
    leases: float = 1.0,
    timeout: float = 2.0,
) -> None:
    print("started", flush=True)
    settings = load_settings(
        discord_token="the-worker-has-no-discord",
        database_url=db,
        suno_api_base_url=api,
        callback_public_url=f"http://127.0.0.1:{port}",
        callback_host="127.0.0.1",
        callback_port=port,
        callback_secret=SECRET,
        task_timeout=30.0,
    )
    async with aiohttp.ClientSession() as session:
        client = make_client(session, api, limit=limit, period=period, timeout=timeout)
        # The bot's own start-up order: the store, the services, the callback receiver...
        services = await Services.open(
            settings,
            client,
            PollSchedule().scaled(scale),
            memory_ports(FilePort(posts)),
            gateway_connected=lambda: True,
        )
        services.store.leases = Leases().scaled(leases)
        if services.store.shared:  # the test's tight limit needs a narrower margin
            client.limiter = SharedRateLimiter(
                services.store.take_api_slot,
                services.store.api_slot_answered,
                limit,
                period,
                margin=0.1,
            )
        # ...then Discord comes up (login, command sync): a setting of the test Discord...
        await asyncio.sleep(discord_start)
        # ...then recovery and the loops, which call the ports.
        await services.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)  # the fault suite times its kill from here
        await stop.wait()
        await services.close()  # as the bot: a submission on the wire gets its answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, help="a SQLite file or postgresql://…")
    parser.add_argument("--api", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--posts", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=200, help="API calls per period")
    parser.add_argument("--period", type=float, default=1.0)
    parser.add_argument("--scale", type=float, default=1 / 200, help="of the poll schedule")
    parser.add_argument(
        "--discord-start",
        type=float,
        default=0.0,
        help="seconds Discord takes to come up (login, command sync) after the store is open",
    )
    parser.add_argument("--leases", type=float, default=1.0, help="of the lease lengths")
    parser.add_argument("--timeout", type=float, default=2.0, help="of each API call (s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    db = args.db if "://" in args.db else f"sqlite:///{args.db}"
    asyncio.run(
        run(
            db,
            args.api,
            args.port,
            args.posts,
            limit=args.limit,
            period=args.period,
            scale=args.scale,
            discord_start=args.discord_start,
            leases=args.leases,
            timeout=args.timeout,
        )
    )


if __name__ == "__main__":
    main()

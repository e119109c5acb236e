"""Shared pieces of the benchmarks: the production client, a loop-lag probe, memory
readings, a simulator with varied stage times, a simulator in a child process, and the
plain-text report every script prints.

Benchmarks run the real code (Lifecycle, MusicClient, RateLimiter, SQLite store, the
simulator over HTTP on 127.0.0.1); only Discord is replaced, by `tests.support.port.MemoryPort`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import multiprocessing
import os
import random
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bot.core.tasks import Lifecycle, PollSchedule
from bot.core.tasks.timings import EndModel
from bot.music import MusicClient
from bot.store import Stage, Store, TaskTiming
from simulator import SimTask, Simulator, SimulatorConfig
from tests.support import factories
from tests.support.backlog import copy_task_rows
from tests.support.factories import api_calls, new_task
from tests.support.port import MemoryPort

__all__ = ["MemoryPort", "api_calls", "new_task"]  # the benchmarks import them from here

API_KEY = "bench-key-0123456789abcdef"
# The production client (time-out 30 s, 3 retries, 1 s backoff, 250 ms limiter margin);
# the limiter's window and the key are given per benchmark.
make_client = functools.partial(
    factories.make_client,
    timeout=30.0,
    max_retries=3,
    backoff=1.0,
    margin=0.25,
    api_key=API_KEY,
)
NO_CALLBACK_URL = "https://callbacks.invalid/backline"  # what the bot sends without callbacks

# -- small helpers ---------------------------------------------------------------------------


def quiet_logging() -> None:
    """Warnings and errors only (the lifecycle logs every task at INFO)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def proc_status_mb(key: str = "VmRSS") -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return math.nan


def transit_times(client: MusicClient, arrivals: list[float]) -> list[float]:
    """Seconds from the client's limiter letting a call through to the simulator counting
    it (k-th departure against k-th arrival). The limiter's margin must cover this."""
    departures = getattr(client.limiter, "departures", [])
    return [a - d for a, d in zip(sorted(arrivals), sorted(departures), strict=False)]


async def feed_until_idle(
    svc: Lifecycle, *, tasks: int, gap: float, timeout: float, user_id: int = 1
) -> tuple[bool, float]:
    """Request `tasks` tasks `gap` seconds apart, then wait until every one is final and
    delivered. Returns whether that happened within `timeout`, and the wall time."""
    started = time.monotonic()

    async def feed() -> None:
        for i in range(tasks):
            delay = started + i * gap - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await svc.request(new_task(user_id=user_id))

    feeder = asyncio.create_task(feed())
    finished = False
    try:
        while time.monotonic() < started + timeout:
            await asyncio.sleep(0.2)
            if feeder.done() and await svc.store.is_idle():
                finished = True
                break
    finally:
        feeder.cancel()
    return finished, time.monotonic() - started


def schedule_walk(
    schedule: PollSchedule,
    *,
    text: float,
    first: float,
    complete: float,
    model: EndModel | None = None,
    skipped: frozenset[str] = frozenset(),
) -> list[float]:
    """Pure arithmetic: the seconds after submission at which the lifecycle polls a task
    with these stage times (no callbacks, no rate-limit wait), its model's timings learned
    as `model`; the last poll sees it done. `text` is never looked at: the bot does not
    use it."""
    del text
    polls: list[float] = []
    elapsed, previous = schedule.first_delay(model), 0.0
    first_after = first_seen = None
    while True:
        polls.append(elapsed)
        if elapsed >= complete:
            return polls
        stage = Stage.PENDING
        if "first" not in skipped and elapsed >= first:
            stage = Stage.FIRST
            if first_seen is None:
                first_after, first_seen = previous, elapsed
        previous = elapsed
        elapsed += schedule.next_delay(
            elapsed,
            stage=stage,
            callbacks=False,
            first_after=first_after,
            first_seen=first_seen,
            model=model,
        )


def walk_timing(
    polls: Sequence[float], *, first: float, skipped: frozenset[str] = frozenset()
) -> TaskTiming:
    """What the bot records of a task polled at `polls` (submitted at 0): the bounds its
    polls put on its first track and its end."""
    seen = len(polls) - 1
    if "first" not in skipped:
        seen = next(i for i, t in enumerate(polls) if t >= first)
    before = [0.0, *polls]
    return TaskTiming("model", 0.0, before[seen], polls[seen], before[-2], polls[-1])


def ready_time(sim_task: SimTask, track_id: str) -> float | None:
    """time.monotonic() at which the simulator made this track's audio available."""
    _, first, complete = sim_task.delays
    if "first" in sim_task.skipped:
        first = complete
    for index, track in enumerate(sim_task.tracks):
        if track.track_id == track_id:
            return sim_task.created_mono + (first if index == 0 else complete)
    return None


def delivery_latencies(sim: Simulator, port: MemoryPort) -> tuple[list[float], list[float]]:
    """(all tracks, first track of each task): seconds from the simulator making the audio
    available to the port posting it."""
    every: list[float] = []
    firsts: list[float] = []
    for (api_task_id, track_id), posted in port.delivered_at.items():
        sim_task = sim.tasks.get(api_task_id)
        if sim_task is None:
            continue
        ready = ready_time(sim_task, track_id)
        if ready is None:
            continue
        every.append(posted - ready)
        if sim_task.tracks[0].track_id == track_id:
            firsts.append(posted - ready)
    return every, firsts


# -- the event-loop lag probe -----------------------------------------------------------------


class LagProbe:
    """Sleeps `interval` in a loop and records how late it woke up (seconds)."""

    def __init__(self, interval: float = 0.010) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lag-probe")

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append(time.perf_counter() - started - self.interval)

    def mark(self) -> int:
        return len(self.samples)

    def since(self, mark: int, until: int | None = None) -> list[float]:
        return self.samples[mark:until]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# -- simulators ---------------------------------------------------------------------------------


class VariedSimulator(Simulator):
    """A Simulator whose every submission draws its own stage times.

    The simulator copies its timing settings into each task at submission, so setting them
    just before each task is created gives each task its own timeline (through the
    simulator's public `create_task`; the HTTP behaviour is the simulator's own).
    """

    def __init__(
        self, config: SimulatorConfig, draw: Callable[[], tuple[float, float, float]]
    ) -> None:
        super().__init__(config)
        self._draw = draw

    def create_task(self, body: dict[str, Any]) -> SimTask:
        cfg = self.config
        cfg.text_delay, cfg.first_delay, cfg.complete_delay = self._draw()
        return super().create_task(body)


def varied_timeline(
    rng: random.Random, scale: float, *, complete: tuple[float, float] = (120.0, 240.0)
) -> Callable[[], tuple[float, float, float]]:
    """Stage times as the API shows them, scaled: text after 20-40 s, done after 2-4 min,
    the first track half-way between (the simulator's default 30/90/150 has that shape)."""

    def draw() -> tuple[float, float, float]:
        text = rng.uniform(20.0, 40.0)
        done = rng.uniform(*complete)
        first = text + (done - text) / 2
        return text * scale, first * scale, done * scale

    return draw


def _serve_simulator(config: dict[str, Any], pipe: Any) -> None:
    """Child process body: a Simulator plus two bench-only routes, until terminated."""
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(_simulator_main(config, pipe))


async def _simulator_main(config: dict[str, Any], pipe: Any) -> None:
    sim = Simulator(SimulatorConfig(**config))

    async def stats(_: web.Request) -> web.Response:
        calls = [[endpoint, code, n] for (endpoint, code), n in sim.calls.items()]
        return web.json_response(
            {"calls": calls, "rejections": sim.rejections, "tasks": len(sim.tasks)}
        )

    async def configure(request: web.Request) -> web.Response:
        for name, value in (await request.json()).items():
            setattr(sim.config, name, value)
        return web.json_response({"ok": True})

    async def seed(request: web.Request) -> web.Response:
        """`count` more tasks submitted like task `like` (same body), without the HTTP
        calls: the setup of a large backlog."""
        spec = await request.json()
        body = sim.tasks[spec["like"]].params
        return web.json_response(
            {"ids": [sim.create_task(body).task_id for _ in range(spec["count"])]}
        )

    sim.app.router.add_get("/_bench/stats", stats)
    sim.app.router.add_post("/_bench/config", configure)
    sim.app.router.add_post("/_bench/seed", seed)
    await sim.start()
    pipe.send(sim.base_url)
    await asyncio.Event().wait()


class SimulatorProcess:
    """The simulator in its own process, so the bot process's memory and event loop are the
    bot's alone (as in production, where the API is remote)."""

    def __init__(self, **config: Any) -> None:
        self._config = config
        self._process: multiprocessing.process.BaseProcess | None = None
        self.base_url = ""

    def start(self) -> str:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_serve_simulator, args=(self._config, child), daemon=True
        )
        self._process.start()
        if not parent.poll(30):
            raise RuntimeError("the simulator process did not start")
        self.base_url = parent.recv()
        return self.base_url

    async def stats(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(self.base_url + "/_bench/stats") as response:
            data = await response.json()
        data["calls"] = {(endpoint, code): n for endpoint, code, n in data["calls"]}
        return data

    async def configure(self, session: aiohttp.ClientSession, **settings: Any) -> None:
        async with session.post(self.base_url + "/_bench/config", json=settings) as response:
            response.raise_for_status()

    async def seed(self, session: aiohttp.ClientSession, like: str, count: int) -> list[str]:
        async with session.post(
            self.base_url + "/_bench/seed", json={"like": like, "count": count}
        ) as response:
            response.raise_for_status()
            ids: list[str] = (await response.json())["ids"]
        return ids

    @classmethod
    def for_backlog(cls) -> SimulatorProcess:
        """Tasks that stay in flight (generation 30 min), no limit until `configure`, any
        bearer accepted: a setup key and the bot's key keep separate windows."""
        no_limit = {"rate_limit": 1_000_000, "rate_period": 1.0, "credits": 1e12}
        in_flight = {"text_delay": 30.0, "first_delay": 1500.0, "complete_delay": 1800.0}
        quiet = {"check_upload": False, "send_callbacks": False, "audio_seconds": 0.5}
        return cls(api_key=None, **no_limit, **in_flight, **quiet)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(10)
            self._process = None


# -- databases and backlogs -------------------------------------------------------------------

ENGINES = ("sqlite", "postgresql")
BENCH_POSTGRES = os.environ.get(
    "BACKLINE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/backline_bench"
)


async def fresh_database(engine: str, directory: Path) -> str:
    """The URL of an empty database: a SQLite file in `directory`, or `BENCH_POSTGRES`
    dropped and created again (its own database: the tests' `test` is left alone)."""
    if engine == "sqlite":
        return f"sqlite:///{directory / 'backline.db'}"
    server, name = BENCH_POSTGRES.rsplit("/", 1)
    conn = await asyncpg.connect(f"{server}/postgres", timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return BENCH_POSTGRES


async def clone_in_flight(
    store: Store, sim: SimulatorProcess, http: aiohttp.ClientSession, template: int, count: int
) -> None:
    """`count` more tasks like task `template` (submitted and followed through the real
    path): the simulator accepts as many copies of its submission, and the store gets a
    copy of its row for each. A backlog of 100,000 is set up in a minute instead of the
    hours the API's rate limit would take."""
    task = await store.get_task(template)
    assert task is not None and task.api_task_id, "the template task must have been accepted"
    for start in range(0, count, 5000):
        await copy_task_rows(
            store, template, await sim.seed(http, task.api_task_id, min(5000, count - start))
        )


# -- the report ------------------------------------------------------------------------------


@dataclass
class _Row:
    name: str
    value: str
    target: str
    result: str


class Report:
    """Command line, parameters, then a table of figures with targets and PASS/MISS."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.params: list[tuple[str, str]] = []
        self.rows: list[_Row] = []
        self.notes: list[str] = []

    def param(self, name: str, value: object) -> None:
        self.params.append((name, str(value)))

    def section(self, name: str) -> None:
        self.rows.append(_Row(f"[{name}]", "", "", ""))

    def figure(
        self, name: str, value: str, target: str = "", ok: bool | None = None
    ) -> bool | None:
        result = "" if ok is None else ("PASS" if ok else "MISS")
        self.rows.append(_Row(name, value, target, result))
        return ok

    def note(self, text: str) -> None:
        self.notes.append(text)

    def render(self) -> str:
        lines = [f"== {self.title} ==", f"command: {self.command()}", "parameters:"]
        width = max((len(name) for name, _ in self.params), default=0)
        lines += [f"  {name.ljust(width)}  {value}" for name, value in self.params]
        headers = ("figure", "value", "target", "result")
        cols = [
            max([len(headers[0]), *(len(r.name) for r in self.rows)]),
            max([len(headers[1]), *(len(r.value) for r in self.rows)]),
            max([len(headers[2]), *(len(r.target) for r in self.rows)]),
            6,
        ]
        lines.append("")
        lines.append("  ".join(h.ljust(w) for h, w in zip(headers, cols, strict=True)).rstrip())
        lines.append("  ".join("-" * w for w in cols))
        for row in self.rows:
            cells = (row.name, row.value, row.target, row.result)
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, cols, strict=True)).rstrip())
        if self.notes:
            lines.append("")
            lines += [f"note: {text}" for text in self.notes]
        return "\n".join(lines)

    def markdown(self) -> str:
        """The same report for the README: title, command, a table; parameters left out."""
        lines = [f"**{self.title}** (`{self.command()}`)", ""]
        lines += ["| figure | value | target | result |", "|---|---|---|---|"]
        for row in self.rows:
            if row.name.startswith("["):
                lines.append(f"| *{row.name.strip('[]')}* | | | |")
            else:
                cells = (row.name.strip(), row.value, row.target, row.result)
                lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        lines += [f"\n{text}" for text in self.notes]
        return "\n".join(lines) + "\n"

    def command(self) -> str:
        module = sys.argv[0].rsplit("/", 1)[-1].removesuffix(".py")
        return shlex.join(["python", "-m", f"bench.{module}", *sys.argv[1:]])

    def print(self) -> None:
        """Print the report; with `BENCH_MARKDOWN` set (by `python -m bench --readme`),
        also append its Markdown to that file."""
        print(self.render(), flush=True)
        if target := os.environ.get("BENCH_MARKDOWN"):
            with open(target, "a", encoding="utf-8") as out:
                out.write(self.markdown() + "\n")


def seconds(value: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f} s"

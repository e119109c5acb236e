"""Issue 15 (3): acknowledgement under load.

    python -m bench.bench_ack [--burst 300] [--rounds 5] [--tasks 10000]
                              [--engine sqlite|postgresql] [--no-collect]

A burst of `--burst` `/instrumental` from as many new members (each uploading its own
WAV) is emitted at once into simcord, the in-memory Discord. An interaction's
acknowledgement latency is the wall time (`time.perf_counter`) from the emit of its
INTERACTION_CREATE to the return of the bot's `interaction.response.defer(...)`, when
Discord would have the answer (simcord takes the callback in memory).

Three bots, each in a child process of its own with its own simcord Env, take turns: one
burst each per round and mode, the order rotated every round, so all see the same bursts
and the same machine (other processes, the time of the run) within seconds of each other:

- bare: `bench.bare_bot.BareBot`, a discord.py bot whose `/instrumental` (same options)
  only defers;
- backline: the real `Backline` (production MusicClient at 20 requests per 10 s, default
  PollSchedule), its lifecycle started and following `--tasks` tasks in flight. Setup as
  in bench_scale: a few tasks recorded and submitted through the real path (own API key,
  the simulator's limit lifted; their status cards posted in simcord), the rest copies of
  the first (`clone_in_flight`); then the real limit, every task due for a poll within
  30 s, and the bot's own lifecycle started. The simulator runs in a child process of this
  child; generation takes 30 minutes, so every task stays in flight. The bursts' tasks are
  recorded, and queued behind the rate limit;
- bare (control): the same bare bot again, the yardstick of the measurement's own noise.

Two modes, each bot given the same bursts in both. "in memory": simcord as it is; its
`defer` returns without the handler ever leaving the event loop, so whatever a handler
does next, up to its first real wait, runs before the next interaction's handler starts.
"on the wire": the handler then waits one turn of the loop, as a real defer (an HTTP
request) waits for Discord's response; the other handlers' defers go out meanwhile.

Goal: backline's ack p99 <= 1.2 x the bare bot's, taken as the median over the bursts of
each burst's p99 (a moment the machine was busy moves all 300 samples of one burst, and
the pooled p99, shown too, with them). Each bot first gets an unmeasured warm-up burst.
Before each burst the process collects garbage (gc.collect): simcord keeps every payload,
message and upload of the run, and a full collection of that heap (60-170 ms, about every
third burst otherwise) would decide the p99 for whichever bot it lands in. `--no-collect`
leaves the collector alone; the figures show its time inside the ack windows either way.
After the acknowledgements the burst waits for every handler to finish (cards posted,
members answered) before the next one.

`--engine postgresql` drops and creates the database named by BACKLINE_BENCH_POSTGRES
(bench.common). It is slow here: simcord tracks every callback asyncpg schedules (a list
compared item by item), so a 300-request burst takes a minute or more to finish and a
round about 15 minutes; use `--rounds 1 --timeout 900`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import discord
import simcord

from bench.bare_bot import BareBot
from bench.common import (
    ENGINES,
    NO_CALLBACK_URL,
    LagProbe,
    Report,
    SimulatorProcess,
    clone_in_flight,
    fresh_database,
    make_client,
    new_task,
    percentile,
    quiet_logging,
)
from bot.app import Backline
from bot.core.tasks import Lifecycle, PollSchedule
from bot.settings import load_settings
from bot.store import Store, open_store
from simulator.media import make_wav
from tests.support.backlog import check_at, count_tasks
from tests.support.burst import AckClock, emit
from tests.support.burst import slash_payload as burst_payload
from tests.support.invite import InviteEnv

SETUP_KEY = "bench-setup-key-0123456789"
REAL_KEY = "bench-real-key-0123456789"
THROUGH_THE_API = 20  # backlog tasks recorded and submitted through the real path
WAV = make_wav(4.0)  # the tests' recording: 4 s, 22.05 kHz mono, 176 kB
GOAL = 1.2
BOTS = ("bare", "backline", "bare (control)")
# How the defer's HTTP call behaves: as simcord answers it (returns at once, the handler
# goes on with its work), or as on a network (the handler waits a turn of the loop).
MODES = ("in memory", "on the wire")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ack")
    add = parser.add_argument
    add("--burst", type=int, default=300, help="interactions per burst (300)")
    add("--rounds", type=int, default=5, help="rounds: a burst per bot and mode in each (5)")
    add("--warmup", type=int, default=20, help="interactions in each bot's warm-up burst (20)")
    add("--gap", type=float, default=2.0, help="seconds between two bursts (2)")
    add("--tasks", type=int, default=10_000, help="tasks in flight for backline (10000)")
    add("--engine", choices=ENGINES, default="sqlite", help="backline's store engine (sqlite)")
    add("--no-collect", action="store_true", help="no gc.collect() before each burst")
    add("--timeout", type=float, default=300.0, help="seconds a burst or a setup may take (300)")
    return parser.parse_args()


# -- measuring (in each bot's process) ---------------------------------------------------------


class GcClock:
    """Seconds the garbage collector ran, and its full (generation 2) collections."""

    def __init__(self) -> None:
        self.total = 0.0
        self.full = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.total += time.perf_counter() - self._started
        self.full += info["generation"] == 2


@dataclass
class Burst:
    """One burst's figures, sent from a bot's process to the parent."""

    latencies: list[float]  # seconds, per acknowledged interaction
    missing: int  # interactions never acknowledged
    emit: float  # the emit loop itself (simcord's payload copy and discord.py's parse)
    ack_window: float  # first emit -> last acknowledgement
    settled: float  # first emit -> every handler done (cards posted, members answered)
    lag_acks: list[float]  # loop lag samples while the acknowledgements came in
    lag_burst: list[float]  # loop lag samples until every handler was done
    gc_seconds: float  # collector time inside the acknowledgement window
    gc_full: int  # full collections inside it
    errors: int  # exceptions simcord saw the bot raise
    recorded: int | None  # backline: burst interactions recorded as tasks


@dataclass
class World:
    env: simcord.Env
    guild: Any
    channel: Any
    members: int = 0

    def new_members(self, count: int) -> list[Any]:
        """Members who never asked before: no cooldown or concurrency limit applies."""
        fresh = []
        for _ in range(count):
            self.members += 1
            user = self.env.create_user(f"member-{self.members}")
            fresh.append(self.guild.add_member(user))
        return fresh


@contextlib.asynccontextmanager
async def simcord_world(bot: discord.Client, timeout: float) -> AsyncIterator[World]:
    env = InviteEnv(bot, settle_timeout=timeout)  # the invite's permissions, as in tests
    await env.start()
    try:
        guild = env.create_guild(name="studio")
        yield World(env, guild, guild.create_text_channel("music"))
    finally:
        await env.shutdown()
        await bot.close()  # simcord never closes a bot


def slash_payload(world: World, member: Any, options: dict[str, Any]) -> dict[str, Any]:
    """`/instrumental` from `member`, built but not emitted (`tests/support/burst.py`)."""
    return burst_payload(
        world.env, world.guild.id, world.channel.id, member, "instrumental", options
    )


@dataclass
class Bench:
    """What a bot's process measures with."""

    world: World
    args: argparse.Namespace
    clock: AckClock = field(default_factory=AckClock)
    probe: LagProbe = field(default_factory=LagProbe)
    gc_clock: GcClock = field(default_factory=GcClock)
    recorded: Callable[[int, int], Awaitable[int]] | None = None


async def burst(bench: Bench, size: int, mode: str = MODES[0]) -> Burst:
    """`size` interactions from as many new members, emitted back to back; then wait for
    every acknowledgement, then for every handler to finish."""
    world, clock, probe, timeout = bench.world, bench.clock, bench.probe, bench.args.timeout
    clock.on_the_wire = mode == MODES[1]
    env = world.env
    payloads = [
        slash_payload(world, member, {"audio": (f"take-{member.id}.wav", WAV)})
        for member in world.new_members(size)
    ]
    ids = [int(payload["id"]) for payload in payloads]
    clock.expect(ids)
    errors = len(env.errors_since(0))
    if not bench.args.no_collect:
        gc.collect()
    await asyncio.sleep(0.1)  # the lag probe notes the pause above before the burst's mark
    gc_before = bench.gc_clock.total, bench.gc_clock.full
    emitted: dict[int, float] = {}
    before = asyncio.all_tasks()
    mark = probe.mark()
    started = time.perf_counter()
    for interaction_id, payload in zip(ids, payloads, strict=True):
        emitted[interaction_id] = time.perf_counter()
        emit(env, payload)  # parsed now; the handlers start next
    emit_done = time.perf_counter()
    # discord.py started one task per interaction in the emits above.
    handlers = [t for t in asyncio.all_tasks() - before if t.get_name() == "CommandTree-invoker"]
    await clock.all_in(timeout)
    acks_done = time.perf_counter()
    gc_seconds, gc_full = bench.gc_clock.total - gc_before[0], bench.gc_clock.full - gc_before[1]
    ack_mark = probe.mark()
    # Waiting on the handlers themselves: simcord's settlement polls every pending task on
    # each wake-up, and with hundreds pending that polling would be most of the loop's work.
    if handlers:
        await asyncio.wait(handlers, timeout=timeout)
    settled = time.perf_counter()
    lag_burst = probe.since(mark)
    await env.settle(timeout=timeout)  # any leftovers
    return Burst(
        latencies=[clock.acked[i] - emitted[i] for i in ids if i in clock.acked],
        missing=sum(1 for i in ids if i not in clock.acked),
        emit=emit_done - started,
        ack_window=acks_done - started,
        settled=settled - started,
        lag_acks=probe.since(mark, ack_mark),
        lag_burst=lag_burst,
        gc_seconds=gc_seconds,
        gc_full=gc_full,
        errors=len(env.errors_since(0)) - errors,
        recorded=None if bench.recorded is None else await bench.recorded(min(ids), max(ids)),
    )


# -- the bots ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def bare_bench(args: argparse.Namespace, info: dict[str, Any]) -> AsyncIterator[Bench]:
    async with simcord_world(BareBot(), args.timeout) as world:
        yield Bench(world, args)


@contextlib.asynccontextmanager
async def backline_bench(args: argparse.Namespace, info: dict[str, Any]) -> AsyncIterator[Bench]:
    sim = SimulatorProcess.for_backlog()
    sim.start()
    try:
        async with aiohttp.ClientSession() as http:
            with tempfile.TemporaryDirectory(prefix="backline-bench-") as tmp:
                url = await fresh_database(args.engine, Path(tmp))
                settings = load_settings(
                    _env_file=None,
                    discord_token="bench-discord-token",
                    suno_api_key=REAL_KEY,
                    suno_api_base_url=sim.base_url,
                    database_url=url,
                    callback_port=0,
                    callback_host="127.0.0.1",
                )
                # run_background=False: the lifecycle is started below from this task,
                # outside the bot's simcord scope, so simcord's settlement does not wait
                # for the scheduler (as in tests/harness.py); production's setup_hook
                # starts it. The production client at the API's limit; default schedule.
                bot = Backline(
                    settings=settings,
                    session=http,
                    music=make_client(http, sim.base_url, api_key=REAL_KEY),
                    run_background=False,
                )
                async with simcord_world(bot, args.timeout) as world:
                    try:
                        await fill_backlog(args, bot, world, sim, http, url, info)
                        bot.lifecycle.start()
                        await asyncio.sleep(args.gap)  # the scheduler's first rounds

                        async def recorded(low: int, high: int) -> int:
                            return await count_tasks(
                                bot.store, "interaction_id BETWEEN ? AND ?", (low, high)
                            )

                        yield Bench(world, args, recorded=recorded)
                        info["following"] = (await bot.store.count_by_state()).get("following", 0)
                        info["rejections"] = (await sim.stats(http))["rejections"]
                    finally:
                        await bot.lifecycle.stop()
    finally:
        sim.stop()


async def fill_backlog(
    args: argparse.Namespace,
    bot: Backline,
    world: World,
    sim: SimulatorProcess,
    http: aiohttp.ClientSession,
    url: str,
    info: dict[str, Any],
) -> None:
    """`--tasks` tasks in flight in the bot's database, with their status cards in simcord.

    A setup Lifecycle on its own store connection and API key (the simulator's limit
    lifted) records and submits a few through the real path, drawing their cards through
    the bot's Discord delivery; the rest are copies of the first (they share its card).
    Then the real limit, and every task due for a poll within 30 s."""
    started = time.perf_counter()
    owner = world.new_members(1)[0]
    store = await open_store(url)
    try:
        setup_client = make_client(
            http, sim.base_url, limit=1_000_000, period=1.0, api_key=SETUP_KEY
        )
        schedule = PollSchedule(first_check=3600)  # the setup only submits
        svc = Lifecycle(
            store, setup_client, bot.ports.delivery, callback_url=NO_CALLBACK_URL, schedule=schedule
        )
        real = min(args.tasks, THROUGH_THE_API)
        first = None
        for _ in range(real):
            task, _ = await svc.request(
                new_task(user_id=owner.id, guild_id=world.guild.id, channel_id=world.channel.id)
            )
            first = first or task
        assert first is not None
        await svc.resume()
        ready = await until(lambda: setup_done(store, real), timeout=args.timeout)
        await svc.stop()
        if not ready:
            raise RuntimeError(f"the backlog's first {real} tasks were not submitted and shown")
        await clone_in_flight(store, sim, http, first.id, args.tasks - real)
        await check_at(store, "? + (id % 30)", "state = 'following'", (time.time(),))
        await sim.configure(http, rate_limit=20, rate_period=10.0)
    finally:
        await store.close()
    info["setup_seconds"] = time.perf_counter() - started


async def setup_done(store: Store, count: int) -> bool:
    following = (await store.count_by_state()).get("following", 0)
    return following >= count and await count_tasks(store, "card_dirty = 1") == 0


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


BENCHES = {"bare": bare_bench, "backline": backline_bench, "bare (control)": bare_bench}


def _serve_bot(name: str, args: dict[str, Any], conn: Any) -> None:
    """A bot's process: set up, warm up, then one burst per "burst" from the parent."""
    quiet_logging()
    asyncio.run(_bot_main(name, argparse.Namespace(**args), conn))


async def _bot_main(name: str, args: argparse.Namespace, conn: Any) -> None:
    info: dict[str, Any] = {}
    try:
        async with BENCHES[name](args, info) as bench:
            bench.probe.start()
            gc.callbacks.append(bench.gc_clock)
            with bench.clock.installed():
                await burst(bench, args.warmup)
                conn.send(("ready", None))
                while (command := await receive(conn))[0] == "burst":
                    conn.send(("burst", await burst(bench, args.burst, command[1])))
            await bench.probe.stop()
    except Exception as exc:
        conn.send(("failed", repr(exc)))
        raise
    conn.send(("done", info))


async def receive(conn: Any) -> Any:
    """The parent's next command, without blocking this process's event loop."""
    while not conn.poll():  # noqa: ASYNC110 - a pipe, not an asyncio primitive
        await asyncio.sleep(0.02)
    return conn.recv()


# -- the parent: bursts in turn, then the report --------------------------------------------------


class BotProcess:
    def __init__(self, name: str, args: argparse.Namespace) -> None:
        context = multiprocessing.get_context("spawn")
        self.name = name
        self.timeout = args.timeout
        self.conn, child = context.Pipe()
        # Not a daemon: backline's process starts the simulator's.
        self.process = context.Process(target=_serve_bot, args=(name, vars(args), child))
        self.bursts: dict[str, list[Burst]] = {mode: [] for mode in MODES}
        self.info: dict[str, Any] = {}

    def expect(self, kind: str) -> Any:
        if not self.conn.poll(self.timeout):
            raise RuntimeError(f"{self.name}: no answer in {self.timeout:g} s")
        answer, value = self.conn.recv()
        if answer != kind:
            raise RuntimeError(f"{self.name}: {answer} {value}")
        return value

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(("stop", None))
        with contextlib.suppress(RuntimeError, EOFError):
            self.info = self.expect("done")
        self.process.join(30)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10)

    def latencies(self, mode: str) -> list[float]:
        return [x for b in self.bursts[mode] for x in b.latencies]

    def p99(self, mode: str) -> float:
        """All bursts pooled."""
        return percentile(self.latencies(mode), 99)

    def burst_p99(self, mode: str) -> float:
        """The median burst's p99: a burst the machine disturbed (another process, for one
        moment) moves all of its samples, and so the pooled p99, with it."""
        return percentile([percentile(b.latencies, 99) for b in self.bursts[mode]], 50)


def run_bursts(args: argparse.Namespace, bots: list[BotProcess]) -> None:
    """Each round: every bot one burst per mode, the bots' order rotated each round."""
    for bot in bots:
        bot.process.start()
    for bot in bots:
        bot.expect("ready")
    for round_ in range(args.rounds):
        shift = round_ % len(bots)
        for mode in MODES:
            for bot in bots[shift:] + bots[:shift]:
                time.sleep(args.gap)
                bot.conn.send(("burst", mode))
                bot.bursts[mode].append(bot.expect("burst"))


def ms(value: float) -> str:
    return f"{value * 1000:.0f}"


def bot_figures(report: Report, bot: BotProcess) -> None:
    everything = [b for mode in MODES for b in bot.bursts[mode]]
    report.section(f"{bot.name}: {len(everything)} bursts")
    for mode in MODES:
        bursts, latencies = bot.bursts[mode], bot.latencies(mode)
        p50, worst = percentile(latencies, 50), max(latencies, default=0.0)
        report.figure(
            f"ack p50 / p99 / max, {mode} (ms)", f"{ms(p50)} / {ms(bot.p99(mode))} / {ms(worst)}"
        )
        report.figure(
            f"  p99 of each burst, {mode} (ms)",
            " ".join(ms(percentile(b.latencies, 99)) for b in bursts),
        )
    missing = sum(b.missing for b in everything)
    report.figure("not acknowledged", str(missing), "0", missing == 0)
    report.figure("emit of a burst (ms, max)", ms(max(b.emit for b in everything)))
    report.figure(
        "first emit -> last ack / all handlers done (ms, max)",
        f"{ms(max(b.ack_window for b in everything))} / {ms(max(b.settled for b in everything))}",
    )
    gc_ms = sum(b.gc_seconds for b in everything) / len(everything)
    full = sum(b.gc_full for b in everything)
    report.figure("collector in the ack window (ms per burst; full)", f"{ms(gc_ms)}; {full}")
    lag_acks = [x for b in everything for x in b.lag_acks]
    lag_burst = [x for b in everything for x in b.lag_burst]
    report.figure(
        "loop lag while acks came in, max (ms)",
        f"{ms(max(lag_acks, default=0))} (n={len(lag_acks)})",
    )
    report.figure(
        "loop lag until all handlers done: p99 / max (ms)",
        f"{ms(percentile(lag_burst, 99))} / {ms(max(lag_burst, default=0))} (n={len(lag_burst)})",
    )
    errors = sum(b.errors for b in everything)
    report.figure("exceptions the bot raised", str(errors), "0", errors == 0)


def compare(report: Report, args: argparse.Namespace, bots: dict[str, BotProcess]) -> None:
    bare, backline, control = bots["bare"], bots["backline"], bots["bare (control)"]
    report.section("backline against the bare bot")
    for mode in MODES:
        ratio = backline.burst_p99(mode) / bare.burst_p99(mode)
        report.figure(
            f"backline / bare ack p99 (median burst), {mode}",
            f"{ratio:.2f} ({ms(backline.burst_p99(mode))} / {ms(bare.burst_p99(mode))} ms)",
            f"<= {GOAL}",
            ratio <= GOAL,
        )
        pooled = backline.p99(mode) / bare.p99(mode)
        report.figure(
            "  the same, all bursts pooled",
            f"{pooled:.2f} ({ms(backline.p99(mode))} / {ms(bare.p99(mode))} ms)",
        )
        noise = control.burst_p99(mode) / bare.burst_p99(mode)
        report.figure(
            "  bare (control) / bare (median burst): noise",
            f"{noise:.2f} ({ms(control.burst_p99(mode))} / {ms(bare.burst_p99(mode))} ms)",
        )
    everything = [b for mode in MODES for b in backline.bursts[mode]]
    total = args.burst * len(everything)
    recorded = sum(b.recorded or 0 for b in everything)
    report.figure(
        "burst requests recorded as tasks", f"{recorded} / {total}", str(total), recorded == total
    )
    following = backline.info.get("following", 0)
    report.figure(
        "tasks in flight at the end (following)",
        str(following),
        f">= {args.tasks}",
        following >= args.tasks,
    )
    report.figure(
        "API rate-limit rejections (430) while backline ran",
        str(backline.info.get("rejections", "?")),
    )
    report.figure("backlog setup", f"{backline.info.get('setup_seconds', 0.0):.1f} s")


def main() -> None:
    args = parse_args()
    quiet_logging()
    report = Report("backline acknowledgement under load (issue 15, 3)")
    report.param("burst", f"{args.burst} /instrumental from as many new members, emitted at once")
    report.param("recording", f"{len(WAV) // 1000} kB WAV (4 s), its own upload each")
    report.param("ack latency", "emit of INTERACTION_CREATE -> defer() returned (perf_counter)")
    report.param("bots", "bare, backline, bare (control): a process and a simcord Env each")
    report.param(
        "rounds",
        f"{args.rounds}: one burst per bot and mode, order rotated, {args.gap:g} s apart; "
        f"warm-up burst of {args.warmup} first",
    )
    report.param(
        "modes",
        "in memory: simcord's defer returns at once (the handler goes on); "
        "on the wire: the handler then waits one loop turn, as for an HTTP response",
    )
    report.param("collector", "left alone" if args.no_collect else "gc.collect() before a burst")
    report.param("backline", f"{args.engine}; {args.tasks} tasks in flight, lifecycle started")
    report.param("backline API", "production client, 20 per 10 s; default PollSchedule")
    report.param("simulator", "backline's child process; generation 30 min (stays in flight)")
    report.param("lag probe", "asyncio.sleep(10 ms) in a loop in each bot's process")
    started = time.perf_counter()
    bots = {name: BotProcess(name, args) for name in BOTS}
    try:
        run_bursts(args, list(bots.values()))
    finally:
        for bot in bots.values():
            bot.stop()
    for bot in bots.values():
        bot_figures(report, bot)
    compare(report, args, bots)
    report.figure("whole run", f"{time.perf_counter() - started:.0f} s")
    report.print()


if __name__ == "__main__":
    main()

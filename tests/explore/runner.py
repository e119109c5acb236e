"""Many episodes, a few at a time in one event loop, each in a folder of its own."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.explore.episode import Episode, Result
from tests.explore.invariants import Violation
from tests.explore.setting import draw

CRASHED = "episode crashed"
HUNG = "episode never ended"
EPISODE_LIMIT = 120.0  # seconds; an episode takes about 3 to 12


def reproduce(seed: int) -> str:
    """The one line that replays a seed."""
    python = os.path.relpath(sys.executable) if sys.prefix != sys.base_prefix else "python"
    return f"{python} -m tests.explore --seed {seed}"


@dataclass
class Figures:
    episodes: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # faults injected, by kind
    restarts: int = 0
    seconds: float = 0.0
    violations: list[tuple[int, Violation]] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.episodes += 1
        self.kinds.update(result.faults)
        self.restarts += result.restarts
        self.seconds += result.seconds
        self.violations += [(result.setting.seed, v) for v in result.violations]

    @property
    def faults(self) -> int:
        return sum(self.kinds.values())

    def by_invariant(self) -> Counter[str]:
        return Counter(v.invariant for _, v in self.violations)

    def by_defect(self) -> dict[str, list[int]]:
        seeds: dict[str, list[int]] = {}
        for seed, violation in self.violations:
            found = seeds.setdefault(violation.defect or "other", [])
            if seed not in found:
                found.append(seed)
        return seeds

    def summary(self) -> str:
        return (
            f"{self.episodes} episodes, {self.faults} faults injected, "
            f"{self.restarts} restarts, {len(self.violations)} violations"
        )


async def run_seeds(
    seeds: Iterable[int], *, jobs: int = 4, each: Callable[[Result], None] | None = None
) -> Figures:
    figures = Figures()
    gate = asyncio.Semaphore(jobs)
    async with aiohttp.ClientSession() as http:

        async def one(seed: int) -> None:
            async with gate:
                with tempfile.TemporaryDirectory(prefix=f"explore-{seed}-") as folder:
                    result = await _guarded(Episode(draw(seed), Path(folder), http))
            figures.add(result)
            if each is not None:
                each(result)

        await asyncio.gather(*(one(seed) for seed in seeds))
    return figures


async def _guarded(episode: Episode) -> Result:
    """The episode's result; a crash or a hang is a violation of its own, with where it was.
    A hang is left behind, not awaited: whatever hangs may not even end when cancelled."""
    running = asyncio.ensure_future(episode.run())
    done, _ = await asyncio.wait({running}, timeout=EPISODE_LIMIT)
    if not done:
        where = " < ".join(
            f"{Path(f.f_code.co_filename).name}:{f.f_lineno} {f.f_code.co_name}"
            for f in reversed(running.get_stack())
        )
        running.cancel()
        detail = f"still running after {EPISODE_LIMIT:.0f}s: {episode.phase}; awaiting {where}"
        hung = Violation(HUNG, "-", detail)
        return Result(episode.setting, [hung], Counter(), episode.restarts, EPISODE_LIMIT)
    try:
        return running.result()
    except Exception as exc:  # noqa: BLE001 - reported with its seed, never hidden
        crash = Violation(CRASHED, "-", f"{type(exc).__name__}: {exc} ({episode.phase})")
        return Result(episode.setting, [crash], Counter(), episode.restarts, 0.0)

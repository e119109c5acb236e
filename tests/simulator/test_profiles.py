"""Timing profiles: each task draws its own stage times (seeded), skipped stages never
show, and "fixed" keeps the three configured delays."""

from __future__ import annotations

import asyncio
import random

import aiohttp
import pytest

from simulator import Simulator, SimulatorConfig, profiles
from simulator.__main__ import build_config, parse_args
from simulator.profiles import StageTimes

API = "/api/v1/generate"
BODY = {
    "uploadUrl": "https://cdn.invalid/voice.wav",
    "title": "Night Drive",
    "tags": "synthwave",
    "negativeTags": "metal",
    "callBackUrl": "https://callbacks.invalid/cb",
    "styleWeight": 0.5,
    "weirdnessConstraint": 0.5,
    "audioWeight": 0.5,
    "model": "V5",
}


def config(profile: str, scale: float = 1.0) -> SimulatorConfig:
    return SimulatorConfig(
        seed=11,
        timing_profile=profile,
        timing_scale=scale,
        check_upload=False,
        send_callbacks=False,
        rate_limit=100_000,
    )


async def submit(http: aiohttp.ClientSession, sim: Simulator) -> str:
    async with http.post(f"{sim.base_url}{API}/add-instrumental", json=BODY) as response:
        answer = await response.json()
    assert answer["code"] == 200, answer
    return str(answer["data"]["taskId"])


async def statuses(http: aiohttp.ClientSession, sim: Simulator, task_id: str) -> list[str]:
    """Every status record-info showed, polled every 10 ms until SUCCESS."""
    seen: list[str] = []
    async with asyncio.timeout(10):
        while not seen or seen[-1] != "SUCCESS":
            url = f"{sim.base_url}{API}/record-info"
            async with http.get(url, params={"taskId": task_id}) as response:
                status = (await response.json())["data"]["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            await asyncio.sleep(0.01)
    return seen


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_every_profile_stays_within_seconds_to_four_minutes(name: str) -> None:
    rng = random.Random(5)
    for _ in range(500):
        times = profiles.draw(name, rng)
        assert times.text > 0 and times.first <= times.complete <= 240.0
        assert times.skipped <= {"text", "first"}
    assert profiles.draw(name, random.Random(1), 0.5) == scaled(
        profiles.draw(name, random.Random(1)), 0.5
    )


def scaled(times: StageTimes, factor: float) -> StageTimes:
    return StageTimes(
        times.text * factor, times.first * factor, times.complete * factor, times.skipped
    )


async def test_each_task_draws_its_own_seeded_times() -> None:
    delays = []
    for _ in range(2):
        async with Simulator(config("documented")) as sim, aiohttp.ClientSession() as http:
            ids = [await submit(http, sim) for _ in range(3)]
            delays.append([sim.tasks[task_id].delays for task_id in ids])
    assert delays[0] == delays[1]  # the same seed, the same times
    assert len(set(delays[0])) == 3  # each task its own
    async with Simulator(SimulatorConfig(check_upload=False, send_callbacks=False)) as sim:
        async with aiohttp.ClientSession() as http:
            task_id = await submit(http, sim)
        assert sim.tasks[task_id].delays == (30.0, 90.0, 150.0)  # "fixed": as before


async def test_skipped_stages_never_show() -> None:
    # At 1/200 scale: done within 0.6-1 s.
    async with Simulator(config("no-first", 1 / 200)) as sim, aiohttp.ClientSession() as http:
        task_id = await submit(http, sim)
        seen = await statuses(http, sim, task_id)
        assert "FIRST_SUCCESS" not in seen and seen[-1] == "SUCCESS"
        assert [stage for stage, _ in sim.tasks[task_id].timeline()] == ["text", "complete"]


def test_the_command_line_picks_a_profile() -> None:
    assert build_config(parse_args([])).timing_profile == profiles.FIXED
    chosen = build_config(parse_args(["--timing-profile", "no-first", "--seed", "4"]))
    assert chosen.timing_profile == "no-first" and chosen.seed == 4

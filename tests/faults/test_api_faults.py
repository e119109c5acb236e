"""The fault suite's API part: what the music API, or a gateway in front of it, can do
wrong, and what members and owners get then. Against the simulator over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from bot.core.tasks import UNCONFIRMED_REASON, PollSchedule
from bot.music import MusicClient
from simulator import Simulator, SimulatorConfig
from tests.conftest import FAST
from tests.support.factories import API_KEY, api_calls, make_client, new_task
from tests.support.gateway import HTML_PAGE, Gateway
from tests.support.rig import open_rig
from tests.support.waiting import settled, wait_until

# The production schedule at 1/200: ten minutes of maintenance last three seconds.
SCHEDULE = PollSchedule().scaled(1 / 200)


@pytest.mark.parametrize("status", [502, 504, 520])
async def test_a_gateway_error_after_the_api_took_it_is_charged_once_and_delivered(
    db_path: Path,
    session: aiohttp.ClientSession,
    simulator: Simulator,
    gateway: Gateway,
    uploads: str,
    status: int,
) -> None:
    gateway.after_forward = [(status, HTML_PAGE)]
    music = make_client(session, gateway.base_url)
    async with open_rig(db_path, music, schedule=SCHEDULE) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        # Unknown fate: not sent again; its callback then shows the API has it.
        await wait_until(lambda: rig.port.copies() == [1, 1])
        done = await rig.store.get_task(task.id)
    assert done is not None and done.state == "done"
    assert len(simulator.tasks) == 1


async def test_without_callbacks_a_gateway_error_is_reported_and_never_resent(
    db_path: Path,
    session: aiohttp.ClientSession,
    simulator: Simulator,
    gateway: Gateway,
    uploads: str,
) -> None:
    gateway.after_forward = [(502, HTML_PAGE)]
    music = make_client(session, gateway.base_url)
    async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=False) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        done = await settled(rig.service, task.id)
        await asyncio.sleep(0.3)
    assert (done.state, done.error, done.can_retry) == ("failed", UNCONFIRMED_REASON, True)
    assert len(simulator.tasks) == 1  # one charge; the member is told to try once more


async def test_answers_in_pieces_are_read_whole(
    db_path: Path,
    session: aiohttp.ClientSession,
    simulator: Simulator,
    gateway: Gateway,
    uploads: str,
) -> None:
    gateway.split = True
    music = make_client(session, gateway.base_url)
    async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=False) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        done = await settled(rig.service, task.id)
    assert done.state == "done" and rig.port.copies() == [1, 1]
    assert len(simulator.tasks) == 1


async def test_ten_minutes_of_maintenance_keep_the_queue(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    simulator.fail_next(455, times=10**6)  # every endpoint, until it is over
    async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=False) as rig:
        tasks = [(await rig.service.request(new_task(f"{uploads}/voice.wav")))[0] for _ in range(5)]
        await asyncio.sleep(600 / 200)
        states = {(await rig.store.get_task(t.id)).state for t in tasks}  # type: ignore[union-attr]
        simulator._faults.clear()  # maintenance is over
        for task in tasks:
            assert (await settled(rig.service, task.id)).state == "done"
    assert states == {"queued"}  # waited, none failed
    assert api_calls(simulator.calls, "add-instrumental", 200) == 5
    # Waiting is bounded: at least `maintenance_wait` (0.3 s here) between tries of a task.
    assert api_calls(simulator.calls, "add-instrumental", 455) <= 5 * (3.0 / 0.3 + 1)


async def test_credits_at_zero_then_refilled(
    db_path: Path, session: aiohttp.ClientSession, uploads: str
) -> None:
    """Credits for 2 of 6: 2 are made, 4 wait (none fails), all 6 are made after a refill."""
    config = SimulatorConfig(api_key=API_KEY, credits=2 * 10.0, task_cost=10.0, **FAST)
    async with Simulator(config) as sim:
        music = make_client(session, sim.base_url)
        async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=False) as rig:
            tasks = [
                (await rig.service.request(new_task(f"{uploads}/voice.wav")))[0] for _ in range(6)
            ]
            await wait_until(rig.service.api.pause.current)
            states = [(await rig.store.get_task(t.id)).state for t in tasks]  # type: ignore[union-attr]
            assert "failed" not in states and "done" not in states[2:]
            sim.config.credits = 500.0  # a moderator tops up
            for task in tasks:
                assert (await settled(rig.service, task.id)).state == "done"
        assert api_calls(sim.calls, "add-instrumental", 200) == 6 and sim.rejections == 0

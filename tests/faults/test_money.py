"""Money safety against answers the simulator's own API never gives: a gateway's JSON
errors, tracks late after SUCCESS, unknown statuses, a time-out in an outage, a place
that is gone, a failed write of the API task id, credit refusals in a burst (issue 21).
The real task core (store, scheduler, client over HTTP) against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.core.tasks import UNCONFIRMED_REASON, PollSchedule
from simulator import Simulator
from tests.support.factories import make_client, new_task
from tests.support.gateway import Gateway, gateway_json, open_gateway
from tests.support.rig import open_rig
from tests.support.waiting import settled, wait_until

SCHEDULE = PollSchedule().scaled(1 / 200)

# What gateways (nginx, Cloudflare, a cloud load balancer) answer in JSON, and the API's
# own 500 mirrored on the HTTP status: none is a documented refusal.
GATEWAY_JSON = [
    (502, gateway_json(504)),
    (504, gateway_json(504)),
    (502, gateway_json(502, "Bad Gateway")),
    (500, '{"code": 500, "msg": "Server error", "data": null}'),
]


@pytest.fixture
async def gateway(simulator: Simulator, session: aiohttp.ClientSession) -> AsyncIterator[Gateway]:
    async with open_gateway(simulator.base_url, session) as proxy:
        yield proxy


@pytest.mark.parametrize("callbacks", [True, False], ids=["callbacks", "polling"])
@pytest.mark.parametrize(("status", "body"), GATEWAY_JSON)
async def test_a_gateways_json_error_after_the_api_took_it_is_charged_once(
    db_path: Path,
    session: aiohttp.ClientSession,
    simulator: Simulator,
    gateway: Gateway,
    uploads: str,
    status: int,
    body: str,
    callbacks: bool,
) -> None:
    gateway.after_forward = [(status, body)]
    music = make_client(session, gateway.base_url)
    async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=callbacks) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        if callbacks:  # its callbacks show the API has it: followed and delivered
            await wait_until(lambda: rig.port.copies() == [1, 1])
        done = await settled(rig.service, task.id)
        await asyncio.sleep(0.5)  # time for a wrong resubmission to happen
    assert len(simulator.tasks) == 1  # charged exactly once
    if callbacks:
        assert done.state == "done"
    else:
        assert (done.state, done.error, done.can_retry) == ("failed", UNCONFIRMED_REASON, True)

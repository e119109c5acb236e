"""The simulator's answer shapes (simulator/faults.py): gateways, cut-off and late answers,
SUCCESS before every track has audio, unknown statuses, stale callbacks; and the charges it
counts per request. Driven over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from simulator import Simulator, SimulatorConfig
from simulator.__main__ import build_config, parse_args
from simulator.faults import UNKNOWN_FAILURES, AnswerShape, Shapes
from tests.support.servers import serve
from tests.support.waiting import wait_until

API = "/api/v1/generate"
FAST = {
    "text_delay": 0.05,
    "first_delay": 0.1,
    "complete_delay": 0.15,
    "rate_limit": 100_000,
    "callback_backoff": 0.01,
    "audio_seconds": 1.0,
    "check_upload": False,
}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(seed=3, **FAST)) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A callback receiver: its URL and what it got, in order."""
    got: list[dict[str, Any]] = []

    async def take(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/cb", take)
    async with serve(app) as base:
        yield f"{base}/cb", got


def body(title: str = "Night Drive", callback: str = "http://127.0.0.1:9/cb") -> dict[str, Any]:
    return {
        "uploadUrl": "https://cdn.example.invalid/voice.wav",
        "title": title,
        "tags": "synthwave",
        "negativeTags": "metal",
        "callBackUrl": callback,
        "model": "V4_5PLUS",
    }


async def post(
    http: aiohttp.ClientSession, sim: Simulator, payload: dict[str, Any]
) -> tuple[int, str]:
    async with http.post(f"{sim.base_url}{API}/add-instrumental", json=payload) as answer:
        return answer.status, await answer.text()


async def info(http: aiohttp.ClientSession, sim: Simulator, task_id: str) -> dict[str, Any]:
    async with http.get(f"{sim.base_url}{API}/record-info", params={"taskId": task_id}) as r:
        data: dict[str, Any] = (await r.json())["data"]
        return data


def only_task(sim: Simulator) -> str:
    (task_id,) = sim.tasks
    return task_id


@pytest.mark.parametrize("forwarded", [False, True])
async def test_json_gateway_forwards_or_not(sim, http, forwarded):
    sim.shape_next(AnswerShape("gateway_json", 504, forwarded=forwarded))
    status, text = await post(http, sim, body())
    assert status == 504
    assert json.loads(text) == {"code": 504, "msg": "Gateway Timeout"}
    # Forwarded: the API created and charged the task behind the gateway's error.
    assert len(sim.tasks) == int(forwarded)
    assert sum(sim.charges.values()) == int(forwarded)
    assert sim.shaped[("add-instrumental", "gateway_json")] == 1


async def test_html_gateway_on_record_info(sim, http):
    assert (await post(http, sim, body()))[0] == 200
    sim.shape_next(AnswerShape("gateway_html", 502, forwarded=True), endpoint="record-info")
    async with http.get(
        f"{sim.base_url}{API}/record-info", params={"taskId": only_task(sim)}
    ) as answer:
        assert answer.status == 502
        assert "Bad Gateway" in await answer.text()
    assert (await info(http, sim, only_task(sim)))["taskId"] == only_task(sim)


async def test_cut_off_after_the_task_is_created(sim, http):
    sim.shape_next(AnswerShape("cut_off"), endpoint="add-instrumental")
    with pytest.raises(aiohttp.ClientError):
        await post(http, sim, body())
    assert len(sim.tasks) == 1
    assert list(sim.charges.values()) == [1]


async def test_late_answer_outlives_a_short_timeout(sim, http):
    sim.shape_next(AnswerShape("late", seconds=0.5))
    with pytest.raises(TimeoutError):
        async with http.post(
            f"{sim.base_url}{API}/add-instrumental",
            json=body(),
            timeout=aiohttp.ClientTimeout(total=0.1),
        ):
            pass
    assert len(sim.tasks) == 1  # done at once, answered late
    sim.shape_next(AnswerShape("late", seconds=0.05))
    status, text = await post(http, sim, body("second"))
    assert status == 200 and json.loads(text)["code"] == 200


async def test_charges_count_each_request(sim, http):
    await post(http, sim, body("one"))
    await post(http, sim, body("one"))
    await post(http, sim, body("two"))
    assert sorted(sim.charges.values()) == [1, 2]
    assert sim.config.credits == 500.0 - 3 * sim.config.task_cost


async def test_success_with_a_track_missing_audio_for_the_next_answers(sim, http):
    sim.config.send_callbacks = False  # a complete callback would use up one answer
    sim.plan_next(hollow_answers=2)
    await post(http, sim, body())
    task_id = only_task(sim)
    sim.finish_now(task_id)
    for _ in range(2):
        data = await info(http, sim, task_id)
        assert data["status"] == "SUCCESS"
        audio = [t["audioUrl"] for t in data["response"]["sunoData"]]
        assert audio[0] and not audio[1]
    data = await info(http, sim, task_id)
    assert all(t["audioUrl"] for t in data["response"]["sunoData"])


async def test_complete_callback_can_be_hollow(sim, http, receiver):
    url, got = receiver
    sim.plan_next(hollow_answers=1)
    await post(http, sim, body(callback=url))
    complete = await wait_until(
        lambda: [c for c in got if c["data"]["callbackType"] == "complete"], timeout=5
    )
    audio = [t["audio_url"] for t in complete[0]["data"]["data"]]
    assert audio[0] and not audio[1]
    data = await info(http, sim, only_task(sim))  # the hollow answer was used up
    assert all(t["audioUrl"] for t in data["response"]["sunoData"])


async def test_unknown_failure_status_with_code_and_message(sim, http):
    sim.plan_next(status="GENERATE_LYRICS_FAILED")
    await post(http, sim, body())
    sim.finish_now(only_task(sim))
    data = await info(http, sim, only_task(sim))
    assert data["status"] == "GENERATE_LYRICS_FAILED"
    assert data["errorCode"] == 531 and data["errorMessage"]
    with pytest.raises(ValueError, match="status word"):
        sim.plan_next(status="not a status")


@pytest.mark.parametrize("odd", ["QUEUED_AGAIN", ""])
async def test_odd_status_for_the_next_answers(sim, http, odd):
    sim.config.send_callbacks = False
    sim.plan_next(status="GENERATE_AUDIO_FAILED", odd_status=odd, odd_answers=2)
    await post(http, sim, body())
    sim.finish_now(only_task(sim))
    for _ in range(2):
        data = await info(http, sim, only_task(sim))
        assert data.get("status") == (odd or None)
        assert data["errorMessage"] == "Audio generation failed"  # still there to read
    assert (await info(http, sim, only_task(sim)))["status"] == "GENERATE_AUDIO_FAILED"


async def test_stale_callbacks_come_after_later_ones(http, receiver):
    url, got = receiver
    config = SimulatorConfig(seed=5, shapes=Shapes(replay=1.0), **FAST)  # type: ignore[arg-type]
    async with Simulator(config) as sim:
        await post(http, sim, body(callback=url))
        await wait_until(lambda: len(got) >= 5, timeout=5)
        async with asyncio.timeout(5):
            await sim.wait_idle()
    stages = [c["data"]["callbackType"] for c in got]
    assert stages == ["text", "first", "text", "complete", "first"]
    assert sim.replayed_callbacks == 2


async def test_seeded_odds_are_reproducible(http):
    async def run(seed: int) -> tuple[list[tuple[str, str]], list[str]]:
        shapes = Shapes(gateway=0.3, cut_off=0.1, late=0.1, late_seconds=0.01, unknown_failure=0.5)
        config = SimulatorConfig(seed=seed, shapes=shapes, **FAST)  # type: ignore[arg-type]
        async with Simulator(config) as sim:
            for number in range(20):
                with contextlib.suppress(aiohttp.ClientError):
                    await post(http, sim, body(f"take {number}"))
            return sorted(sim.shaped.elements()), [t.outcome for t in sim.tasks.values()]

    first = await run(11)
    assert first == await run(11)
    assert first[0], "no shape drawn in 20 calls"
    assert set(first[1]) <= {"SUCCESS", *UNKNOWN_FAILURES}


def test_the_command_line_takes_shapes(capsys):
    config = build_config(parse_args(["--shapes", "gateway=0.1, forwarded=1,hollow_answers=2"]))
    assert config.shapes == Shapes(gateway=0.1, forwarded=1.0, hollow_answers=2)
    assert build_config(parse_args([])).shapes == Shapes()
    with pytest.raises(SystemExit):
        parse_args(["--shapes", "gatway=0.1"])
    assert "unknown shape 'gatway'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--shapes", "late=soon"])
    assert "late needs a number, not 'soon'" in capsys.readouterr().err

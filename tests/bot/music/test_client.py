"""The music API client against the built-in simulator, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import ValidationError

from bot.music import MusicClient, TaskStatus
from bot.music import errors as e
from simulator import Simulator, SimulatorConfig
from tests.conftest import API_KEY, FAST, make_client

UPLOAD = "http://127.0.0.1:9/never-fetched.wav"


def request(music: MusicClient, **overrides: object):
    fields = {
        "uploadUrl": UPLOAD,
        "title": "Morning take",
        "tags": "lofi, piano",
        "negativeTags": "metal",
        "callBackUrl": "https://callbacks.invalid/x",
    }
    fields.update(overrides)
    return music.build_request(**fields)


@pytest.fixture
async def sim() -> Simulator:
    """A simulator that trusts upload URLs (the upload check has its own tests)."""
    simulator = Simulator(SimulatorConfig(api_key=API_KEY, check_upload=False, seed=1, **FAST))
    await simulator.start()
    yield simulator
    await simulator.close()


@pytest.fixture
def client(session: aiohttp.ClientSession, sim: Simulator) -> MusicClient:
    return make_client(session, sim.base_url)


async def test_submit_poll_and_credits(client: MusicClient, sim: Simulator) -> None:
    before = await client.get_credits()
    task_id = await client.submit_add_instrumental(request(client, styleWeight=0.611))
    assert len(task_id) == 32
    assert sim.tasks[task_id].params["styleWeight"] == 0.61
    assert await client.get_credits() == before - sim.config.task_cost

    info = await client.get_task(task_id)
    assert info.status == TaskStatus.PENDING and info.tracks == []
    sim.finish_now(task_id)
    info = await client.get_task(task_id)
    assert info.status == TaskStatus.SUCCESS and info.finished and not info.failed
    assert len(info.ready_tracks) == 2
    assert info.param["title"] == "Morning take"
    assert all(t.duration and t.audio_url.startswith(sim.base_url) for t in info.tracks)


async def test_statuses_in_order(client: MusicClient, sim: Simulator) -> None:
    task_id = await client.submit_add_instrumental(request(client))
    seen: list[str] = []
    for _ in range(100):
        info = await client.get_task(task_id)
        if not seen or seen[-1] != info.status:
            seen.append(info.status)
            if info.status == TaskStatus.FIRST_SUCCESS:
                assert [t.ready for t in info.tracks] == [True, False]  # half-finished second
                assert info.tracks[1].duration is None
        if info.status == TaskStatus.SUCCESS:
            break
        await asyncio.sleep(0.02)
    assert seen == ["PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS"]


@pytest.mark.parametrize(
    ("status", "failed"),
    [
        ("CREATE_TASK_FAILED", True),
        ("GENERATE_AUDIO_FAILED", True),
        ("SENSITIVE_WORD_ERROR", True),
        ("CALLBACK_EXCEPTION", False),  # tracks present: the generation itself succeeded
    ],
)
async def test_failure_statuses(
    client: MusicClient, sim: Simulator, status: str, failed: bool
) -> None:
    sim.plan_next(status=status)
    task_id = await client.submit_add_instrumental(request(client))
    sim.finish_now(task_id)
    info = await client.get_task(task_id)
    assert info.status == status
    assert info.failed is failed
    assert info.finished is not failed
    if failed:
        assert info.error_message


async def test_one_track_and_drifted_casing(client: MusicClient, sim: Simulator) -> None:
    sim.config.record_info_casing = "drifted"
    sim.plan_next(track_count=1)
    task_id = await client.submit_add_instrumental(request(client))
    sim.finish_now(task_id)
    info = await client.get_task(task_id)
    assert info.finished and len(info.tracks) == 1
    assert info.tracks[0].audio_url and info.tracks[0].create_time is not None


@pytest.mark.parametrize(
    ("code", "error", "retryable"),
    [
        (400, e.InvalidRequest, False),
        (401, e.Unauthorized, False),
        (404, e.EndpointNotFound, False),
        (405, e.RateLimited, True),
        (413, e.TextTooLong, False),
        (429, e.InsufficientCredits, False),
        (430, e.RateLimited, True),
        (455, e.Maintenance, True),
        (500, e.ServerError, True),
        (402, e.InsufficientCredits, False),
        (418, e.UnknownCode, False),
        (-502, e.ServerError, True),
        (-1, e.BadResponse, True),
    ],
)
async def test_every_code_maps_to_an_exception(
    client: MusicClient, sim: Simulator, code: int, error: type[e.MusicError], retryable: bool
) -> None:
    sim.fail_next(code, times=10, endpoint="credit")
    with pytest.raises(error) as info:
        await client.get_credits()
    assert info.value.retryable is retryable
    assert info.value.reason and API_KEY not in str(info.value)
    expected_calls = 1 + (2 if retryable and error is not e.Maintenance else 0)
    assert sum(n for (ep, _), n in sim.calls.items() if ep == "credit") == expected_calls


async def test_retries_stop_and_succeed(client: MusicClient, sim: Simulator) -> None:
    sim.fail_next(500, times=2, endpoint="credit")
    assert await client.get_credits() > 0  # two retries, then the answer
    sim.fail_next(500, times=5, endpoint="credit")
    with pytest.raises(e.ServerError):
        await client.get_credits()  # retries are bounded (max_retries=2)


async def test_submission_is_never_sent_twice_when_the_outcome_is_unknown(
    session: aiohttp.ClientSession, sim: Simulator
) -> None:
    client = make_client(session, sim.base_url, timeout=0.3)
    sim.fail_next(-2, endpoint="add-instrumental")  # hangs past the time-out
    with pytest.raises(e.MusicTimeout):
        await client.submit_add_instrumental(request(client))
    sim.fail_next(-1, endpoint="add-instrumental")  # garbled answer: maybe accepted
    with pytest.raises(e.BadResponse):
        await client.submit_add_instrumental(request(client))
    submits = sum(n for (ep, _), n in sim.calls.items() if ep == "add-instrumental")
    assert submits <= 2
    # A clear refusal is safe to send again, by the caller (the task core requeues it).
    sim.fail_next(430, endpoint="add-instrumental")
    with pytest.raises(e.RateLimited) as caught:
        await client.submit_add_instrumental(request(client))
    assert e.certainly_not_taken(caught.value)
    assert await client.submit_add_instrumental(request(client))


async def test_timeout_on_reads_is_retried_then_raised(
    session: aiohttp.ClientSession, sim: Simulator
) -> None:
    client = make_client(session, sim.base_url, timeout=0.2, max_retries=1)
    sim.fail_next(-2, times=2, endpoint="credit")
    with pytest.raises(e.MusicTimeout):
        await client.get_credits()


async def test_unreachable_api(session: aiohttp.ClientSession) -> None:
    client = make_client(session, "http://127.0.0.1:9", max_retries=1)
    with pytest.raises(e.MusicUnreachable):
        await client.get_credits()


async def test_wrong_key_is_unauthorized_and_never_logged(
    session: aiohttp.ClientSession, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "wrong-key-that-must-not-leak"
    client = make_client(session, sim.base_url, api_key=secret)
    with pytest.raises(e.Unauthorized) as info:
        await client.get_credits()
    sim.fail_next(500, times=1)
    good = make_client(session, sim.base_url)
    await good.get_credits()
    text = caplog.text + str(info.value) + repr(info.value) + repr(client) + repr(good)
    assert secret not in text and API_KEY not in text


async def test_rate_limiter_holds_a_burst_of_100(session: aiohttp.ClientSession) -> None:
    # The real limit's shape (20 per window), on a short window so the test is quick.
    async with Simulator(
        SimulatorConfig(rate_limit=20, rate_period=0.3, check_upload=False)
    ) as sim:
        client = make_client(
            session, sim.base_url, limit=20, period=0.3, max_retries=0, margin=0.15
        )
        results = await asyncio.gather(*(client.get_credits() for _ in range(100)))
    assert len(results) == 100
    assert sim.rejections == 0
    assert sim.calls[("credit", 200)] == 100


def test_request_model_enforces_the_rules(client: MusicClient) -> None:
    assert request(client, audioWeight=0.999).audio_weight == 1.0
    assert request(client, vocalGender="f").payload()["vocalGender"] == "f"
    assert "vocalGender" not in request(client).payload()
    for bad in (
        {"title": "x" * 101},
        {"title": ""},
        {"tags": ""},
        {"negativeTags": " "},
        {"uploadUrl": "not a url"},
        {"vocalGender": "x"},
        {"styleWeight": 1.2},
        {"weirdnessConstraint": -0.1},
        {"model": "V5_5"},  # not in this client's allowed set
    ):
        with pytest.raises(ValidationError):
            request(client, **bad)
    allowed = MusicClient.__new__(MusicClient)
    allowed.allowed_models = frozenset({"V5_5"})
    assert allowed.build_request(**{**request(client).payload(), "model": "V5_5"}).model == "V5_5"


def submits(sim: Simulator) -> int:
    return sum(n for (ep, _), n in sim.calls.items() if ep == "add-instrumental")


@pytest.mark.parametrize("status", [502, 504, 520])
async def test_a_gateway_error_page_on_submission_is_never_sent_again(
    client: MusicClient, sim: Simulator, status: int
) -> None:
    # The API behind the gateway may have created (and charged) the task: outcome unknown.
    sim.fail_next(-status, endpoint="add-instrumental")
    with pytest.raises(e.ServerError) as caught:
        await client.submit_add_instrumental(request(client))
    assert caught.value.code == status and not caught.value.enveloped
    assert not e.certainly_not_taken(caught.value)
    assert submits(sim) == 1


async def test_an_enveloped_refusal_on_submission_is_left_to_the_caller(
    client: MusicClient, sim: Simulator
) -> None:
    # The API's own envelope refusing it: certainly not taken, so the task core may send it
    # again later, from its durable queue (never inside the client while claimed).
    sim.fail_next(455, endpoint="add-instrumental")
    with pytest.raises(e.Maintenance) as caught:
        await client.submit_add_instrumental(request(client))
    assert e.certainly_not_taken(caught.value) and submits(sim) == 1


async def test_the_apis_own_server_error_on_submission_is_an_unknown_fate(
    client: MusicClient, sim: Simulator
) -> None:
    # 500 is not one of the documented refusals: the task may exist already.
    sim.fail_next(500, endpoint="add-instrumental")
    with pytest.raises(e.ServerError) as caught:
        await client.submit_add_instrumental(request(client))
    assert not e.certainly_not_taken(caught.value) and submits(sim) == 1


async def test_a_submission_is_claimed_only_as_it_leaves(
    session: aiohttp.ClientSession, sim: Simulator
) -> None:
    client = make_client(session, sim.base_url, limit=1, period=0.3, margin=0.0)
    claimed: list[float] = []

    async def claim() -> bool:
        claimed.append(time.monotonic())
        return True

    started = time.monotonic()
    assert await client.submit_add_instrumental(request(client), claim=claim)
    assert await client.submit_add_instrumental(request(client), claim=claim)
    # The second claim waited for the rate limiter: it was made when the request left.
    assert claimed[1] - started >= 0.25 and submits(sim) == 2

    async def refuse() -> bool:
        return False

    with pytest.raises(e.NotSent) as caught:
        await client.submit_add_instrumental(request(client), claim=refuse)
    assert e.certainly_not_taken(caught.value) and submits(sim) == 2


async def test_gateway_errors_on_polls_are_still_retried(
    client: MusicClient, sim: Simulator
) -> None:
    sim.fail_next(-502, times=2, endpoint="credit")
    assert await client.get_credits() > 0


@pytest.mark.parametrize(
    ("error", "not_taken"),
    [
        (e.MusicUnreachable("x"), True),  # the connection was never made
        (e.error_for_code(430), True),  # the API's own envelope refusing the call
        (e.error_for_code(455), True),
        (e.error_for_code(400), True),
        (e.error_for_code(429), True),
        (e.error_for_code(500), False),  # not a documented refusal: maybe created
        (e.error_for_code(504), False),
        (e.error_for_code(409), False),
        (e.error_for_code(777), False),
        (e.MusicTimeout("x"), False),  # everything else: unknown
        (e.MusicConnectionError("x"), False),
        (e.BadResponse(200, "x"), False),
        (e.BadResponse(502, "x"), False),
        (e.error_for_http_status(502), False),
        (e.error_for_http_status(429), False),
        (e.error_for_http_status(404), False),
    ],
    ids=repr,
)
def test_certainly_not_taken(error: e.MusicError, not_taken: bool) -> None:
    assert e.certainly_not_taken(error) is not_taken


@pytest.fixture
async def raw_api() -> AsyncIterator[tuple[str, list[int]]]:
    """A hand-written API: envelopes split across writes, oversized ones, a dropped line."""
    from aiohttp import web

    envelope = b'{"code": 200, "msg": "success", "data": 42.5}'
    sent: list[int] = []

    async def split(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(envelope[:10])  # write() drains: this piece goes out alone
        await asyncio.sleep(0.1)
        await response.write(envelope[10:])
        await response.write_eof()
        return response

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)  # chunked: no Content-Length to trust
        try:
            await response.write(b'{"code": 200, "msg": "' + b"x" * 10_000)
            for _ in range(2_000):  # 2 GB would be the bug; the client stops far earlier
                await response.write(b"x" * 1_000_000)
                sent.append(1)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass
        return response

    async def declared(_: web.Request) -> web.Response:
        return web.Response(body=b" " * (2 * 1024 * 1024) + envelope)

    async def drop(request: web.Request) -> web.Response:
        await request.read()
        assert request.transport is not None
        request.transport.close()  # the request arrived; the answer never comes
        await asyncio.sleep(1)
        return web.Response()

    app = web.Application()
    app.router.add_get("/split/api/v1/generate/credit", split)
    app.router.add_get("/huge/api/v1/generate/credit", huge)
    app.router.add_get("/declared/api/v1/generate/credit", declared)
    app.router.add_post("/drop/api/v1/generate/add-instrumental", drop)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", sent
    await runner.cleanup()


async def test_an_envelope_sent_in_pieces_is_read_whole(
    session: aiohttp.ClientSession, raw_api: tuple[str, list[int]]
) -> None:
    client = make_client(session, f"{raw_api[0]}/split", max_retries=0)
    assert await client.get_credits() == 42.5


@pytest.mark.parametrize("path", ["huge", "declared"])
async def test_an_oversized_answer_is_refused_unread(
    session: aiohttp.ClientSession, raw_api: tuple[str, list[int]], path: str
) -> None:
    base, sent = raw_api
    client = make_client(session, f"{base}/{path}", max_retries=0)
    with pytest.raises(e.BadResponse) as caught:
        await client.get_credits()
    assert "larger than" in str(caught.value)
    await asyncio.sleep(0.1)  # let the server notice the closed connection
    assert len(sent) < 100  # megabytes: the client hung up soon after the cap


async def test_a_connection_dropped_after_sending_is_unknown(
    session: aiohttp.ClientSession, raw_api: tuple[str, list[int]]
) -> None:
    client = make_client(session, f"{raw_api[0]}/drop")
    with pytest.raises(e.MusicConnectionError) as caught:
        await client.submit_add_instrumental(request(client))
    assert not e.certainly_not_taken(caught.value)

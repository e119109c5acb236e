"""The music-API simulator, driven over real HTTP like the bot's client would."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.audio import probe_duration, sniff_audio
from simulator import Simulator, SimulatorConfig
from simulator.media import make_wav
from tests.support.recordings import Takes
from tests.support.waiting import wait_until

API = "/api/v1/generate"
FAST = {
    "text_delay": 0.1,
    "first_delay": 0.2,
    "complete_delay": 0.3,
    "rate_limit": 100_000,
    "callback_backoff": 0.01,
    "audio_seconds": 1.0,
}
SNAKE_TRACK_KEYS = {
    "id",
    "audio_url",
    "source_audio_url",
    "stream_audio_url",
    "source_stream_audio_url",
    "image_url",
    "source_image_url",
    "prompt",
    "model_name",
    "title",
    "tags",
    "createTime",
    "duration",
}
CAMEL_TRACK_KEYS = {
    "id",
    "audioUrl",
    "sourceAudioUrl",
    "streamAudioUrl",
    "sourceStreamAudioUrl",
    "imageUrl",
    "sourceImageUrl",
    "prompt",
    "modelName",
    "title",
    "tags",
    "createTime",
    "duration",
}
DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


# ------------------------------------------------------------------ fixtures


@dataclass
class Source:
    """A tiny web app standing in for Discord's CDN (uploads) and the bot (callbacks)."""

    url: str
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    fail_callbacks: int = 0  # answer the next N callbacks with HTTP 500

    def by_stage(self, task_id: str) -> list[str]:
        return [
            c["data"]["callbackType"]
            for c in self.callbacks
            if task_id in (c["data"].get("task_id"), c["data"].get("taskId"))
        ]


@pytest.fixture
async def source(takes: Takes) -> AsyncIterator[Source]:
    voice = make_wav(1.0)
    holder: list[Source] = []

    async def upload(request: web.Request) -> web.Response:
        return web.Response(body=voice, content_type="audio/wav")

    async def memo(request: web.Request) -> web.Response:
        return web.Response(body=takes.voice, content_type="audio/ogg")

    async def notes(request: web.Request) -> web.Response:
        return web.Response(text="just some text, definitely not audio\n" * 10)

    async def callback(request: web.Request) -> web.Response:
        src = holder[0]
        if src.fail_callbacks > 0:
            src.fail_callbacks -= 1
            return web.Response(status=500)
        src.callbacks.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/voice.wav", upload)
    app.router.add_get("/notes.txt", notes)
    app.router.add_get("/memo.ogg", memo)
    app.router.add_post("/cb", callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    holder.append(Source(f"http://127.0.0.1:{runner.addresses[0][1]}"))
    yield holder[0]
    await runner.cleanup()


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(**FAST)) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def submission(source: Source, **overrides: Any) -> dict[str, Any]:
    body = {
        "uploadUrl": f"{source.url}/voice.wav",
        "title": "Night Drive",
        "tags": "synthwave, warm pads",
        "negativeTags": "heavy metal",
        "callBackUrl": f"{source.url}/cb",
        "vocalGender": "f",
        "styleWeight": 0.61,
        "weirdnessConstraint": 0.72,
        "audioWeight": 0.65,
        "model": "V4_5PLUS",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


async def submit(
    http: aiohttp.ClientSession, sim: Simulator, body: Any, key: str | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, str) else {"json": body}
    async with http.post(f"{sim.base_url}{API}/add-instrumental", headers=headers, **kwargs) as r:
        assert r.status == 200
        return await r.json()


async def get(
    http: aiohttp.ClientSession,
    sim: Simulator,
    endpoint: str,
    key: str | None = None,
    **params: str,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with http.get(f"{sim.base_url}{API}/{endpoint}", headers=headers, params=params) as r:
        assert r.status == 200
        return await r.json()


async def record(http: aiohttp.ClientSession, sim: Simulator, task_id: str) -> dict[str, Any]:
    answer = await get(http, sim, "record-info", taskId=task_id)
    assert answer["code"] == 200, answer
    return answer["data"]


async def until_status(
    http: aiohttp.ClientSession, sim: Simulator, task_id: str, *statuses: str
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        data = await record(http, sim, task_id)
        return data if data["status"] in statuses else None

    return await wait_until(check)


async def accepted(http: aiohttp.ClientSession, sim: Simulator, body: dict[str, Any]) -> str:
    answer = await submit(http, sim, body)
    assert answer["code"] == 200, answer
    return answer["data"]["taskId"]


# ---------------------------------------------------------------- auth, codes


async def test_auth_required_when_key_configured(sim, http, source):
    sim.config.api_key = "s3cret"
    assert (await get(http, sim, "credit"))["code"] == 401
    assert (await get(http, sim, "credit", key="wrong"))["code"] == 401
    assert (await submit(http, sim, submission(source)))["code"] == 401
    ok = await get(http, sim, "credit", key="s3cret")
    assert ok == {"code": 200, "msg": "success", "data": 500.0}
    assert sim.calls[("credit", 401)] == 2


async def test_any_key_accepted_without_configured_key(sim, http):
    assert (await get(http, sim, "credit"))["code"] == 200
    assert (await get(http, sim, "credit", key="whatever"))["code"] == 200


@pytest.mark.parametrize("name", ["uploadUrl", "title", "tags", "negativeTags", "callBackUrl"])
@pytest.mark.parametrize("value", [..., "", "   ", None])
async def test_missing_required_field_is_400(sim, http, source, name, value):
    answer = await submit(http, sim, submission(source, **{name: value}))
    assert answer["code"] == 400
    assert name in answer["msg"]


@pytest.mark.parametrize(
    ("overrides", "code", "word"),
    [
        ({"title": "x" * 101}, 413, "title"),
        ({"tags": "x" * 1001}, 413, "tags"),
        ({"negativeTags": "x" * 1001}, 413, "negativeTags"),
        ({"vocalGender": "x"}, 400, "vocalGender"),
        ({"styleWeight": 1.01}, 400, "styleWeight"),
        ({"weirdnessConstraint": -0.01}, 400, "weirdnessConstraint"),
        ({"audioWeight": 0.615}, 400, "audioWeight"),
        ({"audioWeight": "0.5"}, 400, "audioWeight"),
        ({"model": "V3_5"}, 400, "model"),
        ({"uploadUrl": "ftp://example.com/a.mp3"}, 400, "uploadUrl"),
        ({"title": 42}, 400, "title"),
    ],
)
async def test_invalid_submission_codes(sim, http, source, overrides, code, word):
    answer = await submit(http, sim, submission(source, **overrides))
    assert answer["code"] == code
    assert word in answer["msg"]
    assert sim.tasks == {}
    assert sim.config.credits == 500.0


@pytest.mark.parametrize(
    "overrides",
    [
        {"title": "x" * 100, "tags": "x" * 1000},
        {"styleWeight": 0.29, "audioWeight": 0, "weirdnessConstraint": 1},
        {"model": "V5_5", "vocalGender": ...},
        {"model": ..., "styleWeight": ..., "audioWeight": ..., "weirdnessConstraint": ...},
    ],
)
async def test_valid_edge_submissions_accepted(sim, http, source, overrides):
    task_id = await accepted(http, sim, submission(source, **overrides))
    assert re.fullmatch(r"[0-9a-f]{32}", task_id)


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"'])
async def test_bad_json_is_400(sim, http, raw):
    assert (await submit(http, sim, raw))["code"] == 400


async def test_credits_spent_then_429(sim, http, source):
    sim.config.credits, sim.config.task_cost = 30.0, 12.0
    await accepted(http, sim, submission(source))
    await accepted(http, sim, submission(source))
    answer = await submit(http, sim, submission(source))
    assert answer["code"] == 429
    assert (await get(http, sim, "credit"))["data"] == 6.0
    assert len(sim.tasks) == 2
    assert sim.calls[("add-instrumental", 429)] == 1


async def test_rate_limit_430_and_recovery(sim, http):
    sim.config.rate_limit, sim.config.rate_period = 3, 0.3
    codes = [(await get(http, sim, "credit"))["code"] for _ in range(5)]
    assert codes == [200, 200, 200, 430, 430]
    assert sim.rejections == 2
    assert sim.calls[("credit", 430)] == 2
    await asyncio.sleep(0.32)  # rejected calls did not use up the window
    assert (await get(http, sim, "credit"))["code"] == 200


async def test_arrivals_are_noted_as_calls_reach_the_limit(sim, http):
    sim.config.rate_limit, sim.config.rate_period = 2, 10.0
    arrivals = sim.note_arrivals()
    before = time.monotonic()
    codes = [(await get(http, sim, "credit"))["code"] for _ in range(3)]
    assert codes == [200, 200, 430]  # a refused call arrived too
    assert len(arrivals) == 3 and before <= arrivals[0] <= arrivals[1] <= arrivals[2]


async def test_rate_limit_is_per_key(sim, http):
    sim.config.rate_limit, sim.config.rate_period = 1, 10.0
    assert (await get(http, sim, "credit", key="a"))["code"] == 200
    assert (await get(http, sim, "credit", key="a"))["code"] == 430
    assert (await get(http, sim, "credit", key="b"))["code"] == 200


@pytest.mark.parametrize("code", [455, 500, 405, 430])
async def test_fail_next_business_codes(sim, http, code):
    sim.fail_next(code, times=2)
    assert (await get(http, sim, "credit"))["code"] == code
    assert (await get(http, sim, "record-info", taskId="x"))["code"] == code
    assert (await get(http, sim, "credit"))["code"] == 200
    assert sim.rejections == 0  # injected, not the rate limiter


async def test_fail_next_per_endpoint(sim, http, source):
    sim.fail_next(500, endpoint="add-instrumental")
    assert (await get(http, sim, "credit"))["code"] == 200
    assert (await submit(http, sim, submission(source)))["code"] == 500
    assert sim.tasks == {}
    await accepted(http, sim, submission(source))


async def test_fail_next_http_502(sim, http):
    sim.fail_next(-502)
    async with http.get(f"{sim.base_url}{API}/credit") as response:
        assert response.status == 502
        assert "Bad Gateway" in await response.text()
    assert sim.calls[("credit", -502)] == 1


async def test_fail_next_non_json_body(sim, http):
    sim.fail_next(-1)
    async with http.get(f"{sim.base_url}{API}/credit") as response:
        assert response.status == 200
        text = await response.text()
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


async def test_fail_next_hang_and_close_promptly(http):
    sim = Simulator(SimulatorConfig(**FAST))
    await sim.start()
    sim.fail_next(-2)
    timeout = aiohttp.ClientTimeout(total=0.2)
    with pytest.raises(asyncio.TimeoutError):
        await http.get(f"{sim.base_url}{API}/credit", timeout=timeout)
    started = time.monotonic()
    await sim.close()
    assert time.monotonic() - started < 2.0


async def test_unknown_path_and_method_answer_404_envelope(sim, http):
    for method, path in [("GET", "/api/v1/nope"), ("GET", f"{API}/add-instrumental")]:
        async with http.request(method, f"{sim.base_url}{path}") as response:
            assert response.status == 200
            assert (await response.json())["code"] == 404


async def test_unknown_task_is_400(sim, http):
    answer = await get(http, sim, "record-info", taskId="0" * 32)
    assert (answer["code"], answer["msg"]) == (400, "task not found")
    assert (await get(http, sim, "record-info"))["code"] == 400


# ----------------------------------------------------------------- progression


async def test_progression_through_statuses(sim, http, source):
    body = submission(source)
    task_id = await accepted(http, sim, body)
    seen: list[str] = []
    snapshots: dict[str, dict[str, Any]] = {}
    while not seen or seen[-1] != "SUCCESS":
        data = await record(http, sim, task_id)
        if not seen or seen[-1] != data["status"]:
            seen.append(data["status"])
            snapshots[data["status"]] = data
        await asyncio.sleep(0.02)
    assert seen == ["PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS"]

    pending = snapshots["PENDING"]
    assert pending["response"] is None
    assert json.loads(pending["param"]) == body  # param is a JSON string
    assert isinstance(pending["createTime"], int)
    assert (pending["errorCode"], pending["errorMessage"]) == (None, None)

    text_tracks = snapshots["TEXT_SUCCESS"]["response"]["sunoData"]
    assert [t["audioUrl"] for t in text_tracks] == ["", ""]

    first = snapshots["FIRST_SUCCESS"]["response"]
    assert first["taskId"] == task_id
    one, two = first["sunoData"]
    assert one["audioUrl"].startswith(sim.base_url) and one["duration"] == 1.0
    assert two["audioUrl"] == "" and "duration" not in two

    done = snapshots["SUCCESS"]["response"]["sunoData"]
    assert len(done) == 2
    for track in done:
        assert set(track) == CAMEL_TRACK_KEYS
        assert uuid.UUID(track["id"]).version == 4
        assert track["title"] == "Night Drive" and track["tags"] == body["tags"]
        assert isinstance(track["createTime"], int)
    assert done[0]["id"] == one["id"]  # ids are stable across stages


@pytest.mark.parametrize("how", ["plan", "tag"])
async def test_single_track(sim, http, source, how):
    if how == "plan":
        sim.plan_next(track_count=1)
        body = submission(source)
    else:
        body = submission(source, tags="lofi [sim:tracks=1]")
    task_id = await accepted(http, sim, body)
    data = await until_status(http, sim, task_id, "SUCCESS")
    assert len(data["response"]["sunoData"]) == 1
    assert sim.tasks[task_id].outcome == "SUCCESS"


@pytest.mark.parametrize(
    ("status", "code", "text_first"),
    [
        ("CREATE_TASK_FAILED", 500, False),
        ("SENSITIVE_WORD_ERROR", 400, False),
        ("GENERATE_AUDIO_FAILED", 501, True),
    ],
)
async def test_planned_failures(sim, http, source, status, code, text_first):
    sim.plan_next(status=status)
    task_id = await accepted(http, sim, submission(source))
    data = await until_status(http, sim, task_id, status)
    assert data["errorCode"] == code and data["errorMessage"]
    if text_first:  # tracks were listed but never got audio
        assert [t["audioUrl"] for t in data["response"]["sunoData"]] == ["", ""]
    else:
        assert data["response"] is None
    stages = await wait_until(
        lambda: source.by_stage(task_id) if "error" in source.by_stage(task_id) else None
    )
    assert stages == (["text", "error"] if text_first else ["error"])
    error = next(c for c in source.callbacks if c["data"]["callbackType"] == "error")
    assert error["code"] == code and error["data"]["data"] is None


async def test_plan_next_overrides_code_and_tags_pick_outcome(sim, http, source):
    sim.plan_next(status="GENERATE_AUDIO_FAILED", error_code=531, error_message="boom")
    first = await accepted(http, sim, submission(source))
    second = await accepted(http, sim, submission(source, tags="pop [sim:SENSITIVE_WORD_ERROR]"))
    third = await accepted(http, sim, submission(source))
    data = await until_status(http, sim, first, "GENERATE_AUDIO_FAILED")
    assert (data["errorCode"], data["errorMessage"]) == (531, "boom")
    await until_status(http, sim, second, "SENSITIVE_WORD_ERROR")
    await until_status(http, sim, third, "SUCCESS")


async def test_failure_rate(http, source):
    config = SimulatorConfig(**FAST, failure_rate=1.0, failure_status="CREATE_TASK_FAILED")
    async with Simulator(config) as sim:
        task_id = await accepted(http, sim, submission(source))
        await until_status(http, sim, task_id, "CREATE_TASK_FAILED")


async def test_callback_exception_keeps_tracks(sim, http, source):
    sim.plan_next(status="CALLBACK_EXCEPTION")
    task_id = await accepted(http, sim, submission(source))
    data = await until_status(http, sim, task_id, "CALLBACK_EXCEPTION")
    assert all(t["audioUrl"] for t in data["response"]["sunoData"])
    await sim.wait_idle()
    assert source.by_stage(task_id) == ["text", "first"]  # "complete" was "undeliverable"


async def test_non_audio_upload_fails_with_451(sim, http, source):
    task_id = await accepted(http, sim, submission(source, uploadUrl=f"{source.url}/notes.txt"))
    data = await until_status(http, sim, task_id, "CREATE_TASK_FAILED")
    assert data["errorCode"] == 451 and "not audio" in data["errorMessage"]
    await wait_until(lambda: source.by_stage(task_id) == ["error"])
    assert source.callbacks[0]["code"] == 451
    assert sim.tasks[task_id].upload_kind is None


@pytest.mark.parametrize("formats", [None, ("mp3", "wav")])
async def test_undocumented_formats_are_a_setting(sim, http, source, formats):
    """Whether the provider decodes Opus is not documented: both answers are simulated."""
    sim.config.upload_formats = formats
    task_id = await accepted(http, sim, submission(source, uploadUrl=f"{source.url}/memo.ogg"))
    if formats is None:
        await until_status(http, sim, task_id, "SUCCESS")
        assert sim.tasks[task_id].upload_kind == "ogg"
        return
    data = await until_status(http, sim, task_id, "CREATE_TASK_FAILED")
    assert (data["errorCode"], data["errorMessage"]) == (
        451,
        "The uploaded audio format is not supported",
    )
    voice = await accepted(http, sim, submission(source))  # a WAV still goes through
    await until_status(http, sim, voice, "SUCCESS")


async def test_unfetchable_upload_fails_with_451(sim, http, source):
    task_id = await accepted(http, sim, submission(source, uploadUrl=f"{source.url}/gone.mp3"))
    data = await until_status(http, sim, task_id, "CREATE_TASK_FAILED")
    assert (data["errorCode"], data["errorMessage"]) == (451, "Failed to fetch the audio file")


async def test_oversized_upload_fails(sim, http, source):
    sim.config.max_upload_bytes = 1000
    task_id = await accepted(http, sim, submission(source))
    data = await until_status(http, sim, task_id, "CREATE_TASK_FAILED")
    assert data["errorCode"] == 451


async def test_finish_now_with_minute_timings(http, source):
    async with Simulator(SimulatorConfig(audio_seconds=1.0)) as sim:
        task_id = await accepted(http, sim, submission(source))
        assert (await record(http, sim, task_id))["status"] == "PENDING"
        sim.finish_now(task_id)
        assert (await record(http, sim, task_id))["status"] == "SUCCESS"
        await wait_until(lambda: source.by_stage(task_id) == ["text", "first", "complete"])
        text = source.callbacks[0]["data"]["data"]
        assert [t["audio_url"] for t in text] == ["", ""]  # rendered as of its own stage


# ------------------------------------------------------------------- callbacks


async def test_callbacks_documented_casing(sim, http, source):
    task_id = await accepted(http, sim, submission(source))
    await wait_until(lambda: source.by_stage(task_id) == ["text", "first", "complete"])
    complete = source.callbacks[-1]
    assert complete["code"] == 200 and complete["msg"]
    assert complete["data"]["task_id"] == task_id
    for track in complete["data"]["data"]:
        assert set(track) == SNAKE_TRACK_KEYS
        assert DATETIME.match(track["createTime"])
        assert track["audio_url"].endswith(".wav")
    first = source.callbacks[1]["data"]["data"]
    assert first[0]["audio_url"] and first[1]["audio_url"] == ""
    # The receiver has the last callback before the simulator has read its answer.
    async with asyncio.timeout(3):
        await sim.wait_idle()
    assert [c["stage"] for c in sim.callbacks_sent] == ["text", "first", "complete"]
    assert all(c["delivered"] and c["url"] == f"{source.url}/cb" for c in sim.callbacks_sent)


async def test_callbacks_drifted_casing_and_repeats(sim, http, source):
    sim.config.callback_casing = "drifted"
    sim.config.callback_repeats = 2
    task_id = await accepted(http, sim, submission(source))
    expected = ["text", "text", "first", "first", "complete", "complete"]
    await wait_until(lambda: source.by_stage(task_id) == expected)
    complete = source.callbacks[-1]["data"]
    assert complete["taskId"] == task_id and "task_id" not in complete
    for track in complete["data"]:
        assert set(track) == CAMEL_TRACK_KEYS
        assert isinstance(track["createTime"], int)


async def test_callback_retried_then_delivered(sim, http, source):
    source.fail_callbacks = 2
    sim.config.complete_delay = sim.config.first_delay = sim.config.text_delay = 0.05
    task_id = await accepted(http, sim, submission(source))
    await wait_until(lambda: source.by_stage(task_id) == ["text", "first", "complete"])
    assert sim.callbacks_sent[0]["attempts"] == 3
    assert sim.callbacks_sent[0]["http_status"] == 200


async def test_callback_gives_up_and_marks_exception(sim, http, source):
    sim.config.mark_callback_exception = True
    body = submission(source, callBackUrl=f"{source.url}/missing-callback")
    task_id = await accepted(http, sim, body)
    async with asyncio.timeout(3):
        await wait_until(lambda: len(sim.callbacks_sent) == 3)
        await sim.wait_idle()
    assert [c["attempts"] for c in sim.callbacks_sent] == [4, 4, 4]
    assert not any(c["delivered"] for c in sim.callbacks_sent)
    assert (await record(http, sim, task_id))["status"] == "CALLBACK_EXCEPTION"


async def test_no_callbacks_when_disabled(sim, http, source):
    sim.config.send_callbacks = False
    task_id = await accepted(http, sim, submission(source))
    await until_status(http, sim, task_id, "SUCCESS")
    await asyncio.sleep(0.05)
    assert source.callbacks == [] and sim.callbacks_sent == []


# ----------------------------------------------------------------------- files


async def test_files_are_real_audio_and_images(sim, http, source):
    task_id = await accepted(http, sim, submission(source))
    data = await until_status(http, sim, task_id, "SUCCESS")
    sim.config.api_key = "k"  # files are public URLs: no bearer needed even so
    track = data["response"]["sunoData"][1]
    for url in (track["audioUrl"], track["streamAudioUrl"]):
        async with http.get(url) as response:
            assert response.status == 200
            assert response.content_type == "audio/wav"
            assert response.content_length is not None
            audio = await response.read()
        assert sniff_audio(audio[:64]) == "wav"
        assert probe_duration(audio) == pytest.approx(1.0, abs=0.01)
    async with http.get(track["imageUrl"]) as response:
        assert response.content_type == "image/png"
        assert (await response.read()).startswith(b"\x89PNG\r\n\x1a\n")


async def test_unfinished_track_file_is_404(sim, http, source):
    sim.config.complete_delay = 5.0
    task_id = await accepted(http, sim, submission(source))
    data = await until_status(http, sim, task_id, "FIRST_SUCCESS")
    second = sim.tasks[task_id].tracks[1].track_id
    async with http.get(f"{sim.base_url}/files/{task_id}/{second}.wav") as response:
        assert response.status == 404
    async with http.get(data["response"]["sunoData"][0]["audioUrl"]) as response:
        assert response.status == 200


async def test_padded_audio_and_public_base_url(http, source):
    pad = 2 * 1024 * 1024
    config = SimulatorConfig(**{**FAST, "audio_pad_bytes": pad})
    async with Simulator(config) as sim:
        sim.config.public_base_url = sim.base_url + "/"  # trailing slash is tolerated
        task_id = await accepted(http, sim, submission(source))
        data = await until_status(http, sim, task_id, "SUCCESS")
        track = data["response"]["sunoData"][0]
        assert track["audioUrl"].startswith(f"{sim.base_url}/files/")
        async with http.get(track["audioUrl"]) as response:
            audio = await response.read()
        assert len(audio) >= pad
        assert probe_duration(audio) == pytest.approx(track["duration"], abs=0.01)


async def test_fail_next_on_files(sim, http, source):
    task_id = await accepted(http, sim, submission(source))
    data = await until_status(http, sim, task_id, "SUCCESS")
    sim.fail_next(503, endpoint="files")
    url = data["response"]["sunoData"][0]["audioUrl"]
    async with http.get(url) as response:
        assert response.status == 503
    async with http.get(url) as response:
        assert response.status == 200


async def test_record_info_drifted_casing(sim, http, source):
    sim.config.record_info_casing = "drifted"
    task_id = await accepted(http, sim, submission(source))
    data = await until_status(http, sim, task_id, "SUCCESS")
    assert DATETIME.match(data["createTime"])
    assert "sunoData" not in data["response"]
    for track in data["response"]["data"]:
        assert set(track) == SNAKE_TRACK_KEYS
        assert DATETIME.match(track["createTime"])


# ----------------------------------------------------------------------- scale


async def test_many_concurrent_tasks(http, source):
    config = SimulatorConfig(**{**FAST, "credits": 1e9})
    async with Simulator(config) as sim:
        bodies = [submission(source, title=f"take {n}") for n in range(300)]
        ids = await asyncio.gather(*(accepted(http, sim, b) for b in bodies))
        assert len(set(ids)) == 300
        await wait_until(lambda: len(source.callbacks) == 900, timeout=8.0)
        now = time.monotonic()
        assert all(task.status(now) == "SUCCESS" for task in sim.tasks.values())

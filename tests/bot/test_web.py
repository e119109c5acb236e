"""The bot's HTTP server: callbacks merged with polling, /healthz, /metrics."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import web as web_module
from bot.core.tasks import Lifecycle, PollSchedule
from bot.music import MusicClient
from bot.store import Progress, Store
from bot.web import NO_CALLBACK_URL, callback_secret, callback_url
from simulator import Simulator
from tests.support.factories import api_calls, new_task
from tests.support.rig import SECRET, Rig, open_rig
from tests.support.waiting import settled, wait_until


@pytest.fixture
async def rig(db_path: Path, music: MusicClient) -> AsyncIterator[Rig]:
    async with open_rig(db_path, music) as opened:
        yield opened


def record_infos(sim: Simulator) -> int:
    return api_calls(sim.calls, "record-info")


async def test_task_completes_from_callbacks_alone(
    rig: Rig, simulator: Simulator, uploads: str
) -> None:
    task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
    done = await settled(rig.service, task.id, timeout=4.0)
    assert done.state == "done" and done.callback_at is not None
    assert rig.port.copies() == [1, 1]
    assert record_infos(simulator) == 0  # the first poll would only come after 5 s


@pytest.mark.parametrize("casing", ["documented", "drifted"])
async def test_both_casings(rig: Rig, simulator: Simulator, uploads: str, casing: str) -> None:
    simulator.config.callback_casing = casing
    task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
    done = await settled(rig.service, task.id, timeout=4.0)
    assert done.state == "done" and rig.port.copies() == [1, 1]


async def test_lost_callbacks_are_covered_by_polling(
    rig: Rig, simulator: Simulator, uploads: str
) -> None:
    simulator.config.send_callbacks = False
    rig.service.schedule = PollSchedule().scaled(1 / 200)  # polls as usual
    task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
    done = await settled(rig.service, task.id)
    assert done.state == "done" and done.callback_at is None
    assert rig.port.copies() == [1, 1] and record_infos(simulator) >= 1


async def test_repeated_and_out_of_order_stages_deliver_once(
    rig: Rig, simulator: Simulator, uploads: str, session: aiohttp.ClientSession
) -> None:
    simulator.config.callback_repeats = 3
    task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
    done = await settled(rig.service, task.id, timeout=4.0)
    assert done.state == "done"
    # A late `text` and `first` after `complete`, and `complete` again: nothing moves back.
    sent = [c for c in simulator.callbacks_sent if c["task_id"] == done.api_task_id]
    for stage in ("text", "first", "complete"):
        payload = next(c["payload"] for c in sent if c["stage"] == stage)
        async with session.post(rig.url, json=payload) as response:
            assert response.status == 200
    again = await rig.service.store.get_task(task.id)
    assert (again.state, again.stage) == ("done", "complete")
    assert rig.port.copies() == [1, 1]


async def test_error_callback_fails_the_task(
    rig: Rig, uploads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The simulator refuses the upload at once: its error callback races the recording of
    # the task id. Slow that recording down so the callback always wins the race.
    real = rig.service.store.mark_submitted

    async def slow_mark_submitted(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(0.3)
        await real(*args, **kwargs)

    monkeypatch.setattr(rig.service.store, "mark_submitted", slow_mark_submitted)
    task, _ = await rig.service.request(new_task(f"{uploads}/notes.txt"))  # not audio: 451
    done = await settled(rig.service, task.id, timeout=4.0)
    assert done.state == "failed" and "download the recording" in done.error
    assert done.poll_count == 0  # the callback did it, not a poll


COMPLETE = {
    "callbackType": "complete",
    "data": [{"id": "t1", "audio_url": "http://127.0.0.1:9/a.wav"}],
}


@pytest.mark.parametrize(
    ("path_secret", "body", "status"),
    [
        ("wrong-secret", {"code": 200, "data": COMPLETE}, 404),
        (SECRET[:-1], {"code": 200, "data": COMPLETE}, 404),
        (SECRET, b"{not json", 400),
        (SECRET, {"code": 200, "data": "nope"}, 400),
        (SECRET, {"code": 200, "data": {"callbackType": "bogus"}}, 400),
        (SECRET, {"code": "abc", "data": COMPLETE}, 400),
        (SECRET, b"x" * 200_000, 413),
    ],
    ids=[
        "wrong-secret",
        "truncated-secret",
        "not-json",
        "no-data",
        "bad-stage",
        "bad-code",
        "too-big",
    ],
)
async def test_bad_callbacks_are_refused_and_change_nothing(
    rig: Rig, simulator: Simulator, session: aiohttp.ClientSession, uploads: str,
    path_secret: str, body: object, status: int,
) -> None:  # fmt: skip
    simulator.config.send_callbacks = False  # only our requests reach the server
    task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
    await wait_until(lambda: _following(rig.service, task.id))
    before = await rig.service.store.get_task(task.id)
    if isinstance(body, dict):
        if isinstance(body["data"], dict):
            body = {**body, "data": {**body["data"], "task_id": before.api_task_id}}
        body = json.dumps(body).encode()
    async with session.post(f"{rig.base}/callback/{path_secret}", data=body) as response:
        assert response.status == status
    after = await rig.service.store.get_task(task.id)
    # The status card may be redrawn meanwhile; nothing the API told us may change.
    assert replace(after, card_dirty=0, card_retry_at=0) == replace(
        before, card_dirty=0, card_retry_at=0
    )
    assert await rig.service.store.tracks_for_task(task.id) == []


async def test_a_slow_callback_is_answered_503_and_its_write_still_lands(
    rig: Rig, simulator: Simulator, session: aiohttp.ClientSession, uploads: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Waiting on the work must not cancel it: the API hears 503 (polling covers it), the
    write lands anyway, and the store keeps working and says so."""
    simulator.config.send_callbacks = False  # only our requests reach the server
    task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
    await wait_until(lambda: _following(rig.service, task.id))
    before = await rig.store.get_task(task.id)
    assert before is not None and before.api_task_id is not None
    monkeypatch.setattr(web_module, "CALLBACK_WORK_TIMEOUT", 0.1)
    real_apply = rig.store.apply_progress
    writes: list[Progress] = []

    async def slow_apply(task_id: int, progress: Progress) -> bool:
        await asyncio.sleep(0.5)  # longer than the web handler waits
        changed = await real_apply(task_id, progress)
        writes.append(progress)
        return changed

    monkeypatch.setattr(rig.store, "apply_progress", slow_apply)

    def stage(name: str) -> dict[str, Any]:
        event = {"callbackType": name, "task_id": before.api_task_id, "data": []}
        return {"code": 200, "msg": "ok", "data": event}

    async with session.post(rig.url, json=stage("text")) as response:
        assert response.status == 503
    async with session.get(f"{rig.base}/healthz") as response:  # while the work runs
        assert response.status == 200 and (await response.json())["checks"]["store"] is True

    # The work went on after the 503 (polls come only after 5 s).
    await wait_until(lambda: [w for w in writes if w.from_callback], timeout=2.0)
    landed = await rig.store.get_task(task.id)
    assert landed is not None and landed.stage == "text" and landed.callback_at is not None

    monkeypatch.setattr(rig.store, "apply_progress", real_apply)
    async with session.post(rig.url, json=stage("first")) as response:  # later writes work
        assert response.status == 200
    later = await rig.store.get_task(task.id)
    assert later is not None and later.stage == "first"
    assert await rig.store.set_value_once("after-the-503", "x") == "x"
    async with session.get(f"{rig.base}/healthz") as response:
        health = await response.json()
        assert health["checks"]["store"] is True
        assert health["database"] == "sqlite" and "processes" not in health  # one process
    async with session.get(f"{rig.base}/metrics") as response:
        assert 'backline_callbacks_total{outcome="timeout"}' in await response.text()


async def _following(service: Lifecycle, task_id: int) -> bool:
    task = await service.store.get_task(task_id)
    return task is not None and task.api_task_id is not None


async def test_callback_for_an_unknown_task_changes_nothing(
    rig: Rig, session: aiohttp.ClientSession
) -> None:
    payload = {"code": 200, "msg": "ok", "data": {"callbackType": "complete", "task_id": "f" * 32,
               "data": [{"id": "t1", "audio_url": "http://127.0.0.1:9/a.wav"}]}}  # fmt: skip
    async with session.post(rig.url, json=payload) as response:
        assert response.status == 200
    assert await rig.service.store.count_by_state() == {}


async def test_health_and_metrics(
    rig: Rig, session: aiohttp.ClientSession, simulator: Simulator, uploads: str
) -> None:
    task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
    await settled(rig.service, task.id, timeout=4.0)
    await wait_until(lambda: rig.service.heartbeat > 0)
    async with session.get(f"{rig.base}/healthz") as response:
        assert response.status == 200
        assert (await response.json())["checks"] == {
            "store": True,
            "gateway": True,
            "scheduler": True,
        }
    async with session.get(f"{rig.base}/metrics") as response:
        text = await response.text()
    assert 'backline_tasks{state="done"} 1.0' in text
    assert 'backline_api_calls_total{code="200",endpoint="add-instrumental"}' in text
    assert 'backline_callbacks_total{outcome="applied"}' in text
    assert "backline_completion_to_delivery_seconds_bucket" in text
    assert "backline_rate_limiter_waits_total" in text
    assert SECRET not in text

    await rig.service.stop()  # the scheduler is gone: unhealthy, and it says what failed
    async with session.get(f"{rig.base}/healthz") as response:
        assert response.status == 503
        assert (await response.json())["failed"] == ["scheduler"]


async def test_metrics_report_the_kept_counts_without_scanning_tasks(
    db_path: Path, music: MusicClient, session: aiohttp.ClientSession
) -> None:
    async with open_rig(db_path, music, start=False) as rig:  # nothing moves on its own
        store = rig.store
        for _ in range(3):
            await store.create_task(new_task())
        running, _ = await store.create_task(new_task())
        assert await store.claim_for_submit(running.id, 1.0)
        await store.mark_submitted(running.id, "api-1", now=1.0, next_check_at=2.0)
        for _ in range(2):
            gone, _ = await store.create_task(new_task())
            assert await store.fail_task(gone.id, "nope", now=1.0)
        assert await store.purge_finished(1.5, batch=1) == 2  # finished at 1.0: purged
        lost, _ = await store.create_task(new_task())
        assert await store.fail_task(lost.id, "nope", now=1.0)

        statements: list[str] = []
        await store._conn.set_trace_callback(statements.append)
        try:
            async with session.get(f"{rig.base}/metrics") as response:
                text = await response.text()
        finally:
            await store._conn.set_trace_callback(None)
    for state, count in {"queued": 3, "submitting": 0, "following": 1, "done": 0,
                         "failed": 1}.items():  # fmt: skip
        assert f'backline_tasks{{state="{state}"}} {count:.1f}' in text
    assert statements and not [s for s in statements if "tasks" in s.replace("task_counts", "")]


async def test_secret_is_generated_once_and_kept(store: Store) -> None:
    first = await callback_secret(store, None)
    assert len(first) >= 32 and await callback_secret(store, None) == first
    assert await callback_secret(store, "configured-secret-123456") == "configured-secret-123456"
    assert callback_url(None, first) == NO_CALLBACK_URL
    assert callback_url("https://bot.example/", "abc") == "https://bot.example/callback/abc"


async def test_the_callback_secret_never_reaches_the_logs(
    rig: Rig, simulator: Simulator, uploads: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
    await settled(rig.service, task.id, timeout=4.0)
    assert any(c["delivered"] for c in simulator.callbacks_sent)
    assert "callback" in caplog.text and SECRET not in caplog.text


async def test_a_lost_submission_answer_is_adopted_from_its_callback(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    """The API accepted the task but the bot died before recording its id: after the
    restart the callback (its URL carries the task's key) adopts it, and it is delivered."""
    simulator.config.text_delay = 0.6  # the first callback comes after the restart
    real_submit = music.submit_add_instrumental
    sent = asyncio.Event()

    async def submit_then_die(request, **kwargs):
        await real_submit(request, **kwargs)
        sent.set()
        await asyncio.Event().wait()  # killed before the answer is recorded

    music.submit_add_instrumental = submit_then_die  # type: ignore[method-assign]
    async with open_rig(db_path, music) as first:
        task, _ = await first.service.request(new_task(f"{uploads}/voice.wav"))
        await asyncio.wait_for(sent.wait(), 5)
    music.submit_add_instrumental = real_submit  # type: ignore[method-assign]

    # Restarted where the callbacks go; resume() marks the task "interrupted" (its fate is
    # unknown) until its callback arrives.
    async with open_rig(db_path, music, web_port=first.web.port) as second:

        async def delivered() -> bool:
            fresh = await second.store.get_task(task.id)
            return fresh is not None and fresh.state == "done" and second.port.copies() == [1, 1]

        await wait_until(delivered)
        done = await second.store.get_task(task.id)
    assert done is not None and done.api_task_id in simulator.tasks and done.error is None
    assert api_calls(simulator.calls, "add-instrumental") == 1  # charged once, delivered


async def test_a_callback_with_a_forged_key_is_refused(rig: Rig, simulator: Simulator) -> None:
    body = {"code": 200, "msg": "ok", "data": {"callbackType": "text", "task_id": "x", "data": []}}
    async with aiohttp.ClientSession() as http:
        for key in ("1-0000000000000000", "abc", "1"):
            async with http.post(f"{rig.url}/{key}", json=body) as response:
                assert response.status == 404


async def test_a_result_after_the_time_out_is_still_delivered(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    """The bot gave up waiting, the API finished anyway: the member gets the tracks."""
    simulator.config.text_delay, simulator.config.first_delay = 0.1, 1.8
    simulator.config.complete_delay = 2.0
    async with open_rig(db_path, music, task_timeout=0.3) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))

        async def state_is(expected: str) -> bool:
            fresh = await rig.store.get_task(task.id)
            return fresh is not None and fresh.state == expected

        await wait_until(lambda: state_is("failed"), timeout=5)  # "did not finish within …"
        await wait_until(lambda: state_is("done"), timeout=5)
        await wait_until(lambda: rig.port.copies() == [1, 1])
    assert api_calls(simulator.calls, "add-instrumental") == 1


# -- issue 23: hostile bodies, a flood of /healthz, a private /metrics ------------------------


async def test_deeply_nested_json_is_a_clean_400(
    rig: Rig, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    malformed = web_module.metrics.CALLBACKS.labels("malformed")
    before = malformed._value.get()
    depth = 5_000  # far past json's recursion limit, under the 64 KiB body limit
    for body in ("[" * depth + "]" * depth, '{"data":' * depth + "1" + "}" * depth):
        with caplog.at_level(logging.DEBUG):
            async with session.post(rig.url, data=body.encode()) as response:
                assert response.status == 400
                assert await response.json() == {"code": 400, "msg": "malformed callback"}
    assert malformed._value.get() == before + 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_healthz_flood_checks_the_store_at_most_once_per_interval(
    db_path: Path, music: MusicClient, session: aiohttp.ClientSession
) -> None:
    async with open_rig(db_path, music, start=False) as rig:
        rig.web.store_check_every = 3600.0  # one check for the whole test
        store = rig.store
        statements: list[str] = []
        await store._conn.set_trace_callback(statements.append)
        try:

            async def hit() -> int:
                async with session.get(f"{rig.base}/healthz") as response:
                    assert (await response.json())["checks"]["store"] is True
                    return response.status

            await asyncio.gather(*(hit() for _ in range(40)))  # at once: one check in flight
            for _ in range(10):  # one after another: the kept answer
                await hit()
        finally:
            await store._conn.set_trace_callback(None)
        # One probe: one write transaction opened, for 50 hits.
        assert sum(1 for s in statements if s.upper().startswith("BEGIN")) == 1, statements
        rig.web.store_check_every = 0.0  # every hit checks again once the last one is done
        statements.clear()
        await store._conn.set_trace_callback(statements.append)
        try:
            for _ in range(3):
                await hit()
        finally:
            await store._conn.set_trace_callback(None)
        assert sum(1 for s in statements if s.upper().startswith("BEGIN")) == 3


async def test_metrics_with_a_token_answer_only_its_bearer(
    db_path: Path, music: MusicClient, session: aiohttp.ClientSession
) -> None:
    async with open_rig(db_path, music, start=False) as rig:
        server = web_module.WebServer(
            rig.service,
            secret=SECRET,
            gateway_connected=lambda: True,
            host="127.0.0.1",
            port=0,
            metrics_token="scrape-me-please",
        )
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.port}"
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape"}):
                async with session.get(f"{base}/metrics", headers=headers) as response:
                    assert response.status == 404
            good = {"Authorization": "Bearer scrape-me-please"}
            async with session.get(f"{base}/metrics", headers=good) as response:
                assert response.status == 200 and "backline_tasks" in await response.text()
            async with session.get(f"{base}/healthz") as response:
                assert response.status in (200, 503)  # health stays open to the orchestrator
        finally:
            await server.stop()

"""Money safety against answers the simulator's own API never gives: a gateway's JSON
errors, tracks late after SUCCESS, unknown statuses, a time-out in an outage, a place
that is gone, a failed write of the API task id, credit refusals in a burst (issue 21).
The real task core (store, scheduler, client over HTTP) against the simulator."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import aiohttp
import pytest

from bot.core.tasks import (
    INTERRUPTED_REASON,
    UNCONFIRMED_REASON,
    PermanentDeliveryError,
    PollSchedule,
)
from bot.music import CallbackEvent, MusicClient
from bot.store import TaskRow
from simulator import Simulator, SimulatorConfig
from tests.conftest import FAST
from tests.support.factories import API_KEY, api_calls, make_client, new_task
from tests.support.gateway import Gateway, gateway_json
from tests.support.rig import Rig, open_rig
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


@pytest.mark.parametrize("callbacks", [True, False], ids=["callbacks", "polling"])
async def test_success_before_every_track_has_audio_keeps_the_task_followed(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str, callbacks: bool
) -> None:
    # The complete callback and the first SUCCESS polls list track 2 without its audio.
    simulator.plan_next(hollow_answers=3)
    async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=callbacks) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        await wait_until(lambda: rig.port.copies() == [1, 1])
        done = await settled(rig.service, task.id)
        tracks = await rig.store.tracks_for_task(task.id)
    assert done.state == "done" and len(tracks) == 2
    assert all(t.audio_url and t.delivery == "delivered" for t in tracks)


@pytest.mark.parametrize("callbacks", [True, False], ids=["callbacks", "polling"])
async def test_an_unknown_failure_status_ends_the_task_with_the_apis_words(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str, callbacks: bool
) -> None:
    message = "Flagged by **moderation** @everyone <@123> [x](http://evil.example)"
    simulator.plan_next(status="AUDIO_MODERATION_FAILED", error_code=531, error_message=message)
    async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=callbacks) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        done = await settled(rig.service, task.id)
    assert done.state == "failed" and done.error is not None
    assert "code 531" in done.error and "Flagged by" in done.error
    # Quoted as plain text: no markdown, mention or link survives unescaped.
    assert r"\*\*moderation\*\*" in done.error and r"\[x\]\(http" in done.error
    for raw in ("@everyone", "<@123", "[x]", "]("):
        assert raw not in done.error
    assert rig.port.copies() == []


@pytest.mark.parametrize("odd", ["PROCESSING", "QUEUED_AGAIN", ""])
async def test_unknown_running_or_missing_statuses_keep_the_task_followed(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str, odd: str
) -> None:
    simulator.plan_next(odd_status=odd, odd_answers=3)
    async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=False) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        done = await settled(rig.service, task.id)
    assert done.state == "done" and rig.port.copies() == [1, 1]


async def test_a_burst_of_credit_refusals_pauses_once_and_resumes_once_a_task_is_covered(
    db_path: Path, session: aiohttp.ClientSession, uploads: str
) -> None:
    config = SimulatorConfig(api_key=API_KEY, credits=0.0, task_cost=10.0, **FAST)
    async with Simulator(config) as sim:
        music = make_client(session, sim.base_url, limit=100)
        async with open_rig(
            db_path, music, schedule=SCHEDULE, callbacks=False, task_cost=10.0, start=False
        ) as rig:
            # A server with a log channel: its moderators hear of pauses and resumes.
            await rig.services.guild_settings.change(1, log_channel_id=2)
            # Recorded before the scheduler starts: ten submissions leave together.
            tasks = [
                (await rig.service.request(new_task(f"{uploads}/voice.wav")))[0] for _ in range(10)
            ]
            await rig.service.resume()
            await wait_until(lambda: api_calls(sim.calls, "add-instrumental", 429) >= 10)
            sim.config.credits = 5.0  # below one task's cost: resuming would refuse again
            checks = api_calls(sim.calls, "credit")
            await wait_until(lambda: api_calls(sim.calls, "credit") >= checks + 3)
            assert await rig.service.api.pause.current() is not None
            sim.config.credits = 100.0  # a moderator tops up: ten tasks' worth
            for task in tasks:
                assert (await settled(rig.service, task.id)).state == "done"
            await rig.services.guild_settings.settle()
            notices = rig.mod_log.texts()
    pauses = [n for n in notices if n.startswith("⏸️")]
    resumes = [n for n in notices if n.startswith("▶️")]
    assert (len(pauses), len(resumes)) == (1, 1), notices
    assert api_calls(sim.calls, "add-instrumental", 429) == 10  # none refused after resuming


async def test_a_queued_request_whose_place_is_gone_is_never_sent(
    db_path: Path, session: aiohttp.ClientSession, uploads: str
) -> None:
    config = SimulatorConfig(api_key=API_KEY, credits=0.0, task_cost=10.0, **FAST)
    async with Simulator(config) as sim:
        music = make_client(session, sim.base_url, limit=100)
        async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=False) as rig:
            task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
            await wait_until(rig.service.api.pause.current)  # out of credits: it waits
            await wait_until(lambda: rig.port.shows >= 1)  # its card is in the channel
            # The channel is deleted (or the bot leaves the server): Discord refuses for good.
            rig.port.fail_with = lambda: PermanentDeliveryError("That channel is gone.")
            rig.port.fail_shows = 10**6
            await rig.store.mark_card_dirty([task.id], rig.service.now())
            rig.service.wake()
            await wait_until(lambda: rig.port.failed_shows >= 1)
            sim.config.credits = 100.0  # the pause ends
            done = await settled(rig.service, task.id)
            await asyncio.sleep(3 * SCHEDULE.pause_check)  # time for a wrong submission
        assert sum(sim.charges.values()) == 0 and not sim.tasks  # never charged
    assert (
        done.state == "failed"
        and done.quota_returned
        and "nothing was charged" in (done.error or "")
    )
    assert [t for t, _ in rig.port.given_up] == [task.id]  # the requester is told, once


async def _states_seen(rig: Rig, task_id: int, seen: set[str]) -> None:
    while True:
        row = await rig.store.get_task(task_id)
        if row is not None:
            seen.add(row.state)
        await asyncio.sleep(0.02)


async def _at(simulator: Simulator, seconds: float) -> None:
    """Until `seconds` after the (one) API task was created."""
    await wait_until(lambda: simulator.tasks)
    [api] = simulator.tasks.values()
    await asyncio.sleep(max(0.0, api.created_mono + seconds - time.monotonic()))


async def test_a_time_out_during_an_outage_waits_for_the_api(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    simulator.config.first_delay, simulator.config.complete_delay = 1.0, 1.5
    async with _polling(db_path, music, task_timeout=1.0) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        seen: set[str] = set()
        watch = asyncio.create_task(_states_seen(rig, task.id, seen))
        await _at(simulator, 0.6)
        simulator.fail_next(455, times=10**6, endpoint="record-info")  # maintenance ...
        await _at(simulator, 1.8)  # ... over the time-out, while the API finishes the task
        simulator.end_faults()
        done = await settled(rig.service, task.id)
        watch.cancel()
    assert done.state == "done" and rig.port.copies() == [1, 1]
    assert "failed" not in seen  # the API could not say it was still running: kept asking
    assert len(simulator.tasks) == 1


async def test_a_task_failed_by_its_time_out_is_delivered_when_the_api_finishes_it(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    simulator.config.first_delay, simulator.config.complete_delay = 1.0, 1.5
    async with _polling(db_path, music, task_timeout=0.5) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))

        timed_out = await wait_until(lambda: _in(rig, task.id, "failed"))  # API: running
        done = await wait_until(lambda: _in(rig, task.id, "done"))
        await wait_until(lambda: rig.port.copies() == [1, 1])  # polled, not called back
    assert "did not finish" in (timed_out.error or "") and done.error is None
    assert len(simulator.tasks) == 1


async def test_a_task_failed_by_its_time_out_takes_the_apis_reason_when_the_api_fails_it(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    """The API answers "running" at the time-out, then fails the task: the member reads the
    API's reason, not "did not finish" (the explorer's "6+7", seeds 55, 380, 767)."""
    simulator.config.first_delay, simulator.config.complete_delay = 1.0, 1.5
    tags = "lofi [sim:GENERATE_AUDIO_FAILED,code=531,msg=Flagged by the model]"
    async with _polling(db_path, music, task_timeout=0.5) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav", tags=tags))
        timed_out = await wait_until(lambda: _in(rig, task.id, "failed"))  # API: running
        explained = await wait_until(lambda: _explained(rig, task.id))
    assert "did not finish" in (timed_out.error or "")
    assert explained.state == "failed" and explained.next_check_at is None
    assert "code 531" in (explained.error or "") and "did not finish" not in explained.error
    assert len(simulator.tasks) == 1 and rig.port.copies() == []


async def test_an_error_callback_after_the_time_out_gives_the_apis_reason(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    """The same through a callback: an `error` callback for a task failed by its time-out
    replaces "did not finish" with the API's words (it used to count as a duplicate)."""
    simulator.config.first_delay, simulator.config.complete_delay = 30.0, 31.0  # running
    async with _polling(db_path, music, task_timeout=0.5) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        timed_out = await wait_until(lambda: _in(rig, task.id, "failed"))
        event = CallbackEvent.model_validate(
            {
                "code": 531,
                "msg": "Flagged by the model",
                "data": {"callbackType": "error", "task_id": timed_out.api_task_id, "data": None},
            }
        )
        outcome = await rig.service.handle_callback(event, task.id)
        explained = await rig.store.get_task(task.id)
    assert "did not finish" in (timed_out.error or "")
    assert outcome == "failed" and explained is not None and explained.state == "failed"
    assert "code 531" in (explained.error or "") and "did not finish" not in explained.error


async def _explained(rig: Rig, task_id: int) -> TaskRow | None:
    row = await rig.store.get_task(task_id)
    return row if row is not None and "code 531" in (row.error or "") else None


async def test_an_outage_past_the_time_out_ends_the_wait_but_not_the_looking(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    simulator.config.first_delay, simulator.config.complete_delay = 0.5, 0.6
    async with _polling(db_path, music, task_timeout=0.5) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        await _at(simulator, 0.1)
        simulator.fail_next(455, times=10**6, endpoint="record-info")
        ended = await settled(rig.service, task.id)  # bounded: another time-out
        simulator.end_faults()
        done = await wait_until(lambda: _in(rig, task.id, "done"))
        await wait_until(lambda: rig.port.copies() == [1, 1])
    assert ended.state == "failed" and "could not be reached" in (ended.error or "")
    assert done.state == "done"


async def _in(rig: Rig, task_id: int, state: str) -> TaskRow | None:
    row = await rig.store.get_task(task_id)
    return row if row is not None and row.state == state else None


def _polling(
    db_path: Path, music: MusicClient, task_timeout: float
) -> AbstractAsyncContextManager[Rig]:
    return open_rig(db_path, music, schedule=SCHEDULE, callbacks=False, task_timeout=task_timeout)


class DatabaseLock:
    """Another program holding the SQLite file's write lock (a backup, a sqlite3 shell)
    for `seconds`: longer than the store's busy time-out (5 s), so writes fail meanwhile."""

    def __init__(self, db_path: Path, seconds: float) -> None:
        self.db_path, self.seconds = db_path, seconds
        self.held: asyncio.Task[None] | None = None

    async def take(self) -> None:
        conn = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
        await asyncio.to_thread(conn.execute, "BEGIN EXCLUSIVE")

        async def hold() -> None:
            await asyncio.sleep(self.seconds)
            await asyncio.to_thread(conn.execute, "ROLLBACK")
            conn.close()

        self.held = asyncio.create_task(hold())


async def test_an_accepted_tasks_id_is_written_when_the_database_is_locked_at_first(
    db_path: Path,
    session: aiohttp.ClientSession,
    simulator: Simulator,
    gateway: Gateway,
    uploads: str,
) -> None:
    lock = DatabaseLock(db_path, seconds=6.0)
    gateway.on_forward = lock.take  # the API took it; its answer finds the file locked
    music = make_client(session, gateway.base_url)
    async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=False) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        done = await settled(rig.service, task.id, timeout=30)
        gateway.on_forward = None
    assert done.state == "done" and rig.port.copies() == [1, 1]
    assert len(simulator.tasks) == 1 and done.api_task_id in simulator.tasks


async def test_a_submission_stuck_by_a_failed_write_is_recovered_while_running(
    db_path: Path,
    session: aiohttp.ClientSession,
    simulator: Simulator,
    gateway: Gateway,
    uploads: str,
) -> None:
    lock = DatabaseLock(db_path, seconds=6.0)
    gateway.on_forward = lock.take
    simulator.fail_next(430, endpoint="add-instrumental")  # refused: writing that fails
    music = make_client(session, gateway.base_url)
    async with open_rig(db_path, music, schedule=SCHEDULE, callbacks=False) as rig:
        task, _ = await rig.service.request(new_task(f"{uploads}/voice.wav"))
        done = await settled(rig.service, task.id, timeout=30)  # no restart
        await asyncio.sleep(0.5)
    # Its outcome could not be written: unknown to the store, so failed, never resent.
    assert (done.state, done.error) == ("failed", INTERRUPTED_REASON)
    assert api_calls(simulator.calls, "add-instrumental") == 1 and not simulator.tasks

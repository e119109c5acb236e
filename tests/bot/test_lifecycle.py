"""The task lifecycle, driven directly (no Discord) against the simulator and a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.core.tasks import INTERRUPTED_REASON, UNCONFIRMED_REASON, Lifecycle, TaskView
from bot.music import MusicClient
from bot.music import errors as e
from bot.store import Store, TaskRow
from simulator import Simulator, SimulatorConfig
from tests.conftest import FAST, FAST_SCHEDULE
from tests.support.backlog import check_at
from tests.support.factories import API_KEY, api_calls, make_client, new_task
from tests.support.port import MemoryPort
from tests.support.waiting import settled, wait_until


async def start_service(
    db_path: Path,
    client: MusicClient,
    port: MemoryPort,
    *,
    callbacks: bool = False,
    timeout: float = 30.0,
) -> Lifecycle:
    store = await Store.open(db_path)
    return Lifecycle(
        store,
        client,
        port,
        callback_url="https://callbacks.invalid/backline",
        schedule=FAST_SCHEDULE,
        task_timeout=timeout,
        callbacks_enabled=callbacks,
    )


async def die(service: Lifecycle) -> None:
    """No clean shutdown: cancel everything mid-flight, close the database."""
    await service.stop()
    await service.store.close()


def submissions(sim: Simulator) -> int:
    return api_calls(sim.calls, "add-instrumental", 200)


@pytest.fixture
async def service(db_path: Path, music: MusicClient) -> AsyncIterator[tuple[Lifecycle, MemoryPort]]:
    port = MemoryPort()
    svc = await start_service(db_path, music, port)
    await svc.resume()
    yield svc, port
    await die(svc)


async def test_happy_path(
    service: tuple[Lifecycle, MemoryPort], simulator: Simulator, uploads: str
) -> None:
    svc, port = service
    task, created = await svc.request(new_task(f"{uploads}/voice.wav"))
    assert created
    done = await settled(svc, task.id)
    assert done.state == "done" and done.stage == "complete" and done.error is None
    assert submissions(simulator) == 1
    assert port.copies() == [1, 1]
    await wait_until(lambda: port.last_view(task.id).display == "done")
    displays = [v.display for v in port.views if v.task.id == task.id]
    assert displays[0] == "waiting" and displays[-1] == "done"
    # The schedule asked the API a handful of times, not in a tight loop.
    assert done.poll_count <= 12


async def test_same_interaction_twice_is_one_task(
    service: tuple[Lifecycle, MemoryPort], simulator: Simulator, uploads: str
) -> None:
    svc, _ = service
    request = new_task(f"{uploads}/voice.wav")
    (first, created), (second, again) = await asyncio.gather(
        svc.request(request), svc.request(request)
    )
    assert first.id == second.id and created != again
    await settled(svc, first.id)
    assert submissions(simulator) == 1


@pytest.mark.parametrize(
    ("status", "reason_part", "can_retry"),
    [
        ("CREATE_TASK_FAILED", "could not start", True),
        ("GENERATE_AUDIO_FAILED", "could not generate", True),
        ("SENSITIVE_WORD_ERROR", "sensitive", False),
    ],
)
async def test_failure_statuses_end_the_task(
    service: tuple[Lifecycle, MemoryPort], simulator: Simulator, uploads: str,
    status: str, reason_part: str, can_retry: bool,
) -> None:  # fmt: skip
    svc, port = service
    simulator.plan_next(status=status)
    task, _ = await svc.request(new_task(f"{uploads}/voice.wav"))
    done = await settled(svc, task.id)
    assert done.state == "failed" and reason_part in done.error
    assert bool(done.can_retry) is can_retry
    await wait_until(lambda: port.last_view(task.id).display == "failed")


async def test_callback_exception_with_tracks_is_a_success(
    service: tuple[Lifecycle, MemoryPort], simulator: Simulator, uploads: str
) -> None:
    svc, port = service
    simulator.plan_next(status="CALLBACK_EXCEPTION", track_count=1)
    task, _ = await svc.request(new_task(f"{uploads}/voice.wav"))
    done = await settled(svc, task.id)
    assert done.state == "done" and port.copies() == [1]


async def test_upload_that_is_not_audio_fails_with_reason(
    service: tuple[Lifecycle, MemoryPort], uploads: str
) -> None:
    svc, _ = service
    task, _ = await svc.request(new_task(f"{uploads}/notes.txt"))
    done = await settled(svc, task.id)
    assert done.state == "failed" and done.error


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (400, e.InvalidRequest.reason),
        (413, e.TextTooLong.reason),
        (418, UNCONFIRMED_REASON),  # not a documented refusal: maybe created, not resent
    ],
)
async def test_refused_submissions_fail_with_the_reason(
    service: tuple[Lifecycle, MemoryPort],
    simulator: Simulator,
    uploads: str,
    code: int,
    reason: str,
) -> None:
    svc, _ = service
    simulator.fail_next(code, times=5, endpoint="add-instrumental")
    task, _ = await svc.request(new_task(f"{uploads}/voice.wav"))
    done = await settled(svc, task.id)
    assert (done.state, done.error) == ("failed", reason)
    assert submissions(simulator) == 0


@pytest.mark.parametrize("code", [401, 404, 429])
async def test_a_refused_key_or_no_credits_pauses_and_resumes(
    service: tuple[Lifecycle, MemoryPort], simulator: Simulator, uploads: str, code: int
) -> None:
    """Every queued request would fail the same way: they wait, and go once it is fixed."""
    svc, _ = service
    simulator.fail_next(code, times=1, endpoint="add-instrumental")
    simulator.fail_next(code, times=2, endpoint="credit")  # still broken at the first checks
    task, _ = await svc.request(new_task(f"{uploads}/voice.wav"))
    paused = await wait_until(svc.api.pause.current)
    assert paused.code == code and paused.reason
    # The pause is recorded just before the task goes back to the queue: wait for both.
    waiting = await wait_until(lambda: _view_in(svc, task.id, "queued"))
    assert waiting.paused == paused.reason
    done = await settled(svc, task.id)
    assert done.state == "done" and await svc.api.pause.current() is None
    assert submissions(simulator) == 1


@pytest.mark.parametrize("code", [405, 430, 455])  # 500: an unknown fate, never resent
async def test_busy_codes_wait_and_then_submit(
    service: tuple[Lifecycle, MemoryPort], simulator: Simulator, uploads: str, code: int
) -> None:
    svc, port = service
    svc.schedule = FAST_SCHEDULE  # backoff in tens of milliseconds
    simulator.fail_next(code, times=1 if code == 455 else 4, endpoint="add-instrumental")
    task, _ = await svc.request(new_task(f"{uploads}/voice.wav"))
    if code == 455:  # maintenance waits a minute: check the task is parked, then let it go
        await wait_until(lambda: _state(svc, task.id, "queued", error_count=1))
        await check_at(svc.store, "0", "id = ?", (task.id,))
        svc.wake()
    done = await settled(svc, task.id)
    assert done.state == "done" and submissions(simulator) == 1
    assert port.copies() == [1, 1]


async def _view_in(svc: Lifecycle, task_id: int, state: str) -> TaskView | None:
    view = await svc.view(task_id)
    return view if view is not None and view.task.state == state else None


async def _state(svc: Lifecycle, task_id: int, state: str, error_count: int = 0) -> bool:
    task = await svc.store.get_task(task_id)
    return task is not None and task.state == state and task.error_count >= error_count


async def test_unconfirmed_submission_is_not_resent(
    db_path: Path, session: aiohttp.ClientSession, simulator: Simulator, uploads: str
) -> None:
    port = MemoryPort()
    svc = await start_service(db_path, make_client(session, simulator.base_url, timeout=0.3), port)
    await svc.resume()
    simulator.fail_next(-2, endpoint="add-instrumental")  # the answer never comes
    task, _ = await svc.request(new_task(f"{uploads}/voice.wav"))
    done = await settled(svc, task.id)
    assert (done.state, done.error, done.can_retry) == ("failed", UNCONFIRMED_REASON, 1)
    assert sum(n for (ep, _), n in simulator.calls.items() if ep == "add-instrumental") == 1
    await die(svc)


async def test_scheduler_survives_garbage(
    service: tuple[Lifecycle, MemoryPort], simulator: Simulator, uploads: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    svc, port = service
    simulator.fail_next(-1, times=3, endpoint="record-info")  # HTML instead of JSON
    port.fail_shows = 3
    port.fail_deliveries = 2
    broken = {"left": 2}
    real = svc.store.tasks_needing_card

    async def flaky(*args: object, **kwargs: object) -> list[TaskRow]:
        if broken["left"]:
            broken["left"] -= 1
            raise ValueError("a bad row")
        return await real(*args, **kwargs)

    monkeypatch.setattr(svc.store, "tasks_needing_card", flaky)
    task, _ = await svc.request(new_task(f"{uploads}/voice.wav"))
    done = await settled(svc, task.id)
    assert done.state == "done" and port.copies() == [1, 1] and svc.alive


async def test_task_timeout(db_path: Path, session: aiohttp.ClientSession, uploads: str) -> None:
    slow = Simulator(
        SimulatorConfig(api_key=API_KEY, text_delay=60, first_delay=60, complete_delay=60)
    )
    await slow.start()
    port = MemoryPort()
    svc = await start_service(db_path, make_client(session, slow.base_url), port, timeout=0.5)
    await svc.resume()
    task, _ = await svc.request(new_task(f"{uploads}/voice.wav"))
    done = await settled(svc, task.id)
    assert done.state == "failed" and "did not finish within" in done.error
    await die(svc)
    await slow.close()


# -- crashes: the process dies at each step; a new service on the same file finishes --------


async def test_crash_after_recording(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    port = MemoryPort()
    first = await start_service(db_path, music, port)
    task, _ = await first.request(new_task(f"{uploads}/voice.wav"))  # recorded, never started
    await die(first)

    second = await start_service(db_path, music, port)
    await second.resume()
    done = await settled(second, task.id)
    assert done.state == "done" and submissions(simulator) == 1 and port.copies() == [1, 1]
    await die(second)


async def test_crash_while_submitting_is_not_resubmitted(
    db_path: Path,
    music: MusicClient,
    simulator: Simulator,
    uploads: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = MemoryPort()
    first = await start_service(db_path, music, port)
    real_submit = music.submit_add_instrumental
    sent = asyncio.Event()

    async def submit_then_die(request, **kwargs):  # the API accepts, the bot never hears back
        await real_submit(request, **kwargs)
        sent.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(music, "submit_add_instrumental", submit_then_die)
    await first.resume()
    task, _ = await first.request(new_task(f"{uploads}/voice.wav"))
    await asyncio.wait_for(sent.wait(), 5)
    await die(first)
    monkeypatch.undo()

    second = await start_service(db_path, music, port)
    await second.resume()
    done = await settled(second, task.id)
    assert (done.state, done.error, done.can_retry) == ("failed", INTERRUPTED_REASON, 1)
    await asyncio.sleep(0.3)
    assert submissions(simulator) == 1  # charged once, and only once
    await wait_until(lambda: port.last_view(task.id).display == "failed")
    await die(second)


async def test_crash_after_submitting_and_after_a_stage_change(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    simulator.config.complete_delay = 1.0
    port = MemoryPort()
    first = await start_service(db_path, music, port)
    await first.resume()
    task, _ = await first.request(new_task(f"{uploads}/voice.wav"))
    await wait_until(lambda: _stage(first, task.id, "first"))  # submitted, a stage learnt
    await die(first)

    second = await start_service(db_path, music, port)
    await second.resume()
    done = await settled(second, task.id)
    assert done.state == "done" and submissions(simulator) == 1
    assert sorted(port.copies()) == [1, 1]
    await die(second)


async def _stage(svc: Lifecycle, task_id: int, stage: str) -> bool:
    task = await svc.store.get_task(task_id)
    return task is not None and task.stage == stage


async def test_crash_between_posting_a_track_and_recording_it(
    db_path: Path, music: MusicClient, simulator: Simulator, uploads: str
) -> None:
    port = MemoryPort(hang_after_post=True)
    first = await start_service(db_path, music, port)
    await first.resume()
    task, _ = await first.request(new_task(f"{uploads}/voice.wav"))
    await wait_until(lambda: len(port.posted) >= 1)
    await die(first)

    port.hang_after_post = False
    second = await start_service(db_path, music, port)
    await second.resume()
    done = await settled(second, task.id)
    assert done.state == "done"
    assert port.copies() == [1, 1]  # the interrupted track was found, not posted again
    await die(second)


async def test_crash_before_posting_still_delivers(
    db_path: Path, music: MusicClient, uploads: str
) -> None:
    port = MemoryPort(hang_before_post=True)
    first = await start_service(db_path, music, port)
    await first.resume()
    task, _ = await first.request(new_task(f"{uploads}/voice.wav"))
    await wait_until(lambda: _delivery_attempted(first, task.id))
    await die(first)

    port.hang_before_post = False
    second = await start_service(db_path, music, port)
    await second.resume()
    await settled(second, task.id)
    assert port.copies() == [1, 1]
    await die(second)


async def _delivery_attempted(svc: Lifecycle, task_id: int) -> bool:
    return any(t.delivery == "attempted" for t in await svc.store.tracks_for_task(task_id))


# -- callbacks merged with polling ---------------------------------------------------------


async def test_queue_positions(db_path: Path, music: MusicClient, uploads: str) -> None:
    port = MemoryPort()
    svc = await start_service(db_path, music, port)
    tasks = [(await svc.request(new_task(f"{uploads}/voice.wav")))[0] for _ in range(3)]
    assert [(await svc.view(t.id)).queue_position for t in tasks] == [1, 2, 3]
    view = await svc.view(tasks[2].id)
    assert view is not None and view.display == "waiting" and view.queue_position == 3
    await die(svc)


async def test_rate_limit_holds_under_300_submissions(
    db_path: Path, session: aiohttp.ClientSession, uploads: str
) -> None:
    # The API's 20-per-window limit on a window of 0.25 s: 300 submissions arrive at once,
    # far past the limit, and wait their turn in the persisted queue.
    config = SimulatorConfig(
        api_key=API_KEY,
        rate_limit=20,
        rate_period=0.25,
        check_upload=False,
        audio_seconds=0.2,
        credits=1e6,
        **FAST,
    )
    async with Simulator(config) as sim:
        port = MemoryPort()
        client = make_client(
            session, sim.base_url, limit=20, period=0.25, max_retries=0, margin=0.15
        )
        svc = await start_service(db_path, client, port, timeout=120)
        await svc.resume()
        tasks = [(await svc.request(new_task(f"{uploads}/voice.wav")))[0] for _ in range(300)]
        await wait_until(svc.store.is_idle, timeout=90)
        counts = await svc.store.count_by_state()
        await die(svc)
    assert counts == {"done": 300}
    assert sim.rejections == 0
    assert submissions(sim) == 300
    assert len(port.posted) == 600 and set(port.copies()) == {1}
    assert len(tasks) == 300


async def test_a_burst_of_requests_does_not_starve_paid_tasks(
    db_path: Path, session: aiohttp.ClientSession, uploads: str
) -> None:
    config = SimulatorConfig(api_key=API_KEY, rate_limit=20, rate_period=0.5, check_upload=False,
                             audio_seconds=0.2, credits=1e6, **FAST)  # fmt: skip
    async with Simulator(config) as sim:
        port = MemoryPort()
        client = make_client(session, sim.base_url, limit=20, period=0.5, margin=0.15)
        svc = await start_service(db_path, client, port)
        # 300 requests wait in line (about eight seconds of submissions at this limit).
        burst = [(await svc.request(new_task(f"{uploads}/voice.wav")))[0] for _ in range(300)]
        await svc.resume()
        await settled(svc, burst[0].id)  # the first one submitted is paid for: follow it
        still_queued = (await svc.store.count_by_state()).get("queued", 0)
        await die(svc)
    assert still_queued >= 150  # its polls did not wait for the whole line


async def test_a_clean_stop_lets_a_submission_on_the_wire_finish(
    db_path: Path,
    music: MusicClient,
    uploads: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM: a submission already sent gets its answer recorded, so nothing is lost as
    "interrupted" after the restart."""
    real_submit = music.submit_add_instrumental

    async def slow_on_the_wire(request, *, claim):
        async def claim_then_wait() -> bool:
            claimed = await claim()
            await asyncio.sleep(0.3)  # the request is on its way
            return claimed

        return await real_submit(request, claim=claim_then_wait)

    monkeypatch.setattr(music, "submit_add_instrumental", slow_on_the_wire)
    port = MemoryPort()
    svc = await start_service(db_path, music, port)
    await svc.resume()
    task, _ = await svc.request(new_task(f"{uploads}/voice.wav"))
    await wait_until(lambda: _state(svc, task.id, "submitting"))
    await svc.stop(grace=5.0)
    fresh = await svc.store.get_task(task.id)
    assert fresh is not None and fresh.state == "following" and fresh.api_task_id
    await svc.store.close()


async def test_signals_close_the_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM (docker stop) and SIGINT reach our own handler, which closes the bot."""
    import os
    import signal

    from bot.__main__ import stop_on_signals

    closed = asyncio.Event()

    class Bot:
        async def close(self) -> None:
            closed.set()

    stop_on_signals(Bot())  # type: ignore[arg-type]
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(closed.wait(), 5)
    finally:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def test_a_restart_while_requests_wait_for_the_rate_limiter_fails_none(
    db_path: Path, session: aiohttp.ClientSession, simulator: Simulator, uploads: str
) -> None:
    """Limit 3 per window, 10 queued, restart: the 7 waiting were never sent, so they are
    still queued (they were failed as "interrupted" when claimed before the limiter).

    The bot's own limiter is what holds the 7 back, so the API allows what the restarted
    client does (100 per 10 s). At its default 20 per 10 s, the 7 submissions and the
    polls of 10 tasks overran the API's window: polls got 430 until it emptied, 10 s
    later, and whether a task then settled within `settled`'s 10 s was down to timing."""
    simulator.config.rate_limit, simulator.config.rate_period = 100, 10.0
    port = MemoryPort()
    slow = make_client(session, simulator.base_url, limit=3, period=60.0)
    first = await start_service(db_path, slow, port)
    await first.resume()
    tasks = [(await first.request(new_task(f"{uploads}/voice.wav")))[0] for _ in range(10)]

    async def three_sent() -> bool:
        return submissions(simulator) == 3

    await wait_until(three_sent)
    await asyncio.sleep(0.1)  # the other 7 wait in the limiter
    await die(first)

    fast = make_client(session, simulator.base_url, limit=100)
    second = await start_service(db_path, fast, port)
    await second.resume()
    done = [await settled(second, task.id) for task in tasks]
    assert [task.state for task in done] == ["done"] * 10
    assert submissions(simulator) == 10
    # Nothing sent twice, nothing refused: the API saw each submission exactly once.
    assert api_calls(simulator.calls, "add-instrumental") == 10
    assert simulator.rejections == 0
    await die(second)


async def test_a_part_the_creator_posts_is_submitted_once_posted(
    service: tuple[Lifecycle, MemoryPort], simulator: Simulator, uploads: str
) -> None:
    """A transcoded recording has no URL until its creator posts it: the task waits (its
    placing window), then goes with the posted file's URL, or fails unpaid without one."""
    svc, _ = service
    window = svc.now() + 60
    held, _ = await svc.request(new_task("", placing_until=window, input_sent="WAV (from Ogg)"))
    lost, _ = await svc.request(new_task("", placing_until=window))
    crashed, _ = await svc.request(new_task("", placing_until=svc.now() + 0.5))  # never placed
    await asyncio.sleep(0.3)  # scheduler rounds: neither may be sent yet
    assert submissions(simulator) == 0
    assert (await svc.store.get_task(held.id)).state == "queued"  # type: ignore[union-attr]

    await svc.placed(held.id, card_message_id=1, thread_id=None, upload_url=f"{uploads}/voice.wav")
    await svc.placed(lost.id, card_message_id=2, thread_id=None)  # its post failed
    done = await settled(svc, held.id)
    assert done.state == "done" and done.upload_url == f"{uploads}/voice.wav"
    assert done.input_sent == "WAV (from Ogg)"
    failed = await settled(svc, lost.id)
    assert failed.state == "failed" and "could not be posted" in (failed.error or "")
    assert failed.quota_returned and submissions(simulator) == 1
    orphan = await settled(svc, crashed.id)  # its window closed: failed, never sent
    assert orphan.state == "failed" and orphan.quota_returned and submissions(simulator) == 1

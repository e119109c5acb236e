"""A clean stop (SIGTERM, `docker stop`) of a real bot process while a submission is on
the wire (issue 21, item 4): the answer comes late, within the client's request
time-out, and is recorded before the process exits, so the charged task is followed
after the restart instead of failing as "interrupted"."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

from bot.store import Store, TaskState
from simulator import Simulator, SimulatorConfig
from simulator.faults import LATE, AnswerShape
from tests.conftest import FAST
from tests.support.factories import API_KEY, new_task
from tests.support.faults import free_port, said
from tests.support.waiting import wait_until

REQUEST_TIMEOUT = 12.0  # the worker's client: a late answer must fit inside it
LATE_ANSWER = 7.0  # longer than the 5 s the bot used to give it


async def test_sigterm_waits_for_a_late_answer_to_a_submission(
    tmp_path: Path, uploads: str
) -> None:
    db, posts = tmp_path / "bot.db", tmp_path / "posts.jsonl"
    # No callbacks: only the answer can tell the bot which API task it paid for.
    config = SimulatorConfig(
        api_key=API_KEY, seed=5, audio_seconds=1.0, send_callbacks=False, **FAST
    )
    async with Simulator(config) as sim:
        # The API takes (and charges) the submission at once; its answer is slow to come.
        sim.shape_next(AnswerShape(LATE, seconds=LATE_ANSWER), endpoint="add-instrumental")
        store = await Store.open(db)
        task, _ = await store.create_task(new_task(f"{uploads}/voice.wav"))
        await store.close()
        command = [sys.executable, "-m", "tests.support.worker", "--db", str(db), "--api",
                   sim.base_url, "--port", str(free_port()), "--posts", str(posts),
                   "--timeout", str(REQUEST_TIMEOUT)]  # fmt: skip
        worker = await asyncio.create_subprocess_exec(*command, stdout=PIPE)
        try:
            await said(worker, "ready")
            await wait_until(lambda: sim.tasks)  # charged; the answer is on its way
            worker.terminate()  # SIGTERM, as `docker stop` sends
            code = await asyncio.wait_for(worker.wait(), REQUEST_TIMEOUT + 10)
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        [api_task_id] = sim.tasks
        store = await Store.open(db)
        stopped = await store.get_task(task.id)
        await store.close()
    assert code == 0
    assert stopped is not None and stopped.state == TaskState.FOLLOWING
    assert stopped.api_task_id == api_task_id  # recorded: followed after the restart

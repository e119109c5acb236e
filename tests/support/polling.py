"""Tasks followed by the real task core on a simulated clock: no waiting, no wall time.

`follow` submits tasks (straight into the store, as a submission the API accepted) and
answers each poll at the moment the schedule asked for it, as the API would answer then
for the task's stage times, through `ApiWork._apply` (what a real poll runs after the
HTTP answer). So a test sees exactly when the bot polls, what it learns and how long each
task waited after it was done, in computed seconds.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.tasks import Lifecycle
from bot.music import TaskInfo
from bot.store import TaskState
from simulator.profiles import StageTimes
from tests.support.factories import new_task

CDN = "https://cdn.invalid"


def answer(api_task_id: str, times: StageTimes, elapsed: float) -> TaskInfo:
    """record-info for a task with these stage times, `elapsed` s after submission."""
    reached = [
        name
        for name, at in (("text", times.text), ("first", times.first), ("complete", times.complete))
        if name not in times.skipped and elapsed >= at
    ]
    stage = reached[-1] if reached else None
    status = {"text": "TEXT_SUCCESS", "first": "FIRST_SUCCESS", "complete": "SUCCESS"}
    tracks = [
        {
            "id": f"{api_task_id}-{n}",
            "audioUrl": f"{CDN}/{api_task_id}-{n}.mp3"
            if stage == "complete" or (stage == "first" and n == 0)
            else "",
        }
        for n in range(2)
    ]
    return TaskInfo.model_validate(
        {
            "taskId": api_task_id,
            "status": status[stage] if stage else "PENDING",
            "response": {"sunoData": tracks} if stage else None,
        }
    )


@dataclass
class Followed:
    times: StageTimes
    polls: list[float] = field(default_factory=list)  # seconds after submission

    @property
    def waited(self) -> float:
        """Seconds from the end of the task to the poll that saw it."""
        return self.polls[-1] - self.times.complete


async def follow(
    lifecycle: Lifecycle,
    clock: list[float],
    tasks: Sequence[StageTimes],
    *,
    every: float,
    model: str = "V5",
) -> list[Followed]:
    """Submit one task every `every` seconds (clock[0] moves), follow all until done."""
    api, store = lifecycle.api, lifecycle.store
    followed = [Followed(times) for times in tasks]
    start = clock[0]
    due: list[tuple[float, int, int, int]] = []  # (time, order, kind 0 submit / 1 poll, index)
    order = itertools.count()
    for index in range(len(tasks)):
        heapq.heappush(due, (start + index * every, next(order), 0, index))
    ids: dict[int, int] = {}
    submitted: dict[int, float] = {}
    while due:
        now, _, kind, index = heapq.heappop(due)
        clock[0] = now
        if kind == 0:
            row, _ = await store.create_task(new_task(model=model), now=now)
            assert await store.claim_for_submit(row.id, now)
            await store.mark_submitted(
                row.id, f"api-{row.id}", now=now, next_check_at=api.first_check_at(row.model, now)
            )
            ids[index], submitted[index] = row.id, now
        else:
            task = await store.get_task(ids[index])
            assert task is not None and task.api_task_id is not None
            elapsed = now - submitted[index]
            followed[index].polls.append(elapsed)
            await api._apply(task, answer(task.api_task_id, tasks[index], elapsed))
        task = await store.get_task(ids[index])
        assert task is not None
        if task.state == TaskState.FOLLOWING:
            assert task.next_check_at is not None and task.next_check_at > now
            heapq.heappush(due, (task.next_check_at, next(order), 1, index))
        else:
            assert task.state == TaskState.DONE, task
    return followed

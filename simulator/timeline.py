"""The simulator's accepted tasks and the one ticker that moves them through their stages.

A task's status is derived from the monotonic clock on every read (see
:mod:`simulator.tasks`); the ticker only has to notice when a stage is reached, so it
can send that stage's callback. It walks a heap of due times, so thousands of live
tasks cost one wake-up per tick.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from simulator import profiles
from simulator.config import SimulatorConfig
from simulator.faults import KNOWN_FAILURES, MISSING, UNKNOWN_FAILURES, UNKNOWN_RUNNING, Draws
from simulator.tasks import (
    DEFAULT_ERRORS,
    UNKNOWN_ERROR,
    Plan,
    SimTask,
    SimTrack,
    known,
    plan_from_tags,
)

TICK_SECONDS = 0.02  # callback timing resolution


class Timeline:
    """Accepted tasks by taskId, their planned outcomes, and when each next stage is due.

    ``on_stage(task, stage)`` is called once for every stage a task reaches, in order.
    """

    def __init__(
        self,
        config: SimulatorConfig,
        on_stage: Callable[[SimTask, str], None],
        draws: Draws | None = None,
    ) -> None:
        self.tasks: dict[str, SimTask] = {}
        self._config = config
        self._draws = draws
        self._on_stage = on_stage
        self._rng = random.Random(config.seed)
        # Its own generator: drawing stage times leaves the ids of a seeded run unchanged.
        self._timing_rng = random.Random(config.seed)
        self._plans: deque[Plan] = deque()
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()

    def plan_next(self, plan: Plan) -> None:
        """Queue the outcome of the next accepted submission."""
        self._plans.append(plan)

    def new_task(self, body: dict[str, Any]) -> SimTask:
        """Record an accepted submission; its stages start once ``advance`` is called.

        The outcome comes from, strongest first: ``plan_next``, ``[sim:…]`` tags, the
        configured failure rate, the answer shapes' odds. Timing and audio settings are
        copied from the config.
        """
        cfg = self._config
        plan = self._drawn_plan()
        if cfg.failure_rate > 0 and self._rng.random() < cfg.failure_rate:
            plan.status = cfg.failure_status
        plan = plan_from_tags(body["tags"]).merged_over(plan)
        if self._plans:
            plan = self._plans.popleft().merged_over(plan)
        outcome = plan.status or "SUCCESS"
        unknown = outcome != "SUCCESS" and not known(outcome)
        default_code, default_msg = DEFAULT_ERRORS.get(
            outcome, UNKNOWN_ERROR if unknown else (None, None)
        )
        track_count = min(2, max(1, plan.track_count or cfg.track_count))
        if cfg.timing_profile == profiles.FIXED:
            times = profiles.StageTimes(cfg.text_delay, cfg.first_delay, cfg.complete_delay)
        else:
            times = profiles.draw(cfg.timing_profile, self._timing_rng, cfg.timing_scale)
        now_ms = int(time.time() * 1000)
        listed_ms = now_ms + int(times.text * 1000)
        task = SimTask(
            task_id=self._random_id(),
            params=body,
            created_mono=time.monotonic(),
            created_ms=now_ms,
            outcome=outcome,
            tracks=[SimTrack(self._random_uuid4(), listed_ms) for _ in range(track_count)],
            delays=(times.text, times.first, times.complete),
            skipped=times.skipped,
            audio_seconds=cfg.audio_seconds,
            audio_pad_bytes=cfg.audio_pad_bytes,
            sandbox=cfg.sandbox,
            error_code=plan.error_code if plan.error_code is not None else default_code,
            error_message=plan.error_message or default_msg,
            hollow_answers=plan.hollow_answers or 0,
            odd_status=plan.odd_status,
            odd_answers=plan.odd_answers or 0,
            shapes=_shapes_of(plan, unknown),
        )
        self.tasks[task.task_id] = task
        return task

    def _drawn_plan(self) -> Plan:
        """The per-task answer shapes drawn for this submission (config.shapes)."""
        plan = Plan()
        draws = self._draws
        if draws is None:
            return plan
        shapes = draws.shapes
        if draws.chance(shapes.unknown_failure):
            plan.status = draws.choice(UNKNOWN_FAILURES)
        elif draws.chance(shapes.known_failure):
            plan.status = draws.choice(KNOWN_FAILURES)
        if draws.chance(shapes.hollow):
            plan.hollow_answers = shapes.hollow_answers
        if draws.chance(shapes.odd_status):
            plan.odd_status = draws.choice((*UNKNOWN_RUNNING, MISSING))
            plan.odd_answers = shapes.odd_answers
        return plan

    def advance(self, task: SimTask) -> None:
        """Report stages reached since last time; schedule the next one."""
        now = time.monotonic()
        stages = task.reached(now)
        for stage in stages[task.stages_fired :]:
            self._on_stage(task, stage)
        task.stages_fired = len(stages)
        due = task.next_due(now)
        if due is not None:
            heapq.heappush(self._heap, (due, next(self._seq), task.task_id))

    async def run(self) -> None:
        """Advance each task when its next stage is due; runs until cancelled."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, _, task_id = heapq.heappop(self._heap)
                task = self.tasks.get(task_id)
                if task is not None:
                    self.advance(task)  # idempotent, so duplicate entries are harmless

    def _random_id(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def _random_uuid4(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def _shapes_of(plan: Plan, unknown_failure: bool) -> tuple[str, ...]:
    shapes = []
    if plan.hollow_answers:
        shapes.append(f"hollow:{plan.hollow_answers}")
    if plan.odd_status is not None and plan.odd_answers:
        shapes.append(f"odd_status:{plan.odd_status or 'missing'}:{plan.odd_answers}")
    if unknown_failure:
        shapes.append(f"unknown_failure:{plan.status}")
    return tuple(shapes)

"""Callbacks: POST each stage a task reaches to its callBackUrl, in order, with retries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp

from simulator import render
from simulator.config import SimulatorConfig
from simulator.faults import Draws
from simulator.tasks import COMPLETE, SimTask

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]


class CallbackSender:
    """Sends the callbacks and keeps a record of each in ``sent``.

    One record per callback sent (per repeat): task_id, url, stage, payload, repeat,
    attempts, delivered, http_status. It is appended before the first attempt.
    ``spawn`` runs a delivery beside the requests (and cancels it when the simulator
    closes).
    """

    def __init__(self, config: SimulatorConfig, spawn: Spawn, draws: Draws | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.replayed = 0  # stale callbacks sent again after a later stage's (shapes.replay)
        self._config = config
        self._spawn = spawn
        self._draws = draws

    def queue(
        self, session: aiohttp.ClientSession, task: SimTask, stage: str, base_url: str
    ) -> None:
        """Send ``stage``'s callback after the task's earlier ones, if callbacks are on."""
        cfg = self._config
        if stage == COMPLETE and task.outcome == "CALLBACK_EXCEPTION":
            return  # that status means the provider failed to deliver this one
        if not cfg.send_callbacks:
            return
        payload = render.callback(task, stage, base_url, cfg.callback_casing)
        self._chain(session, task, stage, payload, max(1, cfg.callback_repeats))
        stages = [name for name, _ in task.timeline()]
        index = stages.index(stage) if stage in stages else 0
        if index > 0 and self._draws is not None and self._draws.chance(cfg.shapes.replay):
            # The previous stage's callback again, after this one: late and out of order.
            self.replayed += 1
            stale = stages[index - 1]
            self._chain(
                session, task, stale, render.callback(task, stale, base_url, cfg.callback_casing), 1
            )

    def _chain(
        self,
        session: aiohttp.ClientSession,
        task: SimTask,
        stage: str,
        payload: dict[str, Any],
        repeats: int,
    ) -> None:
        previous = task.delivery
        task.delivery = self._spawn(self._deliver(session, task, stage, payload, previous, repeats))

    async def _deliver(
        self,
        session: aiohttp.ClientSession,
        task: SimTask,
        stage: str,
        payload: dict[str, Any],
        previous: asyncio.Task[None] | None,
        repeats: int,
    ) -> None:
        if previous is not None:
            await asyncio.wait({previous})  # keep one task's stages in order
        delivered = False
        for repeat in range(repeats):
            record: dict[str, Any] = {
                "task_id": task.task_id,
                "url": task.callback_url,
                "stage": stage,
                "payload": payload,
                "repeat": repeat,
                "attempts": 0,
                "delivered": False,
                "http_status": None,
            }
            self.sent.append(record)
            delivered = await self._post(session, record)
        if stage == COMPLETE and not delivered and self._config.mark_callback_exception:
            task.callback_failed = True

    async def _post(self, session: aiohttp.ClientSession, record: dict[str, Any]) -> bool:
        """POST one callback with bounded retries; True once a 2xx answer came back."""
        cfg = self._config
        timeout = aiohttp.ClientTimeout(total=cfg.callback_timeout)
        attempts = 1 + max(0, cfg.callback_retries)
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(cfg.callback_backoff * 2 ** (attempt - 1))
            record["attempts"] = attempt + 1
            try:
                async with session.post(
                    record["url"], json=record["payload"], timeout=timeout
                ) as response:
                    record["http_status"] = response.status
                    if 200 <= response.status < 300:
                        record["delivered"] = True
                        return True
                    failure = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = type(exc).__name__  # the URL may carry a secret token
            # The URL is not logged: it usually carries a secret token.
            log.info(
                "callback %s for task %s: attempt %d/%d failed: %s",
                record["stage"],
                record["task_id"],
                attempt + 1,
                attempts,
                failure,
            )
        log.warning(
            "giving up on callback %s for task %s after %d attempts",
            record["stage"],
            record["task_id"],
            attempts,
        )
        return False

"""A loop of the bot's own that runs as one asyncio task from `start()` to `stop()`."""

from __future__ import annotations

import asyncio
import contextlib


class Background:
    """Subclasses give the loop (`_run`) and its task's name (the credit watch, the jam
    clock). Starting twice starts one task; stopping cancels it and waits for it."""

    task_name = "background"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError

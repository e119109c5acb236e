"""Sandbox renderings of the tasks' result tracks (``SimulatorConfig.sandbox``).

The upload check hands over a sandbox task's whole upload; it is decoded in a worker
thread before the task leaves PENDING, so the length record-info and the callbacks
report is the rendering's from the first stage on. The tracks are then rendered once per
task, all at once (one analysis, one seed per track, so the two takes differ in groove
and chords), in a worker thread, and kept for the life of the simulator: about 2.6 MB
per track and minute of input. An upload the engine cannot decode keeps the tone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import zlib

from simulator import sandbox
from simulator.tasks import SimTask

log = logging.getLogger(__name__)


class SandboxRenders:
    """The accompaniment of each sandbox task, by taskId, rendered off the event loop."""

    def __init__(self) -> None:
        self._tracks: dict[str, asyncio.Future[list[bytes]]] = {}

    async def prepare(self, task: SimTask, body: bytes) -> None:
        """Decode ``body`` and start rendering the task's tracks; set
        ``task.result_seconds``. Leaves the task on the tone if it cannot be decoded."""
        samples = await asyncio.to_thread(sandbox.decode, body)
        if samples is None:
            log.info(
                "task %s: the sandbox cannot decode the %s upload; serving the tone",
                task.task_id,
                task.upload_kind,
            )
            return
        task.result_seconds = samples.size / sandbox.RATE
        tags = str(task.params.get("tags", ""))
        seeds = [zlib.crc32(f"{task.task_id}/{i}".encode()) for i in range(len(task.tracks))]
        future = asyncio.ensure_future(
            asyncio.to_thread(sandbox.accompany_samples, samples, tags, seeds)
        )
        future.add_done_callback(functools.partial(_report_failure, task.task_id))
        self._tracks[task.task_id] = future
        log.info(
            "task %s: rendering %.1f s of accompaniment (%s)",
            task.task_id,
            task.result_seconds,
            sandbox.style_for(tags).family,
        )

    async def close(self) -> None:
        """Stop waiting for renderings in progress (their threads finish on their own)."""
        pending = [future for future in self._tracks.values() if not future.done()]
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def track(self, task: SimTask, index: int) -> bytes | None:
        """The WAV of the task's track ``index``, or None when the task has no rendering."""
        future = self._tracks.get(task.task_id)
        if future is None:
            return None
        # shield: a client hanging up must not cancel the rendering others wait on.
        return (await asyncio.shield(future))[index]


def _report_failure(task_id: str, future: asyncio.Future[list[bytes]]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("task %s: sandbox rendering failed", task_id, exc_info=future.exception())

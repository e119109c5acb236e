"""Callbacks: what the API tells the bot by itself, merged with what polls learned
(whichever learns a stage first wins), and the task a callback is about found even when
the bot had stopped following it. `ApiWork` mixes this in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from bot.core.tasks.failures import callback_failure
from bot.core.tasks.schedule import PollSchedule
from bot.core.tasks.timeouts import TimeOuts
from bot.music import CallbackEvent
from bot.music.models import Track
from bot.store import Progress, Stage, TaskRow, TrackData

log = logging.getLogger(__name__)

CALLBACK_MATCH_WAIT = 3.0  # well inside the 15 s the API gives a callback


def _safe_url(url: str) -> str:
    """A URL from the API is used only if it is plain http(s) with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.hostname else ""


def track_data(track: Track) -> TrackData:
    return TrackData(
        api_track_id=track.id[:100],
        audio_url=_safe_url(track.audio_url),
        stream_url=_safe_url(track.stream_audio_url),
        image_url=_safe_url(track.image_url),
        title=track.title[:200],
        tags=track.tags[:1000],
        duration=track.duration,
    )


def _brings_result(event: CallbackEvent) -> bool:
    return event.stage != "error" and event.code == 200


class Callbacks(TimeOuts):
    schedule: PollSchedule
    _wake: Callable[[], None]
    _in_flight: set[int]  # submissions whose API task id is not recorded yet

    async def handle_callback(self, event: CallbackEvent, task_id: int | None = None) -> str:
        """Merge a callback; whichever of callback and poll learns a stage first wins.
        `task_id` comes from the key in the callback URL, when it has one. Returns the
        outcome: applied, duplicate, unknown or failed."""
        task = await self._task_for_callback(event, task_id)
        if task is None:
            return "unknown"
        now = self._clock()
        if event.stage == "error" or event.code != 200:
            reason = callback_failure(event.code, event.msg)
            done = await self.store.fail_task(task.id, reason, now=now, can_retry=True)
            if not done:  # failed by its time-out: the API's reason replaces the time-out's
                done = await self.store.explain_failure(task.id, reason, can_retry=True, now=now)
            self._wake()
            return "failed" if done else "duplicate"
        tracks = [track_data(t) for t in event.tracks]
        complete = event.stage == "complete" and bool(tracks) and all(t.audio_url for t in tracks)
        # A `complete` without usable tracks is only a hint: ask the API right away.
        hint_only = event.stage == "complete" and not complete
        progress = Progress(
            stage=Stage.FIRST if hint_only else Stage(event.stage),
            tracks=tracks,
            complete=complete,
            now=now,
            next_check_at=now
            if hint_only
            else self._by_deadline(task, now + self.schedule.callback_interval),
            from_callback=True,
        )
        changed = await self.store.apply_progress(task.id, progress)
        self._wake()
        return "applied" if changed else "duplicate"

    async def _task_for_callback(self, event: CallbackEvent, task_id: int | None) -> TaskRow | None:
        """The task a callback is about, followed again if the bot had stopped following
        it while the API went on (a lost answer to the submission, a time-out)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CALLBACK_MATCH_WAIT
        while True:
            task = await self.store.get_task_by_api_id(event.task_id)
            # A fast callback (an upload refused at once) can beat the recording of the task
            # id it names: while a submission is in flight, look again for a moment.
            if task or not self._in_flight or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
        if task is None and task_id is None:
            return None
        if task is not None and (task.active or not _brings_result(event)):
            return task
        target = task.id if task is not None else task_id
        assert target is not None
        if not await self.store.follow_again(target, event.task_id, now=self._clock()):
            return task
        log.warning(
            "task %d: the music API reports on it as %s after the bot stopped following it; "
            "following it again",
            target,
            event.task_id,
        )
        return await self.store.get_task(target)

"""Simulated generation tasks: planned outcome, stage timeline and derived status.

A task's status is never stored; it is derived from the monotonic clock, the planned
outcome and the upload check, so ``record-info`` and the callback ticker always agree.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

#: Final statuses a submission can be planned to end in.
PLANNED_STATUSES = frozenset(
    {
        "SUCCESS",
        "CREATE_TASK_FAILED",
        "GENERATE_AUDIO_FAILED",
        "SENSITIVE_WORD_ERROR",
        "CALLBACK_EXCEPTION",
    }
)

# Business code and message of each failure (overridable per task by plan_next).
DEFAULT_ERRORS: dict[str, tuple[int, str]] = {
    "CREATE_TASK_FAILED": (500, "Failed to create the task"),
    "SENSITIVE_WORD_ERROR": (400, "The description contains sensitive words"),
    "GENERATE_AUDIO_FAILED": (501, "Audio generation failed"),
}
# Any other failure status (one the bot has never seen): its code and message.
UNKNOWN_ERROR = (531, "Generation stopped: the audio could not be processed")
_STATUS_WORD = re.compile(r"^[A-Z][A-Z0-9_]{2,40}$")


def plannable(status: str) -> bool:
    """A known final status, or any other status-like word (an unknown failure)."""
    return status in PLANNED_STATUSES or bool(_STATUS_WORD.match(status))


def known(status: str) -> bool:
    return status in PLANNED_STATUSES


UPLOAD_ERROR_CODE = 451

# Stage names double as callbackType values.
TEXT, FIRST, COMPLETE, ERROR = "text", "first", "complete", "error"
_STAGE_STATUS = {TEXT: "TEXT_SUCCESS", FIRST: "FIRST_SUCCESS", COMPLETE: "SUCCESS"}

# Upload check states.
UPLOAD_PENDING, UPLOAD_OK, UPLOAD_FAILED, UPLOAD_SKIPPED = "pending", "ok", "failed", "skipped"

_DIRECTIVE = re.compile(r"\[sim:([^\]]*)\]", re.IGNORECASE)


@dataclass
class SimTrack:
    track_id: str  # UUID4 string
    create_ms: int  # epoch ms the track was listed


@dataclass
class SimTask:
    """One accepted submission (``Simulator.tasks[task_id]``)."""

    task_id: str
    params: dict[str, Any]  # the submitted JSON body, as received
    created_mono: float  # time.monotonic() at submission
    created_ms: int  # epoch ms at submission
    outcome: str  # planned final status, one of PLANNED_STATUSES
    tracks: list[SimTrack]
    delays: tuple[float, float, float]  # text, first, complete (seconds after creation)
    audio_seconds: float
    audio_pad_bytes: int | None
    error_code: int | None = None  # for planned failures
    error_message: str | None = None
    upload_state: str = UPLOAD_PENDING
    upload_kind: str | None = None  # what sniff_audio said about the upload
    upload_bytes: int = 0
    sandbox: bool = False  # render the tracks from the upload (SimulatorConfig.sandbox)
    result_seconds: float | None = None  # length of the sandbox rendering, once known
    forced: bool = False  # finish_now() was called
    callback_failed: bool = False  # final callback undeliverable (mark_callback_exception)
    skipped: frozenset[str] = frozenset()  # stages never reported (a timing profile's)
    stages_fired: int = 0  # how many timeline stages have had their callbacks queued
    # Answer shapes (simulator/faults.py): SUCCESS answers still to show the last track
    # without audio; record-info answers still to carry ``odd_status`` ("" = no status).
    hollow_answers: int = 0
    odd_status: str | None = None
    odd_answers: int = 0
    shapes: tuple[str, ...] = ()  # the shapes planned at submission, for reports
    delivery: asyncio.Task[None] | None = field(default=None, repr=False)
    fetch: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def callback_url(self) -> str:
        return str(self.params.get("callBackUrl", ""))

    @property
    def model(self) -> str:
        return str(self.params.get("model") or "V4_5PLUS")

    @property
    def current_status(self) -> str:
        """The status record-info would show right now."""
        return self.status(time.monotonic())

    def timeline(self) -> list[tuple[str, float]]:
        """Stages this task will pass through, with their delay after submission."""
        text, first, complete = self.delays
        if self.upload_state == UPLOAD_FAILED:
            return [(ERROR, 0.0)]
        if self.outcome in ("CREATE_TASK_FAILED", "SENSITIVE_WORD_ERROR"):
            return [(ERROR, text)]
        stages = [(TEXT, text), (FIRST, first), (COMPLETE, complete)]
        if self.outcome == "GENERATE_AUDIO_FAILED" or not known(self.outcome):
            stages = [(TEXT, text), (ERROR, first)]
        return [(name, delay) for name, delay in stages if name not in self.skipped]

    def reached(self, now: float) -> list[str]:
        """Stages reached at monotonic time ``now``, in order.

        Nothing is reached while the upload is still being checked: a real provider
        cannot write anything before it has the audio. An upload failure is immediate.
        """
        if self.upload_state == UPLOAD_PENDING:
            return []
        stages = self.timeline()
        if self.forced or self.upload_state == UPLOAD_FAILED:
            return [name for name, _ in stages]
        # Same expression as next_due(), so the ticker never sees a due stage unreached.
        return [name for name, delay in stages if now >= self.created_mono + delay]

    def next_due(self, now: float) -> float | None:
        """Monotonic time of the next stage not reached yet, or None when finished."""
        if self.upload_state == UPLOAD_PENDING:
            return None
        done = len(self.reached(now))
        stages = self.timeline()
        if done >= len(stages):
            return None
        return self.created_mono + stages[done][1]

    def status(self, now: float) -> str:
        stages = self.reached(now)
        if not stages:
            return "PENDING"
        last = stages[-1]
        if last == ERROR:
            return "CREATE_TASK_FAILED" if self.upload_state == UPLOAD_FAILED else self.outcome
        if last == COMPLETE and (self.outcome == "CALLBACK_EXCEPTION" or self.callback_failed):
            return "CALLBACK_EXCEPTION"
        return _STAGE_STATUS[last]

    def progress(self, now: float) -> str | None:
        """The last non-error stage reached: how far the tracks got."""
        stages = [s for s in self.reached(now) if s != ERROR]
        return stages[-1] if stages else None

    def finished(self, now: float) -> bool:
        return self.upload_state != UPLOAD_PENDING and self.next_due(now) is None

    def error(self, now: float) -> tuple[int | None, str | None]:
        """(errorCode, errorMessage) as record-info shows them at ``now``."""
        if ERROR not in self.reached(now):
            return None, None
        return self.error_code, self.error_message

    def take_hollow(self) -> bool:
        """Whether this SUCCESS answer still lists the last track without audio."""
        if self.hollow_answers <= 0 or len(self.tracks) < 2:
            return False
        self.hollow_answers -= 1
        return True

    def take_odd_status(self) -> str | None:
        """The status this record-info answer shows instead of the real one, if any."""
        if self.odd_status is None or self.odd_answers <= 0:
            return None
        self.odd_answers -= 1
        return self.odd_status

    def has_audio(self, index: int, now: float) -> bool:
        """Whether track ``index`` has its audio at ``now``."""
        stage = self.progress(now)
        return stage == COMPLETE or (stage == FIRST and index == 0)


@dataclass
class Plan:
    """Outcome overrides for one submission (from plan_next or a ``[sim:…]`` tag)."""

    status: str | None = None
    track_count: int | None = None
    error_code: int | None = None
    error_message: str | None = None
    hollow_answers: int | None = None
    odd_status: str | None = None
    odd_answers: int | None = None

    def merged_over(self, base: Plan) -> Plan:
        return Plan(
            status=self.status or base.status,
            track_count=self.track_count or base.track_count,
            error_code=self.error_code if self.error_code is not None else base.error_code,
            error_message=self.error_message or base.error_message,
            hollow_answers=(
                self.hollow_answers if self.hollow_answers is not None else base.hollow_answers
            ),
            odd_status=self.odd_status if self.odd_status is not None else base.odd_status,
            odd_answers=self.odd_answers if self.odd_answers is not None else base.odd_answers,
        )


def plan_from_tags(*texts: str) -> Plan:
    """Read ``[sim:…]`` directives, e.g. ``[sim:SENSITIVE_WORD_ERROR]``, ``[sim:tracks=1]``.

    Several directives may be given in one bracket, comma-separated, or in several
    brackets: ``[sim:GENERATE_AUDIO_FAILED,code=531]``. Unknown directives are ignored.
    """
    plan = Plan()
    for text in texts:
        for group in _DIRECTIVE.findall(text or ""):
            for raw in group.split(","):
                item = raw.strip()
                key, _, value = item.partition("=")
                key = key.strip().lower()
                value = value.strip()
                if item.upper() in PLANNED_STATUSES:
                    plan.status = item.upper()
                elif key == "tracks" and value in ("1", "2"):
                    plan.track_count = int(value)
                elif key == "code" and value.lstrip("-").isdigit():
                    plan.error_code = int(value)
                elif key in ("message", "msg") and value:
                    plan.error_message = value
    return plan

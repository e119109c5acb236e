"""The words the database stores for states, in one place.

The migrations' CHECK constraints list the same values; a test keeps the two equal, so
a state cannot be added on one side only. Nothing here imports the rest of the bot: the
music client, the task core and the cogs all speak these names.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class TaskState(StrEnum):
    """Where a task is in its life. Only `done` and `failed` are final."""

    QUEUED = "queued"  # waiting for a submission slot
    SUBMITTING = "submitting"  # the API may be being called: unknown after a crash
    FOLLOWING = "following"  # submitted, learning stages
    DONE = "done"
    FAILED = "failed"


ACTIVE_STATES: tuple[TaskState, ...] = (
    TaskState.QUEUED,
    TaskState.SUBMITTING,
    TaskState.FOLLOWING,
)


class Stage(StrEnum):
    """How far the music service has come with a submitted task."""

    NONE = "none"
    PENDING = "pending"
    TEXT = "text"
    FIRST = "first"
    COMPLETE = "complete"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Stages only move forward: a report of a lower rank changes nothing. An error
        ranks with `none`, so it never overrides progress (failure is a task state)."""
        return _RANK[self]

    @classmethod
    def of_status(cls, status: str) -> Stage | None:
        """The stage a record-info status reports; None for failures and unknown words."""
        return _STAGE_OF_STATUS.get(status)


_RANK = {
    Stage.NONE: 0,
    Stage.PENDING: 1,
    Stage.TEXT: 2,
    Stage.FIRST: 3,
    Stage.COMPLETE: 4,
    Stage.ERROR: 0,
}

# A callback that failed on the API's side still means the tracks were made.
_STAGE_OF_STATUS = {
    "PENDING": Stage.PENDING,
    "TEXT_SUCCESS": Stage.TEXT,
    "FIRST_SUCCESS": Stage.FIRST,
    "SUCCESS": Stage.COMPLETE,
    "CALLBACK_EXCEPTION": Stage.COMPLETE,
}


class Delivery(StrEnum):
    """Whether a finished track has been posted."""

    PENDING = "pending"
    ATTEMPTED = "attempted"  # a post may have happened: look before posting again
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: Discord refused for good, or kept failing (the reason is kept)


class VocalGender(StrEnum):
    """The voice a request favours, as the music API spells it (None: any)."""

    MALE = "m"
    FEMALE = "f"


class Origin(StrEnum):
    """How a request started: which way in (`bot/core/intake.py`) recorded the task."""

    SLASH = "slash"  # /instrumental
    MENU = "menu"  # the "Add instrumental" message menu
    REROLL = "reroll"
    TWEAK = "tweak"
    RETRY = "retry"
    JAM = "jam"  # an entry in a jam (from /instrumental or the menu in its thread)


class JamPhase(StrEnum):
    """Where a jam is; also what its thread was last told (`announced`)."""

    SUBMITTING = "submitting"
    VOTING = "voting"
    ENDED = "ended"

    @property
    def after(self) -> JamPhase | None:
        """The phase this one moves on to; None once ended."""
        return _NEXT_PHASE.get(self)


_NEXT_PHASE = {JamPhase.SUBMITTING: JamPhase.VOTING, JamPhase.VOTING: JamPhase.ENDED}


class VoteOutcome(StrEnum):
    """What a click on an entry's Vote button did (not stored: one row per vote)."""

    VOTED = "voted"
    MOVED = "moved"  # from another entry
    TAKEN_BACK = "taken back"  # the same entry again


def sql_list(values: Iterable[StrEnum]) -> str:
    """A constant list for SQL, like `('queued', 'submitting')`.

    Literal, not bound: SQLite uses a partial index only when the query repeats its
    WHERE terms, and the migrations write these lists out.
    """
    words = [str(value) for value in values]
    if not words or any("'" in word for word in words):
        raise ValueError(f"not a list of plain SQL words: {words!r}")
    return "(" + ", ".join(f"'{word}'" for word in words) + ")"

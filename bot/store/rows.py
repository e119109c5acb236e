"""Typed rows: what the store takes in and hands out.

SQLite keeps states as text and flags as integers; rows carry the enums and booleans,
converted once here, so no caller compares against a bare string or a 0/1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Self

from bot.store.states import (
    ACTIVE_STATES,
    Delivery,
    JamPhase,
    Origin,
    Stage,
    TaskState,
    VocalGender,
)


@dataclass(frozen=True, slots=True)
class NewTask:
    """What a member asked for; recorded before anything is submitted."""

    interaction_id: int
    user_id: int
    channel_id: int
    upload_url: str
    title: str
    tags: str
    negative_tags: str
    model: str
    guild_id: int | None = None
    thread_id: int | None = None
    card_message_id: int | None = None
    input_filename: str = ""
    vocal_gender: VocalGender | None = None
    style_weight: float | None = None
    weirdness: float | None = None
    audio_weight: float | None = None
    # Until then the task's creator is posting its card; the scheduler leaves it alone.
    placing_until: float | None = None
    in_place: bool = False  # the server posts results in the channel, without a thread
    cost: float = 0.0  # credits this task is expected to cost once the API accepts it
    parent_id: int | None = None  # the task this one re-rolls, tweaks or retries
    origin: Origin = Origin.SLASH
    jam_id: int | None = None  # an entry of this jam
    anonymous: bool = False  # shown without the requester's name until the jam's results
    # What was sent when the member's file could not go as it is (transcoded, trimmed); the
    # upload_url is then "" until the caller has posted that part (`set_discord_place`).
    input_sent: str | None = None


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    interaction_id: int
    guild_id: int | None
    channel_id: int
    thread_id: int | None
    card_message_id: int | None
    input_message_id: int | None
    notice_message_id: int | None
    placing_until: float | None
    user_id: int
    upload_url: str
    input_filename: str
    title: str
    tags: str
    negative_tags: str
    vocal_gender: VocalGender | None
    style_weight: float | None
    weirdness: float | None
    audio_weight: float | None
    model: str
    api_task_id: str | None
    state: TaskState
    stage: Stage
    card_dirty: bool
    card_retry_at: float
    submit_attempts: int
    poll_count: int
    error_count: int
    next_check_at: float | None
    callback_at: float | None
    error: str | None
    can_retry: bool
    created_at: float
    submitted_at: float | None
    completed_at: float | None
    updated_at: float
    card_attempts: int = 0  # failed draws of the status card since it was last shown
    card_error: str | None = None  # the card was given up: why (a sentence a member reads)
    delivery_error: str | None = None  # a track could not be posted: why
    gave_up_at: float | None = None  # the requester was told about a give-up (once)
    quota_returned: bool = False  # failed before the API took it: not counted in quotas
    in_place: bool = False
    cost: float = 0.0
    parent_id: int | None = None
    origin: Origin = Origin.SLASH
    removed_at: float | None = None  # its posts were deleted: nothing is drawn for it again
    jam_id: int | None = None
    anonymous: bool = False
    vote_message_id: int | None = None
    lease_owner: str | None = None  # the process polling or submitting it (PostgreSQL)
    lease_until: float | None = None
    card_lease_owner: str | None = None  # the process drawing its card
    card_lease_until: float | None = None
    polled_at: float | None = None  # the last poll
    first_after: float | None = None  # the first track was ready after this poll…
    first_seen: float | None = None  # …and by this one
    done_after: float | None = None  # done after this poll, by completed_at
    input_sent: str | None = None  # what was sent in place of the member's file

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Self:
        """From a `SELECT {TASK_COLUMNS}` row."""
        return cls(*_convert(_TASK_CONVERTERS, row))


@dataclass(frozen=True, slots=True)
class TaskTiming:
    """When a finished task reached its stages, as far as its polls tell (clock times):
    the first track was ready in (first_after, first_seen] (None: no poll saw it, as when
    a callback told the end), the end in (done_after, completed_at]."""

    model: str
    submitted_at: float
    first_after: float | None
    first_seen: float | None
    done_after: float
    completed_at: float


@dataclass(frozen=True, slots=True)
class JamRow:
    id: int
    guild_id: int
    channel_id: int
    thread_id: int | None
    card_message_id: int | None
    host_id: int
    theme: str
    tags: str | None
    negative_tags: str | None
    model: str | None
    anonymous: bool
    max_entries: int
    phase: JamPhase
    submit_until: float
    vote_until: float
    announced: JamPhase  # the last phase its thread was told about
    results_message_id: int | None
    created_at: float
    ended_at: float | None
    vote_seconds: float  # the vote's length: an entry that joins late gets it whole

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Self:
        """From a `SELECT {JAM_COLUMNS}` row."""
        return cls(*_convert(_JAM_CONVERTERS, row))


@dataclass(frozen=True, slots=True)
class Usage:
    """What counts against a member's quota in one server, read with the task's insert."""

    member_today: (
        int  # the member's requests since the start of the day (slots given back excluded)
    )
    server_today: int  # the server's requests since the start of the day
    running: int  # the member's tasks not finished yet
    last_request_at: float | None  # the member's latest request, for the cooldown
    jam_entries: int = 0  # the member's entries in the jam the request is for


@dataclass(frozen=True, slots=True)
class TrackRow:
    id: int
    task_id: int
    api_track_id: str
    position: int
    audio_url: str
    stream_url: str
    image_url: str
    title: str
    tags: str
    duration: float | None
    ready_at: float | None
    delivery: Delivery
    delivery_attempts: int
    next_delivery_at: float | None
    message_id: int | None
    delivered_at: float | None
    delivery_error: str | None = None  # why the post was given up (`Delivery.FAILED`)
    lease_owner: str | None = None  # the process posting it (PostgreSQL)
    lease_until: float | None = None
    post_nonce: str | None = None  # the "about to post" marker: the post's nonce...
    post_after: int | None = None  # ...and a message id known older than the post

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Self:
        """From a `SELECT {TRACK_COLUMNS}` row."""
        return cls(*_convert(_TRACK_CONVERTERS, row))


@dataclass(frozen=True, slots=True)
class TrackData:
    """A track as the API reports it, to be merged into the store."""

    api_track_id: str
    audio_url: str = ""
    stream_url: str = ""
    image_url: str = ""
    title: str = ""
    tags: str = ""
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """What one poll or callback learned about a following task."""

    stage: Stage
    tracks: Sequence[TrackData]
    complete: bool  # every track is ready: the task is done
    now: float
    next_check_at: float | None = None  # None keeps the check already scheduled
    from_callback: bool = False
    done_after: float | None = None  # complete: done after this (the poll before); None: now


TASK_COLUMNS = ", ".join(f.name for f in fields(TaskRow))
TRACK_COLUMNS = ", ".join(f.name for f in fields(TrackRow))
JAM_COLUMNS = ", ".join(f.name for f in fields(JamRow))

_Converter = Callable[[Any], Any] | None


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


def _converters(row_type: type, by_name: dict[str, Callable[[Any], Any]]) -> list[_Converter]:
    return [by_name.get(f.name) for f in fields(row_type)]


_TASK_CONVERTERS = _converters(
    TaskRow,
    {
        "state": TaskState,
        "stage": Stage,
        "card_dirty": bool,
        "can_retry": bool,
        "quota_returned": bool,
        "in_place": bool,
        "anonymous": bool,
        "origin": Origin,
        "vocal_gender": _optional(VocalGender),
    },
)
_JAM_CONVERTERS = _converters(JamRow, {"anonymous": bool, "phase": JamPhase, "announced": JamPhase})
_TRACK_CONVERTERS = _converters(TrackRow, {"delivery": Delivery})


def _convert(converters: list[_Converter], row: Sequence[Any]) -> list[Any]:
    return [
        value if convert is None else convert(value)
        for convert, value in zip(converters, row, strict=True)
    ]

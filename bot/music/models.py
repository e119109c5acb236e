"""Pydantic models at the music API's boundary.

Requests are strict (an invalid one never leaves the process); answers are read tolerantly,
since real payloads drift (see `shared/api/music-api.md`, "Observed drift").
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
    model_validator,
)

DEFAULT_MODELS = frozenset({"V4_5PLUS", "V5"})
TITLE_MAX = 100
TAGS_MAX = 1000


class AddInstrumentalRequest(BaseModel):
    """The body of `POST /api/v1/generate/add-instrumental`.

    Validate with `context={"allowed_models": {...}}` to check `model` against the configured
    set; without a context the documented models are allowed.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, str_strip_whitespace=True)

    upload_url: HttpUrl = Field(alias="uploadUrl")
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    tags: str = Field(min_length=1, max_length=TAGS_MAX)
    negative_tags: str = Field(alias="negativeTags", min_length=1, max_length=TAGS_MAX)
    callback_url: HttpUrl = Field(alias="callBackUrl")
    vocal_gender: Literal["m", "f"] | None = Field(None, alias="vocalGender")
    style_weight: float | None = Field(None, alias="styleWeight", ge=0, le=1)
    weirdness_constraint: float | None = Field(None, alias="weirdnessConstraint", ge=0, le=1)
    audio_weight: float | None = Field(None, alias="audioWeight", ge=0, le=1)
    model: str = "V4_5PLUS"

    @field_validator("style_weight", "weirdness_constraint", "audio_weight", mode="before")
    @classmethod
    def _two_decimals(cls, value: Any) -> Any:
        # The API wants multiples of 0.01; rounding first keeps 0.999 inside 0..1 checks honest.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return round(float(value), 2)
        return value

    @field_validator("model")
    @classmethod
    def _allowed_model(cls, value: str, info: ValidationInfo) -> str:
        allowed = (info.context or {}).get("allowed_models") or DEFAULT_MODELS
        if value not in allowed:
            raise ValueError(f"model must be one of {', '.join(sorted(allowed))}")
        return value

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    TEXT_SUCCESS = "TEXT_SUCCESS"
    FIRST_SUCCESS = "FIRST_SUCCESS"
    SUCCESS = "SUCCESS"
    CREATE_TASK_FAILED = "CREATE_TASK_FAILED"
    GENERATE_AUDIO_FAILED = "GENERATE_AUDIO_FAILED"
    CALLBACK_EXCEPTION = "CALLBACK_EXCEPTION"
    SENSITIVE_WORD_ERROR = "SENSITIVE_WORD_ERROR"


FAILED_STATUSES = frozenset(
    {
        TaskStatus.CREATE_TASK_FAILED,
        TaskStatus.GENERATE_AUDIO_FAILED,
        TaskStatus.SENSITIVE_WORD_ERROR,
        TaskStatus.CALLBACK_EXCEPTION,  # unless it carries finished tracks, see TaskInfo
    }
)

# The API adds failure statuses without notice (each documented one ends so): a status
# ending so is a failure even when this list does not name it yet.
FAILURE_ENDINGS = ("_FAILED", "_ERROR", "EXCEPTION")


def is_failure_status(status: str) -> bool:
    return status in FAILED_STATUSES or status.endswith(FAILURE_ENDINGS)


_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """`audioUrl` and `audio_url` both become `audio_url`."""
    return {_CAMEL.sub(r"_\1", key).lower(): value for key, value in raw.items()}


def parse_time(value: Any) -> datetime | None:
    """Epoch milliseconds (or seconds) or a `YYYY-MM-DD HH:MM:SS` string; None if neither."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_time(int(text))
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


class Track(BaseModel):
    """One generated track; either casing of the API's field names is accepted."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    audio_url: str = ""
    stream_audio_url: str = ""
    image_url: str = ""
    title: str = ""
    tags: str = ""
    model_name: str = ""
    duration: float | None = None
    create_time: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        data = snake_keys(raw)
        for key in ("audio_url", "stream_audio_url", "image_url"):
            # The CDN URL may be missing while the origin one is there.
            data[key] = data.get(key) or data.get(f"source_{key}") or ""
        for key in ("title", "tags", "model_name"):
            if data.get(key) is None:
                data[key] = ""
        data["create_time"] = parse_time(data.get("create_time"))
        try:
            duration = float(data.get("duration") or 0)
        except (TypeError, ValueError):
            duration = 0
        data["duration"] = duration if duration > 0 else None
        return data

    @property
    def ready(self) -> bool:
        """A half-finished track is listed with an empty audio URL."""
        return bool(self.audio_url)


def parse_tracks(items: Any) -> list[Track]:
    """Tracks from a list, skipping entries that are not tracks at all."""
    tracks: list[Track] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and (item.get("id") or item.get("ID")):
            tracks.append(Track.model_validate(item))
    return tracks


class TaskInfo(BaseModel):
    """The `data` of `record-info`."""

    task_id: str
    status: str
    tracks: list[Track] = []
    error_code: int | None = None
    error_message: str | None = None
    param: dict[str, Any] = {}
    create_time: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        data = snake_keys(raw)
        response = data.get("response")
        if isinstance(response, dict):
            response = snake_keys(response)
            data["tracks"] = parse_tracks(response.get("suno_data") or response.get("data"))
        else:  # null while PENDING
            data["tracks"] = []
        data["param"] = _parse_param(data.get("param"))
        data["create_time"] = parse_time(data.get("create_time"))
        data["status"] = str(data.get("status") or TaskStatus.PENDING).upper()
        try:
            data["error_code"] = int(data["error_code"]) if data.get("error_code") else None
        except (TypeError, ValueError):
            data["error_code"] = None
        if data.get("error_message") is not None:
            data["error_message"] = str(data["error_message"])[:500]
        return data

    @property
    def ready_tracks(self) -> list[Track]:
        return [track for track in self.tracks if track.ready]

    @property
    def failed(self) -> bool:
        if self.status == TaskStatus.CALLBACK_EXCEPTION:
            # Only the callback failed; the generation succeeded if it produced audio.
            return not self.ready_tracks
        return is_failure_status(self.status)

    @property
    def finished(self) -> bool:
        """SUCCESS and every listed track has its audio: a SUCCESS may come while the last
        track's audio URL is still empty."""
        return (
            self.status in (TaskStatus.SUCCESS, TaskStatus.CALLBACK_EXCEPTION)
            and not self.failed
            and bool(self.tracks)
            and all(track.ready for track in self.tracks)
        )


def _parse_param(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


CallbackStage = Literal["text", "first", "complete", "error"]


class CallbackEvent(BaseModel):
    """A callback POSTed by the API.

    The body is `{"code", "msg", "data": {"callbackType", "task_id" | "taskId", "data"}}`.
    """

    code: int
    msg: str = ""
    stage: CallbackStage
    task_id: str = Field(min_length=1, max_length=64)
    tracks: list[Track] = []

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise ValueError("callback body must be an object")
        data = raw.get("data")
        if not isinstance(data, dict):
            raise ValueError("callback has no data object")
        inner = snake_keys(data)
        stage = str(inner.get("callback_type") or "").lower()
        code = raw.get("code", 200)
        if stage not in ("text", "first", "complete", "error") and code != 200:
            stage = "error"
        return {
            "code": code,
            "msg": str(raw.get("msg") or "")[:500],
            "stage": stage,
            "task_id": inner.get("task_id") or "",
            "tracks": parse_tracks(inner.get("data")),
        }

"""The one way in: whatever started a request, it becomes a recorded task here or is refused.

Every way a request starts calls `Intake.take`, so every rule applies to all of them:
- `/instrumental` (`cogs/instrumental/command.py`);
- the "Add instrumental" message menu, Re-roll, Tweak, Retry and jam entries, as they are
  added, build a `Request` the same way.

The intake fills what the member left empty (today from the bot's settings), checks the
text and the recording (size, that it really is audio, its length), then records the task.
A refusal is a `Refusal` with one sentence the member can read; nothing is recorded or
sent then. The caller posts the task's card right after: until `Lifecycle.placed` is
called (or `PLACING_WINDOW` passes, after a crash), the scheduler leaves the card alone.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from bot.audio import inspect_audio
from bot.core.tasks import Lifecycle
from bot.errors import Refusal
from bot.music.models import TAGS_MAX, TITLE_MAX
from bot.store import NewTask, TaskRow

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

PLACING_WINDOW = 60.0  # seconds the creator of a task has to post its card
GENDERS = {"male": "m", "female": "f", "m": "m", "f": "f"}
WEIGHTS = {"style_weight": "Style weight", "weirdness": "Weirdness", "audio_weight": "Audio weight"}


@dataclass(frozen=True, slots=True)
class Options:
    """What the member chose; None means "not given" (a default applies)."""

    tags: str | None = None
    negative_tags: str | None = None
    title: str | None = None
    style_weight: float | None = None
    weirdness: float | None = None
    audio_weight: float | None = None
    vocal_gender: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Recording:
    """The member's audio: where the API will fetch it, and how the bot reads it to check."""

    url: str
    filename: str
    size: int | None
    read: Callable[[], Awaitable[bytes]]  # raises Refusal when it cannot be read


@dataclass(frozen=True, slots=True)
class Request:
    """Who asks, where the result goes, which audio, which options."""

    key: int  # one key, one task: a repeated interaction is not recorded twice
    user_id: int
    guild_id: int | None
    channel_id: int
    thread_id: int | None
    recording: Recording
    options: Options


@dataclass(frozen=True, slots=True)
class Rules:
    """The bot-wide defaults and limits a request is checked against."""

    default_tags: str
    default_negative_tags: str
    default_model: str
    allowed_models: Collection[str]
    input_max_bytes: int
    input_min_seconds: float
    input_max_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            default_tags=settings.default_tags,
            default_negative_tags=settings.default_negative_tags,
            default_model=settings.suno_default_model,
            allowed_models=tuple(settings.suno_allowed_models),
            input_max_bytes=settings.input_max_bytes,
            input_min_seconds=settings.input_min_seconds,
            input_max_seconds=settings.input_max_seconds,
        )


@dataclass(frozen=True, slots=True)
class Accepted:
    task: TaskRow
    created: bool  # False: this request was recorded before (its card is on its way)
    audio: bytes  # the checked recording, for the caller to repost next to the card


def megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f} MB" if value >= 100 else f"{value:.3g} MB"


def seconds_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.3g} seconds"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d} minutes"


def title_from_filename(filename: str) -> str:
    stem = " ".join(PurePosixPath(filename).stem.replace("_", " ").split())
    return stem[:TITLE_MAX] or "Untitled"


class Intake:
    """`rules` is read at each request, so a changed setting applies to the next one."""

    def __init__(self, lifecycle: Lifecycle, rules: Callable[[], Rules]) -> None:
        self.lifecycle = lifecycle
        self.rules = rules

    async def take(self, request: Request) -> Accepted:
        """Check and record a request, or raise `Refusal`. Cheap checks come first."""
        rules = self.rules()
        new = self.task_for(request, rules)
        audio = await self.checked_audio(request.recording, rules)
        placing_until = self.lifecycle.now() + PLACING_WINDOW
        task, created = await self.lifecycle.request(replace(new, placing_until=placing_until))
        return Accepted(task, created, audio)

    def task_for(self, request: Request, rules: Rules) -> NewTask:
        """The task this request asks for, defaults filled in; refuses bad text or options."""
        options = request.options
        title = " ".join((options.title or "").split())
        if len(title) > TITLE_MAX:
            raise Refusal(f"The title can be at most {TITLE_MAX} characters (yours: {len(title)}).")
        title = title or title_from_filename(request.recording.filename)
        tags = (options.tags or "").strip() or rules.default_tags
        negative_tags = (options.negative_tags or "").strip() or rules.default_negative_tags
        for name, text in (("Tags", tags), ("Negative tags", negative_tags)):
            if len(text) > TAGS_MAX:
                raise Refusal(f"{name} can be at most {TAGS_MAX} characters (yours: {len(text)}).")
        model = options.model or rules.default_model
        if model not in rules.allowed_models:
            raise Refusal(f"The model {model} is not offered here.")
        gender = None
        if options.vocal_gender:
            gender = GENDERS.get(options.vocal_gender.lower())
            if gender is None:
                raise Refusal("Vocal gender can be male or female.")
        return NewTask(
            interaction_id=request.key,
            user_id=request.user_id,
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            thread_id=request.thread_id,
            upload_url=request.recording.url,
            input_filename=request.recording.filename[:200],
            title=title,
            tags=tags,
            negative_tags=negative_tags,
            model=model,
            vocal_gender=gender,
            style_weight=_weight("style_weight", options.style_weight),
            weirdness=_weight("weirdness", options.weirdness),
            audio_weight=_weight("audio_weight", options.audio_weight),
        )

    async def checked_audio(self, recording: Recording, rules: Rules) -> bytes:
        """The recording's bytes once it is sure to be audio of an accepted size and length."""
        if recording.size == 0:
            raise Refusal("That file is empty: attach the recording itself.")
        if recording.size is not None and recording.size > rules.input_max_bytes:
            raise Refusal(
                f"That file is {megabytes(recording.size)}; recordings can be at most "
                f"{megabytes(rules.input_max_bytes)}."
            )
        data = await recording.read()
        if not data:
            raise Refusal("That file is empty: attach the recording itself.")
        if len(data) > rules.input_max_bytes:
            raise Refusal(f"Recordings can be at most {megabytes(rules.input_max_bytes)}.")
        info = await asyncio.to_thread(inspect_audio, data)
        if info is None:
            raise Refusal(
                "That file isn't a recording I can read: attach MP3, WAV, OGG, FLAC or M4A audio."
            )
        duration = info.duration
        if duration is not None:
            if duration < rules.input_min_seconds:
                raise Refusal(
                    f"That recording is {seconds_text(duration)} long; it must be at least "
                    f"{seconds_text(rules.input_min_seconds)}."
                )
            if duration > rules.input_max_seconds:
                raise Refusal(
                    f"That recording is {seconds_text(duration)} long; it can be at most "
                    f"{seconds_text(rules.input_max_seconds)}."
                )
        return data


def _weight(name: str, value: float | None) -> float | None:
    """Weights are 0 to 1, sent as multiples of 0.01."""
    if value is None:
        return None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise Refusal(f"{WEIGHTS[name]} must be a number from 0 to 1 (yours: {value:g}).")
    return round(value, 2)

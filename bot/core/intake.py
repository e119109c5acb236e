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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot import media
from bot.core import validate
from bot.core.guilds import DEFAULT_FIELDS, GuildConfig, GuildSettings, Rules
from bot.core.quota import Quota
from bot.core.refusals import RoleNeeded, WrongChannel
from bot.core.tasks import Lifecycle
from bot.core.words import refuse_blocked
from bot.errors import Refusal
from bot.music.models import TITLE_MAX
from bot.store import JamPhase, JamRow, NewTask, Origin, TaskRow, Usage

log = logging.getLogger(__name__)

PLACING_WINDOW = 60.0  # seconds the creator of a task has to post its card


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
    start: float | None = None  # seconds into a long take
    length: float | None = None  # seconds of it to use


@dataclass(frozen=True, slots=True)
class Recording:
    """The member's audio: where the API will fetch it, and how the bot reads it to check."""

    url: str
    filename: str
    size: int | None
    read: Callable[[], Awaitable[bytes]]  # raises Refusal when it cannot be read
    owner_id: int | None = None  # who posted it, when not the member asking (a jam checks)
    voice: bool = False  # a Discord voice message (no file name the member chose)


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
    parent_channel_id: int | None = None  # the channel a thread belongs to
    origin: Origin = Origin.SLASH  # how it started
    parent_task_id: int | None = None  # the task it re-rolls, tweaks or retries
    role_ids: frozenset[int] = frozenset()
    moderator: bool = False  # Manage Server: never locked out by the role or channel list


@dataclass(frozen=True, slots=True)
class Checked:
    """A recording decoded to its last frame: its bytes, and what goes to the API."""

    audio: bytes  # the member's file
    decoded: media.Decoded

    @property
    def sent(self) -> bytes | None:
        """The transcoded part the bot must post for the API to fetch; None: the member's
        file goes as it is."""
        return self.decoded.sent


@dataclass(frozen=True, slots=True)
class Accepted:
    task: TaskRow
    created: bool  # False: this request was recorded before (its card is on its way)
    audio: bytes  # the checked recording, for the caller to repost next to the card
    # What the API must fetch instead (transcoded or trimmed), posted by the caller, whose
    # URL it hands to `Lifecycle.placed`; None: the member's file is the uploadUrl.
    sent: bytes | None = None
    sent_kind: str | None = None


def megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f} MB" if value >= 100 else f"{value:.3g} MB"


seconds_text = media.seconds_text
QUIET_DBFS = -50.0  # a take whose loudest half second is quieter holds nothing to follow
DECODERS = 2  # recordings decoded at once (CPU and memory: one core each)


def title_from_filename(filename: str) -> str:
    """The file name without its extension; a `/` in it is text, not a folder."""
    stem, dot, _ = filename.rpartition(".")
    stem = stem if dot and stem else filename
    return " ".join(stem.replace("_", " ").split())[:TITLE_MAX] or "Untitled"


def default_title(recording: Recording, now: float) -> str:
    """A voice message's file name is Discord's ("voice-message.ogg"): name it by its date."""
    if recording.voice:
        return f"Voice memo {datetime.fromtimestamp(now, UTC):%Y-%m-%d %H:%M}"
    return title_from_filename(recording.filename)


class Intake:
    """`rules` and the server's settings are read at each request, so a changed setting
    applies to the next one."""

    def __init__(
        self, lifecycle: Lifecycle, rules: Callable[[], Rules], guilds: GuildSettings
    ) -> None:
        self.lifecycle = lifecycle
        self.rules = rules
        self.guilds = guilds
        self._decoding = asyncio.Semaphore(DECODERS)
        # Requests admitted but not recorded yet (their recordings being downloaded and
        # checked), by (server, member): they hold a slot, so twenty requests at once
        # download one file, not twenty. One process serves all of a server's interactions
        # (its shard), so the process is the right place to count them.
        self._checking: dict[tuple[int, int], list[float]] = {}

    async def take(self, request: Request) -> Accepted:
        """Check and record a request, or raise `Refusal`. Cheap checks come first; the
        quota is checked again in the transaction that records the task."""
        rules = self.rules()
        store = self.lifecycle.store
        config = await self.guilds.get(request.guild_id)
        check_access(config, request)
        jam = await self.jam_for(request)
        new = self.task_for(request, rules, config, jam)
        quota = Quota(config.limits(rules), self.lifecycle.now(), jam)
        if request.guild_id is None:
            return await self.record(request, rules, new, quota)
        slot = (request.guild_id, request.user_id)
        usage = await store.usage(request.guild_id, request.user_id, quota.since, new.jam_id)
        # No await from here to the reservation: nothing else is admitted in between.
        quota.admit(self.with_checking(usage, slot))
        checking = self._checking.setdefault(slot, [])
        checking.append(quota.now)
        try:
            return await self.record(request, rules, new, quota)
        finally:
            checking.remove(quota.now)
            if not checking:
                self._checking.pop(slot, None)

    async def record(self, request: Request, rules: Rules, new: NewTask, quota: Quota) -> Accepted:
        checked = await self.checked_audio(request.recording, rules, request.options)
        decoded = checked.decoded
        placing_until = self.lifecycle.now() + PLACING_WINDOW
        new = replace(
            new,
            placing_until=placing_until,
            # A transcoded part is submitted once the caller has posted it (`placed`).
            upload_url="" if checked.sent is not None else new.upload_url,
            input_sent=decoded.sent_note and f"{decoded.sent_note} (from {decoded.described})",
        )
        task, created = await self.lifecycle.request(new, admit=quota.admit, since=quota.since)
        return Accepted(task, created, checked.audio, checked.sent, decoded.sent_kind)

    def with_checking(self, usage: Usage, slot: tuple[int, int]) -> Usage:
        """`usage` with the member's requests still being checked counted as recorded."""
        checking = self._checking.get(slot)
        if not checking:
            return usage
        count = len(checking)
        last = max(checking)
        return replace(
            usage,
            member_today=usage.member_today + count,
            server_today=usage.server_today + count,
            running=usage.running + count,
            last_request_at=max(last, usage.last_request_at or last),
            jam_entries=usage.jam_entries + count,
        )

    async def jam_for(self, request: Request) -> JamRow | None:
        """In a jam's thread a request is an entry, while the jam takes entries."""
        if request.thread_id is None:
            return None
        jam = await self.lifecycle.store.jam_of_thread(request.thread_id)
        if jam is None:
            return None
        if jam.phase != JamPhase.SUBMITTING or self.lifecycle.now() >= jam.submit_until:
            raise Refusal(
                "This jam no longer takes entries"
                + (": voting is open." if jam.phase == JamPhase.VOTING else ": it has ended.")
            )
        owner = request.recording.owner_id
        if owner is not None and owner != request.user_id:
            raise Refusal(
                "A jam entry must be your own recording: attach it with `/instrumental`, or use "
                "Add instrumental on a message you posted."
            )
        return jam

    def task_for(
        self,
        request: Request,
        rules: Rules,
        config: GuildConfig | None = None,
        jam: JamRow | None = None,
    ) -> NewTask:
        """The task this request asks for: the member's options, else the jam's style,
        else the server's defaults, else the bot's. Refuses bad text or options, and
        blocked words."""
        config = config or GuildConfig()
        options = request.options
        layers = [
            {name: getattr(options, name) for name in DEFAULT_FIELDS},
            {"tags": jam.tags, "negative_tags": jam.negative_tags, "model": jam.model}
            if jam
            else {},
            {name: getattr(config, name) for name in DEFAULT_FIELDS},
        ]
        chosen = {
            name: next((layer[name] for layer in layers if layer.get(name) is not None), None)
            for name in DEFAULT_FIELDS
        }
        title = " ".join((options.title or "").split())
        if len(title) > TITLE_MAX:
            raise Refusal(f"The title can be at most {TITLE_MAX} characters (yours: {len(title)}).")
        title = title or default_title(request.recording, self.lifecycle.now())
        validate.part(options.start, options.length)
        tags = validate.tags("tags", chosen["tags"]) or rules.default_tags
        negative_tags = (
            validate.tags("negative_tags", chosen["negative_tags"]) or rules.default_negative_tags
        )
        refuse_blocked(
            config.blocked_words,
            (
                ("title contains", title),
                ("tags contain", options.tags),
                ("negative tags contain", options.negative_tags),
            ),
            "Nothing was sent.",
        )
        model = validate.model(chosen["model"] or rules.default_model, rules.allowed_models)
        gender = validate.gender(chosen["vocal_gender"])
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
            style_weight=validate.weight("style_weight", chosen["style_weight"]),
            weirdness=validate.weight("weirdness", chosen["weirdness"]),
            audio_weight=validate.weight("audio_weight", chosen["audio_weight"]),
            in_place=config.in_place,
            cost=rules.credits_per_task,
            parent_id=request.parent_task_id,
            origin=Origin.JAM
            if jam is not None and request.origin in (Origin.SLASH, Origin.MENU)
            else request.origin,
            jam_id=jam.id if jam else None,
            anonymous=bool(jam and jam.anonymous),
        )

    async def checked_audio(
        self,
        recording: Recording,
        rules: Rules,
        options: Options = Options(),  # noqa: B008
    ) -> Checked:
        """The recording decoded to its last frame (off the event loop), once it is sure to
        be audio of an accepted size, length and loudness."""
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
        window = media.Window(options.start or 0.0, options.length)
        try:
            async with self._decoding:
                decoded = await asyncio.to_thread(
                    media.decode, data, window, max_seconds=rules.input_max_seconds
                )
        except media.Unreadable as exc:
            raise Refusal(str(exc)) from None
        check_length(decoded, window, rules)
        if decoded.loudest < QUIET_DBFS:
            raise Refusal(
                "That recording is silent: there is nothing in it to build on."
                if decoded.loudest == -math.inf
                else f"That recording is too quiet to use (its loudest moment is "
                f"{decoded.loudest:.0f} dB): record closer to the microphone or turn the "
                "level up. Nothing was sent."
            )
        return Checked(data, decoded)


def check_length(decoded: media.Decoded, window: media.Window, rules: Rules) -> None:
    """The whole take, then the part chosen with `start` and `length`, within the limits."""
    duration, low, high = decoded.duration, rules.input_min_seconds, rules.input_max_seconds
    if duration < low:
        raise Refusal(
            f"That recording is {seconds_text(duration)} long; it must be at least "
            f"{seconds_text(low)}."
        )
    if window.start >= duration:
        raise Refusal(
            f"That recording is {seconds_text(duration)} long, so it has nothing after your "
            f"start ({seconds_text(window.start)})."
        )
    if decoded.used < low:
        raise Refusal(
            f"The part you chose is {seconds_text(decoded.used)} long; it must be at least "
            f"{seconds_text(low)}."
        )
    if decoded.used > high:
        if window.whole:
            raise Refusal(
                f"That recording is {seconds_text(duration)} long; I can use at most "
                f"{seconds_text(high)} of it. Pick the part to use with the `start` and "
                f"`length` options, in seconds: e.g. `start: 60 length: {high:g}` uses "
                f"{seconds_text(high)} from 1:00."
            )
        raise Refusal(
            f"The part you chose is {seconds_text(decoded.used)} long; it can be at most "
            f"{seconds_text(high)}: give a shorter `length`."
        )


def check_access(config: GuildConfig, request: Request) -> None:
    """The server's channel list and role. Moderators are never locked out."""
    if request.moderator:
        return
    if not config.allows_channel(request.channel_id, request.parent_channel_id, request.thread_id):
        raise WrongChannel(config.channels)
    if config.role_id is not None and config.role_id not in request.role_ids:
        raise RoleNeeded(config.role_id)

"""Per-server settings: what moderators chose, read through one service with a small cache.

A server's settings are one document in the store; a key that is absent means "the bot's
default" (from `Settings`). Every change goes through `GuildSettings.change`, which
validates with the rules `/instrumental` uses, writes in one transaction, drops the cached
copy at once, and returns what changed for the moderators' log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.core import validate
from bot.core.refusals import OutOfRange
from bot.core.words import blocked_in
from bot.errors import Refusal
from bot.store import Store, VocalGender

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

SETTINGS_CHANNEL = "backline_settings"  # PostgreSQL NOTIFY: a server's settings changed
CACHE_TTL = 60.0  # seconds; a change in this process drops the entry at once
CACHE_SIZE = 2048  # servers kept
LIMIT_MAX = 10_000  # requests per day or at a time
COOLDOWN_MAX = 24 * 3600
CHANNELS_MAX = 50
WORDS_MAX = 200
WORD_MAX = 50
DEFAULT_FIELDS = (
    "tags",
    "negative_tags",
    "model",
    "style_weight",
    "weirdness",
    "audio_weight",
    "vocal_gender",
)
LIMIT_FIELDS = ("daily_per_member", "cooldown_seconds", "concurrent_per_member", "daily_per_server")
Delivery = Literal["thread", "in_place"]


@dataclass(frozen=True, slots=True)
class Limits:
    """0 means no limit."""

    daily_per_member: int = 0
    cooldown_seconds: int = 10
    concurrent_per_member: int = 3
    daily_per_server: int = 0


@dataclass(frozen=True, slots=True)
class Rules:
    """The bot-wide defaults and limits a request is checked against (from `Settings`)."""

    default_tags: str
    default_negative_tags: str
    default_model: str
    allowed_models: Collection[str]
    input_max_bytes: int
    input_min_seconds: float
    input_max_seconds: float
    limits: Limits = field(default_factory=Limits)
    credits_per_task: float = 12.0

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
            limits=Limits(
                daily_per_member=settings.default_daily_per_member,
                cooldown_seconds=settings.default_cooldown_seconds,
                concurrent_per_member=settings.default_concurrent_per_member,
                daily_per_server=settings.default_daily_per_server,
            ),
            credits_per_task=settings.suno_credits_per_task,
        )


class GuildConfig(BaseModel):
    """One server's choices; None (or empty) means the bot's default."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    tags: str | None = None
    negative_tags: str | None = None
    model: str | None = None
    style_weight: float | None = None
    weirdness: float | None = None
    audio_weight: float | None = None
    vocal_gender: VocalGender | None = None
    daily_per_member: int | None = None
    cooldown_seconds: int | None = None
    concurrent_per_member: int | None = None
    daily_per_server: int | None = None
    channels: tuple[int, ...] = ()
    role_id: int | None = None
    delivery: Delivery | None = None
    log_channel_id: int | None = None
    credit_alert: float | None = None
    blocked_words: tuple[str, ...] = ()
    rerolls: Literal["everyone"] | None = None  # None: only the requester iterates on a take
    jam_role_id: int | None = None  # may start and end jams (besides Manage Server)

    @classmethod
    def load(cls, document: Mapping[str, Any]) -> GuildConfig:
        try:
            return cls.model_validate(document)
        except ValidationError:
            # Only this code writes the document; an unreadable one must not lock a server out.
            log.warning("unreadable server settings; the bot defaults apply")
            return cls()

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)

    def limits(self, rules: Rules) -> Limits:
        base = rules.limits
        return Limits(
            **{
                name: getattr(base, name) if getattr(self, name) is None else getattr(self, name)
                for name in LIMIT_FIELDS
            }
        )

    @property
    def in_place(self) -> bool:
        return self.delivery == "in_place"

    def allows_channel(self, *channel_ids: int | None) -> bool:
        """Empty list: everywhere. A thread counts as its parent channel."""
        return not self.channels or any(cid in self.channels for cid in channel_ids if cid)

    def blocked_word_in(self, text: str | None) -> str | None:
        """The first blocked word or phrase in `text`, as whole words once both are folded
        (`bot/core/words.py`)."""
        return blocked_in(self.blocked_words, text)


@dataclass(frozen=True, slots=True)
class Change:
    old: GuildConfig
    new: GuildConfig

    def names(self) -> frozenset[str]:
        """The settings that changed (the cogs say how each reads)."""
        return frozenset(
            name
            for name in GuildConfig.model_fields
            if getattr(self.old, name) != getattr(self.new, name)
        )


class ModLogPort(Protocol):
    """How the core posts a line in a server's log channel (the Discord side implements it)."""

    async def post(self, guild_id: int, channel_id: int, text: str) -> None: ...


class GuildSettings:
    """The one way to read and change a server's settings."""

    def __init__(
        self,
        store: Store,
        rules: Callable[[], Rules],
        log_port: ModLogPort,
        *,
        ttl: float = CACHE_TTL,
        size: int = CACHE_SIZE,
    ) -> None:
        self.store = store
        self.rules = rules
        self.log_port = log_port
        self.ttl = ttl
        self.size = size
        self._cache: OrderedDict[int, tuple[float, GuildConfig]] = OrderedDict()
        self._reports: set[asyncio.Task[None]] = set()

    async def get(self, guild_id: int | None) -> GuildConfig:
        if guild_id is None:
            return GuildConfig()
        now = time.monotonic()
        cached = self._cache.get(guild_id)
        if cached is not None and now - cached[0] < self.ttl:
            self._cache.move_to_end(guild_id)
            return cached[1]
        config = GuildConfig.load(await self.store.guild_config(guild_id))
        self._cache[guild_id] = (now, config)
        self._cache.move_to_end(guild_id)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return config

    async def change(self, guild_id: int, **values: Any) -> Change:
        """Set settings (None clears one back to the bot default), validated first."""
        checked = self.checked(values)
        return await self.edit(guild_id, lambda config: config.model_copy(update=checked))

    async def edit(self, guild_id: int, edit: Callable[[GuildConfig], GuildConfig]) -> Change:
        """Any change, read and written in one transaction; `edit` may raise `Refusal`."""
        result: list[GuildConfig] = []

        def apply(document: dict[str, Any]) -> dict[str, Any]:
            old = GuildConfig.load(document)
            new = GuildConfig.model_validate(edit(old).model_dump())
            result[:] = [old, new]
            return new.document()

        await self.store.change_guild_config(guild_id, apply, now=time.time())
        self._cache.pop(guild_id, None)
        if self.store.shared:  # the other processes drop their copy at once too
            await self.store.announce(SETTINGS_CHANNEL, str(guild_id))
        return Change(*result)

    async def follow_changes(self) -> None:
        """On PostgreSQL: a change made by another process drops this process's copy."""
        if self.store.shared:
            await self.store.listen(SETTINGS_CHANNEL, self._changed_elsewhere)

    def _changed_elsewhere(self, payload: str) -> None:
        if payload.isdigit():
            self._cache.pop(int(payload), None)

    async def reset(self, guild_id: int) -> Change:
        return await self.edit(guild_id, lambda _: GuildConfig())

    def checked(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Validated values, with the same rules and wording as `/instrumental`."""
        rules = self.rules()
        out: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                out[name] = None
            elif name in ("tags", "negative_tags"):
                out[name] = validate.tags(name, value)
            elif name == "model":
                out[name] = validate.model(value, rules.allowed_models)
            elif name in validate.WEIGHTS:
                out[name] = validate.weight(name, value)
            elif name == "vocal_gender":
                out[name] = validate.gender(value)
            elif name in LIMIT_FIELDS:
                top = COOLDOWN_MAX if name == "cooldown_seconds" else LIMIT_MAX
                if not 0 <= value <= top:
                    raise OutOfRange(name, top)
                out[name] = int(value)
            elif name == "credit_alert":
                if value < 0:
                    raise Refusal("The credit alert threshold cannot be negative.")
                out[name] = float(value) or None  # 0 turns the alert off
            elif name in ("delivery", "role_id", "log_channel_id", "rerolls", "jam_role_id"):
                out[name] = value
            else:
                raise ValueError(f"unknown server setting {name}")
        return out

    # -- the moderators' log -----------------------------------------------------------------

    async def report(self, guild_id: int, text: str) -> bool:
        """Post `text` in the server's log channel, if it has one; False if not posted."""
        config = await self.get(guild_id)
        if config.log_channel_id is None:
            return False
        try:
            await self.log_port.post(guild_id, config.log_channel_id, text)
        except Exception:
            log.warning("could not post in the log channel of guild %d", guild_id, exc_info=True)
            return False
        return True

    def report_everywhere(self, text: str) -> None:
        """Tell every server with a log channel (news about the bot's music API key), in
        the background: the caller (a submission) never waits for Discord."""
        self._spawn(self._report_everywhere(text))

    async def _report_everywhere(self, text: str) -> None:
        for guild_id, _ in await self.store.guilds_with("log_channel_id"):
            await self.report(guild_id, text)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def settle(self) -> None:
        """Let reports in flight finish (at shutdown, and in tests)."""
        while self._reports:
            await asyncio.gather(*self._reports, return_exceptions=True)


def word_list(text: str) -> list[str]:
    """Comma-separated words or phrases, trimmed and case-folded; refuses odd ones."""
    words = []
    for part in text.split(","):
        word = " ".join(part.split()).casefold()
        if not word:
            continue
        if len(word) > WORD_MAX:
            raise Refusal(f"A blocked word can be at most {WORD_MAX} characters.")
        if word not in words:
            words.append(word)
    if not words:
        raise Refusal("Give one or more words, separated by commas.")
    return words

"""How each server setting reads, for `/config show`, the moderator's answer and the log.

The core (`bot/core/guilds.py`) holds the values; the words and Discord's markup for
them (`<#channel>`, `<@&role>`) live here, on the Discord side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.guilds import LIMIT_FIELDS, Change, GuildConfig, Rules
from bot.store import VocalGender
from cogs._ui import clip

GENDER_WORDS = {VocalGender.MALE: "male", VocalGender.FEMALE: "female"}


def _text(value: Any) -> str:
    return f"`{value}`"


def _weight(value: Any) -> str:
    return f"{value:g}"


def _count(value: Any) -> str:
    return "no limit" if value == 0 else str(value)


def _seconds(value: Any) -> str:
    return "none" if value == 0 else f"{value} s"


# In the order the lines of a change are listed.
LABELS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "tags": ("Tags", _text),
    "negative_tags": ("Negative tags", _text),
    "model": ("Model", _text),
    "style_weight": ("Style weight", _weight),
    "weirdness": ("Weirdness", _weight),
    "audio_weight": ("Audio weight", _weight),
    "vocal_gender": ("Vocal gender", lambda v: GENDER_WORDS.get(v, v)),
    "daily_per_member": ("Requests per member per day", _count),
    "cooldown_seconds": ("Cooldown between a member's requests", _seconds),
    "concurrent_per_member": ("Requests per member at a time", _count),
    "daily_per_server": ("Requests per server per day", _count),
    "channels": ("Channels", lambda v: ", ".join(f"<#{c}>" for c in v)),
    "role_id": ("Role needed", lambda v: f"<@&{v}>"),
    "delivery": ("Delivery", lambda v: "in the channel" if v == "in_place" else "in a thread"),
    "log_channel_id": ("Log channel", lambda v: f"<#{v}>"),
    "credit_alert": ("Credit alert below", lambda v: f"{v:g} credits"),
    "blocked_words": ("Blocked words", lambda v: ", ".join(f"`{w}`" for w in v)),
    "jam_role_id": ("Jam hosts", lambda v: f"<@&{v}> and Manage Server"),
    "rerolls": ("Re-roll and Tweak", lambda v: "anyone" if v == "everyone" else "the requester"),
}


def bot_default(name: str, rules: Rules) -> str:
    """What applies when the server has not chosen, in words."""
    if name in ("tags", "negative_tags", "model"):
        value = {"tags": rules.default_tags, "negative_tags": rules.default_negative_tags}
        return _text(value.get(name, rules.default_model))
    if name in LIMIT_FIELDS:
        return LABELS[name][1](getattr(rules.limits, name))
    return {
        "vocal_gender": "any",
        "channels": "every channel I can post in",
        "role_id": "none: everyone",
        "delivery": "in a thread",
        "log_channel_id": "none",
        "credit_alert": "off",
        "blocked_words": "none",
        "rerolls": "the requester only",
        "jam_role_id": "Manage Server only",
    }.get(name, "the music service's default")


def setting_lines(config: GuildConfig, names: tuple[str, ...], rules: Rules) -> str:
    """`label: value · source` for each setting named, for `/config show`."""
    lines = []
    for name in names:
        label, show = LABELS[name]
        value = getattr(config, name)
        if value is None or value == ():
            lines.append(f"{label}: {bot_default(name, rules)} · *bot default*")
        else:
            lines.append(f"{label}: {clip(show(value), 300)} · **server**")
    return "\n".join(lines)


def shown(name: str, value: Any) -> str:
    if value is None or value == ():
        return "(bot default)"
    return LABELS[name][1](value)


def change_lines(change: Change) -> list[str]:
    """`label: old → new` for each setting that changed."""
    changed = change.names()
    old, new = change.old, change.new
    return [
        f"{label}: {shown(name, getattr(old, name))} → {shown(name, getattr(new, name))}"
        for name, (label, _) in LABELS.items()
        if name in changed
    ]

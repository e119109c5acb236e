"""The sentence a member reads for a refusal: the core's refusals that carry data
(`bot/core/refusals.py`) phrased with Discord's markup; any other refusal says itself."""

from __future__ import annotations

import math

from bot.core.refusals import LimitReached, OutOfRange, RoleNeeded, WrongChannel
from bot.errors import Refusal
from cogs.settings_words import LABELS


def relative(ts: float) -> str:
    """A Discord relative timestamp ("in 5 minutes"), shown in the reader's language."""
    return f"<t:{math.ceil(ts)}:R>"


def reason(refusal: Refusal) -> str:
    match refusal:
        case WrongChannel(channels=channels):
            places = ", ".join(f"<#{cid}>" for cid in channels[:10])
            return f"I don't take requests in this channel; moderators chose: {places}."
        case RoleNeeded(role_id=role_id):
            return f"In this server you need the <@&{role_id}> role to use me."
        case LimitReached(rule="daily_per_server", limit=limit, until=until):
            return (
                f"This server has used all {limit} of today's requests; "
                f"new ones open {relative(until)}."
            )
        case LimitReached(rule="daily_per_member", limit=limit, until=until):
            return (
                f"You have used your {limit} requests for today in this "
                f"server; you can send more {relative(until)}."
            )
        case LimitReached(rule="cooldown_seconds", limit=limit, until=until):
            return (
                f"Slow down: this server allows one request every "
                f"{limit} s; you can send the next {relative(until)}."
            )
        case OutOfRange(setting=setting, top=top):
            return f"{LABELS[setting][0]} must be from 0 to {top} (0 = no limit)."
    return str(refusal)

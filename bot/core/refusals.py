"""Refusals that name what Discord shows better than words: a channel, a role, a moment,
a setting's label.

They carry the data and the cogs phrase them (`cogs/reasons.py`), so no Discord markup
lives in the core; `str()` is a plain sentence without it, for logs and other callers.
"""

from __future__ import annotations

from typing import Literal

from bot.errors import Refusal

# The limits whose refusal names when it lifts (settings of the same names).
Lifting = Literal["daily_per_server", "daily_per_member", "cooldown_seconds"]


class WrongChannel(Refusal):
    """The server takes requests only in `channels`."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__("I don't take requests in this channel.")
        self.channels = channels


class RoleNeeded(Refusal):
    """The server takes requests only from members with the role `role_id`."""

    def __init__(self, role_id: int) -> None:
        super().__init__("In this server you need a role to use me.")
        self.role_id = role_id


class LimitReached(Refusal):
    """The limit `rule` (at `limit`) is reached until `until` (a clock time)."""

    def __init__(self, rule: Lifting, limit: int, until: float) -> None:
        super().__init__(
            {
                "daily_per_server": f"This server has used all {limit} of today's requests.",
                "daily_per_member": f"You have used your {limit} requests for today in this "
                "server.",
                "cooldown_seconds": f"Slow down: this server allows one request every {limit} s.",
            }[rule]
        )
        self.rule = rule
        self.limit = limit
        self.until = until


class OutOfRange(Refusal):
    """A server setting `setting` must be from 0 to `top`."""

    def __init__(self, setting: str, top: int) -> None:
        super().__init__(f"{setting} must be from 0 to {top} (0 = no limit).")
        self.setting = setting
        self.top = top

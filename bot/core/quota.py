"""A member's quota in one server: the server's limits (and a jam's entry limit) against
their usage since UTC midnight. The intake checks it before a recording is read, and again
in the transaction that records the task."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.guilds import Limits
from bot.core.refusals import LimitReached
from bot.errors import Refusal
from bot.store import JamRow, Usage

DAY = 24 * 3600.0


class Quota:
    """A member's limits in one server, checked against their usage since UTC midnight."""

    def __init__(self, limits: Limits, now: float, jam: JamRow | None = None) -> None:
        self.limits = limits
        self.now = now
        self.jam = jam
        midnight = datetime.fromtimestamp(now, UTC).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self.since = midnight.timestamp()
        self.next_day = self.since + DAY

    def admit(self, usage: Usage) -> None:
        """Raise `Refusal` naming the first rule this request would break."""
        limits = self.limits
        if self.jam is not None and usage.jam_entries >= self.jam.max_entries:
            count = self.jam.max_entries
            raise Refusal(
                f"You already have {count} {'entry' if count == 1 else 'entries'} in this jam, "
                "the most it allows per member."
            )
        if limits.daily_per_server and usage.server_today >= limits.daily_per_server:
            raise LimitReached("daily_per_server", limits.daily_per_server, self.next_day)
        if limits.daily_per_member and usage.member_today >= limits.daily_per_member:
            raise LimitReached("daily_per_member", limits.daily_per_member, self.next_day)
        if limits.concurrent_per_member and usage.running >= limits.concurrent_per_member:
            raise Refusal(
                f"You already have {usage.running} requests in progress (this server allows "
                f"{limits.concurrent_per_member} at a time); try again when one of them finishes."
            )
        if limits.cooldown_seconds and usage.last_request_at is not None:
            ready = usage.last_request_at + limits.cooldown_seconds
            if self.now < ready:
                raise LimitReached("cooldown_seconds", limits.cooldown_seconds, ready)

    def cooldown_ends(self, usage: Usage) -> float | None:
        if not self.limits.cooldown_seconds or usage.last_request_at is None:
            return None
        ready = usage.last_request_at + self.limits.cooldown_seconds
        return ready if ready > self.now else None

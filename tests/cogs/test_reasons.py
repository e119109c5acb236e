"""The sentences members read for the core's refusals that carry data, and for a change of
settings: Discord's markup is added here, on the Discord side."""

from __future__ import annotations

from bot.core.guilds import Change, GuildConfig
from bot.core.refusals import LimitReached, OutOfRange, RoleNeeded, WrongChannel
from bot.errors import Refusal
from cogs.reasons import reason
from cogs.settings_words import change_lines

NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC
TOMORROW = 1_800_057_600  # 2027-01-16 00:00 UTC


def test_refusals_with_data_are_phrased_with_markup() -> None:
    assert reason(WrongChannel((70, 71))) == (
        "I don't take requests in this channel; moderators chose: <#70>, <#71>."
    )
    assert reason(RoleNeeded(500)) == "In this server you need the <@&500> role to use me."
    assert reason(LimitReached("cooldown_seconds", 60, NOW + 60)) == (
        f"Slow down: this server allows one request every 60 s; you can send the next "
        f"<t:{int(NOW) + 60}:R>."
    )
    assert reason(LimitReached("daily_per_member", 2, TOMORROW)) == (
        f"You have used your 2 requests for today in this server; you can send more "
        f"<t:{TOMORROW}:R>."
    )
    assert reason(LimitReached("daily_per_server", 3, TOMORROW)) == (
        f"This server has used all 3 of today's requests; new ones open <t:{TOMORROW}:R>."
    )
    assert reason(OutOfRange("cooldown_seconds", 86400)) == (
        "Cooldown between a member's requests must be from 0 to 86400 (0 = no limit)."
    )
    assert reason(Refusal("That file is empty.")) == "That file is empty."


def test_a_change_reads_label_old_and_new() -> None:
    change = Change(GuildConfig(), GuildConfig(style_weight=0.46, vocal_gender="f"))
    assert change_lines(change) == [
        "Style weight: (bot default) → 0.46",
        "Vocal gender: (bot default) → female",
    ]

"""Per-server settings and quotas, driven through the core with no Discord."""

from __future__ import annotations

import asyncio
import re
from dataclasses import fields, replace
from typing import Any

import pytest

from bot.core.guilds import GuildConfig, GuildSettings, Limits
from bot.core.intake import Intake, Options, Request
from bot.core.quota import Quota
from bot.core.refusals import RoleNeeded, WrongChannel
from bot.core.tasks import Lifecycle
from bot.errors import Refusal
from bot.music import MusicClient
from bot.store import Store, Usage
from tests.bot.core.test_intake import RULES, recording
from tests.support.port import MemoryModLog, MemoryPort

GUILD = 3
NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def intake(each_store: Store, music: MusicClient, clock: Clock) -> Intake:
    lifecycle = Lifecycle(
        each_store, music, MemoryPort(), callback_url="https://callbacks.invalid/x", clock=clock
    )
    rules = replace(RULES, limits=Limits())  # the bot's own defaults: cooldown 10 s, 3 at a time
    return Intake(
        lifecycle, lambda: rules, GuildSettings(each_store, lambda: rules, MemoryModLog())
    )


def ask(
    key: int,
    user: int = 42,
    options: Options | None = None,
    *,
    channel: int = 7,
    parent: int | None = None,
    roles: frozenset[int] = frozenset(),
    moderator: bool = False,
) -> Request:
    return Request(
        key=key,
        user_id=user,
        guild_id=GUILD,
        channel_id=channel,
        thread_id=channel if parent else None,
        parent_channel_id=parent,
        recording=recording(),
        options=options or Options(),
        role_ids=roles,
        moderator=moderator,
    )


async def refused(intake: Intake, request: Request) -> Refusal:
    with pytest.raises(Refusal) as refused:
        await intake.take(request)
    return refused.value


async def refusal(intake: Intake, request: Request) -> str:
    return str(await refused(intake, request))


async def test_values_are_validated_like_instrumental(intake: Intake) -> None:
    guilds = intake.guilds
    for values, expected in [
        ({"style_weight": 1.2}, "Style weight must be a number from 0 to 1"),
        ({"model": "V3"}, "The model V3 is not offered here."),
        ({"tags": "x" * 1001}, "Tags can be at most 1000 characters"),
        ({"vocal_gender": "robot"}, "Vocal gender can be male or female."),
        ({"cooldown_seconds": -1}, "must be from 0 to"),
        ({"credit_alert": -5}, "cannot be negative"),
    ]:
        with pytest.raises(Refusal, match=re.escape(expected)):
            await guilds.change(GUILD, **values)
    assert await guilds.get(GUILD) == GuildConfig()
    change = await guilds.change(GUILD, style_weight=0.456, vocal_gender="female")
    assert (change.new.style_weight, change.new.vocal_gender) == (0.46, "f")
    assert change.names() == {"style_weight", "vocal_gender"}


async def test_a_change_is_seen_at_once_and_survives_a_new_service(intake: Intake) -> None:
    guilds = intake.guilds
    assert (await guilds.get(GUILD)).tags is None  # cached now
    await guilds.change(GUILD, tags="lo-fi")
    assert (await guilds.get(GUILD)).tags == "lo-fi"  # the cache was dropped
    fresh = GuildSettings(guilds.store, guilds.rules, guilds.log_port)
    assert (await fresh.get(GUILD)).tags == "lo-fi"
    change = await fresh.reset(GUILD)
    assert change.old.tags == "lo-fi" and change.new == GuildConfig()
    assert await guilds.store.guild_config(GUILD) == {}


async def test_server_defaults_fill_in_and_the_members_options_win(intake: Intake) -> None:
    await intake.guilds.change(GUILD, tags="lo-fi", model="V5", audio_weight=0.8)
    task = (await intake.take(ask(1))).task
    assert (task.tags, task.model, task.audio_weight, task.negative_tags) == (
        "lo-fi",
        "V5",
        0.8,
        "noise",
    )
    mine = Options(tags="jazz", model="V4_5PLUS", audio_weight=0.1)
    task = (await intake.take(ask(2, user=43, options=mine))).task
    assert (task.tags, task.model, task.audio_weight) == ("jazz", "V4_5PLUS", 0.1)


async def test_channels_role_and_blocked_words_refuse_privately(intake: Intake) -> None:
    guilds = intake.guilds
    await guilds.change(GUILD, role_id=500)
    await guilds.edit(
        GUILD,
        lambda c: c.model_copy(update={"channels": (70,), "blocked_words": ("gore", "bad word")}),
    )
    wrong_channel = await refused(intake, ask(1, channel=8))
    assert isinstance(wrong_channel, WrongChannel) and wrong_channel.channels == (70,)
    no_role = await refused(intake, ask(2, channel=70))
    assert isinstance(no_role, RoleNeeded) and no_role.role_id == 500
    assert "Your tags contain “gore”" in await refusal(
        intake, ask(3, channel=70, roles=frozenset({500}), options=Options(tags="Gore, metal"))
    )
    assert "Your negative tags contain “gore”" in await refusal(
        intake,
        ask(8, channel=70, roles=frozenset({500}), options=Options(negative_tags="ｇｏｒｅ")),
    )
    assert "“bad word”" in await refusal(
        intake, ask(4, channel=70, roles=frozenset({500}), options=Options(title="A BAD  WORD?"))
    )
    # whole words only: "gorey" is not "gore"
    ok = await intake.take(
        ask(5, channel=70, roles=frozenset({500}), options=Options(tags="gorey"))
    )
    # a thread counts as its parent channel; a moderator is never locked out
    in_thread = await intake.take(ask(6, user=43, channel=71, parent=70, roles=frozenset({500})))
    moderator = await intake.take(ask(7, user=44, channel=9, moderator=True))
    assert ok.created and in_thread.created and moderator.created
    rows = await intake.lifecycle.store.running_in_guild(GUILD)
    assert sorted(r.interaction_id for r in rows) == [5, 6, 7]


async def test_limits_refuse_with_when_to_try_again(intake: Intake, clock: Clock) -> None:
    await intake.guilds.change(GUILD, daily_per_member=2, cooldown_seconds=60, daily_per_server=3)
    await intake.take(ask(1))
    cooldown = await refused(intake, ask(2))
    assert "one request every 60 s" in str(cooldown)
    assert vars(cooldown) == {"rule": "cooldown_seconds", "limit": 60, "until": NOW + 60}
    clock.now += 61
    await intake.take(ask(3))
    clock.now += 61
    daily = await refused(intake, ask(4))
    tomorrow = 1_800_057_600  # 2027-01-16 00:00 UTC
    assert "your 2 requests for today" in str(daily)
    assert vars(daily) == {"rule": "daily_per_member", "limit": 2, "until": tomorrow}
    await intake.take(ask(5, user=43))
    server = await refused(intake, ask(6, user=44))
    assert "all 3 of today's requests" in str(server)
    assert vars(server) == {"rule": "daily_per_server", "limit": 3, "until": tomorrow}
    clock.now = tomorrow + 1.0
    assert (await intake.take(ask(7))).created


async def test_default_concurrency_is_three(intake: Intake, clock: Clock) -> None:
    for key in range(3):
        await intake.take(ask(key))
        clock.now += 11  # past the default cooldown of 10 s
    assert "3 requests in progress" in await refusal(intake, ask(9))
    assert (await intake.take(ask(10, user=43))).created  # limits are per member
    assert "one request every 10 s" in await refusal(intake, ask(11, user=43))


async def test_two_requests_racing_for_the_last_slot_one_wins(intake: Intake) -> None:
    await intake.guilds.change(GUILD, daily_per_member=1, cooldown_seconds=0)
    store = intake.lifecycle.store
    quota = Quota(Limits(daily_per_member=1, cooldown_seconds=0), NOW)
    barrier = asyncio.Barrier(2)
    original = store.usage

    async def both_read_first(
        guild_id: int, user_id: int, since: float, jam_id: int | None = None
    ) -> Usage:
        usage = await original(guild_id, user_id, since, jam_id)
        await barrier.wait()  # both early checks pass before either records
        return usage

    store.usage = both_read_first  # type: ignore[method-assign]
    results = await asyncio.gather(intake.take(ask(1)), intake.take(ask(2)), return_exceptions=True)
    taken = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, Refusal)]
    assert len(taken) == 1 and len(refused) == 1
    assert (await original(GUILD, 42, quota.since)).member_today == 1


async def test_a_task_the_api_never_took_gives_its_slot_back(intake: Intake, clock: Clock) -> None:
    await intake.guilds.change(GUILD, daily_per_member=1, cooldown_seconds=0)
    first = (await intake.take(ask(1))).task
    assert "your 1 requests for today" in await refusal(intake, ask(2))
    store = intake.lifecycle.store
    await store.fail_task(first.id, "refused", now=clock.now, not_taken=True)
    assert (await intake.take(ask(3))).created


def test_ties_share_a_place() -> None:
    from bot.core.jams import rank

    entries = [replace(_row(i), id=i) for i in (1, 2, 3, 4)]
    standings = rank(entries, {1: 2, 2: 5, 3: 2})
    assert [(s.entry.id, s.votes, s.place) for s in standings] == [
        (2, 5, 1), (1, 2, 2), (3, 2, 2), (4, 0, 4)
    ]  # fmt: skip


def _row(task_id: int) -> Any:
    from bot.store import TaskRow

    values = {f.name: None for f in fields(TaskRow)}
    values.update(id=task_id, created_at=0.0, updated_at=0.0)
    return TaskRow(**values)

"""Moderators run the bot: /config, /quota, /credits, /tasks scope: server, the log channel.

Driven through real discord.py in simcord, with the simulator behind and real SQLite."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import discord
import pytest
import simcord

from tests.harness import WAV, Harness, World, bot_messages
from tests.support.waiting import wait_until


@dataclass
class Mods:
    mod: Any
    log: Any  # the log channel, set by the moderator


@pytest.fixture
async def mods(harness: Harness, world: World) -> Mods:
    role = world.guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = world.guild.add_member(harness.env.create_user("mod"), roles=[role])
    log = world.guild.create_text_channel("mod-log")
    r = await mod.slash(world.channel, "config log_channel", channel=log)
    assert r.ephemeral and "Log channel: (bot default) → <#" in r.response.content
    return Mods(mod, log)


def log_lines(mods: Mods, harness: Harness) -> list[str]:
    return [m.content for m in bot_messages(mods.log, harness.bot)]


async def submitted_params(harness: Harness, user_id: int) -> dict[str, Any]:
    async def accepted() -> str | None:
        [task] = await harness.tasks(user_id)
        return task.api_task_id

    api_id = await wait_until(accepted)
    return harness.simulator.tasks[api_id].params


# -- who may configure ----------------------------------------------------------------------


def test_config_is_a_server_only_group_for_manage_server(harness: Harness) -> None:
    config = harness.bot.tree.get_command("config")
    assert isinstance(config, discord.app_commands.Group)
    assert config.guild_only and config.default_permissions == discord.Permissions(
        manage_guild=True
    )
    assert {c.name for c in config.commands} == {
        "show", "defaults", "limits", "channels", "role", "delivery", "log_channel",
        "credit_alert", "blocked_words", "reset", "rerolls", "jam_role",
    }  # fmt: skip
    credits = harness.bot.tree.get_command("credits")
    assert credits.default_permissions == discord.Permissions(manage_guild=True)
    assert harness.bot.tree.get_command("quota").default_permissions is None


async def test_a_member_cannot_change_settings_even_if_the_command_is_opened_to_them(
    harness: Harness, world: World
) -> None:
    with pytest.raises(simcord.SetupError):  # Discord hides it from members by default
        await world.alice.slash(world.channel, "config defaults", tags="polka")
    command = harness.env.backend.find_command("config", None)
    world.guild.set_command_permissions(int(command["id"]), {world.alice: True})
    r = await world.alice.slash(world.channel, "config defaults", tags="polka")
    assert r.ephemeral and r.response.content == "/config is for moderators (Manage Server) only."
    assert await harness.bot.store.guild_config(world.guild.id) == {}


# -- settings reach requests ----------------------------------------------------------------


async def test_show_names_the_source_of_each_setting(
    harness: Harness, world: World, mods: Mods
) -> None:
    await mods.mod.slash(world.channel, "config limits", daily_per_member=5)
    r = await mods.mod.slash(world.channel, "config show")
    assert r.ephemeral
    fields = {f.name: f.value for f in r.response.embeds[0].fields}
    assert "Requests per member per day: 5 · **server**" in fields["Limits"]
    assert "Requests per member at a time: 3 · *bot default*" in fields["Limits"]
    assert "Cooldown between a member's requests: 10 s · *bot default*" in fields["Limits"]
    assert f"Log channel: <#{mods.log.id}> · **server**" in fields["Results and reports"]
    tags = harness.settings.default_tags
    assert f"Tags: `{tags}` · *bot default*" in fields["Defaults for requests"]


async def test_server_defaults_reach_the_api_and_a_members_option_wins(
    harness: Harness, world: World, mods: Mods
) -> None:
    r = await mods.mod.slash(
        world.channel, "config defaults", tags="lo-fi, rain", style_weight=0.333, model="V5"
    )
    assert r.response.content.startswith("Saved.\n• Tags: (bot default) → `lo-fi, rain`")
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("a.wav", WAV))
    await world.bob.slash(world.channel, "instrumental", audio=("b.wav", WAV), tags="jazz trio")
    alice = await submitted_params(harness, world.alice.id)
    bob = await submitted_params(harness, world.bob.id)
    assert (alice["tags"], alice["styleWeight"], alice["model"]) == ("lo-fi, rain", 0.33, "V5")
    assert (bob["tags"], bob["styleWeight"]) == ("jazz trio", 0.33)
    [line] = [x for x in log_lines(mods, harness) if "/config defaults" in x]
    assert line.startswith(f"🛠️ {mods.mod.mention} used `/config defaults`:")
    assert (
        "• Style weight: (bot default) → 0.33" in line and "• Model: (bot default) → `V5`" in line
    )


async def test_bad_defaults_are_refused_like_instrumental(
    harness: Harness, world: World, mods: Mods
) -> None:
    r = await mods.mod.slash(world.channel, "config defaults", model="V3")
    assert r.ephemeral and r.response.content == "The model V3 is not offered here."
    with pytest.raises(simcord.OptionError):
        await mods.mod.slash(world.channel, "config defaults", weirdness=1.5)
    config = await harness.bot.store.guild_config(world.guild.id)
    assert set(config) == {"log_channel_id"}


# -- refusals: private, named, nothing submitted ----------------------------------------------


async def refused(harness: Harness, member: Any, channel: Any, **options: Any) -> str:
    before = len(await harness.tasks(member.id))
    r = await member.slash(channel, "instrumental", audio=("a.wav", WAV), **options)
    assert r.ephemeral
    assert len(await harness.tasks(member.id)) == before  # nothing recorded
    return r.response.content


async def test_channels_role_and_blocked_words(harness: Harness, world: World, mods: Mods) -> None:
    harness.start_lifecycle()
    lounge = world.guild.create_text_channel("lounge")
    await mods.mod.slash(world.channel, "config channels", action="allow", channel=world.channel)
    text = await refused(harness, world.alice, lounge)
    assert (
        text == f"I don't take requests in this channel; moderators chose: <#{world.channel.id}>."
    )
    creators = world.guild.create_role("Creators")
    await mods.mod.slash(world.channel, "config role", role=creators)
    text = await refused(harness, world.alice, world.channel)
    assert text == f"In this server you need the <@&{creators.id}> role to use me."
    await mods.mod.slash(
        world.channel, "config blocked_words", action="add", words="Gore, bad word"
    )
    carol = world.guild.add_member(harness.env.create_user("carol"), roles=[creators])
    text = await refused(harness, carol, world.channel, tags="gore metal")
    assert text == "Your tags contain “gore”, which this server does not allow. Nothing was sent."
    text = await refused(harness, carol, world.channel, negative_tags="bad\n w\u200bord")
    assert text.startswith("Your negative tags contain “bad word”")
    r = await mods.mod.slash(world.channel, "config blocked_words", action="list")
    assert r.response.content == "Blocked words: `gore`, `bad word`"
    r = await mods.mod.slash(lounge, "instrumental", audio=("m.wav", WAV))  # never locked out
    assert r.response.content.startswith("Got it!")
    r = await carol.slash(world.channel, "instrumental", audio=("c.wav", WAV))
    assert r.response.content.startswith("Got it!")
    await wait_until(lambda: harness.submissions() == 2)  # the mod's and carol's only
    lines = log_lines(mods, harness)
    assert any(f"Channels: (bot default) → <#{world.channel.id}>" in x for x in lines)
    assert any(f"Role needed: (bot default) → <@&{creators.id}>" in x for x in lines)


async def test_the_default_cooldown_names_when_to_try_again(harness: Harness, world: World) -> None:
    r = await world.alice.slash(world.channel, "instrumental", audio=("a.wav", WAV))
    assert r.response.content.startswith("Got it!")
    text = await refused(harness, world.alice, world.channel)
    assert re.fullmatch(
        r"Slow down: this server allows one request every 10 s; you can send the next <t:\d+:R>\.",
        text,
    )
    r = await world.alice.slash(world.channel, "quota")
    fields = {f.name: f.value for f in r.response.embeds[0].fields}
    assert r.ephemeral and fields["Requests today"] == "1 (no daily limit)"
    assert fields["In progress"] == "1 of 3 at a time"
    assert re.fullmatch(r"ends <t:\d+:R>", fields["Cooldown"])


async def test_daily_limit_and_slot_given_back(harness: Harness, world: World, mods: Mods) -> None:
    await mods.mod.slash(world.channel, "config limits", daily_per_member=1, cooldown_seconds=0)
    harness.simulator.fail_next(413, times=1, endpoint="add-instrumental")  # refused: not taken
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("a.wav", WAV))

    async def failed() -> bool:
        [task] = await harness.tasks(world.alice.id)
        return task.state == "failed"

    await wait_until(failed)
    r = await world.alice.slash(world.channel, "instrumental", audio=("b.wav", WAV))
    assert r.response.content.startswith("Got it!")  # the failed one gave its slot back
    text = await refused(harness, world.alice, world.channel)
    assert text.startswith("You have used your 1 requests for today in this server;")
    assert re.search(r"<t:\d+:R>\.$", text)


# -- reset, credits, reports -----------------------------------------------------------------


async def test_reset_asks_first(harness: Harness, world: World, mods: Mods) -> None:
    await mods.mod.slash(world.channel, "config delivery", mode="in_place")
    r = await mods.mod.slash(world.channel, "config reset")
    assert r.ephemeral and "Reset every backline setting" in r.response.content
    cancel = await mods.mod.click(r.response, label="Cancel")
    assert cancel.response.content == "Nothing was changed."
    assert (await harness.bot.guild_settings.get(world.guild.id)).delivery == "in_place"
    r = await mods.mod.slash(world.channel, "config reset")
    await mods.mod.click(r.response, label="Reset everything")
    assert await harness.bot.store.guild_config(world.guild.id) == {}
    # the old log channel hears that it stopped being one
    assert any("Delivery: in the channel → (bot default)" in x for x in log_lines(mods, harness))


async def test_credits_for_moderators_only(harness: Harness, world: World, mods: Mods) -> None:
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("a.wav", WAV))
    await submitted_params(harness, world.alice.id)
    r = await mods.mod.slash(world.channel, "credits")
    fields = {f.name: f.value for f in r.response.embeds[0].fields}
    assert r.ephemeral and fields["Balance"] == f"{harness.simulator.config.credits:g} credits"
    assert fields["This server today"] == "12 credits (1 requests)"
    assert fields["This server this month"] == "12 credits (1 requests)"
    assert fields["Alert"] == "off (`/config credit_alert`)"
    with pytest.raises(simcord.SetupError):
        await world.alice.slash(world.channel, "credits")


async def test_credit_alert_once_per_drop(harness: Harness, world: World, mods: Mods) -> None:
    sim = harness.simulator.config
    sim.credits = 100.0
    await mods.mod.slash(world.channel, "config credit_alert", threshold=150)
    alerts = lambda: [x for x in log_lines(mods, harness) if x.startswith("🪫")]  # noqa: E731
    assert alerts() == [
        "🪫 The music service's balance is down to 100 credits, below this server's alert "
        "threshold of 150."
    ]
    await harness.bot.credit_watch.check()
    assert len(alerts()) == 1  # once per drop
    sim.credits = 1000.0  # a refill
    await harness.bot.credit_watch.check()
    sim.credits = 50.0
    await harness.bot.credit_watch.check()
    assert len(alerts()) == 2 and "down to 50 credits" in alerts()[1]


async def test_a_pause_and_its_end_are_reported(harness: Harness, world: World, mods: Mods) -> None:
    harness.simulator.fail_next(429, times=1, endpoint="add-instrumental")
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("a.wav", WAV))
    await submitted_params(harness, world.alice.id)  # resumed by itself and submitted
    await harness.bot.guild_settings.settle()
    lines = log_lines(mods, harness)
    [paused] = [x for x in lines if x.startswith("⏸️")]
    [resumed] = [x for x in lines if x.startswith("▶️")]
    assert "out of credits" in paused and "nothing is lost or charged" in paused
    assert "accepts requests again" in resumed
    assert lines.index(paused) < lines.index(resumed)


async def test_moderators_see_the_servers_queue(harness: Harness, world: World, mods: Mods) -> None:
    await world.alice.slash(world.channel, "instrumental", audio=("a.wav", WAV), title="Alpha")
    await world.bob.slash(world.channel, "instrumental", audio=("b.wav", WAV), title="Beta")
    r = await mods.mod.slash(world.channel, "tasks", scope="server")
    embed = r.response.embeds[0]
    assert r.ephemeral and embed.title == "Running and queued in this server (2)"
    assert "Alpha" in embed.description and f"<@{world.bob.id}>" in embed.description
    r = await world.alice.slash(world.channel, "tasks", scope="server")
    assert r.response.content == "`/tasks scope: server` is for moderators (Manage Server) only."


async def test_delivery_in_place_posts_no_thread(
    harness: Harness, world: World, mods: Mods
) -> None:
    await mods.mod.slash(world.channel, "config delivery", mode="in_place")
    harness.start_lifecycle()
    r = await world.alice.slash(world.channel, "instrumental", audio=("a.wav", WAV))
    assert r.response.content == f"Got it! Follow along in <#{world.channel.id}>."
    await wait_until(
        lambda: sum(1 for m in bot_messages(world.channel, harness.bot) if m.attachments) == 3
    )  # the input and two tracks, in the channel
    assert world.channel.threads == []

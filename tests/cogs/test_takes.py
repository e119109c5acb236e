"""Iterating on a take: Re-roll, Tweak, Details, Delete, Retry, and "Add instrumental".

Real discord.py in simcord, the simulator behind (it downloads the input URL, and refuses
an expired signed one as the provider would), real SQLite between."""

from __future__ import annotations

import math
from typing import Any

import discord
import pytest

from bot.store import TaskRow
from cogs.instrumental.takes import DELETED_THREAD
from simulator.media import make_wav
from simulator.uploads import signed_url_expired
from tests.harness import WAV, Harness, World
from tests.support.waiting import wait_until

DAY = 24 * 3600.0


def card(channel: Any, task_id: int) -> discord.Message:
    return next(
        m
        for m in channel.history()
        if m.embeds and (m.embeds[0].footer.text or "") == f"task #{task_id}"
    )


def labels(message: discord.Message) -> list[str]:
    return [c.label for row in message.components for c in row.children]  # type: ignore[union-attr]


async def finished(harness: Harness, member: Any, channel: Any, **options: Any) -> TaskRow:
    """A request made and every track posted: its card carries the result buttons."""
    before = {t.id for t in await harness.tasks(member.id)}
    r = await member.slash(channel, "instrumental", audio=("voice.wav", WAV), **options)
    assert r.response.content.startswith("Got it!"), r.response.content
    [task] = [t for t in await harness.tasks(member.id) if t.id not in before]
    await wait_until(
        lambda: labels(card(channel, task.id)) == ["Re-roll", "Tweak", "Details", "Delete"]
    )
    return await harness.bot.store.get_task(task.id)  # type: ignore[return-value]


async def newest(harness: Harness, member: Any) -> TaskRow:
    return (await harness.tasks(member.id))[0]


@pytest.fixture(autouse=True)
def no_cooldown(harness: Harness) -> None:
    """Takes follow each other within seconds here; the cooldown has its own tests."""
    harness.settings.default_cooldown_seconds = 0


@pytest.fixture
async def take(harness: Harness, world: World) -> TaskRow:
    harness.start_lifecycle()
    return await finished(harness, world.alice, world.channel, tags="lo-fi", style_weight=0.4)


# -- Re-roll --------------------------------------------------------------------------------


async def test_reroll_makes_a_linked_take_with_the_same_settings(
    harness: Harness, world: World, take: TaskRow
) -> None:
    r = await world.alice.click(card(world.channel, take.id), label="Re-roll")
    [thread] = world.channel.threads
    assert r.ephemeral and r.response.content == f"Got it! Follow along in <#{thread.id}>."
    child = await newest(harness, world.alice)
    assert (child.origin, child.parent_id, child.tags, child.style_weight) == (
        "reroll", take.id, "lo-fi", 0.4
    )  # fmt: skip
    assert child.thread_id == thread.id  # the next take joins the first one's thread
    child_card = await wait_until(lambda: card(thread, child.id))
    fields = {f.name: f.value for f in child_card.embeds[0].fields}
    assert fields["Take"].startswith("re-roll of [voice](https://discord.com/channels/")
    await wait_until(
        lambda: "Next takes" in {f.name for f in card(world.channel, take.id).embeds[0].fields}
    )
    await wait_until(lambda: harness.submissions() == 2)
    r = await world.alice.slash(world.channel, "tasks")
    assert f"re-roll of #{take.id}" in r.response.embeds[0].description


async def test_only_the_requester_rerolls_unless_the_server_allows_everyone(
    harness: Harness, world: World, take: TaskRow
) -> None:
    r = await world.bob.click(card(world.channel, take.id), label="Re-roll")
    assert r.ephemeral and "Only the member who asked for this take" in r.response.content
    assert await harness.tasks(world.bob.id) == [] and harness.submissions() == 1
    mods = world.guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = world.guild.add_member(harness.env.create_user("mod"), roles=[mods])
    await mod.slash(world.channel, "config rerolls", who="everyone")
    r = await world.bob.click(card(world.channel, take.id), label="Re-roll")
    assert r.response.content.startswith("Got it!")
    assert (await newest(harness, world.bob)).parent_id == take.id


async def test_reroll_over_quota_is_refused_and_sends_nothing(
    harness: Harness, world: World, take: TaskRow
) -> None:
    mods = world.guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = world.guild.add_member(harness.env.create_user("mod"), roles=[mods])
    await mod.slash(world.channel, "config limits", daily_per_member=1)
    r = await world.alice.click(card(world.channel, take.id), label="Re-roll")
    assert r.ephemeral
    assert r.response.content.startswith("You have used your 1 requests for today")
    assert len(await harness.tasks(world.alice.id)) == 1 and harness.submissions() == 1


async def test_a_reroll_two_days_later_sends_a_fresh_url(
    harness: Harness, world: World, take: TaskRow
) -> None:
    harness.env.backend.advance_clock(2 * DAY)
    now = harness.simulator.config.clock()
    assert signed_url_expired(take.upload_url, now)  # the stored URL is dead by now
    r = await world.alice.click(card(world.channel, take.id), label="Re-roll")
    assert r.response.content.startswith("Got it!"), r.response.content
    child = await newest(harness, world.alice)
    assert child.upload_url != take.upload_url and not signed_url_expired(child.upload_url, now)
    await wait_until(lambda: harness.submissions() == 2)
    done = await wait_until(lambda: _api_task(harness, child.id))
    assert harness.simulator.tasks[done].upload_state == "ok"  # fetched and sniffed for real


async def _api_task(harness: Harness, task_id: int) -> str | None:
    task = await harness.bot.store.get_task(task_id)
    return task.api_task_id if task else None


async def test_the_simulator_refuses_an_expired_url_like_the_provider(
    harness: Harness, world: World, take: TaskRow
) -> None:
    """What a re-roll with the stored URL would have met: the provider's 451."""
    harness.env.backend.advance_clock(2 * DAY)
    params = {**harness.simulator.tasks[take.api_task_id].params}  # type: ignore[index]
    async with harness.session.post(
        f"{harness.simulator.base_url}/api/v1/generate/add-instrumental",
        json=params,
        headers={"Authorization": f"Bearer {harness.settings.suno_api_key.get_secret_value()}"},  # type: ignore[union-attr]
    ) as response:
        api_id = (await response.json())["data"]["taskId"]
    await wait_until(lambda: harness.simulator.tasks[api_id].upload_state == "failed")
    async with harness.session.get(take.upload_url) as response:
        assert response.status == 404  # the CDN itself refuses it too


async def test_reroll_when_the_input_post_is_gone(
    harness: Harness, world: World, take: TaskRow
) -> None:
    [thread] = world.channel.threads
    harness.env.backend.delete_message(thread.id, take.input_message_id)
    r = await world.alice.click(card(world.channel, take.id), label="Re-roll")
    assert "The recording of this take is gone" in r.response.content
    assert harness.submissions() == 1


# -- Tweak, Details, Delete, Retry ------------------------------------------------------------


async def test_tweak_is_prefilled_and_checks_weights(
    harness: Harness, world: World, take: TaskRow
) -> None:
    shown = await world.alice.click(card(world.channel, take.id), label="Tweak")
    inputs = _modal_inputs(shown.modal)
    assert inputs["tags"] == "lo-fi" and inputs["title"] == "voice"
    assert inputs["weights"] == "0.4, -, -"
    bad = await world.alice.submit_modal(shown, {"tags": "jazz", "weights": "0.5, 1.5"})
    assert bad.ephemeral
    assert bad.response.content == "Weirdness must be a number from 0 to 1 (yours: 1.5)."
    assert len(await harness.tasks(world.alice.id)) == 1
    shown = await world.alice.click(card(world.channel, take.id), label="Tweak")
    good = await world.alice.submit_modal(
        shown, {"tags": "jazz", "negative_tags": "", "title": "voice", "weights": "0.5, 0.1, -"}
    )
    assert good.response.content.startswith("Got it!")
    child = await newest(harness, world.alice)
    assert (child.origin, child.tags, child.style_weight, child.weirdness) == (
        "tweak", "jazz", 0.5, 0.1
    )  # fmt: skip


async def test_tweak_weights_are_sent_as_typed_or_refused_with_what_was_typed(
    harness: Harness, world: World, take: TaskRow
) -> None:
    refusals = {
        "\u0661": "Style weight must be a number from 0 to 1 (yours: \u0661).",  # Arabic-Indic 1
        "1_0": "Style weight must be a number from 0 to 1 (yours: 1_0).",
        "0.004": "Style weight takes at most two decimals, like 0.25 (yours: 0.004).",
        "1e-3": "Style weight takes at most two decimals, like 0.25 (yours: 1e-3).",
    }
    for typed, said in refusals.items():
        shown = await world.alice.click(card(world.channel, take.id), label="Tweak")
        r = await world.alice.submit_modal(shown, {"weights": typed})
        assert r.ephemeral and r.response.content == said
    assert len(await harness.tasks(world.alice.id)) == 1 and harness.submissions() == 1
    shown = await world.alice.click(card(world.channel, take.id), label="Tweak")
    r = await world.alice.submit_modal(shown, {"weights": "-0, 0.25, 1e-1"})
    assert r.response.content.startswith("Got it!")
    child = await newest(harness, world.alice)
    api_id = await wait_until(lambda: _api_task(harness, child.id))
    params = harness.simulator.tasks[api_id].params
    assert (params["styleWeight"], params["weirdnessConstraint"], params["audioWeight"]) == (
        0, 0.25, 0.1
    )  # fmt: skip
    assert math.copysign(1.0, params["styleWeight"]) == 1.0  # 0, not -0.0


async def test_a_tweak_form_is_checked_again_when_it_is_sent(
    harness: Harness, world: World, take: TaskRow
) -> None:
    mods = world.guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = world.guild.add_member(harness.env.create_user("mod"), roles=[mods])
    await mod.slash(world.channel, "config rerolls", who="everyone")
    shown = await world.bob.click(card(world.channel, take.id), label="Tweak")
    assert shown.modal is not None  # allowed while the form opens
    await mod.slash(world.channel, "config rerolls", who="requester")
    r = await world.bob.submit_modal(shown, {"tags": "jazz"})
    assert r.ephemeral
    assert r.response.content == (
        "Only the member who asked for this take can make another from it."
    )
    assert await harness.tasks(world.bob.id) == [] and harness.submissions() == 1


async def test_tweak_text_meets_the_blocked_words(
    harness: Harness, world: World, take: TaskRow
) -> None:
    mods = world.guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = world.guild.add_member(harness.env.create_user("mod"), roles=[mods])
    await mod.slash(world.channel, "config blocked_words", action="add", words="slur")
    for field, typed, what in (
        ("tags", "ｓｌｕｒ beat", "tags contain"),
        ("negative_tags", "s\u200blur", "negative tags contain"),
        ("title", "my \u0455lur_song", "title contains"),
    ):
        shown = await world.alice.click(card(world.channel, take.id), label="Tweak")
        r = await world.alice.submit_modal(shown, {field: typed})
        assert r.ephemeral and r.response.content == (
            f"Your {what} “slur”, which this server does not allow. Nothing was sent."
        )
    assert len(await harness.tasks(world.alice.id)) == 1 and harness.submissions() == 1


def _modal_inputs(modal: dict[str, Any] | None) -> dict[str, str]:
    assert modal is not None
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == 4:
                found[node["custom_id"]] = node.get("value") or ""
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(modal)
    return found


async def test_details_show_what_was_sent(harness: Harness, world: World, take: TaskRow) -> None:
    r = await world.bob.click(card(world.channel, take.id), label="Details")
    fields = {f.name: f.value for f in r.response.embeds[0].fields}
    assert r.ephemeral and fields["API task id"] == f"`{take.api_task_id}`"
    assert (fields["Tags"], fields["Style weight"], fields["Model"]) == ("lo-fi", "0.4", take.model)
    assert fields["Started by"] == "/instrumental" and "asked <t:" in fields["Timings"]
    assert fields["Credits"] == "about 12 (the service's price)"


async def test_delete_refused_for_a_stranger_done_for_the_requester(
    harness: Harness, world: World, take: TaskRow
) -> None:
    r = await world.bob.click(card(world.channel, take.id), label="Delete")
    assert (
        r.ephemeral
        and "Only the member who asked for this take or a moderator" in r.response.content
    )
    assert len(world.channel.threads) == 1
    r = await world.alice.click(card(world.channel, take.id), label="Delete")
    cancel = await world.alice.click(r.response, label="Cancel")
    assert cancel.response.content == "Nothing was deleted." and len(world.channel.threads) == 1
    r = await world.alice.click(card(world.channel, take.id), label="Delete")
    done = await world.alice.click(r.response, label="Delete")
    assert done.response.content == "Deleted."
    # With the invite's permissions the bot may not delete the thread (Manage Threads):
    # it deletes its posts in it, then renames and archives the emptied thread.
    [thread] = world.channel.threads
    assert thread.name == DELETED_THREAD
    assert harness.env.backend.channels[thread.id].thread_metadata.archived  # type: ignore[union-attr]
    assert not [m for m in thread.history() if m.embeds or m.attachments]
    assert not any(
        m.embeds and m.embeds[0].footer.text == f"task #{take.id}" for m in world.channel.history()
    )
    assert (await harness.bot.store.get_task(take.id)).removed_at is not None  # type: ignore[union-attr]


async def test_delete_removes_the_whole_thread_where_the_bot_may_manage_threads(
    harness: Harness, world: World, take: TaskRow
) -> None:
    harness.env.grant_bot(world.guild, manage_threads=True)
    r = await world.alice.click(card(world.channel, take.id), label="Delete")
    await world.alice.click(r.response, label="Delete")
    assert world.channel.threads == []  # the bot's thread held only this take: gone
    assert not any(
        m.embeds and m.embeds[0].footer.text == f"task #{take.id}" for m in world.channel.history()
    )


async def test_a_moderator_deletion_is_logged(
    harness: Harness, world: World, take: TaskRow
) -> None:
    mods = world.guild.create_role(
        "Mods", permissions=discord.Permissions(manage_guild=True, manage_messages=True)
    )
    mod = world.guild.add_member(harness.env.create_user("mod"), roles=[mods])
    log = world.guild.create_text_channel("mod-log")
    await mod.slash(world.channel, "config log_channel", channel=log)
    r = await mod.click(card(world.channel, take.id), label="Delete")
    await mod.click(r.response, label="Delete")
    [line] = [m.content for m in log.history() if m.content.startswith("🗑️")]
    assert line == f"🗑️ {mod.mention} deleted <@{world.alice.id}>'s take “voice” (task #{take.id})."
    r = await world.alice.slash(world.channel, "tasks")
    assert "re-roll" not in r.response.embeds[0].description


async def test_retry_on_a_failed_card(harness: Harness, world: World) -> None:
    harness.simulator.config.failure_rate = 1.0
    harness.start_lifecycle()
    r = await world.alice.slash(world.channel, "instrumental", audio=("voice.wav", WAV))
    assert r.response.content.startswith("Got it!")
    [task] = await harness.tasks(world.alice.id)
    await wait_until(lambda: labels(card(world.channel, task.id)) == ["Retry", "Details", "Delete"])
    harness.simulator.config.failure_rate = 0.0
    r = await world.alice.click(card(world.channel, task.id), label="Retry")
    assert r.response.content.startswith("Got it!")
    child = await newest(harness, world.alice)
    assert (child.origin, child.parent_id) == ("retry", task.id)


async def test_every_button_works_after_a_restart(
    harness: Harness, world: World, take: TaskRow
) -> None:
    await harness.restart()
    message = card(world.channel, take.id)
    details = await world.alice.click(message, label="Details")
    assert details.response.embeds[0].title == "voice"
    tweak = await world.alice.click(message, label="Tweak")
    assert tweak.modal is not None
    reroll = await world.alice.click(message, label="Re-roll")
    assert reroll.response.content.startswith("Got it!")
    child = await newest(harness, world.alice)
    assert child.parent_id == take.id
    delete = await world.alice.click(card(world.channel, take.id), label="Delete")
    assert "Delete this take's posts" in delete.response.content


# -- "Add instrumental" on any message ----------------------------------------------------------


async def test_add_instrumental_on_messages(harness: Harness, world: World) -> None:
    plain = await world.alice.send(world.channel, "just words")
    r = await world.alice.context_menu(world.channel, "Add instrumental", plain)
    assert r.ephemeral and r.response.content.startswith("That message has no audio file")

    one = await world.bob.send(world.channel, "my riff", attachments=[("riff.wav", WAV)])
    shown = await world.alice.context_menu(world.channel, "Add instrumental", one)
    assert "recording" not in str(shown.modal)
    done = await world.alice.submit_modal(shown, {"tags": "funk", "title": "Riff"})
    assert done.response.content.startswith("Got it!")
    task = await newest(harness, world.alice)
    assert (task.origin, task.tags, task.title, task.input_filename) == (
        "menu",
        "funk",
        "Riff",
        "riff.wav",
    )

    other = make_wav(5.0)
    two = await world.bob.send(
        world.channel, "two takes", attachments=[("a.wav", WAV), ("b.wav", other)]
    )
    shown = await world.bob.context_menu(world.channel, "Add instrumental", two)
    assert "recording" in str(shown.modal)
    done = await world.bob.submit_modal(shown, {"recording": ["1"], "title": "B side"})
    assert done.response.content.startswith("Got it!")
    task = await newest(harness, world.bob)
    assert (task.origin, task.input_filename) == ("menu", "b.wav")

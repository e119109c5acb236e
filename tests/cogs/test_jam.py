"""Jam sessions end to end: simcord in front, the simulator behind, real SQLite, and a
simulated clock for the jam's deadlines (the jam service's clock is moved by the test)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from tests.harness import WAV, Harness, World, bot_messages
from tests.support.waiting import wait_until

START = 1_900_000_000.0
MINUTE = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@dataclass
class Cast:
    host: Any
    carol: Any
    dave: Any
    erin: Any
    clock: Clock
    hosts: Any


@pytest.fixture
def cast(harness: Harness, world: World) -> Cast:
    harness.settings.default_cooldown_seconds = 0
    clock = Clock()
    harness.bot.jams.clock = clock
    hosts = world.guild.create_role("Hosts")
    host = world.guild.add_member(harness.env.create_user("host"), roles=[hosts])
    make = lambda name: world.guild.add_member(harness.env.create_user(name))  # noqa: E731
    return Cast(host, make("carol"), make("dave"), make("erin"), clock, hosts)


async def start_jam(harness: Harness, world: World, cast: Cast, **options: Any) -> Any:
    mods = world.guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = world.guild.add_member(harness.env.create_user("mod"), roles=[mods])
    await mod.slash(world.channel, "config jam_role", role=cast.hosts)
    r = await cast.host.slash(world.channel, "jam start", theme="Night drive", **options)
    [thread] = world.channel.threads
    assert r.ephemeral and r.response.content.startswith(
        f"The jam is on: entries go in <#{thread.id}>"
    )
    return thread


def jam_card(world: World) -> discord.Message:
    return next(
        m
        for m in world.channel.history()
        if m.embeds and m.embeds[0].footer.text.startswith("jam #")
    )


def texts(thread: Any, harness: Harness) -> list[str]:
    return [m.content for m in bot_messages(thread, harness.bot)]


def vote_posts(thread: Any, harness: Harness) -> list[discord.Message]:
    return [m for m in bot_messages(thread, harness.bot) if m.content.startswith("**Entry #")]


async def enter(harness: Harness, member: Any, thread: Any, **options: Any) -> str:
    r = await member.slash(thread, "instrumental", audio=("take.wav", WAV), **options)
    return r.response.content


async def all_done(harness: Harness, world: World, count: int) -> None:
    """Every entry made: finished entries are the ones in the vote."""

    async def finished() -> bool:
        jam = await harness.bot.store.running_jam(world.channel.id)
        assert jam is not None
        return len(await harness.bot.store.jam_entries(jam.id)) == count

    await wait_until(finished, timeout=15)


async def tick(harness: Harness) -> None:
    await harness.bot.jams.tick()


async def vote(member: Any, post: discord.Message) -> str:
    r = await member.click(post, label="Vote")
    assert r.ephemeral
    return r.response.content


async def test_a_whole_jam(harness: Harness, world: World, cast: Cast) -> None:
    harness.start_lifecycle()
    thread = await start_jam(harness, world, cast, duration=60, voting=30, tags="synthwave, night")
    refused = await world.alice.slash(world.channel, "jam start", theme="mine")
    assert refused.response.content.startswith("Starting and ending jams is for hosts")

    assert (await enter(harness, world.alice, thread)).startswith("Got it!")
    assert (await enter(harness, world.bob, thread, tags="jazz")).startswith("Got it!")
    assert (await enter(harness, cast.carol, thread)).startswith("Got it!")
    second = await enter(harness, world.alice, thread)
    assert second == "You already have 1 entry in this jam, the most it allows per member."
    tasks = {
        t.user_id: t
        for t in [*(await harness.tasks(world.alice.id)), *(await harness.tasks(world.bob.id))]
    }
    assert tasks[world.alice.id].tags == "synthwave, night" and tasks[world.bob.id].tags == "jazz"
    assert tasks[world.alice.id].origin == "jam"
    await all_done(harness, world, 3)

    cast.clock.now += 61 * MINUTE  # the submission window closes
    await tick(harness)
    assert sum("Submissions are closed: 3 entries" in t for t in texts(thread, harness)) == 1
    posts = vote_posts(thread, harness)
    assert [p.content.split(":")[0] for p in posts] == [
        "**Entry #1**",
        "**Entry #2**",
        "**Entry #3**",
    ]
    late = await enter(harness, cast.dave, thread)
    assert late == "This jam no longer takes entries: voting is open."
    alice_post, bob_post, carol_post = posts

    assert await vote(world.alice, alice_post) == "You can't vote for your own entry."
    assert (await vote(world.alice, carol_post)).startswith("Your vote is on entry #3.")
    assert (await vote(world.alice, bob_post)).startswith("Your vote moved to entry #2.")
    assert (await vote(world.bob, alice_post)).startswith("Your vote is on entry #1.")
    assert (await vote(cast.carol, alice_post)).startswith("Your vote is on entry #1.")
    assert (await vote(cast.dave, bob_post)).startswith("Your vote is on entry #2.")
    assert (await vote(cast.erin, carol_post)).startswith("Your vote is on entry #3.")
    assert (await vote(cast.erin, carol_post)).startswith("Your vote for entry #3 is taken back")
    status = await world.alice.slash(thread, "jam status")
    fields = {f.name: f.value for f in status.response.embeds[0].fields}
    assert fields["Your vote"] == "entry #2" and fields["Your entries"] == "take"

    cast.clock.now += 31 * MINUTE  # the vote closes
    await tick(harness)
    await tick(harness)  # nothing is announced twice
    [results] = [t for t in texts(thread, harness) if t.startswith("🏆 Results")]
    assert results.splitlines()[1:] == [
        f"1. Entry #1 “take” by <@{world.alice.id}>: 2 votes",
        f"1. Entry #2 “take” by <@{world.bob.id}>: 2 votes",
        f"3. Entry #3 “take” by <@{cast.carol.id}>: 0 votes",
    ]
    card = jam_card(world).embeds[0]
    assert card.description == "🏁 Ended"
    winners = {f.name: f.value for f in card.fields}["🏆 Winners"]
    assert f"<@{world.alice.id}>" in winners and f"<@{world.bob.id}>" in winners
    assert (await vote(cast.dave, carol_post)) == "Voting is closed for this jam."

    board = await cast.dave.slash(world.channel, "jam leaderboard")
    lines = board.response.embeds[0].description.splitlines()
    assert lines[0] == f"1. <@{world.alice.id}>: 1 win · 1 entry · 2 votes"
    assert lines[1] == f"2. <@{world.bob.id}>: 1 win · 1 entry · 2 votes"
    assert lines[2] == f"3. <@{cast.carol.id}>: 0 wins · 1 entry · 0 votes"


async def test_a_jam_without_entries_ends_with_a_note(
    harness: Harness, world: World, cast: Cast
) -> None:
    thread = await start_jam(harness, world, cast, duration=10)
    cast.clock.now += 11 * MINUTE
    await tick(harness)
    assert texts(thread, harness)[-1] == "🏁 The jam “Night drive” has ended with no entries."
    assert jam_card(world).embeds[0].description == "🏁 Ended"


async def test_the_host_ends_phases_early(harness: Harness, world: World, cast: Cast) -> None:
    thread = await start_jam(harness, world, cast, duration=60, voting=30)
    r = await world.alice.slash(world.channel, "jam end")
    assert r.response.content.startswith("Starting and ending jams is for hosts")
    r = await cast.host.slash(world.channel, "jam end")
    cancel = await cast.host.click(r.response, label="Cancel")
    assert cancel.response.content == "Nothing changed."
    r = await cast.host.slash(world.channel, "jam end")
    done = await cast.host.click(r.response, label="End now")
    assert done.response.content == "The jam has ended: results are posted."  # nobody entered
    assert texts(thread, harness)[-1].endswith("has ended with no entries.")


async def restart(harness: Harness, cast: Cast) -> None:
    await harness.restart()
    harness.bot.jams.clock = cast.clock


async def test_restarts_keep_phases_and_votes(harness: Harness, world: World, cast: Cast) -> None:
    harness.start_lifecycle()
    thread = await start_jam(harness, world, cast, duration=60, voting=30)
    await enter(harness, world.alice, thread)
    await enter(harness, world.bob, thread)
    await all_done(harness, world, 2)
    cast.clock.now += 61 * MINUTE
    await tick(harness)
    alice_post, bob_post = vote_posts(thread, harness)
    await vote(cast.carol, alice_post)

    await restart(harness, cast)  # in the middle of the vote
    await tick(harness)
    assert len(vote_posts(thread, harness)) == 2  # not posted again
    assert sum("Submissions are closed" in t for t in texts(thread, harness)) == 1
    assert (await vote(cast.carol, bob_post)).startswith(
        "Your vote moved to entry #2."
    )  # the button survives
    assert (await vote(cast.dave, bob_post)).startswith("Your vote is on entry #2.")

    await harness.bot.jams.stop()
    cast.clock.now += 45 * MINUTE  # the deadline passes while the bot is down
    await restart(harness, cast)
    await tick(harness)
    await tick(harness)
    [results] = [t for t in texts(thread, harness) if t.startswith("🏆 Results")]
    assert results.splitlines()[1] == f"1. Entry #2 “take” by <@{world.bob.id}>: 2 votes"


async def test_an_anonymous_jam_names_nobody_before_the_results(
    harness: Harness, world: World, cast: Cast
) -> None:
    harness.start_lifecycle()
    thread = await start_jam(harness, world, cast, anonymous=True)
    await enter(harness, world.alice, thread, title="Moonlight")
    await enter(harness, world.bob, thread, title="Neon")
    await all_done(harness, world, 2)
    cast.clock.now += 61 * MINUTE
    await tick(harness)
    await vote(cast.carol, vote_posts(thread, harness)[0])

    def visible() -> str:
        out = []
        for channel in (world.channel, thread):
            for m in channel.history():
                out.append(m.content)
                for e in m.embeds:
                    out.append(str(e.to_dict()))
        return "\n".join(out)

    for member in (world.alice, world.bob):
        assert str(member.id) not in visible() and member.name not in visible()
    cast.clock.now += 31 * MINUTE
    await tick(harness)
    revealed = visible()
    assert f"<@{world.alice.id}>" in revealed and f"<@{world.bob.id}>" in revealed
    assert re.search(r"1\. Entry #1 “Moonlight” by <@\d+>: 1 vote", revealed)


async def test_a_failed_entry_is_told_privately_and_left_out(
    harness: Harness, world: World, cast: Cast
) -> None:
    harness.simulator.config.failure_rate = 1.0
    harness.start_lifecycle()
    thread = await start_jam(harness, world, cast)
    await enter(harness, world.alice, thread, title="Lost")
    dms = lambda: bot_messages(world.alice.user.dm_channel, harness.bot)  # noqa: E731
    [dm] = await wait_until(dms)
    assert dm.content.startswith("Your jam entry **Lost** could not be made:")
    assert not any("could not be made" in t for t in texts(thread, harness))
    jam = await harness.bot.store.running_jam(world.channel.id)
    assert jam is not None and await harness.bot.store.jam_entries(jam.id) == []
    assert (await enter(harness, world.alice, thread)).startswith("Got it!")  # may enter again


async def test_a_jam_entry_must_be_the_entrants_own_recording(  # issue 23, finding 11
    harness: Harness, world: World, cast: Cast
) -> None:
    thread = await start_jam(harness, world, cast)
    posted = await cast.dave.send(thread, "my take", attachments=[("dave.wav", WAV)])
    shown = await cast.carol.context_menu(thread, "Add instrumental", posted)
    r = await cast.carol.submit_modal(shown, {"title": "Mine now"})
    assert r.ephemeral and r.response.content == (
        "A jam entry must be your own recording: attach it with `/instrumental`, or use "
        "Add instrumental on a message you posted."
    )
    assert await harness.tasks(cast.carol.id) == [] and harness.submissions() == 0
    shown = await cast.dave.context_menu(thread, "Add instrumental", posted)
    r = await cast.dave.submit_modal(shown, {"title": "Night ride"})
    assert r.response.content.startswith("Got it!"), r.response.content
    [entry] = await harness.tasks(cast.dave.id)
    assert entry.jam_id is not None


async def test_entries_still_being_made_at_the_close_join_the_vote(
    harness: Harness, world: World, cast: Cast
) -> None:
    """Issue 21 item 10: a one-minute jam, three entries sent in its last seconds, the API
    slower than the window. They are not dropped: the vote waits for them, each joins
    with the whole vote ahead of it, and the thread says so."""
    sim = harness.simulator
    sim.config.text_delay = sim.config.first_delay = sim.config.complete_delay = 600.0
    harness.start_lifecycle()
    thread = await start_jam(harness, world, cast, duration=1, voting=1)
    for member in (world.alice, world.bob, cast.carol):
        assert (await enter(harness, member, thread)).startswith("Got it!")
    await wait_until(lambda: len(sim.tasks) == 3)  # submitted, far from finished

    cast.clock.now += 61  # the window closes with nothing finished
    await tick(harness)
    [opened] = [t for t in texts(thread, harness) if "Submissions are closed" in t]
    assert opened.startswith(
        "🗳️ Submissions are closed: 0 entries, and 3 entries still being made join the vote "
        "as they finish: the vote stays open until each has had the whole vote."
    )
    card = jam_card(world).embeds[0]
    assert {f.name: f.value for f in card.fields}["Entries"] == "0 (+3 being made)"
    assert card.description.endswith("and not before the entries being made have joined")

    cast.clock.now += 5 * MINUTE  # past the vote's deadline: it waits for the entries
    await tick(harness)
    jam = await harness.bot.store.running_jam(world.channel.id)
    assert jam is not None and jam.phase == "voting"
    assert not any(t.startswith(("🏁", "🏆")) for t in texts(thread, harness))

    for task_id in list(sim.tasks):
        sim.finish_now(task_id)
    await all_done(harness, world, 3)
    await tick(harness)
    posts = vote_posts(thread, harness)
    assert len(posts) == 3
    jam = await harness.bot.store.running_jam(world.channel.id)
    assert jam is not None and jam.vote_until == cast.clock.now + MINUTE
    assert all(
        p.content.endswith(f"Just finished, it joins the vote: voting runs until "
                           f"<t:{int(jam.vote_until)}:f> (<t:{int(jam.vote_until)}:R>).")
        for p in posts
    )  # fmt: skip
    assert (await vote(cast.dave, posts[1])).startswith("Your vote is on entry #2.")

    cast.clock.now += MINUTE + 1
    await tick(harness)
    [results] = [t for t in texts(thread, harness) if t.startswith("🏆 Results")]
    assert results.splitlines() == [
        "🏆 Results of the jam “Night drive”",
        f"1. Entry #2 “take” by <@{world.bob.id}>: 1 vote",
        f"2. Entry #1 “take” by <@{world.alice.id}>: 0 votes",
        f"2. Entry #3 “take” by <@{cast.carol.id}>: 0 votes",
    ]


async def test_a_vote_closed_early_names_the_entries_left_out(
    harness: Harness, world: World, cast: Cast
) -> None:
    """The host may close a vote that still waits: the results say what was left out."""
    sim = harness.simulator
    sim.config.text_delay = sim.config.first_delay = sim.config.complete_delay = 600.0
    harness.start_lifecycle()
    thread = await start_jam(harness, world, cast, duration=1, voting=1)
    await enter(harness, world.alice, thread)
    await wait_until(lambda: len(sim.tasks) == 1)
    cast.clock.now += 61
    await tick(harness)
    r = await cast.host.slash(world.channel, "jam end")
    done = await cast.host.click(r.response, label="End now")
    assert done.response.content == "The jam has ended: results are posted."
    assert texts(thread, harness)[-1] == (
        "🏁 The jam “Night drive” has ended with no entries (1 entry still being made left out)."
    )


async def test_a_jams_theme_and_style_meet_the_blocked_words(
    harness: Harness, world: World, cast: Cast
) -> None:
    mods = world.guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    mod = world.guild.add_member(harness.env.create_user("mod"), roles=[mods])
    await mod.slash(world.channel, "config jam_role", role=cast.hosts)
    await mod.slash(world.channel, "config blocked_words", action="add", words="slur")
    for option, typed, what in (
        ("theme", "ｓｌｕｒ night", "theme contains"),
        ("tags", "s\u200blur beat", "tags contain"),
        ("negative_tags", "SLUR_core", "negative tags contain"),
    ):
        given = {"theme": "Night drive", option: typed}
        r = await cast.host.slash(world.channel, "jam start", **given)
        assert r.ephemeral and r.response.content == (
            f"Your {what} “slur”, which this server does not allow. No jam was started."
        )
    assert (
        world.channel.threads == []
        and await harness.bot.store.running_jam(world.channel.id) is None
    )

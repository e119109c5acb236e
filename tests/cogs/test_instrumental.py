"""`/instrumental` end to end: simcord in front, the simulator behind, real SQLite between."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
import simcord
from simcord import ChannelHandle

from bot.audio import probe_duration, sniff_audio
from bot.store import NewTask
from simulator.media import make_wav
from tests.harness import WAV, Harness, World, bot_messages
from tests.support.waiting import wait_until


def track_posts(channel: Any, bot: discord.Client) -> list[discord.Message]:
    return [
        m
        for m in bot_messages(channel, bot)
        if m.embeds and (m.embeds[0].footer.text or "").startswith("track ")
    ]


def card_of(channel: Any) -> discord.Message:
    return next(
        m for m in channel.history() if m.embeds and m.embeds[0].footer.text.startswith("task #")
    )


def card_stage(channel: Any) -> str:
    return card_of(channel).embeds[0].description or ""


async def all_delivered(harness: Harness, user_id: int, count: int = 2) -> bool:
    [task] = await harness.tasks(user_id)
    tracks = await harness.bot.store.tracks_for_task(task.id)
    return len(tracks) == count and all(t.delivery == "delivered" for t in tracks)


async def wait_delivered(harness: Harness, user_id: int, count: int = 2) -> None:
    end = asyncio.get_running_loop().time() + 10
    while not await all_delivered(harness, user_id, count):
        assert asyncio.get_running_loop().time() < end, "tracks not delivered in time"
        await asyncio.sleep(0.02)


# -- the happy path ----------------------------------------------------------------------


async def test_request_becomes_two_tracks_in_a_thread(harness: Harness, world: World) -> None:
    harness.start_lifecycle()
    r = await world.alice.slash(
        world.channel, "instrumental", audio=("my song.wav", WAV), tags="lo-fi, piano"
    )

    assert r.ephemeral
    [thread] = world.channel.threads
    assert r.response.content == f"Got it! Follow along in <#{thread.id}>."
    card = card_of(world.channel)
    assert thread.id == card.id  # the thread hangs off the card
    assert card.embeds[0].title == "my song"  # title falls back to the file name
    top = thread.history()[0]
    assert top.attachments[0].filename == "my song.wav"  # the input heads the thread
    assert await top.attachments[0].read() == WAV

    posts = await wait_until(lambda: (p := track_posts(thread, harness.bot)) and len(p) == 2 and p)
    # Each track is posted as soon as it is ready: at this test's speed, in either order.
    by_number = sorted(posts, key=lambda p: p.embeds[0].footer.text)
    for number, post in enumerate(by_number, 1):
        [attachment] = post.attachments
        data = await attachment.read()
        assert sniff_audio(data[:64]) == "wav" and probe_duration(data) is not None
        assert post.content == f"<@{world.alice.id}> track {number} of 2 is ready."
        embed = post.embeds[0]
        assert embed.footer.text.startswith(f"track {number}/2 · id ")
        assert embed.thumbnail.url  # cover art
        assert {f.name: f.value for f in embed.fields}["Tags"] == "lo-fi, piano"
    await wait_until(lambda: card_stage(world.channel).startswith("✅ Done: 2 tracks"))

    [task] = await harness.tasks(world.alice.id)
    assert (task.state, task.thread_id, task.card_message_id) == ("done", thread.id, card.id)
    assert (
        task.tags == "lo-fi, piano" and task.negative_tags == harness.settings.default_negative_tags
    )
    assert harness.submissions() == 1
    assert harness.simulator.tasks[task.api_task_id].upload_state == "ok"  # fetched and sniffed


async def test_options_reach_the_api(harness: Harness, world: World) -> None:
    r = await world.alice.slash(
        world.channel,
        "instrumental",
        audio=("take.wav", WAV),
        title="  Night   drive ",
        style_weight=0.456,
        weirdness=0,
        audio_weight=1,
        vocal_gender="female",
        model="V5",
    )
    assert r.response.content.startswith("Got it!")
    assert r.response.content.endswith(" Style weight 0.456 is sent as 0.46.")  # said, not silent
    [task] = await harness.tasks(world.alice.id)
    assert task.title == "Night drive"
    assert (task.style_weight, task.weirdness, task.audio_weight) == (0.46, 0.0, 1.0)
    assert (task.vocal_gender, task.model) == ("f", "V5")


def test_model_choices_come_from_settings(harness: Harness) -> None:
    command = harness.bot.tree.get_command("instrumental")
    model = next(p for p in command.parameters if p.name == "model")
    assert [c.value for c in model.choices] == harness.settings.suno_allowed_models
    assert command.guild_only


# -- refusals: private, specific, nothing recorded or submitted ---------------------------


@pytest.mark.parametrize(
    ("filename", "data", "tweak", "expected"),
    [
        ("notes.mp3", b"definitely not audio " * 50, {}, "isn't a recording I can read"),
        ("empty.wav", b"", {}, "That file is empty"),
        ("big.wav", WAV, {"input_max_bytes": 100 * 1024}, "can be at most 0.0977 MB"),
        ("long.wav", WAV, {"input_max_seconds": 3.5}, "I can use at most 3.5 seconds"),
        ("short.wav", make_wav(1.0), {}, "must be at least 3 seconds"),
    ],
    ids=["not-audio", "empty", "oversized", "too-long", "too-short"],
)
async def test_refusals_cost_nothing(
    harness: Harness, world: World, filename: str, data: bytes, tweak: dict, expected: str
) -> None:
    for name, value in tweak.items():
        setattr(harness.settings, name, value)
    harness.start_lifecycle()
    r = await world.alice.slash(world.channel, "instrumental", audio=(filename, data))

    assert r.ephemeral and expected in r.response.content
    assert r.response.content.count(".") >= 1 and "\n" not in r.response.content
    assert bot_messages(world.channel, harness.bot) == []  # no card
    assert world.channel.threads == []
    assert await harness.tasks(world.alice.id) == []
    await asyncio.sleep(0.05)  # a stray submission would be on its way by now
    assert harness.submissions() == 0


async def test_oversized_names_both_sizes(harness: Harness, world: World) -> None:
    harness.settings.input_max_bytes = 1024 * 1024
    big = make_wav(30.0)  # 1.26 MiB
    r = await world.alice.slash(world.channel, "instrumental", audio=("big.wav", big))
    assert r.response.content == "That file is 1.26 MB; recordings can be at most 1 MB."


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"title": "x" * 101}, "option-length"),
        ({"title": ""}, "option-length"),
        ({"tags": "x" * 1001}, "option-length"),
        ({"negative_tags": "x" * 1001}, "option-length"),
        ({"style_weight": 1.5}, "option-range"),
        ({"weirdness": -0.1}, "option-range"),
        ({"vocal_gender": "m"}, "option-choice"),
        ({"model": "V3"}, "option-choice"),
    ],
)
async def test_bad_options_are_refused_by_discord(
    harness: Harness, world: World, options: dict, code: str
) -> None:
    with pytest.raises(simcord.OptionError) as caught:
        await world.alice.slash(world.channel, "instrumental", audio=("a.wav", WAV), **options)
    assert caught.value.code == code
    assert await harness.tasks(world.alice.id) == []
    assert harness.submissions() == 0


async def test_missing_permissions_are_refused_before_recording(
    harness: Harness, world: World
) -> None:
    locked = world.guild.create_text_channel(
        "locked", overwrites={world.guild.me: discord.PermissionOverwrite(embed_links=False)}
    )
    r = await world.alice.slash(locked, "instrumental", audio=("a.wav", WAV))
    assert r.response.content == "I can't work here: I need permission to embed links."
    assert await harness.tasks(world.alice.id) == []


# -- where the card and the tracks go -----------------------------------------------------


async def test_inside_a_thread_it_stays_there(harness: Harness, world: World) -> None:
    raw = harness.env.backend.create_thread(world.channel.id, "jam night", world.alice.id)
    jam = ChannelHandle(harness.env, world.guild, raw)
    harness.start_lifecycle()
    r = await world.alice.slash(jam, "instrumental", audio=("riff.wav", WAV))

    assert r.response.content == f"Got it! Follow along in <#{jam.id}>."
    assert [t.id for t in world.channel.threads] == [jam.id]  # no thread in a thread
    assert bot_messages(world.channel, harness.bot) == []  # nothing in the parent
    card = card_of(jam)
    await wait_until(lambda: len(track_posts(jam, harness.bot)) == 2)
    await wait_until(lambda: card_stage(jam).startswith("✅"))
    [task] = await harness.tasks(world.alice.id)
    assert task.channel_id == jam.id and task.card_message_id == card.id


async def test_without_thread_permission_it_replies_in_place(
    harness: Harness, world: World
) -> None:
    channel = world.guild.create_text_channel(
        "no-threads",
        overwrites={world.guild.me: discord.PermissionOverwrite(create_public_threads=False)},
    )
    harness.start_lifecycle()
    r = await world.alice.slash(channel, "instrumental", audio=("riff.wav", WAV))

    text = r.response.content
    assert text.startswith(f"Got it! Follow along in <#{channel.id}>.")
    assert text.count("couldn't start a thread") == 1 and r.followups == []
    assert channel.threads == []
    card = card_of(channel)
    posts = await wait_until(lambda: (p := track_posts(channel, harness.bot)) and len(p) == 2 and p)
    assert all(p.reference and p.reference.message_id == card.id for p in posts)
    await wait_until(lambda: card_stage(channel).startswith("✅"))
    assert not any(e for e in harness.env.errors)  # Forbidden was handled, not raised


async def test_voice_channel_chat_replies_in_place(harness: Harness, world: World) -> None:
    voice = world.guild.create_voice_channel("studio-a")
    harness.start_lifecycle()
    r = await world.alice.slash(voice, "instrumental", audio=("riff.wav", WAV))
    assert "Threads aren't possible here" in r.response.content
    assert voice.threads == []
    await wait_until(lambda: len(track_posts(voice, harness.bot)) == 2)


# -- delivery -----------------------------------------------------------------------------


async def test_result_over_the_upload_limit_becomes_a_link(harness: Harness, world: World) -> None:
    harness.simulator.config.audio_pad_bytes = 11 * 1024 * 1024  # guild limit: 10 MiB
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    [thread] = world.channel.threads

    posts = await wait_until(lambda: (p := track_posts(thread, harness.bot)) and len(p) == 2 and p)
    for post in posts:
        assert post.attachments == []
        embed = post.embeds[0]
        fields = {f.name: f.value for f in embed.fields}
        assert embed.url and embed.url in fields["Download"]
        assert embed.url.startswith(harness.simulator.base_url)


async def test_failure_reaches_the_card_and_the_requester(harness: Harness, world: World) -> None:
    harness.simulator.plan_next(status="GENERATE_AUDIO_FAILED")
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    [thread] = world.channel.threads

    await wait_until(lambda: card_stage(world.channel).startswith("❌ Failed:"))
    stage = card_stage(world.channel)
    assert "could not generate audio" in stage and "You can try again." in stage
    notices = await wait_until(
        lambda: [m for m in bot_messages(thread, harness.bot) if m.content.startswith("<@")]
    )
    await asyncio.sleep(0.1)  # a second notice would have been posted by now
    [notice] = [m for m in bot_messages(thread, harness.bot) if m.content.startswith("<@")]
    assert notice.id == notices[0].id
    assert notice.content.startswith(f"<@{world.alice.id}>")
    assert "could not generate audio" in notice.embeds[0].description
    stored = harness.env.backend.get_message(thread.id, notice.id)
    assert stored.ping_user_ids == [world.alice.id]
    assert track_posts(thread, harness.bot) == []


async def test_restart_mid_delivery_posts_every_track_once(harness: Harness, world: World) -> None:
    """The old process posts tracks but dies before recording that it did."""
    first_bot = harness.bot
    port = first_bot.ports.delivery
    real_deliver = port.deliver
    posted = asyncio.Event()

    async def post_then_hang(task, track, total):
        await real_deliver(task, track, total)
        posted.set()
        await asyncio.Event().wait()  # the crash comes before `delivered` is recorded

    port.deliver = post_then_hang  # type: ignore[method-assign]
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    [thread] = world.channel.threads
    await asyncio.wait_for(posted.wait(), 10)

    await harness.restart()
    assert harness.bot is not first_bot
    await wait_delivered(harness, world.alice.id)
    await wait_until(lambda: card_stage(world.channel).startswith("✅"))

    posts = track_posts(thread, harness.bot)
    ids = [p.embeds[0].footer.text.rsplit(" ", 1)[1] for p in posts]
    assert len(posts) == 2 and len(set(ids)) == 2
    assert harness.submissions() == 1


async def test_card_is_posted_after_a_crash_before_it(harness: Harness, world: World) -> None:
    """Recorded, then the process died before the card: the port places the card itself."""
    harness.simulator.config.check_upload = False
    await harness.bot.lifecycle.request(
        NewTask(
            interaction_id=42,
            user_id=world.alice.id,
            guild_id=world.guild.id,
            channel_id=world.channel.id,
            upload_url="https://cdn.example/riff.wav",
            input_filename="riff.wav",
            title="Recovered",
            tags="funk",
            negative_tags="noise",
            model="V4_5PLUS",
        )
    )
    harness.start_lifecycle()
    thread = await wait_until(lambda: world.channel.threads and world.channel.threads[0])
    await wait_until(lambda: len(track_posts(thread, harness.bot)) == 2)
    await wait_until(lambda: card_stage(world.channel).startswith("✅"))
    assert len([m for m in world.channel.history() if m.embeds]) == 1
    [task] = await harness.tasks(world.alice.id)
    assert task.thread_id == thread.id and task.card_message_id == thread.id


async def test_a_repeated_interaction_posts_no_second_card(
    harness: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lifecycle = harness.bot.lifecycle
    real_request = lifecycle.request

    async def seen_before(new, **quota):
        task, _ = await real_request(new, **quota)
        return task, False

    monkeypatch.setattr(lifecycle, "request", seen_before)
    r = await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    assert r.response.content == "I already have this request; follow it on its card."
    assert bot_messages(world.channel, harness.bot) == []


# -- nobody gets pinged by user or API text -----------------------------------------------


async def test_user_text_pings_nobody(harness: Harness, world: World) -> None:
    role = world.guild.create_role("everyone-else")
    title = f"@everyone @here <@{world.bob.id}> <@&{role.id}>"
    harness.start_lifecycle()
    await world.alice.slash(
        world.channel, "instrumental", audio=("riff.wav", WAV), title=title, tags=title
    )
    [thread] = world.channel.threads
    await wait_until(lambda: len(track_posts(thread, harness.bot)) == 2)
    await wait_until(lambda: card_stage(world.channel).startswith("✅"))
    await harness.env.settle()

    for channel in (world.channel, thread):
        for message in bot_messages(channel, harness.bot):
            assert message.mention_everyone is False
            stored = harness.env.backend.get_message(channel.id, message.id)
            assert stored.ping_role_ids == []
            assert set(stored.ping_user_ids) <= {world.alice.id}
    for request in harness.env.http_requests:
        body = request.json if isinstance(request.json, dict) else {}
        if request.method in ("POST", "PATCH") and ("content" in body or "embeds" in body):
            mentions = body.get("allowed_mentions")
            assert mentions is not None, request.path
            assert mentions["parse"] == []
            assert mentions.get("users", []) in ([], [world.alice.id], [str(world.alice.id)])


async def test_model_choices_follow_other_settings(harness: Harness) -> None:
    from cogs.instrumental import Instrumental

    harness.settings.suno_allowed_models = ["V5", "V5_5"]
    cog = Instrumental(harness.bot)
    model = next(p for p in cog.slash_command.parameters if p.name == "model")
    assert [c.value for c in model.choices] == ["V5", "V5_5"]

"""Every recording a member really has, from the member's side (simcord in front, the
simulator behind): voice messages, phone takes, videos, long takes, and files that lie.

Accepted ones: what the simulator was asked to fetch (`uploadUrl`) is decoded here, as the
provider would, and must be a documented format (MP3 or WAV) of the expected length.
Refused ones: a private sentence saying what was wrong, and nothing recorded or submitted.
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from simcord.results import to_discord_message

from bot import media
from bot.store import TaskRow
from tests.harness import Harness, World
from tests.support.recordings import Takes
from tests.support.waiting import wait_until

VOICE_FLAG = 1 << 13  # MessageFlags.voice, as discord.py reads it


@pytest.fixture(autouse=True)
def patient(harness: Harness) -> None:
    """Requests follow each other here; decoding an hour is real CPU on a shared machine."""
    harness.settings.default_cooldown_seconds = 0
    harness.env.settle_timeout = 60.0
    # A provider that reads only what it documents: whatever the bot sends must be that.
    harness.simulator.config.upload_formats = ("mp3", "wav")


async def send_voice_message(
    harness: Harness, member: Any, channel: Any, data: bytes, seconds: float
) -> discord.Message:
    """A voice message as Discord delivers one: `voice-message.ogg` (audio/ogg, Opus) with a
    duration and a waveform, on a message carrying the voice flag. simcord's members send
    plain attachments only, so the message is made in its backend the same way."""
    backend = harness.env.backend
    [attachment] = backend.store_attachments(channel.id, [("voice-message.ogg", data)])
    attachment.update(content_type="audio/ogg", duration_secs=seconds, waveform="AAAAAAAA")
    stored = backend.create_message(
        channel.id, member.id, "", attachments=[attachment], flags=VOICE_FLAG
    )
    await harness.env.settle()  # the bot sees MESSAGE_CREATE, as for a member's send
    message = to_discord_message(harness.env, stored)
    assert message.flags.voice and message.attachments[0].is_voice_message()
    return message


async def submitted(harness: Harness, member: Any) -> TaskRow:
    """The member's one task, once the simulator has it."""
    harness.start_lifecycle()

    async def sent() -> TaskRow | None:
        tasks = await harness.tasks(member.id)
        assert len(tasks) == 1
        return tasks[0] if tasks[0].api_task_id else None

    return await wait_until(sent)


async def fetched_upload(harness: Harness, task: TaskRow) -> tuple[str, bytes]:
    """The uploadUrl the simulator received (and read as MP3 or WAV), and what it serves."""
    simulated = harness.simulator.tasks[task.api_task_id]
    await wait_until(lambda: simulated.upload_state == "ok")
    url = simulated.params["uploadUrl"]
    async with harness.session.get(url) as response:
        assert response.status == 200
        return url, await response.read()


def decoded_as_sent(data: bytes) -> media.Decoded:
    decoded = media.decode(data)
    assert decoded.container in ("MP3", "WAV") and decoded.sent is None
    return decoded


def input_post(thread: Any) -> discord.Message:
    return thread.history()[0]


async def test_a_voice_message_becomes_a_request(
    harness: Harness, world: World, takes: Takes
) -> None:
    voice = await send_voice_message(harness, world.alice, world.channel, takes.voice, 6.0)
    shown = await world.alice.context_menu(world.channel, "Add instrumental", voice)
    done = await world.alice.submit_modal(shown, {"tags": "lo-fi"})
    assert done.ephemeral and done.response.content.startswith("Got it!")

    task = await submitted(harness, world.alice)
    assert task.title.startswith("Voice memo ")  # not "voice-message"
    assert task.input_sent == "WAV, 16-bit mono, 48 kHz (from Ogg (Opus))"
    [thread] = world.channel.threads
    post = input_post(thread)
    # The part sent heads the thread; the member's own recording is beside it.
    assert [a.filename for a in post.attachments] == ["voice-message.wav", "voice-message.ogg"]
    assert "sent to the music service as WAV, 16-bit mono, 48 kHz" in post.content
    assert await post.attachments[1].read() == takes.voice
    url, data = await fetched_upload(harness, task)
    assert url == task.upload_url == post.attachments[0].url
    sent = decoded_as_sent(data)
    assert (sent.container, sent.duration) == ("WAV", pytest.approx(6.0, abs=0.05))


@pytest.mark.parametrize(
    ("name", "filename"),
    [("m4a", "memo.m4a"), ("mp4", "take.mp4"), ("flac", "bounce.flac"), ("webm", "clip.webm")],
)
async def test_phone_takes_and_videos_are_sent_in_a_documented_format(
    harness: Harness, world: World, takes: Takes, name: str, filename: str
) -> None:
    r = await world.alice.slash(
        world.channel, "instrumental", audio=(filename, getattr(takes, name))
    )
    assert r.response.content.startswith("Got it!")
    task = await submitted(harness, world.alice)
    assert task.title == filename.rsplit(".", 1)[0]
    _, data = await fetched_upload(harness, task)
    assert decoded_as_sent(data).duration == pytest.approx(6.0, abs=0.1)
    stem = filename.rsplit(".", 1)[0]
    [thread] = world.channel.threads
    assert [a.filename for a in input_post(thread).attachments] == [f"{stem}.wav", filename]


async def test_mp3_goes_as_it_is(harness: Harness, world: World, takes: Takes) -> None:
    r = await world.alice.slash(world.channel, "instrumental", audio=("song.mp3", takes.mp3))
    assert r.response.content.startswith("Got it!")
    task = await submitted(harness, world.alice)
    assert task.input_sent is None
    _, data = await fetched_upload(harness, task)
    assert data == takes.mp3


async def test_details_say_what_was_sent(harness: Harness, world: World, takes: Takes) -> None:
    await world.alice.slash(world.channel, "instrumental", audio=("memo.m4a", takes.m4a))
    task = await submitted(harness, world.alice)

    def card() -> discord.Message:
        return next(m for m in world.channel.history() if m.id == task.card_message_id)

    await wait_until(
        lambda: "Details" in [c.label for row in card().components for c in row.children]  # type: ignore[union-attr]
    )
    details = await world.alice.click(card(), label="Details")
    fields = {f.name: f.value for f in details.response.embeds[0].fields}
    assert fields["Recording sent"] == "WAV, 16-bit mono, 48 kHz (from MP4/M4A (AAC))"


async def test_a_reroll_of_a_voice_memo_sends_the_part_again(
    harness: Harness, world: World, takes: Takes
) -> None:
    """Re-roll reads the thread's first file again: the WAV sent the first time, which
    goes as it is (a fresh signed URL of the bot's own post)."""
    await world.alice.slash(world.channel, "instrumental", audio=("memo.m4a", takes.m4a))
    first = await submitted(harness, world.alice)

    def card() -> discord.Message:
        return next(m for m in world.channel.history() if m.id == first.card_message_id)

    await wait_until(
        lambda: "Re-roll" in [c.label for row in card().components for c in row.children]  # type: ignore[union-attr]
    )
    r = await world.alice.click(card(), label="Re-roll")
    assert r.response.content.startswith("Got it!")
    [thread] = world.channel.threads

    async def second() -> TaskRow | None:
        child = (await harness.tasks(world.alice.id))[0]
        return child if child.id != first.id and child.api_task_id else None

    child = await wait_until(second)
    assert child.input_sent is None  # a WAV: sent as it is
    url, data = await fetched_upload(harness, child)
    assert url.split("?")[0] == input_post(thread).attachments[0].url.split("?")[0]
    assert decoded_as_sent(data).duration == pytest.approx(6.04, abs=0.05)


@pytest.mark.parametrize(
    ("name", "filename", "sentence"),
    [
        ("lying_xing", "short.mp3", "That file says it is 14.2 seconds long but holds 1:00:55"),
        ("flac_html", "take.flac", "That file looks like FLAC audio but none of it decodes"),
        ("mp3_frames_html", "take.mp3", "That file isn't a recording I can read"),
        ("m4a_html", "memo.m4a", "That file looks like MP4/M4A audio but none of it decodes"),
        ("quiet", "whisper.ogg", "That recording is too quiet to use"),
        ("hour_mp3", "set.mp3", "That recording is 1:00:55 hours long; I can use at most 8:00"),
    ],
)
async def test_refused_before_anything_is_paid(
    harness: Harness, world: World, takes: Takes, name: str, filename: str, sentence: str
) -> None:
    harness.start_lifecycle()
    r = await world.alice.slash(
        world.channel, "instrumental", audio=(filename, getattr(takes, name))
    )
    assert r.ephemeral and r.response.content.startswith(sentence)
    await asyncio.sleep(0.1)  # a scheduler round: nothing may go out
    assert await harness.tasks(world.alice.id) == []
    assert harness.submissions() == 0
    assert not world.channel.threads


async def test_the_refusal_of_a_long_take_says_how(
    harness: Harness, world: World, takes: Takes
) -> None:
    r = await world.alice.slash(world.channel, "instrumental", audio=("set.mp3", takes.hour_mp3))
    assert "`start` and `length` options" in r.response.content

    r = await world.alice.slash(
        world.channel, "instrumental", audio=("set.mp3", takes.hour_mp3), start=600, length=30
    )
    assert r.response.content.startswith("Got it!")
    task = await submitted(harness, world.alice)
    assert task.input_sent == "WAV, 16-bit mono, 8 kHz (from MP3)"
    _, data = await fetched_upload(harness, task)
    assert decoded_as_sent(data).duration == pytest.approx(30.0, abs=0.01)


@pytest.mark.parametrize(
    ("part", "sentence"),
    [
        ("4000", "That recording is 1:00:55 hours long, so it has nothing after your start"),
        ("0, 600", "The part you chose is 10:00 minutes long; it can be at most 8:00"),
        ("3653, 60", "The part you chose is 1.72 seconds long; it must be at least 3 seconds"),
        ("1:3x", "Start is a time like 90 or 1:30 (yours: 1:3x)."),
        ("1, 2, 3", "Give the part as a start and a length"),
    ],
)
async def test_the_form_takes_a_part_checked_like_the_options(
    harness: Harness, world: World, takes: Takes, part: str, sentence: str
) -> None:
    message = await world.bob.send(
        world.channel, "my set", attachments=[("set.mp3", takes.hour_mp3)]
    )
    shown = await world.alice.context_menu(world.channel, "Add instrumental", message)
    done = await world.alice.submit_modal(shown, {"part": part})
    assert done.ephemeral and done.response.content.startswith(sentence)
    assert await harness.tasks(world.alice.id) == []


async def test_the_form_trims_a_long_take(harness: Harness, world: World, takes: Takes) -> None:
    message = await world.bob.send(
        world.channel, "my set", attachments=[("set.mp3", takes.hour_mp3)]
    )
    shown = await world.alice.context_menu(world.channel, "Add instrumental", message)
    done = await world.alice.submit_modal(shown, {"part": "10:00, 0:20"})
    assert done.response.content.startswith("Got it!")
    task = await submitted(harness, world.alice)
    _, data = await fetched_upload(harness, task)
    assert decoded_as_sent(data).duration == pytest.approx(20.0, abs=0.01)


async def test_start_and_length_are_options(harness: Harness) -> None:
    command = harness.bot.tree.get_command("instrumental")
    assert isinstance(command, discord.app_commands.Command)
    options = {p.name: p for p in command.parameters}
    assert not options["start"].required and not options["length"].required

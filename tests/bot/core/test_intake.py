"""The intake driven directly, with no Discord: defaults, refusals, recording."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.guilds import GuildSettings, Limits
from bot.core.intake import (
    PLACING_WINDOW,
    Intake,
    Options,
    Recording,
    Request,
    Rules,
)
from bot.core.tasks import Lifecycle
from bot.errors import Refusal
from bot.music import MusicClient
from bot.store import Store
from simulator.media import make_wav
from tests.support.port import MemoryModLog, MemoryPort

RULES = Rules(
    default_tags="full band",
    default_negative_tags="noise",
    default_model="V4_5PLUS",
    allowed_models=("V4_5PLUS", "V5"),
    input_max_bytes=1024 * 1024,
    input_min_seconds=3.0,
    input_max_seconds=60.0,
    limits=Limits(cooldown_seconds=0, concurrent_per_member=0),
)
WAV = make_wav(5.0)


def recording(data: bytes = WAV, name: str = "my_take.wav", size: int | None = None) -> Recording:
    async def read() -> bytes:
        return data

    return Recording(
        url="https://cdn.example/my_take.wav",
        filename=name,
        size=len(data) if size is None else size,
        read=read,
    )


def request(
    options: Options | None = None, audio: Recording | None = None, key: int = 1
) -> Request:
    return Request(
        key=key,
        user_id=42,
        guild_id=3,
        channel_id=7,
        thread_id=None,
        recording=audio or recording(),
        options=options or Options(),
    )


@pytest.fixture
async def intake(db_path: Path, music: MusicClient) -> AsyncIterator[Intake]:
    store = await Store.open(db_path)
    lifecycle = Lifecycle(store, music, MemoryPort(), callback_url="https://callbacks.invalid/x")
    yield Intake(lifecycle, lambda: RULES, GuildSettings(store, lambda: RULES, MemoryModLog()))
    await store.close()


async def test_defaults_fill_what_the_member_left_empty(intake: Intake) -> None:
    accepted = await intake.take(request())
    task = accepted.task
    assert accepted.created and accepted.audio == WAV
    assert (task.title, task.tags, task.negative_tags, task.model) == (
        "my take",
        "full band",
        "noise",
        "V4_5PLUS",
    )
    assert task.placing_until is not None
    assert task.placing_until - task.created_at == pytest.approx(PLACING_WINDOW, abs=1)


async def test_the_members_options_win_and_are_normalised(intake: Intake) -> None:
    options = Options(
        tags=" lo-fi ",
        title="  Night   drive ",
        style_weight=0.456,
        weirdness=0,
        vocal_gender="female",
        model="V5",
    )
    task = (await intake.take(request(options))).task
    assert (task.title, task.tags, task.model, task.vocal_gender) == (
        "Night drive",
        "lo-fi",
        "V5",
        "f",
    )
    assert (task.style_weight, task.weirdness, task.audio_weight) == (0.46, 0.0, None)


async def test_one_key_one_task(intake: Intake) -> None:
    first = await intake.take(request(key=9))
    again = await intake.take(request(key=9))
    assert first.created and not again.created and again.task.id == first.task.id


def _id3_then_html() -> bytes:
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"<html><body>not audio</body></html>" * 20


@pytest.mark.parametrize(
    ("options", "audio", "expected"),
    [
        (Options(style_weight=1.5), None, "Style weight must be a number from 0 to 1"),
        (Options(weirdness=float("nan")), None, "Weirdness must be a number from 0 to 1"),
        (Options(model="V3"), None, "The model V3 is not offered here."),
        (Options(vocal_gender="robot"), None, "Vocal gender can be male or female."),
        (Options(title="x" * 101), None, "The title can be at most 100 characters"),
        (Options(tags="x" * 1001), None, "Tags can be at most 1000 characters"),
        (None, recording(b""), "That file is empty"),
        (None, recording(WAV, size=2 * 1024 * 1024), "can be at most 1 MB"),
        (None, recording(_id3_then_html(), "fake.mp3"), "isn't a recording I can read"),
        (None, recording(make_wav(1.0)), "must be at least 3 seconds"),
        (None, recording(make_wav(61.0, sample_rate=8000)), "I can use at most 60 seconds"),
        (None, recording(b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt "), "isn't a recording"),
    ],
)
async def test_refusals_record_nothing(
    intake: Intake, options: Options | None, audio: Recording | None, expected: str
) -> None:
    with pytest.raises(Refusal) as refused:
        await intake.take(request(options, audio))
    assert expected in str(refused.value)
    assert await intake.lifecycle.recent(42) == []


async def test_rules_are_read_at_each_request(intake: Intake) -> None:
    current = [RULES]
    intake.rules = lambda: current[0]
    current[0] = replace(RULES, default_tags="changed by a moderator")
    assert (await intake.take(request())).task.tags == "changed by a moderator"


async def test_twenty_requests_at_once_download_one_recording(intake: Intake) -> None:
    """Issue 23, finding 6: the member's slot is taken before the download, so the other
    nineteen are refused without touching the file (here by a 60 s cooldown; then by a
    limit of two running requests, the first round's one still running)."""
    for limit in ({"cooldown_seconds": 60}, {"concurrent_per_member": 2}):
        await intake.guilds.change(3, **limit)
        downloads = 0
        release = asyncio.Event()

        async def read(release: asyncio.Event = release) -> bytes:
            nonlocal downloads
            downloads += 1
            await release.wait()  # every request has arrived before the first is checked
            return WAV

        slow = replace(recording(), read=read)
        base = 100 if "cooldown_seconds" in limit else 200
        asked = [
            asyncio.create_task(intake.take(request(audio=slow, key=base + i))) for i in range(20)
        ]
        await asyncio.sleep(0.05)
        release.set()
        outcomes = await asyncio.gather(*asked, return_exceptions=True)
        refused = [str(o) for o in outcomes if isinstance(o, Refusal)]
        assert len(refused) == 19 and downloads == 1, refused
        if "cooldown_seconds" in limit:
            assert all(r.startswith("Slow down:") for r in refused)
        else:
            assert all(r.startswith("You already have 2 requests in progress") for r in refused)
        await intake.guilds.change(3, cooldown_seconds=0)
    assert len(await intake.lifecycle.store.recent_tasks(42, 100)) == 2  # one per round

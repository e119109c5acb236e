"""What a member sees when something goes wrong around a request (issue 9): the answer once
a task is recorded, posts Discord can drop if repeated, a bot that is stopping."""

from __future__ import annotations

import asyncio
import re

import discord
import pytest

from bot.app import RESTARTING
from cogs.instrumental.start import GOT_IT_LATER
from tests.harness import WAV, Harness, World, bot_messages
from tests.support.waiting import wait_until


def track_posts(channel: object, bot: discord.Client) -> list[discord.Message]:
    return [
        m
        for m in bot_messages(channel, bot)
        if m.embeds and (m.embeds[0].footer.text or "").startswith("track ")
    ]


async def test_once_recorded_the_answer_is_got_it_even_if_the_card_fails(
    harness: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A "try again" here would charge twice: the card comes later, from the scheduler."""
    placement = harness.bot.starter.placement
    real_post = placement.post_card
    calls = 0

    async def fails_once(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise discord.DiscordServerError(_response(503), "Discord is having a moment")
        return await real_post(*args, **kwargs)

    monkeypatch.setattr(placement, "post_card", fails_once)
    harness.start_lifecycle()
    r = await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    assert r.ephemeral and r.response.content == GOT_IT_LATER

    thread = await wait_until(lambda: world.channel.threads and world.channel.threads[0])
    await wait_until(lambda: len(track_posts(thread, harness.bot)) == 2)
    [task] = await harness.tasks(world.alice.id)
    assert task.card_message_id == thread.id and harness.submissions() == 1


async def test_every_post_carries_a_nonce_discord_enforces(harness: Harness, world: World) -> None:
    """discord.py retries a POST after a 5xx; with enforce_nonce Discord drops the repeat."""
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    [thread] = world.channel.threads
    await wait_until(lambda: len(track_posts(thread, harness.bot)) == 2)
    await harness.env.settle()

    nonces = []
    for request in harness.env.http_requests:
        if request.method == "POST" and re.fullmatch(r".*/channels/\d+/messages", request.path):
            body = request.json if isinstance(request.json, dict) else {}
            assert body.get("enforce_nonce") is True, request.path
            nonces.append(body["nonce"])
    assert len(nonces) == 4 and len(set(nonces)) == 4  # card, input, two tracks
    assert all(len(n) <= 25 for n in nonces)  # Discord's limit


async def test_a_stopping_bot_takes_no_new_request(harness: Harness, world: World) -> None:
    harness.bot.stopping = True  # SIGTERM received: submissions in flight finish, nothing new
    r = await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    assert r.ephemeral and r.response.content == RESTARTING
    assert await harness.tasks(world.alice.id) == []
    assert bot_messages(world.channel, harness.bot) == []


def _response(status: int) -> object:
    class Response:
        reason = "Service Unavailable"

    response = Response()
    response.status = status  # type: ignore[attr-defined]
    return response


def test_api_urls_render_only_as_plain_links() -> None:
    from cogs._ui import link_target

    hostile = "https://cdn.example/a).mp3 [click](https://evil.example) <@&1> @everyone"
    target = link_target(hostile)
    assert not set(target) & set(" ()[]<>")  # nothing that ends the link or starts markup
    assert target.startswith("https://cdn.example/a%29.mp3%20%5Bclick%5D")


async def test_a_track_posted_just_before_a_crash_is_found_after_60_more_messages(
    harness: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22, defect 4: the process dies between posting a track and recording it, the
    thread goes on (60 messages), a new process starts. The post is found from the marker
    written before it, not by reading the last 50 messages (which missed it, and Discord
    drops a repeated nonce only for a few minutes): the track is not posted again."""
    store = harness.bot.store
    real_delivered = store.delivered
    crashed = asyncio.Event()

    async def dies_before_recording(track_id: int, message_id: int, now: float) -> bool:
        if not crashed.is_set():
            crashed.set()
            await asyncio.Event().wait()  # the process is gone before the store hears of it
        return await real_delivered(track_id, message_id, now)

    monkeypatch.setattr(store, "delivered", dies_before_recording)
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    [thread] = world.channel.threads
    await wait_until(lambda: len(track_posts(thread, harness.bot)) == 2)
    await asyncio.wait_for(crashed.wait(), 10)
    for number in range(60):
        await world.alice.send(thread, f"love this one ({number})")

    bot = await harness.restart()
    [task] = await harness.tasks(world.alice.id)
    await wait_until(lambda: delivered(bot, task.id), timeout=20)
    await harness.env.settle()
    assert len(track_posts(thread, bot)) == 2


async def delivered(bot: discord.Client, task_id: int) -> bool:
    tracks = await bot.store.tracks_for_task(task_id)  # type: ignore[attr-defined]
    return bool(tracks) and all(t.delivery == "delivered" for t in tracks)

"""Money safety where the member's side matters (issue 21): through real discord.py in
simcord, the bot, and the simulator over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.store import TaskState
from tests.cogs.test_delivery_faults import card_stage, requested
from tests.harness import WAV, Harness, World, bot_messages
from tests.support.waiting import wait_until


async def test_a_request_queued_in_a_pause_is_not_sent_once_the_bot_left_the_server(
    harness: Harness, world: World
) -> None:
    sim = harness.simulator
    sim.config.credits = 0.0  # every submission is refused: the queue pauses
    async with requested(harness, world) as run:
        run.start()
        await wait_until(harness.bot.lifecycle.api.pause.current)
        harness.env.backend.remove_guild(world.guild.id)  # the bot is removed meanwhile
        # Its card is redrawn (the line moves) and can no longer be: the request is
        # dropped and the requester told by DM.
        lifecycle = harness.bot.lifecycle
        await harness.bot.store.mark_card_dirty([(await run.task()).id], lifecycle.now())
        lifecycle.wake()
        await wait_until(run.dms)
        sim.config.credits = 500.0  # the pause ends
        await wait_until(_resumed(harness))
        await asyncio.sleep(0.5)  # time for a wrong submission
        task = await run.task()

    assert task.state == TaskState.FAILED and task.quota_returned
    assert sum(sim.charges.values()) == 0 and not sim.tasks  # never charged
    [dm] = run.dms()
    assert "nothing was charged" in dm.content


def _resumed(harness: Harness) -> Callable[[], Awaitable[bool]]:
    async def resumed() -> bool:
        return await harness.bot.lifecycle.api.pause.current() is None

    return resumed


async def test_an_unknown_failure_shows_the_apis_own_words_as_plain_text(
    harness: Harness, world: World
) -> None:
    message = "Flagged by **moderation** @everyone <@1> [x](http://evil.example)"
    harness.simulator.plan_next(
        status="AUDIO_MODERATION_FAILED", error_code=531, error_message=message
    )
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    [thread] = world.channel.threads

    await wait_until(lambda: card_stage(world.channel).startswith("❌ Failed:"))
    stage = card_stage(world.channel)
    assert "code 531" in stage and "Flagged by" in stage
    notice = await wait_until(
        lambda: [m for m in bot_messages(thread, harness.bot) if m.content.startswith("<@")]
    )
    stored = harness.env.backend.get_message(thread.id, notice[0].id)
    assert "Flagged by" in notice[0].embeds[0].description
    assert not stored.mention_everyone and stored.ping_user_ids == [world.alice.id]
    for shown in (stage, notice[0].embeds[0].description):
        assert "@everyone" not in shown and "<@1>" not in shown and "](" not in shown

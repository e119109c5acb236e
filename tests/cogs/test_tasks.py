"""`/tasks`: the caller's own recent requests, shown only to them."""

from __future__ import annotations

from bot.store import NewTask
from tests.harness import WAV, Harness, World
from tests.support.waiting import wait_until


def new_task(world: World, user_id: int, interaction_id: int, title: str, **extra) -> NewTask:
    return NewTask(
        interaction_id=interaction_id,
        user_id=user_id,
        guild_id=world.guild.id,
        channel_id=world.channel.id,
        upload_url="https://cdn.example/a.wav",
        title=title,
        tags="funk",
        negative_tags="noise",
        model="V4_5PLUS",
        **extra,
    )


async def test_no_tasks_yet(harness: Harness, world: World) -> None:
    r = await world.alice.slash(world.channel, "tasks")
    assert r.ephemeral
    assert r.response.content == "You have no requests yet: try `/instrumental` with a recording."


async def test_lists_only_the_callers_tasks(harness: Harness, world: World) -> None:
    store = harness.bot.store
    await store.create_task(new_task(world, world.alice.id, 1, "Alice one", thread_id=555))
    failed, _ = await store.create_task(new_task(world, world.alice.id, 2, "Alice *two*"))
    await store.fail_task(
        failed.id, "The music service refused the request.", now=failed.created_at
    )
    await store.create_task(new_task(world, world.bob.id, 3, "Bob's secret"))

    r = await world.alice.slash(world.channel, "tasks")

    assert r.ephemeral
    [embed] = r.response.embeds
    lines = embed.description.splitlines()
    assert "Bob" not in embed.description
    assert lines[0].startswith("❌ failed · **Alice \\*two\\***")  # newest first, markdown inert
    assert "↳ The music service refused the request." in lines[1]
    assert lines[2].startswith("⏳ waiting · **[Alice one](https://discord.com/channels/")
    assert f"/{world.guild.id}/555)" in lines[2] and "<t:" in lines[2]


async def test_a_real_request_links_to_its_thread(harness: Harness, world: World) -> None:
    harness.start_lifecycle()
    await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    [thread] = world.channel.threads
    await wait_until(lambda: len(thread.history()) >= 3)  # input + 2 tracks

    r = await world.alice.slash(world.channel, "tasks")
    [embed] = r.response.embeds
    assert f"https://discord.com/channels/{world.guild.id}/{thread.id}" in embed.description
    bob = await world.bob.slash(world.channel, "tasks")
    assert bob.response.content.startswith("You have no requests yet")

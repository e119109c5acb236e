""" "Add instrumental" reads only what the member could read, and a jam entry is the entrant's
own recording (issue 23, findings 1 and 11): real discord.py in simcord, from the member's
side, and nothing submitted when refused."""

from __future__ import annotations

import io
from typing import Any

import discord

from cogs.instrumental.menu import NO_AUDIO
from tests.harness import WAV, Harness, World


async def bot_post(harness: Harness, channel: Any, filename: str) -> discord.Message:
    """A post of the bot's own with a recording, as its result posts are."""
    where = harness.bot.get_channel(channel.id)
    assert isinstance(where, discord.TextChannel)
    return await where.send(f"🎵 {filename}", file=discord.File(io.BytesIO(WAV), filename))


def link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"listen: https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


async def refused_link(harness: Harness, world: World, text: str) -> None:
    message = await world.alice.send(world.channel, text)
    r = await world.alice.context_menu(world.channel, "Add instrumental", message)
    assert r.modal is None and r.ephemeral and r.response.content == NO_AUDIO
    assert await harness.tasks(world.alice.id) == [] and harness.submissions() == 0


async def test_a_link_is_followed_only_where_the_member_could_read_it(
    harness: Harness, world: World
) -> None:
    hidden = discord.PermissionOverwrite(view_channel=False)
    staff = world.guild.create_text_channel(
        "staff",
        overwrites={
            world.guild.default_role: hidden,
            harness.bot.user: discord.PermissionOverwrite(view_channel=True),
        },
    )
    secret = await bot_post(harness, staff, "staff-only.wav")
    await refused_link(harness, world, link(world.guild.id, staff.id, secret.id))

    # Another server's channel put under this server's id in the link.
    other = harness.env.create_guild(name="elsewhere")
    abroad = other.create_text_channel("their-music")
    theirs = await bot_post(harness, abroad, "theirs.wav")
    await refused_link(harness, world, link(world.guild.id, abroad.id, theirs.id))
    await refused_link(harness, world, link(other.id, abroad.id, theirs.id))

    # Where the member can read it, the link is followed.
    public = await bot_post(harness, world.channel, "ours.wav")
    message = await world.alice.send(
        world.channel, link(world.guild.id, world.channel.id, public.id)
    )
    shown = await world.alice.context_menu(world.channel, "Add instrumental", message)
    assert shown.modal is not None
    done = await world.alice.submit_modal(shown, {"title": "Ours"})
    assert done.response.content.startswith("Got it!"), done.response.content
    [task] = await harness.tasks(world.alice.id)
    assert task.input_filename == "ours.wav"

"""Who asks, where and with which recording: a Discord interaction as the intake's `Request`."""

from __future__ import annotations

import logging

import discord

from bot.app import Postable
from bot.core.intake import Options, Recording, Request
from bot.errors import Refusal
from cogs._ui import is_moderator

log = logging.getLogger(__name__)


def channel_permissions(interaction: discord.Interaction, channel: Postable) -> discord.Permissions:
    """The bot's permissions where the card goes (the interaction's channel, or a take's
    thread elsewhere)."""
    if interaction.channel is not None and channel.id == interaction.channel.id:
        return interaction.app_permissions
    guild = interaction.guild
    assert guild is not None and guild.me is not None
    return channel.permissions_for(guild.me)


def usable_channel(interaction: discord.Interaction, channel: object = None) -> Postable:
    """The channel (the interaction's, by default), if the bot can post, embed, attach and
    read back there."""
    if channel is None:
        channel = interaction.channel
    if not isinstance(channel, Postable):
        raise Refusal("I can't post results in this kind of channel; try a text channel.")
    perms = channel_permissions(interaction, channel)
    in_thread = isinstance(channel, discord.Thread)
    needed = (
        ("send messages", perms.send_messages_in_threads if in_thread else perms.send_messages),
        ("embed links", perms.embed_links),
        ("attach files", perms.attach_files),
        ("read message history", perms.read_message_history),
    )
    missing = [name for name, ok in needed if not ok]
    if missing:
        raise Refusal(f"I can't work here: I need permission to {', '.join(missing)}.")
    return channel


def recording_of(
    attachment: discord.Attachment, owner_id: int | None = None, *, voice: bool = False
) -> Recording:
    """`owner_id`: who posted the file, when it is not the member asking; `voice`: the
    attachment is a Discord voice message's (the message's flag)."""

    async def read() -> bytes:
        try:
            return await attachment.read()
        except discord.HTTPException as exc:
            log.warning("could not read attachment %s (%s)", attachment.id, exc)
            raise Refusal("I couldn't download that file from Discord; please try again.") from None

    return Recording(
        url=attachment.url,
        filename=attachment.filename,
        size=attachment.size,
        read=read,
        owner_id=owner_id,
        voice=voice or attachment.is_voice_message(),
    )


def request_of(
    interaction: discord.Interaction, channel: Postable, recording: Recording, options: Options
) -> Request:
    """Who asks and where, as the intake needs it (roles and Manage Server for the
    server's access rules)."""
    member = interaction.user
    in_thread = isinstance(channel, discord.Thread)
    return Request(
        key=interaction.id,
        user_id=member.id,
        guild_id=interaction.guild_id,
        channel_id=channel.id,
        thread_id=channel.id if in_thread else None,
        parent_channel_id=channel.parent_id if isinstance(channel, discord.Thread) else None,
        recording=recording,
        options=options,
        role_ids=frozenset(role.id for role in getattr(member, "roles", ())),
        moderator=is_moderator(interaction),
    )

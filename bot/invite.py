"""The permissions backline asks for when it is added to a server: the README's invite link
is built from them, and the test Discord gives the bot exactly these, so a feature that
needs one more fails a test instead of a server."""

from __future__ import annotations

import discord

# Each one is used: read and post where it is asked (View Channels, Send Messages), post
# the card, its thread and the tracks (Create Public Threads, Send Messages in Threads,
# Embed Links, Attach Files), find its own posts again after a restart (Read Message
# History). Deleting a take removes the bot's own posts, which needs nothing more; the
# thread itself is deleted only where a server also gave Manage Threads.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)

# How the developer portal names them (OAuth2 → URL Generator), for the README; a test
# checks that this covers every permission granted above.
PORTAL_NAMES = {
    "view_channel": "View Channels",
    "send_messages": "Send Messages",
    "send_messages_in_threads": "Send Messages in Threads",
    "create_public_threads": "Create Public Threads",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
    "read_message_history": "Read Message History",
}


def invite_url(application_id: int | str = "APPLICATION_ID") -> str:
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope=bot+applications.commands&permissions={INVITE_PERMISSIONS.value}"
    )


def permission_names() -> list[str]:
    return [label for name, label in PORTAL_NAMES.items() if getattr(INVITE_PERMISSIONS, name)]

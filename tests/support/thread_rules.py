"""Discord's documented permission rules for editing and deleting threads, in simcord.

simcord asks Manage Channels for every channel edit or deletion, threads included; Discord
asks less for threads (https://discord.com/developers/docs/resources/channel, "Modify
Channel" for threads and "Delete/Close Channel"):
- deleting a thread needs Manage Threads;
- reopening an unlocked thread (`archived: false`) needs only the right to post;
- the thread's creator may rename, archive and reopen it; anything else (locking, or
  reopening a locked one) needs Manage Threads.
With the bot holding only its invite's permissions, these are the rules it meets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import discord
from simcord.backend import errors
from simcord.http import router

CREATOR_MAY = {"name", "archived", "auto_archive_duration", "applied_tags"}


def _bot_has(ctx: router.RequestContext, channel: Any, name: str) -> bool:
    backend = ctx.backend
    perms = backend.compute_permissions(channel.guild_id, backend.bot_user.id, channel.id)
    return bool(perms & getattr(discord.Permissions, name).flag)


def _thread_allowed(ctx: router.RequestContext, channel: Any, method: str) -> bool:
    if _bot_has(ctx, channel, "manage_threads"):
        return True
    if method == "DELETE":
        return False
    body = ctx.body()
    locked = bool(channel.thread_metadata and channel.thread_metadata.locked)
    if body.get("locked") or locked:
        return False
    if set(body) == {"archived"} and body["archived"] is False:
        return _bot_has(ctx, channel, "send_messages_in_threads")
    return channel.owner_id == ctx.backend.bot_user.id and set(body) <= CREATOR_MAY


class _Checked(router.RequestContext):
    """The request once Discord's thread rule allowed it: the handler's Manage Channels
    check becomes a lookup."""

    def require_channel_permissions(self, channel_id: int, *names: str) -> Any:
        return self.backend.get_channel(channel_id)


def _with_thread_rules(method: str, handler: router.Handler) -> router.Handler:
    def handle(ctx: router.RequestContext) -> Any:
        channel = ctx.backend.channels.get(ctx.int_arg("channel_id"))
        if channel is None or not channel.is_thread:
            return handler(ctx)
        ctx.backend.require_permissions(
            channel.guild_id, ctx.backend.bot_user.id, channel.id, "view_channel"
        )
        if not _thread_allowed(ctx, channel, method):
            raise errors.missing_permissions()
        checked = _Checked(**{f: getattr(ctx, f) for f in ctx.__dataclass_fields__})
        return handler(checked)

    return handle


@contextmanager
def discord_thread_rules() -> Iterator[None]:
    routes = router._ROUTES
    saved = {method: list(routes[method]) for method in ("PATCH", "DELETE")}
    for method in saved:
        routes[method] = [
            (template, _with_thread_rules(method, handler))
            if template == ["channels", "{channel_id}"]
            else (template, handler)
            for template, handler in saved[method]
        ]
    try:
        yield
    finally:
        routes.update(saved)

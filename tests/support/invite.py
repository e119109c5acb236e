"""simcord as a server that added the bot with the README's invite link: the bot holds
exactly the permissions that link asks for (tests and benchmarks alike)."""

from __future__ import annotations

from typing import Any

import discord
import simcord

from bot.invite import INVITE_PERMISSIONS


class InviteEnv(simcord.Env):
    """simcord, with the bot holding exactly the permissions the README's invite asks for
    in every server (simcord's default is everything but administrator), like a server
    that added it with that link. @everyone keeps Discord's defaults, as on a new server."""

    def create_guild(self, *args: Any, **kwargs: Any) -> simcord.GuildHandle:
        guild = super().create_guild(*args, **kwargs)
        self.grant_bot(guild)
        return guild

    def grant_bot(self, guild: simcord.GuildHandle, **more: bool) -> None:
        """The bot's role holds the invite's permissions, plus `more` (a server that gave
        it more by hand)."""
        permissions = discord.Permissions(INVITE_PERMISSIONS.value, **more)
        backend = self.backend
        for role_id in backend.get_member(guild.id, backend.bot_user.id).role_ids:
            backend.edit_role(guild.id, role_id, {"permissions": permissions.value})

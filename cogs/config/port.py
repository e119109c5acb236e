"""`DiscordModLog`, the core's `ModLogPort` on Discord (one of `cogs/ports.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from cogs._ui import clip

if TYPE_CHECKING:
    from bot.app import Backline


class DiscordModLog:
    """The core's `ModLogPort`: posts a line in a server's log channel, pinging no one."""

    def __init__(self, bot: Backline) -> None:
        self.bot = bot

    async def post(self, guild_id: int, channel_id: int, text: str) -> None:
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"log channel {channel_id} of guild {guild_id} cannot take messages")
        await channel.send(clip(text, 2000), allowed_mentions=discord.AllowedMentions.none())

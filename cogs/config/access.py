"""`/config channels`, `/config role`, `/config jam_role`: where the bot works and who may
use it or host jams."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands

from bot.core.guilds import CHANNELS_MAX, GuildConfig
from bot.errors import Refusal
from cogs.config.base import ConfigBase

Place = discord.TextChannel | discord.ForumChannel | discord.VoiceChannel | discord.Thread


class AccessCommands(ConfigBase):
    @app_commands.command(name="channels")
    @app_commands.describe(
        action="allow: add a channel; remove: take it off; clear: everywhere again",
        channel="The channel (a thread counts as its parent)",
    )
    async def channels(
        self,
        interaction: discord.Interaction,
        action: Literal["allow", "remove", "clear"],
        channel: Place | None = None,
    ) -> None:
        """Where /instrumental works. An empty list means everywhere I can post."""
        if action != "clear" and channel is None:
            raise Refusal(f"Pick the channel to {action}.")

        def edit(config: GuildConfig) -> GuildConfig:
            current = list(config.channels)
            if action == "clear":
                current = []
            elif action == "allow" and channel is not None and channel.id not in current:
                if len(current) >= CHANNELS_MAX:
                    raise Refusal(f"At most {CHANNELS_MAX} channels can be listed.")
                current.append(channel.id)
            elif action == "remove" and channel is not None:
                if channel.id not in current:
                    raise Refusal(f"{channel.mention} is not on the list.")
                current.remove(channel.id)
            return config.model_copy(update={"channels": tuple(current)})

        change = await self.bot.guild_settings.edit(self.guild_id(interaction), edit)
        await self.saved(interaction, "channels", change)

    @app_commands.command(name="role")
    @app_commands.describe(role="The role members need", clear="Everyone may use the bot again")
    async def role(
        self,
        interaction: discord.Interaction,
        role: discord.Role | None = None,
        clear: bool = False,
    ) -> None:
        """The role a member needs to use the bot (moderators are never locked out)."""
        await self.set_role(interaction, "role", "role_id", role, clear, "let everyone use the bot")

    @app_commands.command(name="jam_role")
    @app_commands.describe(
        role="Members with it may start and end jams", clear="Only Manage Server"
    )
    async def jam_role(
        self,
        interaction: discord.Interaction,
        role: discord.Role | None = None,
        clear: bool = False,
    ) -> None:
        """The role that may host jams (start and end them), besides moderators."""
        await self.set_role(
            interaction, "jam_role", "jam_role_id", role, clear, "leave jams to moderators"
        )

    async def set_role(
        self,
        interaction: discord.Interaction,
        what: str,
        setting: str,
        role: discord.Role | None,
        clear: bool,
        cleared: str,
    ) -> None:
        if not clear and role is None:
            raise Refusal(f"Pick a role, or `clear` to {cleared}.")
        await self.change(
            interaction, what, **{setting: None if clear or role is None else role.id}
        )

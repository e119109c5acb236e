"""The one voice for errors: a command (the tree hands its errors to this extension's cog),
a view, a form or a dynamic button that fails answers the member here. Expected problems (a
`Refusal`, a failed check, a cooldown) get their one sentence, privately; anything else is
logged with its context and the member gets a plain apology."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import send_private
from bot.errors import Refusal
from cogs.reasons import reason

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on our side. It has been logged; please try again later."


async def answer_error(interaction: discord.Interaction[Any], error: Exception, what: str) -> None:
    """Expected problems (a `Refusal`, a failed check, a cooldown) get their one sentence,
    privately; anything else is logged with the guild, channel and user ids and `what` failed
    (a command, a form, a button), and the member gets a plain apology."""
    original = getattr(error, "original", error)  # a command's error wraps the raised one
    if isinstance(original, Refusal):
        message = reason(original)
    elif isinstance(error, app_commands.CommandOnCooldown):
        message = f"Slow down: try again in {error.retry_after:.0f} seconds."
    elif isinstance(error, app_commands.CheckFailure):
        message = str(error) or "You can't use this command here."
    else:
        log.error(
            "%s failed (guild %s, channel %s, user %s)",
            what, interaction.guild_id, interaction.channel_id, interaction.user.id,
            exc_info=original,
        )  # fmt: skip
        message = APOLOGY
    await send_private(interaction, message)


class View(discord.ui.View):
    """A view whose buttons' errors are answered in the one voice."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        custom_id = getattr(item, "custom_id", None)
        await answer_error(interaction, error, f"view {type(self).__name__} ({custom_id})")


class Modal(discord.ui.Modal):
    """A form whose errors are answered in the one voice."""

    async def on_error(
        self,
        interaction: discord.Interaction[Any],
        error: Exception,
        _: discord.ui.Item[Any] | None = None,  # views pass one; discord.py's Modal does not
        /,
    ) -> None:
        await answer_error(interaction, error, f"form {type(self).__name__}")


class Pressed:
    """The one voice for a `discord.ui.DynamicItem` (discord.py only logs what its callback
    raises): list this class first among the bases and write `press` instead of `callback`."""

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self.press(interaction)
        except Exception as error:  # noqa: BLE001 - answered (and logged) in the one voice
            await answer_error(interaction, error, f"button {type(self).__name__}")

    async def press(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError


class Voice(commands.Cog):
    """Answers what a command raised (the tree dispatches it as `app_command_error`)."""

    @commands.Cog.listener()
    async def on_app_command_error(
        self, interaction: discord.Interaction[Backline], error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        await answer_error(interaction, error, f"command {command}")


async def setup(bot: Backline) -> None:
    await bot.add_cog(Voice())

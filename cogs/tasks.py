"""`/tasks`: the caller's recent requests, shown only to them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.tasks import display_of
from bot.store import TaskRow, TaskState
from cogs._ui import STATUS_WORDS, clip, jump_url, require_moderator, shown
from cogs.instrumental.render import ORIGIN_WORDS

if TYPE_CHECKING:
    from bot.app import Backline

RECENT = 10
SERVER_LIST = 25


def task_line(task: TaskRow) -> str:
    # A track list is not needed for the label: a track given up is noted on the task,
    # and otherwise delivery state only refines "done".
    display = display_of(task, [])
    state = STATUS_WORDS[display]
    link = jump_url(task)
    name = f"[{shown(task.title, 80, 'label')}]({link})" if link else shown(task.title, 80)
    line = f"{state} · **{name}** · <t:{int(task.created_at)}:R>"
    if task.parent_id is not None:  # a re-roll, tweak or retry of an earlier take
        line += f" · {ORIGIN_WORDS.get(task.origin, task.origin)} of #{task.parent_id}"
    elif task.origin == "menu":
        line += " · from a message"
    if task.state == TaskState.FAILED and task.error:
        line += f"\n  ↳ {clip(task.error, 200)}"
    elif display == "undelivered" and task.delivery_error:
        line += f"\n  ↳ {clip(task.delivery_error, 200)}"
    elif task.card_error:
        line += f"\n  ↳ Its status card can't be updated: {clip(task.card_error, 200)}"
    return line


class Tasks(commands.Cog):
    def __init__(self, bot: Backline) -> None:
        self.bot = bot

    @app_commands.command(name="tasks")
    @app_commands.describe(
        scope="mine: your recent requests; server: every running one (moderators)"
    )
    async def tasks(
        self, interaction: discord.Interaction, scope: Literal["mine", "server"] = "mine"
    ) -> None:
        """Your recent instrumental requests and how they are doing."""
        if scope == "server":
            await self.server_tasks(interaction)
            return
        rows = await self.bot.lifecycle.recent(interaction.user.id, RECENT)
        if not rows:
            await interaction.response.send_message(
                "You have no requests yet: try `/instrumental` with a recording.", ephemeral=True
            )
            return
        embed = discord.Embed(
            title="Your recent requests",
            description="\n".join(task_line(task) for task in rows),
            colour=discord.Colour.blurple(),
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def server_tasks(self, interaction: discord.Interaction) -> None:
        """A moderator's view of the queue: the server's running and queued tasks."""
        require_moderator(interaction, "`/tasks scope: server`")
        assert interaction.guild_id is not None
        rows = await self.bot.store.running_in_guild(interaction.guild_id, SERVER_LIST)
        if not rows:
            await interaction.response.send_message(
                "Nothing is running or queued in this server.", ephemeral=True
            )
            return
        more = "+" if len(rows) == SERVER_LIST else ""
        embed = discord.Embed(
            title=f"Running and queued in this server ({len(rows)}{more})",
            description=clip("\n".join(f"{task_line(t)} · <@{t.user_id}>" for t in rows), 4096),
            colour=discord.Colour.blurple(),
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: Backline) -> None:
    await bot.add_cog(Tasks(bot))

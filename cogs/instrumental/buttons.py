"""The result buttons on a task's card (Re-roll, Tweak, Details, Delete, Retry).

Each button is a `DynamicItem` whose custom id carries the action and the task id, so it
works after a restart and for as long as the card exists; no view is kept in memory. What
a button does is in `takes`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.app import RESTARTING, send_private
from bot.core.tasks import TaskView
from cogs.instrumental.takes import Takes
from cogs.voice import Pressed

if TYPE_CHECKING:
    from bot.app import Backline

LABELS = {
    "reroll": ("Re-roll", discord.ButtonStyle.primary, "🎲"),
    "tweak": ("Tweak", discord.ButtonStyle.secondary, "🎚️"),
    "details": ("Details", discord.ButtonStyle.secondary, "🔎"),
    "delete": ("Delete", discord.ButtonStyle.danger, "🗑️"),
    "retry": ("Retry", discord.ButtonStyle.primary, "🔁"),
}


class TaskButton(
    Pressed,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"bl:(?P<action>reroll|tweak|details|delete|retry):(?P<task>[0-9]+)",
):
    """A result button; its custom id carries the action and the task."""

    def __init__(self, action: str, task_id: int) -> None:
        label, style, emoji = LABELS[action]
        super().__init__(
            discord.ui.Button(
                label=label, style=style, emoji=emoji, custom_id=f"bl:{action}:{task_id}"
            )
        )
        self.action = action
        self.task_id = task_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> TaskButton:
        return cls(match["action"], int(match["task"]))

    async def press(self, interaction: discord.Interaction[Any]) -> None:
        bot: Backline = interaction.client
        if bot.stopping:
            await send_private(interaction, RESTARTING)
            return
        await Takes(bot).run(interaction, self.action, self.task_id)


def buttons_for(view: TaskView) -> discord.ui.View:
    """The card's buttons for what the task shows now (none while it runs)."""
    task = view.task
    actions: list[str] = []
    if view.display in ("done", "undelivered"):
        actions = ["reroll", "tweak", "details", "delete"]
    elif view.display == "failed":
        actions = (["retry"] if task.can_retry else []) + ["details", "delete"]
    buttons = discord.ui.View(timeout=None)
    for action in actions:
        buttons.add_item(TaskButton(action, task.id))
    buttons.stop()  # dispatched by its template, not kept in the bot's view store
    return buttons

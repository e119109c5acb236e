"""`/instrumental` and the Discord side of the task lifecycle.

- `command`: the slash command, a thin translator onto the starter.
- `start`: `Starter`, the one way every request starts (slash, menu, Re-roll, Tweak, Retry):
  the intake, then the card. The bot holds it as `bot.starter`.
- `menu`: "Add instrumental", the message context menu and its form.
- `buttons`: the result buttons on a card; `takes`: what they do.
- `placement`: the status card, its thread and the input post; where a task lives.
- `posting`: track posts (file or link) and failure notices.
- `render`: embeds for cards, tracks and notices (no I/O).
- `delivery`: `DiscordDelivery`, the lifecycle's delivery port, built from the two above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.instrumental.command import Instrumental
from cogs.instrumental.delivery import DiscordDelivery

if TYPE_CHECKING:
    from bot.app import Backline

__all__ = ["DiscordDelivery", "Instrumental", "setup"]


async def setup(bot: Backline) -> None:
    await bot.add_cog(Instrumental(bot))

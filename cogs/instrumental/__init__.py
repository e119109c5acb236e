"""`/instrumental`: the command, the status card and the delivery port's Discord side.

- `command`: the slash command, the checks, recording the task and posting the card.
- `card`: rendering of cards, track posts and failure notices (no I/O).
- `delivery`: `DiscordDelivery`, the lifecycle's delivery port.
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

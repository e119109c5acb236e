"""`/jam`: community jam sessions, the Discord side of `bot.core.jams`.

`/jam` is visible to every member (`status`, `leaderboard`); `start` and `end` are checked
by the bot: Manage Server, or the jam host role (`/config jam_role`). Entries are ordinary
requests made in the jam's thread; during the vote each entry has a message with a Vote
button (a dynamic item: it works after a restart).

- `command`: `/jam` (start, status, end, leaderboard) and the end confirmation.
- `port`: `DiscordJamPort`, the core's port, and the Vote button.
- `render`: the card, deadlines, entrants, phase words (no I/O).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.jam.command import Jam

if TYPE_CHECKING:
    from bot.app import Backline

__all__ = ["Jam", "setup"]


async def setup(bot: Backline) -> None:
    await bot.add_cog(Jam(bot))

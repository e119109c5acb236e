"""The core's ports on Discord, as an extension the bot loads before its services open
(`bot.app.PORTS`): the task delivery, the jam's posts, the moderators' log. The core is
built with them and calls them only once Discord is up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services import Ports
from cogs.config.port import DiscordModLog
from cogs.instrumental.delivery import DiscordDelivery
from cogs.jam.port import DiscordJamPort

if TYPE_CHECKING:
    from bot.app import Backline


async def setup(bot: Backline) -> None:
    bot.ports = Ports(
        delivery=DiscordDelivery(bot), jams=DiscordJamPort(bot), mod_log=DiscordModLog(bot)
    )

"""`/config`: moderators choose where the bot works, for whom, how much, with which defaults.

A thin translator onto `GuildSettings`: each subcommand validates through it, answers the
moderator privately with what changed, and writes the change to the log channel. The cog is
split Red-style into mixins, one per section of `/config show`:

- `cog`: `Config`, the `/config` group: the moderator check, `reset`.
- `base`: `ConfigBase`, what every subcommand shares (save, answer, tell the log).
- `show`: `/config show` and its sections.
- `defaults`: `defaults` and `limits`, what a request gets.
- `access`: `channels`, `role`, `jam_role`, who may use the bot where.
- `results`: `delivery`, `rerolls`, `log_channel`, `credit_alert`, `blocked_words`.
- `views`: the confirmation of `reset`.
- `port`: `DiscordModLog`, the core's port onto the log channel.

How each setting reads (labels, bot defaults, the lines of a change) is in
`cogs/settings_words.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.config.cog import Config
from cogs.config.port import DiscordModLog

if TYPE_CHECKING:
    from bot.app import Backline

__all__ = ["Config", "DiscordModLog", "setup"]


async def setup(bot: Backline) -> None:
    await bot.add_cog(Config(bot))

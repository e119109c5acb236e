"""Formatting shared by every cog: literal user text, lengths, durations, status words."""

from __future__ import annotations

import logging
from typing import Literal
from urllib.parse import quote

import discord
from discord import app_commands

from bot.core.tasks import Display
from bot.errors import Refusal
from bot.store import TaskRow

log = logging.getLogger(__name__)

STATUS_WORDS: dict[Display, str] = {
    "waiting": "⏳ waiting",
    "queued": "📨 accepted",
    "generating": "🎛️ generating",
    "first": "🎧 first track ready",
    "done": "✅ done",
    "failed": "❌ failed",
    "undelivered": "⚠️ done, but I couldn't post here",
}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str) -> str:
    """User or API text shown literally: no markdown, no mention syntax that renders."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


Where = Literal["plain", "label", "code"]
LABEL_BRACKETS = str.maketrans({"[": "［", "]": "］"})


def shown(text: str, limit: int, where: Where = "plain") -> str:
    """Member (or API) text for the exact place it lands, at most `limit` characters once
    escaped (clipped before escaping, so no escape is cut in half):
    - plain: markdown and mentions escaped (`plain`);
    - label: inside a masked link's `[label](url)`: as plain, and no square bracket left
      (fullwidth ones instead), so a title can never end the label and add a link of its own;
    - code: inside `backticks`, where escapes do nothing: no backtick (ˋ instead) and no
      line break, so it cannot leave the code span."""

    def escaped(part: str) -> str:
        if where == "code":
            return " ".join(part.replace("`", "ˋ").split())
        out = plain(part)
        return out.translate(LABEL_BRACKETS) if where == "label" else out

    cut = limit
    while len(out := escaped(clip(text, cut))) > limit and cut > 1:
        cut -= len(out) - limit
    return out


def link_target(url: str) -> str:
    """A URL from the API as the target of a markdown link: characters that could end the
    link or start markup (brackets, parentheses, angle brackets, quotes, spaces) are
    percent-encoded, so it renders only as a plain link."""
    return quote(url, safe=":/?#@!$&'*+,;=%-._~").replace("'", "%27")


def duration_text(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "unknown"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def span_text(seconds: float) -> str:
    whole = max(0, round(seconds))
    minutes, secs = divmod(whole, 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def jump_url(task: TaskRow) -> str | None:
    """The thread if there is one, else the status card."""
    guild = task.guild_id or "@me"
    if task.thread_id is not None:
        return f"https://discord.com/channels/{guild}/{task.thread_id}"
    if task.card_message_id is not None:
        return f"https://discord.com/channels/{guild}/{task.channel_id}/{task.card_message_id}"
    return None


def is_moderator(interaction: discord.Interaction) -> bool:
    """Manage Server in this channel: moderators are never locked out by server settings."""
    return interaction.guild is not None and interaction.permissions.manage_guild


class NotModerator(app_commands.CheckFailure, Refusal):
    """A command (or subcommand) only moderators may use; the message says which."""


def require_moderator(interaction: discord.Interaction, what: str) -> None:
    if not is_moderator(interaction):
        raise NotModerator(f"{what} is for moderators (Manage Server) only.")


def model_choices(models: list[str], current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete for a model option: the allowed models matching what was typed."""
    typed = current.upper()
    return [app_commands.Choice(name=m, value=m) for m in models if typed in m.upper()][:25]

"""What a jam looks like on Discord: the card, deadlines, entrants, phase words (no I/O)."""

from __future__ import annotations

import discord

from bot.core.jams import Standing
from bot.store import JamPhase, JamRow, TaskRow
from cogs._ui import clip, plain, shown

PHASE_WORDS = {
    JamPhase.SUBMITTING: "🎙️ Submissions open",
    JamPhase.VOTING: "🗳️ Voting",
    JamPhase.ENDED: "🏁 Ended",
}


def when(ts: float) -> str:
    """A deadline as members read it: the date and time, and how far away it is."""
    return f"<t:{int(ts)}:f> (<t:{int(ts)}:R>)"


def nonce(kind: str, row_id: int) -> str:
    return f"bj{kind}{row_id}"


def entrant(jam: JamRow, entry: TaskRow) -> str:
    """The entrant's mention, or nothing while an anonymous jam runs."""
    return "" if jam.anonymous and jam.phase != JamPhase.ENDED else f" by <@{entry.user_id}>"


def entries_word(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


def being_made(making: int) -> str:
    """Entries made before the close that are not finished: they join the vote later."""
    verb = "joins the vote when it finishes" if making == 1 else "join the vote as they finish"
    return f"{entries_word(making)} still being made {verb}"


def card_embed(
    jam: JamRow, entries: int, winners: list[Standing] | None = None, making: int = 0
) -> discord.Embed:
    embed = discord.Embed(
        title=clip(f"🎤 Jam: {plain(jam.theme)}", 256),
        colour=discord.Colour.gold() if jam.phase == JamPhase.ENDED else discord.Colour.purple(),
    )
    style = ", ".join(
        part
        for part in (
            plain(jam.tags) if jam.tags else None,
            f"avoid {plain(jam.negative_tags)}" if jam.negative_tags else None,
            jam.model,
        )
        if part
    )
    until = {JamPhase.SUBMITTING: jam.submit_until, JamPhase.VOTING: jam.vote_until}.get(jam.phase)
    phase = PHASE_WORDS[jam.phase]
    if until is not None:
        phase += f" until {when(until)}"
    if jam.phase == JamPhase.VOTING and making:
        phase += ", and not before the entries being made have joined"
    embed.description = phase
    embed.add_field(name="Style", value=clip(style or "the server's defaults", 1024), inline=False)
    embed.add_field(name="Host", value=f"<@{jam.host_id}>")
    embed.add_field(
        name="Entries", value=f"{entries} (+{making} being made)" if making else str(entries)
    )
    embed.add_field(
        name="Rules",
        value=f"{jam.max_entries} per member"
        + (" · anonymous until the results" if jam.anonymous else ""),
    )
    if winners:
        names = ", ".join(f"<@{w.entry.user_id}> ({shown(w.entry.title, 60)})" for w in winners)
        embed.add_field(
            name="🏆 Winner" + ("s" if len(winners) > 1 else ""),
            value=clip(names, 1024),
            inline=False,
        )
    if jam.thread_id and jam.phase == JamPhase.SUBMITTING:
        embed.add_field(
            name="Enter",
            value=f"`/instrumental` or **Add instrumental** on a message, in <#{jam.thread_id}>.",
            inline=False,
        )
    embed.set_footer(text=f"jam #{jam.id}")
    return embed

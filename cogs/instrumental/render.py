"""What members see: the status card, track posts and failure notices (pure rendering).

Posts are found again by their stored message ids; the footer markers below only let a
post made just before a crash (its id not yet stored) be recognised in recent history.
"""

from __future__ import annotations

import discord

from bot.core.tasks import TaskView
from bot.store import Origin, TaskRow, TaskState, TrackRow
from cogs._ui import clip, duration_text, jump_url, link_target, plain, shown, span_text

EMBED_FIELD_MAX = 1024
EMBED_TITLE_MAX = 256
THREAD_NAME_MAX = 100

_COLOURS = {
    "waiting": discord.Colour.light_grey(),
    "queued": discord.Colour.blurple(),
    "generating": discord.Colour.blurple(),
    "first": discord.Colour.gold(),
    "done": discord.Colour.green(),
    "failed": discord.Colour.red(),
    "undelivered": discord.Colour.orange(),
}


def card_marker(task_id: int) -> str:
    """Footer of a status card: recognises a card posted just before a crash."""
    return f"task #{task_id}"


def track_marker(track: TrackRow) -> str:
    """Footer fragment of a track post: recognises a post made just before a crash."""
    return f"id {track.api_track_id}"


def failure_marker(task_id: int) -> str:
    return f"task #{task_id} · failed"


def stage_text(view: TaskView) -> str:
    task = view.task
    if view.display == "waiting":
        if view.paused:
            return f"⏸️ Waiting: {view.paused} Your request is kept and will be sent by itself."
        if view.queue_position:
            return f"⏳ Waiting to be sent: #{view.queue_position} in line"
        return "⏳ Sending to the music service…"
    if view.display == "queued":
        return "📨 Accepted by the music service, waiting for a free slot"
    if view.display == "generating":
        return "🎛️ Generating the instrumental…"
    if view.display == "first":
        ready = sum(1 for t in view.tracks if t.ready_at)
        url = view.stream_url
        link = f" · [listen now]({link_target(url)})" if url else ""
        if task.state == TaskState.DONE:
            return f"📬 {ready} track(s) ready, posting them{link}"
        return f"🎧 First track ready{link} · the rest is on its way"
    if view.display == "done":
        count = len(view.tracks)
        return f"✅ Done: {count} track{'s' if count != 1 else ''} posted"
    if view.display == "undelivered":
        return f"⚠️ Done, but I couldn't post here: {undelivered_reason(task)}"
    reason = task.error or "The music service could not make this track."
    again = " You can try again." if task.can_retry else ""
    return f"❌ Failed: {reason}{again}"


def card_embed(view: TaskView) -> discord.Embed:
    task = view.task
    embed = discord.Embed(
        title=shown(task.title, EMBED_TITLE_MAX),
        colour=_COLOURS[view.display],
        description=stage_text(view),
    )
    embed.add_field(name="Requested by", value=requester(task), inline=True)
    embed.add_field(name="Model", value=plain(task.model), inline=True)
    if task.completed_at is not None:
        elapsed = f"took {span_text(task.completed_at - task.created_at)}"
    else:
        # A relative timestamp keeps counting on members' screens between card edits.
        elapsed = f"started <t:{int(task.created_at)}:R>"
    embed.add_field(name="Time", value=elapsed, inline=True)
    if view.display == "waiting" and view.queue_position:
        embed.add_field(name="Queue", value=f"#{view.queue_position} in line", inline=True)
    embed.add_field(name="Tags", value=shown(task.tags, EMBED_FIELD_MAX), inline=False)
    if view.parent is not None:
        word = ORIGIN_WORDS.get(task.origin, "follow-up")
        embed.add_field(name="Take", value=f"{word} of {take_link(view.parent)}", inline=False)
    if view.children:
        links = " · ".join(
            f"{ORIGIN_WORDS.get(c.origin, 'take')} {take_link(c)}" for c in view.children
        )
        embed.add_field(name="Next takes", value=clip(links, EMBED_FIELD_MAX), inline=False)
    embed.set_footer(text=card_marker(task.id))
    return embed


ORIGIN_WORDS = {
    Origin.SLASH: "/instrumental",
    Origin.MENU: "Add instrumental",
    Origin.REROLL: "re-roll",
    Origin.TWEAK: "tweak",
    Origin.RETRY: "retry",
    Origin.JAM: "jam entry",
}


def take_link(task: TaskRow) -> str:
    """A task's title linking to its card (or thread)."""
    url = card_url(task)
    return f"[{shown(task.title, 60, 'label')}]({url})" if url else f"**{shown(task.title, 60)}**"


def card_url(task: TaskRow) -> str | None:
    if task.card_message_id is None:
        return None
    guild = task.guild_id or "@me"
    return f"https://discord.com/channels/{guild}/{task.channel_id}/{task.card_message_id}"


def requester(task: TaskRow) -> str:
    """The requester's mention; an anonymous jam entry shows none until the results."""
    return "an entrant (revealed with the results)" if task.anonymous else f"<@{task.user_id}>"


def track_embed(task: TaskRow, track: TrackRow, *, total: int, linked: bool) -> discord.Embed:
    title = track.title or task.title
    embed = discord.Embed(
        title=shown(title, EMBED_TITLE_MAX),
        url=link_target(track.audio_url) or None,
        colour=discord.Colour.green(),
    )
    embed.add_field(name="Duration", value=duration_text(track.duration), inline=True)
    embed.add_field(name="Model", value=plain(task.model), inline=True)
    tags = track.tags or task.tags
    embed.add_field(name="Tags", value=shown(tags, EMBED_FIELD_MAX), inline=False)
    if linked and track.audio_url:
        embed.add_field(
            name="Download",
            value=f"[Too big to upload here: download the audio]({link_target(track.audio_url)})",
            inline=False,
        )
    if track.image_url:
        embed.set_thumbnail(url=track.image_url)
    embed.set_footer(text=f"track {track.position + 1}/{max(total, 1)} · {track_marker(track)}")
    return embed


def failure_embed(task: TaskRow) -> discord.Embed:
    reason = task.error or "The music service could not make this track."
    text = reason + (" You can try again: press **Retry** on the card." if task.can_retry else "")
    embed = discord.Embed(
        title=shown(task.title, EMBED_TITLE_MAX),
        description=text,
        colour=discord.Colour.red(),
    )
    embed.set_footer(text=failure_marker(task.id))
    return embed


def undelivered_reason(task: TaskRow) -> str:
    return task.delivery_error or task.card_error or "Discord refused my posts here."


def give_up_text(task: TaskRow, reason: str) -> str:
    """The direct message a requester gets when posting for their request was given up:
    what happened to it, why it is not in the channel, and where it was asked for."""
    title = f"**{shown(task.title, 100)}**"
    where = f" in <#{task.thread_id or task.channel_id}>" if task.guild_id else ""
    if task.state == TaskState.FAILED:
        failed = task.error or "The music service could not make this track."
        text = f"Sorry, your instrumental {title} could not be made: {failed}"
        text += f"\nI couldn't tell you{where}: {reason}"
    else:
        text = f"Sorry, I couldn't post your instrumental {title}{where}: {reason}"
    if link := jump_url(task):
        text += f"\nYou asked for it here: {link}"
    return text


def input_note(filename: str) -> str:
    """Where the input recording would be when it is too big to repost."""
    return f"🎙️ Input recording: `{shown(filename, 200, 'code')}` (too big to repost)"


def thread_name(title: str) -> str:
    name = discord.utils.escape_mentions(" ".join(title.split())) or "instrumental"
    return clip(f"🎵 {name}", THREAD_NAME_MAX)

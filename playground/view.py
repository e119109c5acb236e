"""What the page shows: simcord's stored Discord (channels, threads, messages, commands)
projected to JSON for one viewer, with Discord's markdown rendered to safe HTML.

Everything the bot sent is shown as a Discord client would: mentions and channels by name,
`<t:…>` timestamps as `<time>` elements the page formats with the server's clock, embeds,
buttons, selects, attachments (audio as players), ephemeral replies marked as such.
"""

from __future__ import annotations

import html
import re
from typing import Any

import simcord

EPHEMERAL = 1 << 6
MESSAGE_COMMAND = 3
TEXT_CHANNEL, THREAD_TYPES, THREAD_CREATED = 0, (10, 11, 12), 18
HISTORY = 100  # the newest messages of a channel the page shows
SAFE_SCHEMES = ("http://", "https://")
DISCORD_LINK = re.compile(r"https://discord\.com/channels/(\d+|@me)/(\d+)(?:/(\d+))?")


class Names:
    """Names of users, roles and channels, for mentions."""

    def __init__(self, env: simcord.Env, guild_id: int) -> None:
        backend = env.backend
        self.users = {u.id: (u.global_name or u.name) for u in backend.users.values()}
        guild = backend.guilds[guild_id]
        self.roles = {r.id: r.name for r in guild.roles.values()}
        self.channels = {c.id: c.name or "thread" for c in backend.channels.values()}


# Inline markdown, in the order Discord applies it (code first: nothing inside is parsed).
CODE = re.compile(r"`([^`]+)`")
MASKED = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
BARE = re.compile(r"(?<![\"'=>])\bhttps?://[^\s<]+[^\s<.,:;\"')\]]")
BOLD = re.compile(r"\*\*(.+?)\*\*")
UNDERLINE = re.compile(r"__(.+?)__")
ITALIC = re.compile(
    r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\*)|(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])"
)
STRIKE = re.compile(r"~~(.+?)~~")
USER = re.compile(r"&lt;@!?(\d+)&gt;")
ROLE = re.compile(r"&lt;@&amp;(\d+)&gt;")
CHANNEL = re.compile(r"&lt;#(\d+)&gt;")
STAMP = re.compile(r"&lt;t:(-?\d+)(?::([tTdDfFR]))?&gt;")
EMOJI = re.compile(r"&lt;a?:(\w+):\d+&gt;")


def markdown(text: str, names: Names) -> str:
    """Discord's markdown (the subset bots use) to HTML; everything else is escaped."""
    out: list[str] = []
    in_block = False
    block: list[str] = []
    for line in text.split("\n"):
        if line.startswith("```"):
            if in_block:
                out.append(f"<pre><code>{html.escape(chr(10).join(block))}</code></pre>")
                block, in_block = [], False
            else:
                in_block = True
            continue
        if in_block:
            block.append(line)
            continue
        out.append(_line(line, names))
    if in_block:
        out.append(f"<pre><code>{html.escape(chr(10).join(block))}</code></pre>")
    return "".join(out)


def _line(line: str, names: Names) -> str:
    for prefix, tag in (("-# ", "small"), ("### ", "h5"), ("## ", "h4"), ("# ", "h3")):
        if line.startswith(prefix):
            return f'<div class="md-{tag}">{inline(line[len(prefix) :], names)}</div>'
    if line.startswith("> "):
        return f"<blockquote>{inline(line[2:], names)}</blockquote>"
    return f'<div class="md-line">{inline(line, names) or "&nbsp;"}</div>'


def inline(text: str, names: Names) -> str:
    kept: list[str] = []  # pieces already rendered, kept out of later passes

    def keep(piece: str) -> str:
        kept.append(piece)
        return f"\x00{len(kept) - 1}\x00"

    escaped = html.escape(text, quote=True)
    escaped = CODE.sub(lambda m: keep(f"<code>{m[1]}</code>"), escaped)
    escaped = MASKED.sub(lambda m: keep(_link(html.unescape(m[2]), _inline_plain(m[1]))), escaped)
    escaped = BARE.sub(lambda m: keep(_link(html.unescape(m[0]), m[0])), escaped)
    escaped = USER.sub(
        lambda m: keep(_mention("@" + names.users.get(int(m[1]), "unknown"))), escaped
    )
    escaped = ROLE.sub(
        lambda m: keep(_mention("@" + names.roles.get(int(m[1]), "unknown role"))), escaped
    )
    escaped = CHANNEL.sub(lambda m: keep(_channel(int(m[1]), names)), escaped)
    escaped = STAMP.sub(lambda m: keep(_stamp(int(m[1]), m[2] or "f")), escaped)
    escaped = EMOJI.sub(lambda m: f":{m[1]}:", escaped)
    escaped = _inline_plain(escaped)
    while "\x00" in escaped:
        escaped = re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m[1])], escaped)
    return escaped


def _inline_plain(escaped: str) -> str:
    escaped = BOLD.sub(r"<strong>\1</strong>", escaped)
    escaped = UNDERLINE.sub(r"<u>\1</u>", escaped)
    escaped = ITALIC.sub(lambda m: f"<em>{m[1] or m[2]}</em>", escaped)
    escaped = STRIKE.sub(r"<s>\1</s>", escaped)
    return escaped.replace("\\", "")


def _link(url: str, label: str) -> str:
    """A link; one into this Discord (a card, a thread) opens there instead of a new tab."""
    inner = DISCORD_LINK.fullmatch(url)
    if inner:
        message = f' data-message="{inner[3]}"' if inner[3] else ""
        return f'<a href="#" class="jump" data-channel="{inner[2]}"{message}>{label}</a>'
    href = html.escape(url, quote=True)
    return f'<a href="{href}" target="_blank" rel="noopener noreferrer">{label}</a>'


def _mention(text: str) -> str:
    return f'<span class="mention">{html.escape(text)}</span>'


def _channel(channel_id: int, names: Names) -> str:
    name = names.channels.get(channel_id)
    if name is None:
        return _mention("#unknown")
    label = html.escape("#" + name)
    return f'<a href="#" class="mention jump" data-channel="{channel_id}">{label}</a>'


def _stamp(seconds: int, style: str) -> str:
    return f'<time data-t="{seconds}" data-style="{style}"></time>'


# --------------------------------------------------------------------- the projection


def channels(env: simcord.Env, guild_id: int) -> list[dict[str, Any]]:
    """The guild's text channels, each followed by its threads (newest first)."""
    backend = env.backend
    found = [c for c in backend.channels.values() if c.guild_id == guild_id]
    out: list[dict[str, Any]] = []
    for channel in sorted((c for c in found if c.type == TEXT_CHANNEL), key=lambda c: c.id):
        out.append({"id": str(channel.id), "name": channel.name, "thread": False})
        threads = [c for c in found if c.type in THREAD_TYPES and c.parent_id == channel.id]
        for thread in sorted(threads, key=lambda c: -c.id):
            count = len(backend.messages.get(thread.id, {}))
            out.append({"id": str(thread.id), "name": thread.name, "thread": True, "count": count})
    return out


def messages(
    env: simcord.Env, channel_id: int, viewer_id: int, names: Names
) -> list[dict[str, Any]]:
    backend = env.backend
    stored = sorted(backend.messages.get(channel_id, {}).values(), key=lambda m: m.id)
    visible = [m for m in stored if m.visible_to(viewer_id)][-HISTORY:]
    return [message(env, m, names) for m in visible]


def message(env: simcord.Env, m: Any, names: Names) -> dict[str, Any]:
    """One message. Attachment URLs are the page's own (`/cdn/<secret>/…`); covers are the
    music API's, on loopback."""
    backend = env.backend
    author = backend.users.get(m.author_id)
    thread = backend.channels.get(m.id)  # a thread started from a message has its id
    started = None
    if thread is not None and thread.type in THREAD_TYPES:
        started = {
            "id": str(thread.id),
            "name": thread.name,
            "count": len(backend.messages.get(thread.id, {})),
        }
    return {
        "id": str(m.id),
        "version": m.edited_timestamp or m.timestamp,
        "author": m.author_name or (author.global_name or author.name if author else "unknown"),
        "bot": bool(author and author.bot),
        "at": m.timestamp,
        "edited": m.edited_timestamp is not None,
        "ephemeral": bool(m.flags & EPHEMERAL),
        "html": _thread_created(m, names) or (markdown(m.content, names) if m.content else ""),
        "embeds": [embed(e, names) for e in m.embeds],
        "attachments": [attachment(a) for a in m.attachments],
        "rows": [row(r) for r in m.components if r.get("type") == 1],
        "thread": started,
    }


def _thread_created(m: Any, names: Names) -> str:
    """Discord's "started a thread" line, linking the thread."""
    if m.type != THREAD_CREATED:
        return ""
    meta, reference = m.system_metadata, m.reference or {}
    thread = (meta.channel_id if meta else None) or _int(reference.get("channel_id"))
    if thread is None:
        return ""
    return f"started a thread: {_channel(thread, names)}"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def embed(e: dict[str, Any], names: Names) -> dict[str, Any]:
    def image(key: str) -> str | None:
        return _safe_url((e.get(key) or {}).get("url"))

    return {
        "color": f"#{e['color']:06x}" if e.get("color") is not None else None,
        "author": inline((e.get("author") or {}).get("name", ""), names),
        "title": inline(e.get("title", ""), names),
        "url": _safe_url(e.get("url")),
        "html": markdown(e.get("description", ""), names),
        "fields": [
            {
                "name": inline(f.get("name", ""), names),
                "html": markdown(f.get("value", ""), names),
                "inline": bool(f.get("inline")),
            }
            for f in e.get("fields", [])
        ],
        "thumbnail": image("thumbnail"),
        "image": image("image"),
        "footer": inline((e.get("footer") or {}).get("text", ""), names),
        "at": e.get("timestamp"),
    }


def attachment(a: dict[str, Any]) -> dict[str, Any]:
    kind = (a.get("content_type") or "").split("/")[0]
    return {"name": a["filename"], "url": a["url"], "kind": kind, "size": a.get("size", 0)}


def row(r: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for c in r.get("components", []):
        emoji = (c.get("emoji") or {}).get("name", "")
        if c.get("type") == 2:
            out.append(
                {
                    "type": "button",
                    "label": c.get("label", ""),
                    "emoji": emoji,
                    "style": c.get("style", 2),
                    "id": c.get("custom_id"),
                    "url": _safe_url(c.get("url")),
                    "disabled": bool(c.get("disabled")),
                }
            )
        elif c.get("type") == 3:
            out.append(select(c))
    return out


def select(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "select",
        "id": c.get("custom_id"),
        "placeholder": c.get("placeholder", ""),
        "min": c.get("min_values", 1),
        "max": c.get("max_values", 1),
        "disabled": bool(c.get("disabled")),
        "options": [
            {
                "label": o.get("label", ""),
                "value": o.get("value", ""),
                "description": o.get("description", ""),
                "default": bool(o.get("default")),
            }
            for o in c.get("options", [])
        ],
    }


def modal(payload: dict[str, Any]) -> dict[str, Any]:
    """A modal's controls: text inputs and string selects (bare or inside a label)."""
    controls: list[dict[str, Any]] = []

    def text_input(c: dict[str, Any], label: str, description: str = "") -> dict[str, Any]:
        return {
            "type": "text",
            "id": c["custom_id"],
            "label": label or c.get("label", ""),
            "description": description,
            "long": c.get("style") == 2,
            "placeholder": c.get("placeholder", ""),
            "value": c.get("value", ""),
            "required": c.get("required", True),
            "max": c.get("max_length"),
        }

    for item in payload.get("components", []):
        if item.get("type") == 1:
            controls.extend(text_input(c, "") for c in item["components"] if c.get("type") == 4)
        elif item.get("type") == 18:
            inner, label = item["component"], item.get("label", "")
            if inner.get("type") == 4:
                controls.append(text_input(inner, label, item.get("description", "")))
            elif inner.get("type") == 3:
                controls.append(
                    {**select(inner), "label": label, "description": item.get("description", "")}
                )
        elif item.get("type") == 10:
            controls.append({"type": "note", "text": item.get("content", "")})
    return {"title": payload.get("title", ""), "controls": controls}


def commands(env: simcord.Env, viewer_id: int, channel_id: int) -> dict[str, Any]:
    """The slash commands (each leaf: `config limits`, with its options) and the message
    menu's commands the viewer may use here."""
    backend = env.backend
    slash = []
    for root in backend.visible_commands(user_id=viewer_id, channel_id=channel_id):
        for path, leaf in _leaves(root, [root["name"]]):
            slash.append(
                {
                    "name": " ".join(path),
                    "description": leaf.get("description", ""),
                    "options": [_option(o) for o in leaf.get("options") or []],
                }
            )
    menu = backend.visible_commands(user_id=viewer_id, channel_id=channel_id, type=MESSAGE_COMMAND)
    return {"slash": slash, "menu": [c["name"] for c in menu]}


def _leaves(node: dict[str, Any], path: list[str]) -> list[tuple[list[str], dict[str, Any]]]:
    subs = [o for o in node.get("options") or [] if o.get("type") in (1, 2)]
    if not subs:
        return [(path, node)]
    return [leaf for sub in subs for leaf in _leaves(sub, [*path, sub["name"]])]


OPTION_TYPES = {
    3: "string",
    4: "integer",
    5: "boolean",
    6: "user",
    7: "channel",
    8: "role",
    9: "mentionable",
    10: "number",
    11: "attachment",
}


def _option(o: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": o["name"],
        "description": o.get("description", ""),
        "type": OPTION_TYPES.get(o["type"], "string"),
        "required": bool(o.get("required")),
        "choices": [{"name": c["name"], "value": c["value"]} for c in o.get("choices") or []],
        "autocomplete": bool(o.get("autocomplete")),
        "min": o.get("min_value"),
        "max": o.get("max_value"),
    }


def _safe_url(url: str | None) -> str | None:
    return url if url and url.startswith(SAFE_SCHEMES) else None

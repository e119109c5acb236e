"""The playground's one web server: the page, its API and the attachments, on one loopback
port, every request but the page's static files guarded by the session's secret.

The page (static/) polls `/api/state` and re-renders only what changed, so the card, the
thread and the tracks update as the bot edits and posts. What the visitor does goes
through simcord's actors (`slash`, `send`, `click`, `select`, `context_menu`,
`submit_modal`): the same interactions Discord would deliver to the bot.

The secret travels in the page address's fragment (never sent by the browser on its own):
the page sends it back as `X-Playground-Key`; attachment URLs carry it as a path segment
(`/cdn/<secret>/…`) so that an `<audio>` element and the in-process music API can fetch them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import mimetypes
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import simcord
import simcord.backend.cdn
from aiohttp import web
from simcord.results import ResponseMessage

from playground import view

if TYPE_CHECKING:
    from playground import Playground

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
KEY_HEADER = "X-Playground-Key"
MAX_BODY = 40 * 1024 * 1024  # a 25 MB recording, base64-encoded, and the rest
STATIC = {"/": "index.html", "/app.js": "app.js", "/page.css": "page.css"}
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ActionError(Exception):
    """Something the visitor asked for that cannot be done (shown in the page)."""


class Page:
    def __init__(self, playground: Playground) -> None:
        self.playground = playground
        self.key = secrets.token_urlsafe(32)
        self.closed = asyncio.Event()
        self._lock = asyncio.Lock()  # one visitor action at a time, as simcord expects
        self._modals: dict[str, Any] = {}  # handle -> the InteractionResult that showed it
        self._runner: web.AppRunner | None = None
        self.origin = ""
        self.port = 0

    @property
    def url(self) -> str:
        return f"{self.origin}/#{self.key}"

    @property
    def cdn_base(self) -> str:
        return f"{self.origin}/cdn/{self.key}"

    async def start(self, port: int | None) -> None:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._guard])
        for path in STATIC:
            app.router.add_get(path, self._static)
        app.router.add_get("/cdn/{key}/{tail:.*}", self._cdn)
        app.router.add_get("/api/state", self._state)
        for name in ("slash", "send", "click", "select", "menu", "modal", "autocomplete", "end"):
            app.router.add_post(f"/api/{name}", self._action)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, port or 0).start()
        self.port = self._runner.addresses[0][1]
        self.origin = f"http://{HOST}:{self.port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---------------------------------------------------------------------- guarding

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The API wants the secret and this page's origin (no other site can drive it)."""
        if request.path.startswith("/api/"):
            given = request.headers.get(KEY_HEADER, "")
            origin = request.headers.get("Origin")
            if not secrets.compare_digest(given, self.key) or origin not in (None, self.origin):
                return web.json_response({"error": "not this session"}, status=403)
        response = await handler(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    async def _static(self, request: web.Request) -> web.Response:
        name = STATIC[request.path]
        body = resources.files("playground").joinpath("static", name).read_bytes()
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        response = web.Response(body=body, content_type=kind)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data: http://127.0.0.1:*; media-src 'self'; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
        )
        return response

    async def _cdn(self, request: web.Request) -> web.Response:
        """An attachment (simcord keeps them in memory), with byte ranges for players."""
        env = self.playground.env
        if env is None or not secrets.compare_digest(request.match_info["key"], self.key):
            return web.Response(status=404)
        url = f"{simcord.backend.cdn.CDN_BASE}/{unquote(request.match_info['tail'])}"
        data = env.backend.cdn.get(url)
        if data is None:
            return web.Response(status=404)
        kind = mimetypes.guess_type(url)[0] or "application/octet-stream"
        wanted = RANGE.fullmatch(request.headers.get("Range", ""))
        if wanted is None or not data:
            response = web.Response(body=data, content_type=kind)
        else:
            first, last = wanted[1], wanted[2]
            start = int(first) if first else max(0, len(data) - int(last or 0))
            end = min(int(last), len(data) - 1) if first and last else len(data) - 1
            if start > end:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
            response = web.Response(body=data[start : end + 1], status=206, content_type=kind)
            response.headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        response.headers["Accept-Ranges"] = "bytes"
        return response

    # ----------------------------------------------------------------------- reading

    async def _state(self, request: web.Request) -> web.Response:
        pg = self.playground
        env, guild, you = pg.env, pg.guild, pg.you
        assert env is not None and guild is not None and you is not None
        channel_id = _int(request.query.get("channel")) or pg.channel.id
        if channel_id not in env.backend.channels:
            channel_id = pg.channel.id
        names = view.Names(env, guild.id)
        body = {
            "now": datetime.now(UTC).timestamp() * 1000,
            "you": str(you.id),
            "channels": view.channels(env, guild.id),
            "channel": str(channel_id),
            "messages": view.messages(env, channel_id, you.id, names),
            "commands": view.commands(env, you.id, channel_id),
            "demos": [name for name, _ in pg.demos],
        }
        return web.json_response(body, dumps=_dumps)

    # ----------------------------------------------------------------------- acting

    async def _action(self, request: web.Request) -> web.Response:
        name = request.path.rsplit("/", 1)[1]
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": "The request was not JSON."}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "The request was not a JSON object."}, status=400)
        if name == "end":
            self.closed.set()
            return web.json_response({"ok": True})
        try:
            async with self._lock:
                answer = await getattr(self, f"_do_{name}")(body)
        except ActionError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except (simcord.SetupError, simcord.BackendError) as exc:
            # Discord itself refusing (a missing permission, an option out of range).
            return web.json_response({"error": str(exc)}, status=400)
        except TimeoutError:
            # simcord stopped waiting for the bot to settle; its answer still comes.
            return web.json_response({"ok": True, "note": "The bot is still working on it."})
        return web.json_response({"ok": True, **(answer or {})})

    async def _do_slash(self, body: dict[str, Any]) -> dict[str, Any] | None:
        pg = self.playground
        channel = self._channel(body.get("channel"))
        options = {}
        for key, value in (body.get("options") or {}).items():
            if value in (None, ""):
                continue
            options[str(key)] = self._value(value)
        result = await pg.you.slash(channel, str(body.get("command", "")), **options)
        return self._shown(result)

    async def _do_autocomplete(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(body.get("channel"))
        choices = await self.playground.you.autocomplete(
            channel,
            str(body.get("command", "")),
            str(body.get("option", "")),
            str(body.get("value", "")),
        )
        return {"choices": [{"name": c["name"], "value": c["value"]} for c in choices]}

    async def _do_send(self, body: dict[str, Any]) -> None:
        channel = self._channel(body.get("channel"))
        files = [self._file(f) for f in body.get("files") or []]
        content = str(body.get("content", ""))
        if not content.strip() and not files:
            raise ActionError("Type a message or attach a file.")
        await self.playground.you.send(channel, content, attachments=files)

    async def _do_click(self, body: dict[str, Any]) -> dict[str, Any] | None:
        message = self._message(body)
        result = await self.playground.you.click(message, custom_id=str(body.get("id", "")))
        return self._shown(result)

    async def _do_select(self, body: dict[str, Any]) -> dict[str, Any] | None:
        message = self._message(body)
        values = [str(v) for v in body.get("values") or []]
        result = await self.playground.you.select(
            message, values, custom_id=str(body.get("id", ""))
        )
        return self._shown(result)

    async def _do_menu(self, body: dict[str, Any]) -> dict[str, Any] | None:
        message = self._message(body)
        channel = self._channel(body.get("channel"))
        result = await self.playground.you.context_menu(
            channel, str(body.get("command", "")), message
        )
        return self._shown(result)

    async def _do_modal(self, body: dict[str, Any]) -> dict[str, Any] | None:
        shown = self._modals.pop(str(body.get("handle", "")), None)
        if shown is None:
            raise ActionError("This form was already sent or has expired.")
        given = body.get("values") or {}
        selects = {
            c["id"] for c in view.modal(shown.modal or {})["controls"] if c["type"] == "select"
        }
        values: dict[str, Any] = {}
        for key, value in given.items() if isinstance(given, dict) else ():
            if value in (None, "", []):
                continue
            # simcord takes a select's choice as a list, a text input's as a string.
            values[str(key)] = [value] if key in selects and isinstance(value, str) else value
        result = await self.playground.you.submit_modal(shown, values)
        return self._shown(result)

    def _shown(self, result: Any) -> dict[str, Any] | None:
        """A modal the bot answered with, kept until the visitor sends it."""
        if result.modal is None:
            return None
        handle = secrets.token_urlsafe(12)
        self._modals = {**dict(list(self._modals.items())[-15:]), handle: result}
        return {"modal": {**view.modal(result.modal), "handle": handle}}

    # ----------------------------------------------------------------------- helpers

    def _channel(self, value: Any) -> Any:
        pg = self.playground
        channel_id = _int(value)
        for each in (pg.channel, *pg.channel.threads):
            if each.id == channel_id:
                return each
        raise ActionError("That channel or thread is gone.")

    def _message(self, body: dict[str, Any]) -> ResponseMessage:
        env = self.playground.env
        assert env is not None
        channel = self._channel(body.get("channel"))
        stored = env.backend.messages.get(channel.id, {}).get(_int(body.get("message")) or 0)
        if stored is None:
            raise ActionError("That message is gone.")
        return ResponseMessage(env, stored)

    def _value(self, value: Any) -> Any:
        """An option's value: text and numbers as they are; a file; a channel or member."""
        if not isinstance(value, dict):
            return value
        if "demo" in value or "data" in value:
            return self._file(value)
        if "channel" in value:
            return self._channel(value["channel"])
        if "role" in value:
            guild = self.playground.guild
            assert guild is not None
            for role in guild.roles.values():
                if str(role.id) == str(value["role"]):
                    return role
        if "user" in value:  # the page's only member is the visitor
            return self.playground.you
        raise ActionError("That option's value is not understood.")

    def _file(self, value: Any) -> tuple[str, bytes]:
        if not isinstance(value, dict):
            raise ActionError("A file was expected.")
        if "demo" in value:
            for name, data in self.playground.demos:
                if name == value["demo"]:
                    return name, data
            raise ActionError("No such demo recording.")
        try:
            return str(value["name"])[:200], base64.b64decode(str(value["data"]), validate=True)
        except (KeyError, binascii.Error) as exc:
            raise ActionError("The file could not be read.") from exc


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))

"""A gateway in front of the music API: a real aiohttp proxy on 127.0.0.1 that forwards
every call to the simulator, and can answer an error of its own *after* the API did the
work (the bot never hears the API's answer), or send answers in pieces."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from tests.support.servers import serve

HTML_PAGE = "<html>gateway error</html>"


def gateway_json(code: int, msg: str = "Gateway Timeout") -> str:
    """A gateway's own JSON error, shaped like the API's envelope (nginx/Cloudflare-style
    JSON error pages do this)."""
    return json.dumps({"code": code, "msg": msg})


@dataclass
class Gateway:
    """`after_forward`: answers (HTTP status, body) given instead of the API's to the next
    POSTs, once each; a body starting with `{` is sent as JSON. `split` sends every
    answer in two pieces."""

    upstream: str
    session: aiohttp.ClientSession
    after_forward: list[tuple[int, str]] = field(default_factory=list)
    split: bool = False
    base_url: str = ""
    # Run when the API answered a POST, before the answer goes on to the bot: something
    # that happens while a submission's answer is on its way.
    on_forward: Callable[[], Awaitable[None]] | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization",)}
        headers["Content-Type"] = request.headers.get("Content-Type", "application/json")
        async with self.session.request(
            request.method,
            self.upstream + request.path_qs,
            data=await request.read(),
            headers=headers,
        ) as upstream:
            body, status = await upstream.read(), upstream.status
        if self.on_forward is not None and request.method == "POST":
            await self.on_forward()
        if self.after_forward and request.method == "POST":
            status, text = self.after_forward.pop(0)
            kind = "application/json" if text.startswith("{") else "text/html"
            return web.Response(status=status, text=text, content_type=kind)
        if not self.split:
            return web.Response(status=status, body=body, content_type="application/json")
        response = web.StreamResponse(status=status)
        response.content_type = "application/json"
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        await asyncio.sleep(0.05)
        await response.write(body[len(body) // 2 :])
        await response.write_eof()
        return response


@contextlib.asynccontextmanager
async def open_gateway(upstream: str, session: aiohttp.ClientSession) -> AsyncIterator[Gateway]:
    proxy = Gateway(upstream, session)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    async with serve(app) as base_url:
        proxy.base_url = base_url
        yield proxy

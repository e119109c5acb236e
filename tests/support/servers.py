"""Local HTTP servers on 127.0.0.1 and a free port, for what stands in for the internet."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.Response]]


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run `app` until the block ends; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serve_files(files: Mapping[str, tuple[bytes, str]]) -> AsyncIterator[str]:
    """Serve each path's body, with its content type, until the block ends; yields the
    base URL (a file host standing in for a CDN)."""

    def answer(body: bytes, content_type: str) -> Handler:
        async def handler(_: web.Request) -> web.Response:
            return web.Response(body=body, content_type=content_type)

        return handler

    app = web.Application()
    for path, (body, content_type) in files.items():
        app.router.add_get(path, answer(body, content_type))
    async with serve(app) as base_url:
        yield base_url

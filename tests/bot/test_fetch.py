"""`bot.fetch.fetch_capped` against a real local HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.fetch import FetchError, TooLarge, fetch_capped


@pytest.fixture
async def server() -> AsyncIterator[str]:

    async def small(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 1000)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 100_000)

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to trust
        await response.prepare(request)
        try:
            for _ in range(10_000):
                await response.write(b"y" * 4096)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass
        return response

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(body=b"late")

    app = web.Application()
    app.router.add_get("/small", small)
    app.router.add_get("/big", big)
    app.router.add_get("/endless", endless)
    app.router.add_get("/hang", hang)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_small_file_is_returned(server, session: aiohttp.ClientSession) -> None:
    base = server
    assert await fetch_capped(session, f"{base}/small", max_bytes=1000, timeout=5) == b"x" * 1000


async def test_declared_size_over_the_cap_is_refused_unread(server, session) -> None:
    base = server
    with pytest.raises(TooLarge) as caught:
        await fetch_capped(session, f"{base}/big", max_bytes=50_000, timeout=5)
    assert caught.value.size == 100_000


async def test_undeclared_stream_stops_at_the_cap(server, session) -> None:
    base = server
    with pytest.raises(TooLarge) as caught:
        await fetch_capped(
            session, f"{base}/endless", max_bytes=50_000, timeout=5, chunk_bytes=8192
        )
    assert 50_000 < caught.value.size <= 50_000 + 8192  # never more than cap + one chunk held


@pytest.mark.parametrize(
    ("path", "timeout"), [("/missing", 5.0), ("/hang", 0.2)], ids=["http-404", "time-out"]
)
async def test_failures_are_fetch_errors(server, session, path: str, timeout: float) -> None:
    base = server
    with pytest.raises(FetchError) as caught:
        await fetch_capped(session, f"{base}{path}", max_bytes=1000, timeout=timeout)
    assert not isinstance(caught.value, TooLarge)


async def test_only_http_urls(session) -> None:
    with pytest.raises(FetchError):
        await fetch_capped(session, "file:///etc/passwd", max_bytes=1000, timeout=1)

"""Size-capped downloads over the shared aiohttp session. No Discord here.

A result file is read in chunks and abandoned as soon as it passes the cap, so a download
never holds more than the cap plus one chunk, whatever the server claims or sends.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024


class FetchError(Exception):
    """The file could not be downloaded (connection, time-out, HTTP status, bad URL)."""


class TooLarge(FetchError):
    """The file is bigger than the cap; `size` is what was known when we stopped."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes (at least {size})")
        self.size = size
        self.limit = limit


async def fetch_capped(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    chunk_bytes: int = CHUNK_BYTES,
) -> bytes:
    """GET `url` and return its body, or raise `TooLarge` / `FetchError`.

    `timeout` bounds the whole call (connect, headers and body together).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("not an http(s) URL")
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=True
        ) as response:
            if response.status != 200:
                raise FetchError(f"HTTP {response.status}")
            if response.content_length is not None and response.content_length > max_bytes:
                raise TooLarge(response.content_length, max_bytes)
            body = bytearray()
            async for chunk in response.content.iter_chunked(chunk_bytes):
                body += chunk
                if len(body) > max_bytes:
                    raise TooLarge(len(body), max_bytes)
            return bytes(body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        # str() of aiohttp errors names the host only; URLs with tokens are not logged.
        raise FetchError(type(exc).__name__) from exc

"""Size-capped, SSRF-guarded downloads over the shared aiohttp session. No Discord here.

A result file is read in chunks and abandoned as soon as it passes the cap, so a download
never holds more than the cap plus one chunk, whatever the server claims or sends.

Result URLs come from the music API's callbacks and polls, which the bot does not
control. With a `UrlPolicy`, every hop (redirects are followed by hand) must name a
public address after DNS resolution, unless its origin is explicitly allowed; the
connection then goes to the very address that was checked, so a second DNS answer cannot
swap in a private one. Errors never carry the URL: result URLs may hold access tokens.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urljoin, urlsplit

import aiohttp
from yarl import URL

from bot.audio import SNIFF_BYTES, inspect_audio, inspect_audio_file, sniff_audio

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
WRITE_BYTES = 1024 * 1024  # a download to a file keeps at most this much before writing
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, lower-case host, port
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class FetchError(Exception):
    """The file could not be downloaded (connection, time-out, HTTP status, bad URL)."""


class TooLarge(FetchError):
    """The file is bigger than the cap; `size` is what was known when we stopped."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes (at least {size})")
        self.size = size
        self.limit = limit


class Refused(FetchError):
    """The URL (or a redirect) points somewhere the bot must not fetch from."""


def public_address(address: IPAddress) -> bool:
    """True for an address on the public internet, seen through IPv6 wrappings of IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return public_address(address.ipv4_mapped)
        inner = address.sixtofour
        if inner is None and address.teredo is not None:
            inner = address.teredo[1]
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None and not public_address(inner):
            return False
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _split(url: str) -> tuple[SplitResult, Origin]:
    """The URL's parts and origin; refuses anything but plain http(s) without credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise Refused("malformed URL") from None
    if parts.scheme not in _DEFAULT_PORTS or not host:
        raise Refused("not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise Refused("URL carries credentials")
    return parts, (parts.scheme, host.lower(), port or _DEFAULT_PORTS[parts.scheme])


def parse_origins(base_url: str | None = None, hosts: Iterable[str] = ()) -> frozenset[Origin]:
    """Origins for `UrlPolicy`: the API base URL's, and `host` / `host:port` entries.

    A bare host allows its default ports (80 for http, 443 for https); `host:port` allows
    that port over either scheme. Raises ValueError for an entry that is not a host.
    """
    origins: set[Origin] = set()
    if base_url:
        try:
            origins.add(_split(base_url)[1])
        except Refused:
            raise ValueError("the base URL is not an http(s) URL") from None
    for entry in hosts:
        try:
            parts = urlsplit(f"//{entry.strip()}")
            host, port = parts.hostname, parts.port
        except ValueError:
            raise ValueError("not a host or host:port") from None
        if not host or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("not a host or host:port")
        for scheme, default in _DEFAULT_PORTS.items():
            origins.add((scheme, host.lower(), port or default))
    return frozenset(origins)


@dataclass(frozen=True)
class Target:
    """Where one hop really connects: the checked address, with the name kept for HTTP/TLS."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    server_hostname: str | None = None


@dataclass(frozen=True)
class UrlPolicy:
    """Which URLs a download may touch: public addresses, plus `allowed_origins`.

    The music API's own origin belongs in `allowed_origins` (its simulator runs on
    127.0.0.1); `DOWNLOAD_ALLOWED_HOSTS` adds more. Build one with `UrlPolicy.build`.
    """

    allowed_origins: frozenset[Origin] = frozenset()

    @classmethod
    def build(cls, base_url: str | None = None, hosts: Iterable[str] = ()) -> UrlPolicy:
        return cls(parse_origins(base_url, hosts))

    async def check(self, url: str) -> Target:
        """Refuse `url` (`Refused`) or say where to connect for it."""
        parts, origin = _split(url)
        if origin in self.allowed_origins:
            return Target(url)
        host = origin[1]
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            if not public_address(literal):
                raise Refused("address not allowed")
            return Target(url)
        name = URL(url).raw_host or host  # IDNA-encoded, as DNS, Host and SNI want it
        addresses = await self.resolve(name, origin[2])
        if not addresses or not all(public_address(a) for a in addresses):
            log.info("download refused: %s resolves to a non-public address", name)
            raise Refused("address not allowed")
        # Pin the checked address; the name still goes in Host and in TLS (SNI, cert check).
        pinned = URL(url).with_host(str(addresses[0]))
        explicit = parts.port is not None and parts.port != _DEFAULT_PORTS[parts.scheme]
        return Target(
            str(pinned),
            {"Host": f"{name}:{parts.port}" if explicit else name},
            server_hostname=name if parts.scheme == "https" else None,
        )

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` resolves to (tests replace this to fake DNS)."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise FetchError("cannot resolve the host") from None
        addresses: list[IPAddress] = []
        for info in infos:
            try:
                addresses.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
            except ValueError:
                raise Refused("address not allowed") from None
        return addresses


async def fetch_capped(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    chunk_bytes: int = CHUNK_BYTES,
    policy: UrlPolicy | None = None,
    expect_audio: bool = False,
) -> bytes:
    """GET `url` and return its body, or raise `TooLarge` / `Refused` / `FetchError`.

    `timeout` bounds the whole call (DNS, every redirect hop, headers and body together).
    With `policy`, every hop is checked by it. With `expect_audio`, a body whose first
    bytes are not audio is abandoned at once, and the whole file must pass
    `bot.audio.inspect_audio`, so nothing that is not audio is handed on.
    """
    body = bytearray()

    async def keep(chunk: bytes) -> None:
        body.extend(chunk)

    await _fetch(session, url, keep, max_bytes, timeout, chunk_bytes, policy, expect_audio)
    data = bytes(body)
    if expect_audio and await asyncio.to_thread(inspect_audio, data) is None:
        raise FetchError("not audio")
    return data


async def fetch_to_file(
    session: aiohttp.ClientSession,
    url: str,
    path: Path,
    *,
    max_bytes: int,
    timeout: float,
    chunk_bytes: int = CHUNK_BYTES,
    policy: UrlPolicy | None = None,
    expect_audio: bool = False,
) -> int:
    """Like `fetch_capped`, but the body goes to `path` as it arrives (at most
    `WRITE_BYTES` in memory, written from a thread), and is checked there: a 50 MB track
    never sits in memory whole. Returns its size; the caller removes the file."""
    file = await asyncio.to_thread(path.open, "wb")
    pending = bytearray()
    size = 0

    async def flush() -> None:
        await asyncio.to_thread(file.write, bytes(pending))
        pending.clear()

    async def write(chunk: bytes) -> None:
        nonlocal size
        pending.extend(chunk)
        size += len(chunk)
        if len(pending) >= WRITE_BYTES:
            await flush()

    try:
        await _fetch(session, url, write, max_bytes, timeout, chunk_bytes, policy, expect_audio)
        await flush()
    finally:
        await asyncio.to_thread(file.close)
    if expect_audio and await asyncio.to_thread(inspect_audio_file, path) is None:
        raise FetchError("not audio")
    return size


async def _fetch(
    session: aiohttp.ClientSession,
    url: str,
    sink: Callable[[bytes], Awaitable[None]],
    max_bytes: int,
    timeout: float,
    chunk_bytes: int,
    policy: UrlPolicy | None,
    expect_audio: bool,
) -> None:
    _split(url)  # a bad URL is refused before any network work
    try:
        async with asyncio.timeout(timeout):
            await _follow(session, url, sink, max_bytes, chunk_bytes, policy, expect_audio)
    except (aiohttp.ClientError, TimeoutError) as exc:
        # aiohttp's errors can quote the URL; only the kind of failure is passed on.
        raise FetchError(type(exc).__name__) from None


async def _follow(
    session: aiohttp.ClientSession,
    url: str,
    sink: Callable[[bytes], Awaitable[None]],
    max_bytes: int,
    chunk_bytes: int,
    policy: UrlPolicy | None,
    expect_audio: bool,
) -> None:
    for _ in range(MAX_REDIRECTS + 1):
        target = await policy.check(url) if policy is not None else Target(url)
        async with session.get(
            target.url,
            headers=target.headers or None,
            server_hostname=target.server_hostname,
            allow_redirects=False,
        ) as response:
            location = response.headers.get("Location")
            if response.status in _REDIRECTS and location:
                url = urljoin(url, location)
                _split(url)
                continue
            if response.status != 200:
                raise FetchError(f"HTTP {response.status}")
            await _read(response, sink, max_bytes, chunk_bytes, expect_audio)
            return
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


async def _read(
    response: aiohttp.ClientResponse,
    sink: Callable[[bytes], Awaitable[None]],
    max_bytes: int,
    chunk_bytes: int,
    expect_audio: bool,
) -> None:
    if response.content_length is not None and response.content_length > max_bytes:
        raise TooLarge(response.content_length, max_bytes)
    head = b""  # the first bytes, to sniff
    size = 0
    async for chunk in response.content.iter_chunked(chunk_bytes):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(size, max_bytes)
        if expect_audio and len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
            if len(head) >= SNIFF_BYTES and sniff_audio(head) is None:
                raise FetchError("not audio")
        await sink(chunk)
    if expect_audio and len(head) < SNIFF_BYTES and sniff_audio(head) is None:
        raise FetchError("not audio")

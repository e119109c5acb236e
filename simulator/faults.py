"""Injected faults: what ``Simulator.fail_next`` queues and the HTTP-level answers.

A fault is taken before auth and the rate limit, because faults stand for proxy and
outage failures that happen before the provider looks at the request.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiohttp import web

API_ENDPOINTS = ("add-instrumental", "record-info", "credit")
FILE_ENDPOINTS = ("files", "stream")
HANG_SECONDS = 60.0  # fail_next(-2): longer than any sane client timeout

_BAD_GATEWAY_HTML = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


@dataclass
class _Fault:
    code: int
    remaining: int
    endpoint: str | None


class FaultQueue:
    """Faults waiting for calls to spoil, the earliest queued first."""

    def __init__(self) -> None:
        self._pending: list[_Fault] = []

    def add(self, code: int, times: int, endpoint: str | None) -> None:
        """Queue ``code`` for the next ``times`` calls to ``endpoint`` (None: any API call)."""
        if endpoint is not None and endpoint not in (*API_ENDPOINTS, *FILE_ENDPOINTS):
            raise ValueError(f"unknown endpoint {endpoint!r}")
        if times > 0:
            self._pending.append(_Fault(code, times, endpoint))

    def take(self, endpoint: str) -> int | None:
        """The code this call to ``endpoint`` must answer instead of its work, if any."""
        for fault in self._pending:
            if fault.endpoint == endpoint or (fault.endpoint is None and endpoint in API_ENDPOINTS):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._pending.remove(fault)
                return fault.code
        return None

    def clear(self) -> None:
        """Drop every queued fault (the outage is over)."""
        self._pending.clear()


async def http_fault(code: int, released: asyncio.Event | None) -> web.Response:
    """The answer to a negative (HTTP-level) fault code.

    -1: HTTP 200 with an HTML body; -2: hang for 60 s or until ``released`` is set (the
    simulator closing), then 504; -N for N >= 100: HTTP status N with an HTML body
    (anything else: 502).
    """
    if code == -2:
        if released is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HANG_SECONDS):
                    await released.wait()
        return web.Response(status=504, text="<html>504 Gateway Time-out</html>")
    if code == -1:
        return web.Response(
            status=200,
            text="<html><body>Service temporarily unavailable</body></html>",
            content_type="text/html",
        )
    status = -code if 100 <= -code < 600 else 502
    body = _BAD_GATEWAY_HTML if status == 502 else f"<html><h1>{status}</h1></html>"
    return web.Response(status=status, text=body, content_type="text/html")

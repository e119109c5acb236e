"""Injected faults: what ``Simulator.fail_next`` and ``Simulator.shape_next`` queue, the
seeded odds of :class:`Shapes`, and the HTTP-level answers.

A fault is taken before auth and the rate limit, because faults stand for proxy and
outage failures that happen before the provider looks at the request. An answer shape
(:class:`AnswerShape`) may instead let the call through first: a gateway that forwards
the POST (the API creates and charges the task) and then answers its own error, a
connection cut after the work was done, an answer that comes late. None of these shapes
is documented by the API; each is something a real path to it can do.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

API_ENDPOINTS = ("add-instrumental", "record-info", "credit")
FILE_ENDPOINTS = ("files", "stream")
HANG_SECONDS = 60.0  # fail_next(-2): longer than any sane client timeout

_BAD_GATEWAY_HTML = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


#: The documented failure statuses (CALLBACK_EXCEPTION: made, but the callback failed).
KNOWN_FAILURES = (
    "CREATE_TASK_FAILED",
    "GENERATE_AUDIO_FAILED",
    "SENSITIVE_WORD_ERROR",
    "CALLBACK_EXCEPTION",
)
#: Failure statuses the bot has never been told about (the API adds new ones).
UNKNOWN_FAILURES = ("GENERATE_LYRICS_FAILED", "AUDIO_MODERATION_FAILED", "UPLOAD_REJECTED_ERROR")
#: Statuses of a task still running that no documentation lists.
UNKNOWN_RUNNING = ("QUEUED_AGAIN", "PROCESSING")
MISSING = ""  # an ``odd_status`` of "" leaves the status key out of the answer

GATEWAY_HTML, GATEWAY_JSON, CUT_OFF, LATE = "gateway_html", "gateway_json", "cut_off", "late"
SHAPE_KINDS = (GATEWAY_HTML, GATEWAY_JSON, CUT_OFF, LATE)


@dataclass(frozen=True)
class AnswerShape:
    """How one API call is answered instead of plainly.

    ``gateway_html`` / ``gateway_json``: HTTP ``status`` with a proxy's HTML page or a
    JSON body ``{"code": status, "msg": "Gateway Timeout"}``; with ``forwarded`` the call
    reached the API first (a submission's task is created and charged). ``cut_off``: the
    call is done, then the connection is closed without an answer. ``late``: the call is
    done and its plain answer sent after ``seconds``.
    """

    kind: str
    status: int = 504
    forwarded: bool = False
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in SHAPE_KINDS:
            raise ValueError(f"kind must be one of {SHAPE_KINDS}")

    @property
    def does_work(self) -> bool:
        """Whether the API behind the shape did the call's work."""
        return self.forwarded or self.kind in (CUT_OFF, LATE)


@dataclass
class Shapes:
    """Seeded odds (0 to 1) of each answer shape; all 0 by default (plain answers).

    Per API call (``endpoints``): ``gateway`` (then HTML or JSON, status 502/503/504,
    forwarded with odds ``forwarded``), ``cut_off``, ``late`` (by ``late_seconds``).
    Per accepted task: ``hollow`` (its first ``hollow_answers`` SUCCESS answers, polled
    or called back, list the last track without audio), ``unknown_failure`` (it ends in
    one of UNKNOWN_FAILURES with an error code and message), ``known_failure`` (one of
    KNOWN_FAILURES), ``odd_status`` (its first
    ``odd_answers`` record-info answers carry an unknown running status or none at all;
    a failed task's answers then have only errorCode/errorMessage to tell), ``replay``
    (each callback is followed, with these odds, by the previous stage's again: late
    and out of order).
    """

    gateway: float = 0.0
    forwarded: float = 0.5
    cut_off: float = 0.0
    late: float = 0.0
    late_seconds: float = 1.0
    endpoints: tuple[str, ...] = ("add-instrumental", "record-info", "credit")
    hollow: float = 0.0
    hollow_answers: int = 2
    unknown_failure: float = 0.0
    known_failure: float = 0.0
    odd_status: float = 0.0
    odd_answers: int = 3
    replay: float = 0.0

    def draw(self, rng: random.Random, endpoint: str) -> AnswerShape | None:
        """The shape of one call to ``endpoint``, or None for a plain answer."""
        if endpoint not in self.endpoints:
            return None
        roll = rng.random()
        if roll < self.gateway:
            kind = rng.choice((GATEWAY_HTML, GATEWAY_JSON))
            status = rng.choice((502, 503, 504))
            return AnswerShape(kind, status, forwarded=rng.random() < self.forwarded)
        roll -= self.gateway
        if roll < self.cut_off:
            return AnswerShape(CUT_OFF)
        roll -= self.cut_off
        if roll < self.late:
            return AnswerShape(LATE, seconds=self.late_seconds)
        return None


@dataclass
class _Fault:
    code: int | AnswerShape
    remaining: int
    endpoint: str | None


class FaultQueue:
    """Faults waiting for calls to spoil, the earliest queued first."""

    def __init__(self) -> None:
        self._pending: list[_Fault] = []

    def add(self, code: int | AnswerShape, times: int, endpoint: str | None) -> None:
        """Queue ``code`` for the next ``times`` calls to ``endpoint`` (None: any API call)."""
        if endpoint is not None and endpoint not in (*API_ENDPOINTS, *FILE_ENDPOINTS):
            raise ValueError(f"unknown endpoint {endpoint!r}")
        if times > 0:
            self._pending.append(_Fault(code, times, endpoint))

    def take(self, endpoint: str) -> int | AnswerShape | None:
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


def gateway_answer(shape: AnswerShape) -> web.Response:
    """A gateway's own error: its HTML page, or JSON that looks like an envelope."""
    if shape.kind == GATEWAY_JSON:
        msg = {502: "Bad Gateway", 503: "Service Unavailable"}.get(shape.status, "Gateway Timeout")
        return web.json_response({"code": shape.status, "msg": msg}, status=shape.status)
    body = _BAD_GATEWAY_HTML if shape.status == 502 else f"<html><h1>{shape.status}</h1></html>"
    return web.Response(status=shape.status, text=body, content_type="text/html")


def cut_off(request: web.Request) -> web.Response:
    """Close the connection without an answer (the work is done)."""
    if request.transport is not None:
        request.transport.close()
    # Never written: the transport is gone. aiohttp needs a response to return.
    return web.Response(status=500)


class Draws:
    """The seeded random source of the answer shapes (one per simulator, its own stream,
    so turning shapes on does not change the tasks' ids). ``shapes`` is read at each
    draw: tests may change the settings at runtime."""

    def __init__(self, shapes: Callable[[], Shapes], seed: int | None) -> None:
        self._shapes = shapes
        self._rng = random.Random(None if seed is None else seed * 7919 + 1)

    @property
    def shapes(self) -> Shapes:
        return self._shapes()

    def answer(self, endpoint: str) -> AnswerShape | None:
        return self._shapes().draw(self._rng, endpoint)

    def chance(self, odds: float) -> bool:
        return odds > 0 and self._rng.random() < odds

    def choice(self, options: tuple[str, ...]) -> str:
        return self._rng.choice(options)

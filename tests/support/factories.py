"""Requests and clients as tests and benchmarks build them."""

from __future__ import annotations

import itertools
import time
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.music import MusicClient, RateLimiter
from bot.store import NewTask

API_KEY = "test-key-0123456789abcdef"
UPLOAD_URL = "https://cdn.example.invalid/attachments/voice.wav"  # for simulators that skip it

_interactions = itertools.count(1_000)


def new_task(upload_url: str = UPLOAD_URL, **overrides: Any) -> NewTask:
    """A request as the intake records it; each call is a new interaction."""
    fields: dict[str, Any] = {
        "interaction_id": next(_interactions),
        "user_id": 42,
        "channel_id": 7,
        "guild_id": 3,
        "upload_url": upload_url,
        "input_filename": "voice.wav",
        "title": "Morning take",
        "tags": "lofi, piano",
        "negative_tags": "metal",
        "model": "V4_5PLUS",
    }
    fields.update(overrides)
    return NewTask(**fields)


class RecordingLimiter(RateLimiter):
    """The client's RateLimiter, also noting when each call was let through."""

    def __init__(self, limit: int, period: float, *, margin: float) -> None:
        super().__init__(limit, period, margin=margin)
        self.departures: list[float] = []

    async def acquire(self) -> float:
        waited = await super().acquire()
        self.departures.append(time.monotonic())
        return waited


def make_client(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    limit: int = 20,
    period: float = 10.0,
    margin: float = 0.05,
    timeout: float = 2.0,
    max_retries: int = 2,
    backoff: float = 0.01,
    api_key: str | None = API_KEY,
) -> MusicClient:
    """The real client; the defaults suit tests (short time-outs and backoff). The margin
    absorbs jitter between our departures and the simulator's arrivals, which is larger on
    a loaded machine running both in one process."""
    return MusicClient(
        session,
        base_url=base_url,
        api_key=SecretStr(api_key) if api_key else None,
        limiter=RecordingLimiter(limit, period, margin=margin),
        timeout=timeout,
        max_retries=max_retries,
        backoff=backoff,
        allowed_models=("V4_5PLUS", "V5"),
    )


def api_calls(calls: Any, endpoint: str, code: int | None = None) -> int:
    """Count from a simulator's `calls` Counter keyed by (endpoint, code)."""
    return sum(n for (ep, c), n in calls.items() if ep == endpoint and (code is None or c == code))

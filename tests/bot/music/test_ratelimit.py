"""The client's rate limiter on a clock the test moves: a call holds its slot until its
answer came, and the window counts from there."""

from __future__ import annotations

import asyncio

import pytest

from bot.music import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """`asyncio.sleep` moves this clock instead of waiting (for this test only)."""
    clock = Clock()
    real_sleep = asyncio.sleep

    async def sleep(delay: float) -> None:
        clock.now += max(0.0, delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return clock


async def test_the_window_counts_from_each_answer(clock: Clock) -> None:
    limiter = RateLimiter(2, 10.0, margin=0.0, clock=clock)
    assert await limiter.acquire() == 0.0
    assert await limiter.acquire() == 0.0
    await limiter.release()  # answered at 100
    clock.now = 100.5  # the other one was held up on its way: answered half a second later
    await limiter.release()
    assert limiter.available == 0
    # The third call waits for the first answer's window (100 + 10), the fourth for the
    # second's (100.5 + 10): never two calls inside any 10 s with one held-up call.
    assert await limiter.acquire() == pytest.approx(9.5)
    assert clock.now == pytest.approx(110.0)
    await limiter.acquire()
    assert clock.now == pytest.approx(110.5)


async def test_calls_still_on_the_wire_hold_their_slots(clock: Clock) -> None:
    limiter = RateLimiter(1, 10.0, margin=0.0, clock=clock)
    await limiter.acquire()
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)  # it starts waiting at 100
    clock.now += 60.0  # a hung call: however long, its slot is not given away
    await asyncio.sleep(0)
    assert not waiting.done()
    await limiter.release()  # it ended (a time-out): the slot is free 10 s after that
    assert await waiting == pytest.approx(70.0)
    assert clock.now == pytest.approx(170.0)


async def test_a_call_not_sent_gives_its_slot_back_after_the_window(clock: Clock) -> None:
    limiter = RateLimiter(3, 10.0, margin=0.25, clock=clock)
    for _ in range(3):
        await limiter.acquire()
        await limiter.release()
    assert limiter.available == 0
    clock.now += 10.25
    assert limiter.available == 3

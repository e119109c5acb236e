"""What one episode will meet, drawn from its seed before it starts: the API's timing and
answer shapes, the requests, and the faults at every step (outages, credits running out,
Discord failing, the process killed and restarted, the clock stepping).

Everything random about an episode comes from here, so its seed names it: the same seed
draws the same setting (the event loop's own timing is the only thing left to chance).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator.faults import Shapes

ACTIVE = 2.5  # seconds of faults; then the calm, until every task has settled
TASK_TIMEOUT = 3.0  # the bot's task time-out in an episode (20 minutes at about 1/400)
CLIENT_TIMEOUT = 1.0  # the client's request time-out; some late answers outlast it

# Outages: a business code in the envelope, or an HTTP-level fault (simulator/faults.py):
# -1 an HTML page on HTTP 200, -2 a hang past the client's time-out, -502/-503 HTML.
OUTAGE_CODES = (455, 500, -1, -2, -502, -503)

REQUEST, OUTAGE, CREDITS, DISCORD, KILL, KILL_AFTER_POST, CLOCK = (
    "request",
    "outage",
    "credits",
    "discord",
    "kill",
    "kill_after_post",
    "clock",
)


@dataclass(frozen=True)
class Event:
    at: float  # seconds after the episode starts
    kind: str
    length: float = 0.0  # outages, credits and Discord failures last this long
    code: int = 0  # outage code; Discord: how many calls fail
    permanent: bool = False  # Discord: the failures are for good (PermanentDeliveryError)
    jump: float = 0.0  # clock: the step, in seconds (negative: back)

    def describe(self) -> str:
        if self.kind == OUTAGE:
            return f"{self.at:.2f}s outage {self.code} for {self.length:.2f}s"
        if self.kind == CREDITS:
            return f"{self.at:.2f}s credits out for {self.length:.2f}s"
        if self.kind == DISCORD:
            kind = "permanent" if self.permanent else "transient"
            return f"{self.at:.2f}s Discord: {self.code} {kind} failures"
        if self.kind == CLOCK:
            return f"{self.at:.2f}s clock steps {self.jump:+.2f}s"
        return f"{self.at:.2f}s {self.kind}"


@dataclass(frozen=True)
class Setting:
    seed: int
    callbacks: bool
    delays: tuple[float, float, float]  # the API's text, first, complete (seconds)
    track_count: int
    callback_repeats: int  # each callback sent this many times (duplicates)
    shapes: Shapes
    events: tuple[Event, ...]

    @property
    def requests(self) -> int:
        return sum(1 for event in self.events if event.kind == REQUEST)

    def faults(self) -> int:
        """Fault events drawn (the answer shapes are counted as they are served)."""
        return sum(1 for event in self.events if event.kind != REQUEST)

    def describe(self) -> str:
        text, first, complete = self.delays
        lines = [
            f"seed {self.seed}: callbacks {'on' if self.callbacks else 'off'}, "
            f"API {text:.2f}/{first:.2f}/{complete:.2f}s, {self.track_count} track(s), "
            f"callbacks x{self.callback_repeats}, {self.requests} requests",
            f"  shapes: {self.shapes}",
        ]
        lines += [f"  {event.describe()}" for event in self.events if event.kind != REQUEST]
        return "\n".join(lines)


def draw(seed: int) -> Setting:
    rng = random.Random(seed)
    callbacks = rng.random() < 0.5
    first = rng.uniform(0.05, 0.8)
    delays = (first * rng.uniform(0.2, 0.6), first, first + rng.choice((0.0, 0.05, 0.4)))
    shapes = Shapes(
        gateway=rng.choice((0.0, 0.05, 0.15)),
        forwarded=rng.choice((0.5, 1.0)),
        cut_off=rng.choice((0.0, 0.03, 0.08)),
        late=rng.choice((0.0, 0.05, 0.1)),
        late_seconds=rng.choice((0.2, 1.5)),  # within, or past, the client's time-out
        hollow=rng.choice((0.0, 0.3, 0.6)),
        hollow_answers=rng.randint(1, 3),
        unknown_failure=rng.choice((0.0, 0.2)),
        known_failure=rng.choice((0.0, 0.15)),
        odd_status=rng.choice((0.0, 0.2)),
        odd_answers=rng.randint(1, 4),
        replay=rng.choice((0.0, 0.3)),
    )
    events = [Event(rng.uniform(0.0, ACTIVE * 0.8), REQUEST) for _ in range(rng.randint(2, 6))]
    for _ in range(rng.randint(0, 2)):
        length = rng.choice((rng.uniform(0.2, 1.0), rng.uniform(2.0, 5.0)))
        events.append(Event(rng.uniform(0, ACTIVE), OUTAGE, length, rng.choice(OUTAGE_CODES)))
    if rng.random() < 0.25:
        events.append(Event(rng.uniform(0, ACTIVE), CREDITS, rng.uniform(0.3, 2.0)))
    for _ in range(rng.randint(0, 2)):
        permanent = rng.random() < 0.2
        events.append(
            Event(rng.uniform(0, ACTIVE), DISCORD, code=rng.randint(1, 4), permanent=permanent)
        )
    for _ in range(rng.randint(0, 2)):
        events.append(Event(rng.uniform(0.1, ACTIVE), rng.choice((KILL, KILL, KILL_AFTER_POST))))
    if rng.random() < 0.3:
        events.append(Event(rng.uniform(0, ACTIVE), CLOCK, jump=rng.uniform(-0.8, 0.8)))
    return Setting(
        seed=seed,
        callbacks=callbacks,
        delays=delays,
        track_count=rng.choice((1, 2, 2)),
        callback_repeats=rng.choice((1, 1, 2)),
        shapes=shapes,
        events=tuple(sorted(events, key=lambda event: event.at)),
    )

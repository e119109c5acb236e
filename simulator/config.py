"""Knobs of the music-API simulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.faults import Shapes

#: Stage delays of ``python -m simulator --fast`` (text, first, complete), in seconds.
FAST_DELAYS = (5.0, 15.0, 25.0)


@dataclass
class SimulatorConfig:
    """Behaviour of a :class:`~simulator.Simulator`; tests may change it at runtime.

    Timing, outcome and audio settings are copied into each task when it is submitted,
    so changing them affects later submissions only. Everything else (auth, rate limit,
    credits, callback casing...) applies to the next request.
    """

    api_key: str | None = None  # None: any (or no) bearer is accepted
    credits: float = 500.0  # balance; each accepted submission spends task_cost
    task_cost: float = 12.0  # balance < task_cost -> code 429
    text_delay: float = 30.0  # seconds after submission until TEXT_SUCCESS
    first_delay: float = 90.0  # ... FIRST_SUCCESS (track 1 done, track 2 listed)
    complete_delay: float = 150.0  # ... SUCCESS
    # Or each task draws its own stage times from a timing profile (simulator/profiles.py,
    # seeded by `seed`), multiplied by timing_scale; "fixed" uses the three delays above.
    timing_profile: str = "fixed"
    timing_scale: float = 1.0
    track_count: int = 2  # 1 or 2
    rate_limit: int = 20  # accepted API requests per rate_period per key ...
    rate_period: float = 10.0  # ... beyond that: code 430, request not executed
    failure_rate: float = 0.0  # probability a task fails with failure_status
    failure_status: str = "GENERATE_AUDIO_FAILED"
    callback_casing: str = "documented"  # or "drifted": taskId + camelCase track fields
    callback_repeats: int = 1  # each stage's callback is sent this many times
    send_callbacks: bool = True
    audio_seconds: float = 6.0  # length of each result track
    audio_pad_bytes: int | None = None  # make each result file at least this big
    # The sandbox engine (simulator/sandbox.py): serve each task's tracks as a backing
    # mixed under its uploaded recording, as long as the recording, instead of the
    # audio_seconds tone (which stays the fallback for inputs it cannot decode). It keeps
    # each upload in memory and renders in a worker thread. Off for tests: on in
    # ``python -m simulator``.
    sandbox: bool = False
    max_upload_bytes: int = 50 * 1024 * 1024
    public_base_url: str | None = None  # base of file URLs; default: where we listen
    seed: int | None = None
    # Additions beyond the brief's interface:
    record_info_casing: str = "documented"  # or "drifted": response.data[] snake_case
    models: frozenset[str] = field(default_factory=lambda: frozenset({"V4_5PLUS", "V5", "V5_5"}))
    check_upload: bool = True  # fetch and sniff uploadUrl; off: trust it blindly
    # The API documents MP3 and WAV "or other supported formats" without naming them:
    # None takes any audio it sniffs; a tuple of sniffed kinds ("mp3", "wav") refuses the
    # rest with 451, as a provider that decodes only what it documents would.
    upload_formats: tuple[str, ...] | None = None
    upload_timeout: float = 10.0  # seconds for fetching uploadUrl
    callback_timeout: float = 15.0  # the receiver must answer within this
    callback_retries: int = 3  # extra attempts after a failed delivery
    callback_backoff: float = 0.5  # first retry delay; doubles each retry
    # Seconds the answer to an accepted submission takes once the task is created and
    # charged (a slow network or gateway): a bot that dies meanwhile never learns its id.
    submit_answer_delay: float = 0.0
    # When the final ("complete") callback cannot be delivered after all retries, turn
    # the task's status into CALLBACK_EXCEPTION, as the provider does. Off by default so
    # tests that poll with a dummy callBackUrl still see SUCCESS.
    mark_callback_exception: bool = False
    # Discord's attachment URLs are signed and expire (`?ex=<hex unix time>`): the provider
    # cannot download an expired one. The time those are judged by (tests move it).
    clock: Callable[[], float] = time.time
    # Answer shapes no documentation promises (gateways, cut-off and late answers, SUCCESS
    # before every track has audio, unknown statuses, stale callbacks): seeded odds, all
    # 0 by default. See simulator/faults.py.
    shapes: Shapes = field(default_factory=Shapes)

    def use_fast_timings(self) -> None:
        """Apply the ``--fast`` stage delays (5 s / 15 s / 25 s)."""
        self.text_delay, self.first_delay, self.complete_delay = FAST_DELAYS

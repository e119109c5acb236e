"""Issue 22: several processes that agree on time, with real processes and real faults
(tests/support/partition.py): clocks skewed by +30 s and -20 s, one process stopped past
its leases and resumed, one killed. Nothing paid is lost, nothing is submitted or posted
twice, the API never refuses a call for its rate limit. `bench/bench_partition.py` runs
the same with 300 requests."""

from __future__ import annotations

from pathlib import Path

from tests.support.partition import partition_run
from tests.support.skew import faketime_library

REQUESTS = 60


async def test_skewed_clocks_a_stalled_and_a_killed_process(tmp_path: Path, uploads: str) -> None:
    faketime_library()
    figures = await partition_run(tmp_path, f"{uploads}/voice.wav", REQUESTS, timeout=150.0)
    assert figures.requests == REQUESTS
    assert (figures.lost, figures.submitted_twice, figures.posted_twice) == (0, 0, 0), figures
    assert figures.refusals == 0, figures

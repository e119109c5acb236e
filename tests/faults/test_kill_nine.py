"""The fault suite's crash part: a bot process killed with SIGKILL at random moments, with
callbacks on, loses no paid task, posts nothing twice and submits nothing twice.
(`python -m bench.bench_faults` runs the same scenario many times: the soak.)"""

from __future__ import annotations

from pathlib import Path

from tests.support.faults import kill_after_accept, kill_nine


async def test_kill_nine_at_random_moments(tmp_path: Path, uploads: str) -> None:
    figures = await kill_nine(tmp_path, requests=30, kills=10, seed=1, uploads=uploads)
    assert figures.accepted > 0
    assert (figures.lost, figures.posted_twice, figures.submitted_twice) == (0, 0, 0)
    # Every request ended: made (paid once) or failed before the API had it (no charge).
    assert figures.accepted + figures.unsent_failed == figures.requests


async def test_callbacks_heard_while_discord_starts(tmp_path: Path, uploads: str) -> None:
    """Issue 21 item 9: killed between the API's charge and its answer, the worker never
    recorded the three API ids; the API calls back (a few tries, none after 4.5 s) while
    the restarted worker is still waiting for Discord (12 s). Every task is adopted from its
    callbacks and delivered once Discord is up."""
    figures = await kill_after_accept(tmp_path, requests=3, discord_start=12.0, uploads=uploads)
    assert figures.accepted == 3
    assert (figures.lost, figures.posted_twice, figures.submitted_twice) == (0, 0, 0)

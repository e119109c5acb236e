"""A process whose clock is off: Debian's libfaketime (`scripts/test` installs it),
preloaded into a child process with an offset. Its monotonic clock is left alone (only
its wall clock is wrong, as on a real host with a bad clock)."""

from __future__ import annotations

import glob
import os
import shutil

import pytest

_PATTERNS = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")


def faketime_library() -> str:
    """The library's path; skips the test without it (fails it in CI)."""
    for pattern in _PATTERNS:
        for found in glob.glob(pattern):
            return found
    reason = "libfaketime is not installed (apt-get install faketime; scripts/test does)"
    if os.environ.get("CI", "").lower() == "true" or shutil.which("faketime"):
        pytest.fail(reason)
    pytest.skip(reason)


def skewed(seconds: float) -> dict[str, str]:
    """The environment of a child process whose wall clock is `seconds` off."""
    if not seconds:
        return dict(os.environ)
    return {
        **os.environ,
        "LD_PRELOAD": faketime_library(),
        "FAKETIME": f"{seconds:+g}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_NO_CACHE": "1",
    }

"""Expected problems with what a member asked, in one short sentence only they see.

No Discord here: the core raises `Refusal`, the bot's central error handler shows it.
"""

from __future__ import annotations


class Refusal(Exception):
    """A request (or a command) that cannot go ahead; `str()` is the member-readable reason."""

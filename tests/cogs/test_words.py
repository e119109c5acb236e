"""Every word of a closed set the core hands out has a phrase on the Discord side."""

from __future__ import annotations

from bot.store import JamPhase, Origin
from cogs.instrumental.render import ORIGIN_WORDS
from cogs.jam.render import PHASE_WORDS


def test_every_origin_and_phase_has_words() -> None:
    assert set(ORIGIN_WORDS) == set(Origin)
    assert set(PHASE_WORDS) == set(JamPhase)

"""Blocked words match what a reader sees: the evasions a hostile member tried (issue 23)."""

from __future__ import annotations

import pytest

from bot.core.guilds import GuildConfig
from bot.core.words import fold

WORDS = ("slur", "bad word")
CONFIG = GuildConfig(blocked_words=WORDS)


@pytest.mark.parametrize(
    "text",
    [
        "slur beat",
        "s\u200blur beat",  # zero-width space
        "sl\u00adur",  # soft hyphen
        "\u0455lur",  # Cyrillic dze, looks like s
        "sl\u03c5r",  # Greek upsilon
        "ｓｌｕｒ beat",  # fullwidth
        "s\u0336l\u0336u\u0336r\u0336",  # combining strike-through
        "slúr",
        "slur_beat",
        "SLUR-core",
        "bad  word",
        "bad\nword",
        "BAD\u200b \u00a0 WORD",
        "lo-fi, bad_word",
    ],
)
def test_evasions_are_caught(text: str) -> None:
    assert CONFIG.blocked_word_in(text) in WORDS, repr(text)


@pytest.mark.parametrize("text", ["slurp", "slurry beat", "badword", "bad words", ""])
def test_whole_words_only(text: str) -> None:
    assert CONFIG.blocked_word_in(text) is None


def test_a_blocked_word_is_folded_like_the_text() -> None:
    config = GuildConfig(blocked_words=("Ｇore",))
    assert config.blocked_word_in("gore metal") == "Ｇore"  # named as the moderator wrote it
    assert fold(" Rock'n'Roll\t ") == "rock n roll"

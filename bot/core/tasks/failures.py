"""What a member reads when the music service ends a task in failure: our sentence for
the failure, then the service's own words (its errorMessage and errorCode), quoted so
that they can only ever read as plain text."""

from __future__ import annotations

import re
import unicodedata

from bot.music.errors import CALLBACK_ERROR_REASONS, FAILURE_REASONS

GENERIC_FAILURE = "The music service could not make this track."
CALLBACK_FAILURE = "The music service reported an error."
QUOTE_MAX = 200  # characters of the service's message shown

# Characters that start Discord markdown or links: each is shown literally. A mention's
# @ gets a zero-width space after it (as discord.py's escape_mentions does).
_MARKUP = re.compile(r"([\\*_~`|>#\[\]()<:-])")


def quoted(text: str) -> str:
    """The service's words as plain text: control and format characters (zero-width,
    bidi overrides) dropped, whitespace collapsed, clipped, every markup character
    escaped, so no message can ping, link, hide text or look like ours."""
    kept = "".join(" " if ch.isspace() else ch for ch in text if unicodedata.category(ch)[0] != "C")
    words = " ".join(kept.split())
    if len(words) > QUOTE_MAX:
        words = words[: QUOTE_MAX - 1] + "…"
    return _MARKUP.sub(r"\\\1", words).replace("@", "@\u200b")


def with_api_words(sentence: str, code: int | None, message: str | None) -> str:
    """`sentence`, then what the service said, e.g. `… (music service: "Flagged", code 531)`."""
    said = quoted(message or "")
    if said and code is not None:
        return f'{sentence} (music service: "{said}", code {code})'
    if said:
        return f'{sentence} (music service: "{said}")'
    if code is not None:
        return f"{sentence} (music service code {code})"
    return sentence


def status_failure(status: str, code: int | None, message: str | None) -> str:
    """A record-info status that ended the task, known or not."""
    return with_api_words(FAILURE_REASONS.get(status, GENERIC_FAILURE), code, message)


def callback_failure(code: int, message: str) -> str:
    """An `error` callback (or one whose code is not 200)."""
    return with_api_words(CALLBACK_ERROR_REASONS.get(code, CALLBACK_FAILURE), code, message)

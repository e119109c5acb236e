"""The rules a request's options and a server's defaults share: one place, one wording."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping

from bot.errors import Refusal
from bot.music.models import TAGS_MAX
from bot.store.states import VocalGender

GENDERS = {
    "male": VocalGender.MALE,
    "female": VocalGender.FEMALE,
    "m": VocalGender.MALE,
    "f": VocalGender.FEMALE,
}
WEIGHTS = {"style_weight": "Style weight", "weirdness": "Weirdness", "audio_weight": "Audio weight"}
TAG_NAMES = {"tags": "Tags", "negative_tags": "Negative tags"}


def weight(name: str, value: float | None) -> float | None:
    """Weights are 0 to 1, sent as multiples of 0.01 (`rounding_note` says so)."""
    if value is None:
        return None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise Refusal(f"{WEIGHTS[name]} must be a number from 0 to 1 (yours: {value:g}).")
    return round(value, 2) + 0.0  # + 0.0: -0 is sent as 0


def rounding_note(given: Mapping[str, float | None], used: Mapping[str, float | None]) -> str:
    """What a member is told when a weight they gave was rounded: " Style weight 0.456 is
    sent as 0.46." (empty when nothing was)."""
    return "".join(
        f" {WEIGHTS[name]} {value:g} is sent as {used[name]:g}."
        for name, value in given.items()
        if value is not None and used.get(name) is not None and used[name] != value
    )


NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def weight_text(name: str, text: str) -> float:
    """A weight typed as text (the Tweak form): plain ASCII decimal notation only, so what
    is sent is what was typed; the typed text is echoed back when it is refused."""
    refused = Refusal(f"{WEIGHTS[name]} must be a number from 0 to 1 (yours: {text[:20]}).")
    if not NUMBER.fullmatch(text):
        raise refused
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise refused
    rounded = weight(name, value)
    if rounded is None or abs(rounded - value) > 1e-9:
        raise Refusal(
            f"{WEIGHTS[name]} takes at most two decimals, like 0.25 (yours: {text[:20]})."
        )
    return rounded


def tags(name: str, text: str | None) -> str | None:
    """Trimmed tags, None when empty; refuses text over the API's length."""
    text = (text or "").strip()
    if len(text) > TAGS_MAX:
        raise Refusal(
            f"{TAG_NAMES[name]} can be at most {TAGS_MAX} characters (yours: {len(text)})."
        )
    return text or None


def model(value: str, allowed: Collection[str]) -> str:
    if value not in allowed:
        raise Refusal(f"The model {value} is not offered here.")
    return value


def gender(value: str | None) -> VocalGender | None:
    if not value:
        return None
    code = GENDERS.get(value.lower())
    if code is None:
        raise Refusal("Vocal gender can be male or female.")
    return code


def part(start: float | None, length: float | None) -> None:
    """`start` and `length` (seconds) of a long take: a start from 0, a length above 0."""
    if start is not None and (not math.isfinite(start) or start < 0):
        raise Refusal(f"Start is where to begin, in seconds from 0 (yours: {start:g}).")
    if length is not None and (not math.isfinite(length) or length <= 0):
        raise Refusal(f"Length is how many seconds to use, above 0 (yours: {length:g}).")


def seconds(name: str, text: str) -> float | None:
    """A time a member typed: `90`, `1:30` or `1:02:03`; None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise Refusal(f"{name} is a time like 90 or 1:30 (yours: {text}).") from None
    if len(parts) > 3 or any(p < 0 or not math.isfinite(p) for p in parts):
        raise Refusal(f"{name} is a time like 90 or 1:30 (yours: {text}).")
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return total

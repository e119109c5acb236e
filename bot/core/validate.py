"""The rules a request's options and a server's defaults share: one place, one wording."""

from __future__ import annotations

import math
from collections.abc import Collection

from bot.errors import Refusal
from bot.music.models import TAGS_MAX

GENDERS = {"male": "m", "female": "f", "m": "m", "f": "f"}
GENDER_WORDS = {"m": "male", "f": "female"}
WEIGHTS = {"style_weight": "Style weight", "weirdness": "Weirdness", "audio_weight": "Audio weight"}
TAG_NAMES = {"tags": "Tags", "negative_tags": "Negative tags"}


def weight(name: str, value: float | None) -> float | None:
    """Weights are 0 to 1, sent as multiples of 0.01."""
    if value is None:
        return None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise Refusal(f"{WEIGHTS[name]} must be a number from 0 to 1 (yours: {value:g}).")
    return round(value, 2)


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


def gender(value: str | None) -> str | None:
    if not value:
        return None
    code = GENDERS.get(value.lower())
    if code is None:
        raise Refusal("Vocal gender can be male or female.")
    return code

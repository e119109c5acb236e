"""Validation of an add-instrumental submission: which fields, types and lengths pass."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

REQUIRED_FIELDS = ("uploadUrl", "title", "tags", "negativeTags", "callBackUrl")
URL_FIELDS = ("uploadUrl", "callBackUrl")
WEIGHT_FIELDS = ("styleWeight", "weirdnessConstraint", "audioWeight")
TITLE_MAX = 100
TAGS_MAX = 1000


class Invalid(Exception):
    """A submission the API rejects with business ``code`` and message ``msg``."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def validate_submission(body: Any, models: Collection[str]) -> None:
    """Raise :class:`Invalid` (400 or 413) if ``body`` is not an acceptable submission.

    Missing or wrongly-typed fields are checked before lengths, so a request with both
    problems gets 400, the code that tells the user to fix the request.
    """
    if not isinstance(body, dict):
        raise Invalid(400, "request body must be a JSON object")
    for name in REQUIRED_FIELDS:
        value = body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise Invalid(400, f"{name} is required")
        if not isinstance(value, str):
            raise Invalid(400, f"{name} must be a string")
    for name in URL_FIELDS:
        if not body[name].lower().startswith(("http://", "https://")):
            raise Invalid(400, f"{name} must be an http(s) URL")
    if len(body["title"]) > TITLE_MAX:
        raise Invalid(413, f"title is too long (max {TITLE_MAX} characters)")
    for name in ("tags", "negativeTags"):
        if len(body[name]) > TAGS_MAX:
            raise Invalid(413, f"{name} is too long (max {TAGS_MAX} characters)")
    gender = body.get("vocalGender")
    if gender is not None and gender not in ("m", "f"):
        raise Invalid(400, "vocalGender must be 'm' or 'f'")
    for name in WEIGHT_FIELDS:
        value = body.get(name)
        if value is not None and not _is_weight(value):
            raise Invalid(400, f"{name} must be between 0 and 1, a multiple of 0.01")
    model = body.get("model")
    if model is not None and model not in models:
        raise Invalid(400, f"model must be one of {', '.join(sorted(models))}")


def _is_weight(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if not math.isfinite(value) or not 0 <= value <= 1:
        return False
    # Tolerance for binary floats: 0.29 * 100 == 28.999999999999996.
    return abs(value * 100 - round(value * 100)) < 1e-6

"""The task key in a callback URL (`/callback/<secret>/<key>`): it names the bot's own task,
so a callback can find a task whose API id was never recorded (the bot died, or its write
failed, right after the API accepted the submission). Signed with the callback secret, so
it cannot be made up from outside."""

from __future__ import annotations

import hashlib
import hmac

_SIGNATURE_CHARS = 16


def _signature(secret: str, task_id: int) -> str:
    digest = hmac.new(secret.encode(), f"task:{task_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:_SIGNATURE_CHARS]


def task_key(secret: str, task_id: int) -> str:
    return f"{task_id}-{_signature(secret, task_id)}"


def task_of_key(secret: str, key: str) -> int | None:
    """The task id a key names, or None if the key is not one of ours."""
    number, _, signature = key.partition("-")
    if not number.isdigit() or len(number) > 18:
        return None
    task_id = int(number)
    return task_id if hmac.compare_digest(signature, _signature(secret, task_id)) else None

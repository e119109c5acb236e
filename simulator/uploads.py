"""The upload check: fetch a submission's uploadUrl like the provider does, and refuse
what cannot be fetched or is not audio (the task then ends with code 451). In sandbox
mode the whole upload (at most ``max_upload_bytes``) is kept and handed to the sandbox;
otherwise only its first bytes, to sniff."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot.audio import SNIFF_BYTES, sniff_audio
from simulator.config import SimulatorConfig
from simulator.tasks import UPLOAD_ERROR_CODE, UPLOAD_FAILED, UPLOAD_OK, SimTask

log = logging.getLogger(__name__)

FETCH_FAILED_MSG = "Failed to fetch the audio file"
NOT_AUDIO_MSG = "The uploaded file is not audio"
UNSUPPORTED_MSG = "The uploaded audio format is not supported"


class _UploadError(Exception):
    """uploadUrl could not be fetched (the detail goes to the log, not to the client)."""


#: Called with a sandbox task and its whole upload, before the upload is accepted.
KeepBody = Callable[[SimTask, bytes], Awaitable[None]]


async def check_upload(
    session: aiohttp.ClientSession,
    task: SimTask,
    config: SimulatorConfig,
    keep_body: KeepBody | None = None,
) -> None:
    """Fetch and sniff the task's uploadUrl; record the verdict on the task.

    Afterwards ``task.upload_state`` is ok or failed (with the 451 error set); the caller
    advances the task. For a sandbox task, ``keep_body`` is awaited with the whole upload
    first, while the task is still pending, so what it learns (the length of the
    rendering) is there before any stage is reported.
    """
    if signed_url_expired(task.params["uploadUrl"], config.clock()):
        log.info("task %s: uploadUrl is an expired signed link", task.task_id)
        _fail(task, FETCH_FAILED_MSG)
        return
    try:
        body, size = await _fetch(
            session,
            task.params["uploadUrl"],
            config.max_upload_bytes,
            config.upload_timeout,
            keep=task.sandbox,
        )
    except _UploadError as exc:
        log.info("task %s: upload fetch failed: %s", task.task_id, exc)
        _fail(task, FETCH_FAILED_MSG)
        return
    task.upload_bytes = size
    task.upload_kind = sniff_audio(body[:SNIFF_BYTES])
    if task.upload_kind is None:
        log.info("task %s: upload is not audio (%d bytes)", task.task_id, size)
        _fail(task, NOT_AUDIO_MSG)
        return
    formats = config.upload_formats
    if formats is not None and task.upload_kind not in formats:
        log.info("task %s: upload is %s, not one of %s", task.task_id, task.upload_kind, formats)
        _fail(task, UNSUPPORTED_MSG)
        return
    if task.sandbox and keep_body is not None:
        await keep_body(task, body)
    task.upload_state = UPLOAD_OK


def signed_url_expired(url: str, now: float) -> bool:
    """A Discord-style signed attachment URL (`?ex=<hex expiry>&is=…&hm=…`) past its
    expiry: Discord answers 404 to it, so the provider fails to download it."""
    try:
        expiry = parse_qs(urlsplit(url).query).get("ex")
        return expiry is not None and int(expiry[0], 16) < now
    except ValueError:
        return False


def _fail(task: SimTask, message: str) -> None:
    task.upload_state = UPLOAD_FAILED
    task.error_code = UPLOAD_ERROR_CODE
    task.error_message = message


async def _fetch(
    session: aiohttp.ClientSession, url: str, limit: int, time_limit: float, *, keep: bool
) -> tuple[bytes, int]:
    """Download ``url``; return (its first bytes, or all of it with ``keep``; total size)."""
    body = bytearray()
    size = 0
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=time_limit)) as response:
            if response.status != 200:
                raise _UploadError(f"HTTP {response.status}")
            if response.content_length is not None and response.content_length > limit:
                raise _UploadError(f"{response.content_length} bytes is over {limit}")
            async for chunk in response.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise _UploadError(f"more than {limit} bytes")
                if keep:
                    body += chunk
                elif len(body) < SNIFF_BYTES:
                    body += chunk[: SNIFF_BYTES - len(body)]
    except (aiohttp.ClientError, TimeoutError) as exc:
        # Only the class name: some aiohttp errors embed the full (signed) URL.
        raise _UploadError(type(exc).__name__) from exc
    return bytes(body), size

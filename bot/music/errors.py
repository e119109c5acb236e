"""The music API's failures, each saying whether a retry can help and what a member may read."""

from __future__ import annotations


class MusicError(Exception):
    """Base of every failure of the music API client.

    `reason` is a sentence a member can read; `retryable` says whether the same call may
    succeed later. Messages never carry the API key.
    """

    retryable: bool = False
    reason: str = "The music service failed."

    def __init__(self, detail: str = "", *, reason: str | None = None) -> None:
        self.detail = detail
        if reason is not None:
            self.reason = reason
        super().__init__(detail or self.reason)


class MusicConnectionError(MusicError):
    """The request never got an answer: DNS, refused connection, reset."""

    retryable = True
    reason = "The music service could not be reached."


class MusicUnreachable(MusicConnectionError):
    """The connection was never made, so the request certainly did not reach the API."""


class MusicTimeout(MusicConnectionError):
    """No answer within the time-out. For a submission the outcome is unknown."""

    reason = "The music service took too long to answer."


class MusicAPIError(MusicError):
    """The service answered, with an error. `code` is its business code (or HTTP status).

    `enveloped` is True when the error comes from a readable JSON envelope (the API itself
    refused the call) and False when only an HTTP status or an unreadable body was seen:
    a gateway may answer 502 while the API behind it has already created the task.
    """

    enveloped: bool = True

    def __init__(
        self,
        code: int,
        detail: str = "",
        *,
        reason: str | None = None,
        enveloped: bool | None = None,
    ) -> None:
        self.code = code
        if enveloped is not None:
            self.enveloped = enveloped
        super().__init__(f"code {code}: {detail}" if detail else f"code {code}", reason=reason)


class InvalidRequest(MusicAPIError):
    reason = "The music service refused the request's settings."


class NotSent(MusicError):
    """A submission stopped before it left, because its task was no longer ready to send."""

    reason = "The request was not sent."


class Unauthorized(MusicAPIError):
    reason = "The bot's key for the music service was refused; its operator has been alerted."


class EndpointNotFound(MusicAPIError):
    reason = "The bot is misconfigured for the music service; its operator has been alerted."


class TextTooLong(MusicAPIError):
    reason = "The title, tags or negative tags are too long for the music service."


class InsufficientCredits(MusicAPIError):
    reason = "The music service is out of credits; a moderator needs to top them up."


class RateLimited(MusicAPIError):
    retryable = True
    reason = "The music service is busy right now."


class Maintenance(MusicAPIError):
    retryable = True
    reason = "The music service is down for maintenance."


class ServerError(MusicAPIError):
    retryable = True
    reason = "The music service had an internal error."


class BadResponse(MusicAPIError):
    """A body that is not the documented JSON envelope (a proxy page, garbage)."""

    retryable = True
    enveloped = False  # never the API's own refusal, whatever the caller passes
    reason = "The music service sent an answer the bot could not read."

    def __init__(self, code: int, detail: str = "", *, reason: str | None = None) -> None:
        super().__init__(code, detail, reason=reason, enveloped=False)


class UnknownCode(MusicAPIError):
    reason = "The music service answered with an unexpected error."


_BY_CODE: dict[int, type[MusicAPIError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    402: InsufficientCredits,  # the sibling family's credit code
    404: EndpointNotFound,
    405: RateLimited,
    409: InvalidRequest,
    413: TextTooLong,
    422: InvalidRequest,
    429: InsufficientCredits,  # NOT a rate limit on these endpoints
    430: RateLimited,
    455: Maintenance,
    500: ServerError,
}


# The API's documented refusals of a submission (shared/api/music-api.md): with one of
# these in its own envelope, it did not create the task. Any other code (500 included: an
# error after the task was created cannot be ruled out) leaves the outcome unknown.
REFUSAL_CODES = frozenset({400, 401, 404, 405, 413, 429, 430, 455})


def error_for_code(code: int, message: str = "") -> MusicAPIError:
    """Map a business code (read from the API's envelope) to its exception; unknown codes
    are errors, never success. Only a documented refusal counts as `enveloped`."""
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = ServerError if 500 <= code < 600 else UnknownCode
    return cls(code, message[:200], enveloped=code in REFUSAL_CODES)


def error_for_http_status(status: int, body: str = "") -> MusicAPIError:
    """A non-2xx HTTP answer without a readable envelope (`enveloped` is False)."""
    if status in (429, 430):
        return RateLimited(status, "HTTP rate limit", enveloped=False)
    if status in (401, 403):
        return Unauthorized(status, "HTTP unauthorized", enveloped=False)
    if status == 404:
        return EndpointNotFound(status, "HTTP not found", enveloped=False)
    if status >= 500:
        return ServerError(status, f"HTTP {status}", enveloped=False)
    return UnknownCode(status, f"HTTP {status}: {body[:100]}", enveloped=False)


def certainly_not_taken(exc: MusicError) -> bool:
    """True only when a failed submission certainly did not create a task at the API.

    Two cases qualify: the connection was never made, or the API answered with its own
    envelope and one of its documented refusal codes (on HTTP 200 or on the same HTTP
    status). Everything else (any 5xx, a gateway's page or its own JSON, a cut-off or
    unreadable body, a time-out, a connection dropped after the request went out) leaves
    the outcome unknown, and sending the submission again could charge twice.
    """
    if isinstance(exc, MusicUnreachable | NotSent):
        return True
    return isinstance(exc, MusicAPIError) and exc.enveloped and exc.code in REFUSAL_CODES


# Task-level failures (status values and error-callback codes) as members read them.
FAILURE_REASONS: dict[str, str] = {
    "CREATE_TASK_FAILED": "The music service could not start this task.",
    "GENERATE_AUDIO_FAILED": "The music service could not generate audio for this recording.",
    "SENSITIVE_WORD_ERROR": "The music service refused the title or tags (sensitive words).",
    "CALLBACK_EXCEPTION": "The music service had a delivery problem.",
}
CALLBACK_ERROR_REASONS: dict[int, str] = {
    400: "The music service refused the request.",
    451: "The music service could not download the recording.",
    500: "The music service had an internal error.",
    501: "The music service could not generate audio for this recording.",
    531: "The music service could not generate audio for this recording.",
}

"""Submissions pause when the API refuses the key or is out of credits, and resume by
themselves.

A refused key (401), a wrong base URL (404) or no credits (429, 402) would fail every
queued request the same way. Instead the queue waits: members see why on their cards, the
operator is alerted (an ERROR log line; the moderators' log channel once it exists), and
the balance is checked every few minutes. The pause lives in the store, so a restart (or a
second process) knows it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from bot.music import MusicClient, MusicError
from bot.music.errors import EndpointNotFound, InsufficientCredits, MusicAPIError, Unauthorized
from bot.store import Store

log = logging.getLogger(__name__)

PAUSE_KEY = "submissions_paused"
PAUSING = (InsufficientCredits, Unauthorized, EndpointNotFound)


@dataclass(frozen=True, slots=True)
class Paused:
    reason: str  # what members read on their cards
    code: int
    since: float
    next_check: float


def pauses_submissions(exc: MusicError) -> bool:
    return isinstance(exc, PAUSING)


class SubmissionPause:
    def __init__(
        self,
        store: Store,
        client: MusicClient,
        *,
        clock: Callable[[], float],
        check_every: float,
        task_cost: float = 0.0,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.check_every = check_every
        # Resuming on less than one task's cost would only pause again at the next
        # submission: the balance must cover one (and be above zero).
        self.task_cost = task_cost
        self._clock = clock
        self.notify = notify  # the moderators' log channels

    async def current(self) -> Paused | None:
        return _read(await self.store.get_value(PAUSE_KEY))

    async def pause(self, exc: MusicAPIError) -> None:
        """Pause, unless paused already. Concurrent refusals (a burst of submissions, other
        processes) race for one atomic write: only the winner announces the pause."""
        now = self._clock()
        paused = Paused(exc.reason, exc.code, since=now, next_check=now + self.check_every)
        if not await self.store.claim_value(PAUSE_KEY, json.dumps(asdict(paused))):
            return
        log.error(
            "music API refused submissions (code %d: %s); submissions are paused, the queue "
            "is kept, and the balance is checked every %.0f s",
            exc.code,
            type(exc).__name__,
            self.check_every,
        )
        self._tell(
            f"⏸️ The music service refused new requests: {_for_moderators(exc)} "
            "Requests wait in the queue (nothing is lost or charged) and go out by themselves "
            "once it accepts them again."
        )

    async def check(self) -> bool:
        """When a check is due, ask for the balance; resume if the key works and the
        balance covers a task. Returns whether submissions are still paused."""
        raw = await self.store.get_value(PAUSE_KEY) or ""
        paused = _read(raw)
        if paused is None:
            if raw:  # unreadable: cleared, so that a later refusal can pause again
                await self.store.swap_value(PAUSE_KEY, raw, "")
            return False
        now = self._clock()
        if now < paused.next_check:
            return True
        try:
            credits = await self.client.get_credits()
        except MusicError as exc:
            log.warning("submissions still paused: the balance check failed (%s)", exc)
            credits = 0.0
        if credits <= 0 or credits < self.task_cost:
            later = Paused(paused.reason, paused.code, paused.since, now + self.check_every)
            await self.store.swap_value(PAUSE_KEY, raw, json.dumps(asdict(later)))
            return True
        if not await self.store.swap_value(PAUSE_KEY, raw, ""):
            return await self.current() is not None  # another process checked first
        log.warning(
            "music API accepts the key again (%.2f credits): submissions resume after %.0f s",
            credits,
            now - paused.since,
        )
        self._tell(
            f"▶️ The music service accepts requests again ({credits:g} credits left): "
            "the queue is moving."
        )
        return False

    def _tell(self, text: str) -> None:
        if self.notify is not None:
            self.notify(text)


def _read(raw: str | None) -> Paused | None:
    if not raw:
        return None
    try:
        return Paused(**json.loads(raw))
    except (TypeError, ValueError):
        log.warning("unreadable pause record; submissions resume")
        return None


def _for_moderators(exc: MusicAPIError) -> str:
    """Why, for the people who can fix it (never the key itself)."""
    if isinstance(exc, InsufficientCredits):
        return "the bot's account is out of credits; top it up with the music service."
    if isinstance(exc, Unauthorized):
        return (
            "it does not accept the bot's API key (SUNO_API_KEY); the bot's operator must fix it."
        )
    return "the bot's API address (SUNO_API_BASE_URL) is wrong; the bot's operator must fix it."

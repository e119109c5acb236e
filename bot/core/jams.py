"""Jam sessions: a theme, a submission window, entries, a vote, results.

A jam lives in the store with its deadlines; `tick` moves every jam whose deadline passed
(each move is one conditional UPDATE, so it happens once even with two processes or a
host's click racing the clock) and then has the port post what members should see. What
was announced is recorded after it is posted, so a restart posts what is missing and
nothing twice (the port's posts carry nonces for the crash in between).

Entries are ordinary tasks made in the jam's thread (`Intake` applies the jam's style and
its entry limit); votes are one row per member and jam. An entry still being made when
submissions close joins the vote when it finishes, with the whole vote length ahead of it;
the vote does not close while entries are being made, for up to `entry_wait` (the task
time-out) after the close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from bot.core.background import Background
from bot.errors import Refusal
from bot.store import JamPhase, JamRow, Store, TaskRow, VoteOutcome

log = logging.getLogger(__name__)

MAX_MINUTES = 7 * 24 * 60
MAX_ENTRIES = 10
THEME_MAX = 200
TICK_MAX = 30.0  # seconds between checks when no deadline is near
HELD_CHECK = 5.0  # seconds between checks while a vote waits for entries being made


@dataclass(frozen=True, slots=True)
class Standing:
    entry: TaskRow
    votes: int
    place: int  # ties share a place: 1, 1, 3

    @property
    def won(self) -> bool:
        """First place with a vote or more (a jam nobody voted in has no winner)."""
        return self.place == 1 and self.votes > 0


def rank(entries: Collection[TaskRow], tallies: dict[int, int]) -> list[Standing]:
    """Most votes first; equal votes share a place (standard competition ranking)."""
    ordered = sorted(entries, key=lambda e: (-tallies.get(e.id, 0), e.id))
    standings: list[Standing] = []
    for index, entry in enumerate(ordered):
        votes = tallies.get(entry.id, 0)
        tied = standings and standings[-1].votes == votes
        place = standings[-1].place if tied else index + 1
        standings.append(Standing(entry, votes, place))
    return standings


@dataclass(frozen=True, slots=True)
class Board:
    user_id: int
    wins: int
    entries: int
    votes: int


class JamPort(Protocol):
    """What the jam core needs from Discord. `making`: entries still being made."""

    async def redraw(self, jam: JamRow, entries: int, making: int, winners: list[Standing]) -> None:
        """Edit the announcement card (theme, style, phase, deadlines, and once the jam has
        ended its `winners`: the entries in first place with a vote or more)."""

    async def voting_opened(self, jam: JamRow, entries: list[TaskRow], making: int) -> None:
        """Tell the thread that voting is open (and that entries being made will join)."""

    async def vote_button(self, jam: JamRow, entry: TaskRow, number: int, late: bool) -> int:
        """Post an entry's message with its Vote button; return its id. `late`: it joined
        after the vote opened, and the vote now runs until `jam.vote_until`."""

    async def results(self, jam: JamRow, standings: list[Standing], left_out: int) -> int | None:
        """Post the results (or a short note when nobody entered); return the message id.
        `left_out`: entries still being made when the vote closed."""


class JamService(Background):
    task_name = "jam-clock"

    def __init__(
        self,
        store: Store,
        port: JamPort,
        clock: Callable[[], float],
        allowed_models: Collection[str],
        *,
        entry_wait: float = 20 * 60.0,
    ) -> None:
        self.store = store
        self.port = port
        self.clock = clock
        self.allowed_models = allowed_models
        self.entry_wait = entry_wait  # how long after the close a vote waits for entries
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one tick at a time in this process

    # -- starting, ending, voting ----------------------------------------------------------

    async def open(
        self,
        *,
        guild_id: int,
        channel_id: int,
        host_id: int,
        theme: str,
        duration: int,
        voting: int,
        tags: str | None,
        negative_tags: str | None,
        model: str | None,
        anonymous: bool,
        max_entries: int,
    ) -> JamRow:
        theme = " ".join(theme.split())
        if not 1 <= len(theme) <= THEME_MAX:
            raise Refusal(f"The theme must be 1 to {THEME_MAX} characters.")
        for name, minutes in (("duration", duration), ("voting", voting)):
            if not 1 <= minutes <= MAX_MINUTES:
                raise Refusal(
                    f"The {name} must be from 1 minute to 7 days ({MAX_MINUTES} minutes)."
                )
        if not 1 <= max_entries <= MAX_ENTRIES:
            raise Refusal(f"Entries per member must be from 1 to {MAX_ENTRIES}.")
        if model is not None and model not in self.allowed_models:
            raise Refusal(f"The model {model} is not offered here.")
        now = self.clock()
        jam = await self.store.create_jam(
            guild_id=guild_id,
            channel_id=channel_id,
            host_id=host_id,
            theme=theme,
            tags=(tags or "").strip() or None,
            negative_tags=(negative_tags or "").strip() or None,
            model=model,
            anonymous=anonymous,
            max_entries=max_entries,
            submit_until=now + duration * 60,
            vote_until=now + (duration + voting) * 60,
            now=now,
        )
        if jam is None:
            raise Refusal("A jam is already running in this channel: see `/jam status`.")
        return jam

    async def end_phase(self, jam: JamRow) -> JamPhase:
        """The host ends the current phase early; returns the phase now."""
        after = jam.phase.after
        if after is None or not await self.store.move_jam(
            jam.id, jam.phase, after, now=self.clock()
        ):
            raise Refusal("This jam has already moved on.")
        await self.tick()  # a vote nobody can join (no entries) ends at once
        fresh = await self.store.get_jam(jam.id)
        return fresh.phase if fresh else after

    async def vote(self, jam_id: int, voter_id: int, entry_id: int) -> tuple[VoteOutcome, int]:
        """Returns what happened and the entry's number."""
        jam = await self.store.get_jam(jam_id)
        if jam is None or jam.phase != JamPhase.VOTING or self.clock() >= jam.vote_until:
            raise Refusal("Voting is closed for this jam.")
        entries = await self.store.jam_entries(jam_id)
        numbers = {entry.id: number for number, entry in enumerate(entries, 1)}
        entry = next((e for e in entries if e.id == entry_id), None)
        if entry is None:
            raise Refusal("This entry is no longer in the vote.")
        if entry.user_id == voter_id:
            raise Refusal("You can't vote for your own entry.")
        outcome = await self.store.vote(jam_id, voter_id, entry_id, now=self.clock())
        return outcome, numbers[entry_id]

    async def standings(self, jam: JamRow) -> list[Standing]:
        entries = await self.store.jam_entries(jam.id)
        return rank(entries, await self.store.tallies(jam.id))

    async def leaderboard(self, guild_id: int) -> list[Board]:
        wins: Counter[int] = Counter()
        entries: Counter[int] = Counter()
        votes: Counter[int] = Counter()
        for jam in await self.store.ended_jams(guild_id):
            for standing in await self.standings(jam):
                user = standing.entry.user_id
                entries[user] += 1
                votes[user] += standing.votes
                if standing.won:
                    wins[user] += 1
        boards = [Board(u, wins[u], entries[u], votes[u]) for u in entries]
        return sorted(boards, key=lambda b: (-b.wins, -b.votes, -b.entries, b.user_id))

    # -- time -------------------------------------------------------------------------------

    async def tick(self) -> None:
        """Move every jam whose deadline passed and post what is missing."""
        async with self._lock:
            for jam in await self.store.jams_needing_work(self.clock()):
                try:
                    await self._advance(jam)
                except Exception:
                    log.exception("jam %d: could not move on (tried again shortly)", jam.id)

    async def _advance(self, jam: JamRow) -> None:
        now = self.clock()
        changed = False
        if jam.phase == JamPhase.SUBMITTING and now >= jam.submit_until:
            changed |= await self.store.move_jam(
                jam.id, JamPhase.SUBMITTING, JamPhase.VOTING, now=now
            )
            jam = await self.store.get_jam(jam.id) or jam
        entries = await self.store.jam_entries(jam.id)
        making = await self.store.jam_entries_being_made(jam.id)
        # An entry that finished after the vote opened joins it with the whole vote ahead.
        late = jam.phase == JamPhase.VOTING and jam.announced == JamPhase.VOTING
        if late and any(entry.vote_message_id is None for entry in entries):
            await self.store.extend_vote(jam.id, now + jam.vote_seconds)
            jam = await self.store.get_jam(jam.id) or jam
        # Entries made before the close are in the jam: the vote waits for them (their own
        # time-out ends them, and this bound covers a queue held by a pause).
        waiting = making > 0 and now < jam.submit_until + self.entry_wait
        if jam.phase == JamPhase.VOTING and not waiting and (not entries or now >= jam.vote_until):
            changed |= await self.store.move_jam(jam.id, JamPhase.VOTING, JamPhase.ENDED, now=now)
            jam = await self.store.get_jam(jam.id) or jam
        if jam.phase != JamPhase.SUBMITTING and jam.announced == JamPhase.SUBMITTING:
            if entries or making:  # with none, the results say so
                await self.port.voting_opened(jam, entries, making)
            await self.store.set_announced(jam.id, JamPhase.VOTING, None)
            changed = True
        if jam.phase == JamPhase.VOTING:
            for number, entry in enumerate(entries, 1):
                if entry.vote_message_id is None:
                    message_id = await self.port.vote_button(jam, entry, number, late)
                    await self.store.set_vote_message(entry.id, message_id)
                    changed = True
        if jam.phase == JamPhase.ENDED and jam.announced != JamPhase.ENDED:
            standings = await self.standings(jam)
            results_id = await self.port.results(jam, standings, making)
            await self.store.set_announced(jam.id, JamPhase.ENDED, results_id)
            changed = True
        if changed:
            fresh = await self.store.get_jam(jam.id) or jam
            if fresh.phase == JamPhase.ENDED:
                winners = [s for s in await self.standings(fresh) if s.won]
                await self.port.redraw(fresh, len(entries), 0, winners)
            else:
                await self.port.redraw(fresh, len(entries), making, [])

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
                deadline = await self.store.next_jam_deadline()
            except Exception:
                log.exception("jam clock round failed")
                deadline = None
            delay = TICK_MAX if deadline is None else deadline - self.clock()
            if delay <= 0:  # a vote waiting for entries being made (or a failed move)
                delay = HELD_CHECK
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(TICK_MAX, delay)):
                    await self._wake.wait()
            self._wake.clear()

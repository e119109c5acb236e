"""Discord faults during delivery (issue 9): what is only slow is waited out or retried and
posted once; what will never succeed ends clearly (the card and `/tasks` say why, the
requester gets a DM) after a bounded number of requests, with no endless history reads.

Each test records a request and posts its card with the lifecycle stopped, breaks Discord,
then starts the lifecycle, so the fault is in place before anything is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import discord
import discord.http
from simcord import ChannelHandle
from simcord.backend.models.channel import Overwrite
from simcord.backend.permissions import flag
from simcord.enums import OverwriteType

from bot.store import Delivery, Progress, Stage, Store, TaskRow, TaskState, TrackData, TrackRow
from cogs.instrumental.placement import THREAD_LOCKED
from cogs.tasks import task_line
from tests.harness import WAV, Harness, World, bot_messages
from tests.support.factories import new_task
from tests.support.waiting import wait_until

NOT_ALLOWED = "I'm no longer allowed to post there."
QUIET = 0.8  # longer than the largest backoff of the harness's schedule (0.6 s)


def track_posts(channel: Any, bot: discord.Client) -> list[discord.Message]:
    return [
        m
        for m in bot_messages(channel, bot)
        if m.embeds and (m.embeds[0].footer.text or "").startswith("track ")
    ]


def card_stage(channel: Any) -> str:
    card = next(
        m for m in channel.history() if m.embeds and m.embeds[0].footer.text.startswith("task #")
    )
    return card.embeds[0].description or ""


@dataclass
class Run:
    harness: Harness
    world: World
    thread: Any
    mark: int = 0  # requests before the fault

    @property
    def requests(self) -> list[Any]:
        return self.harness.env.http_requests[self.mark :]

    def count(self, method: str, path_end: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path.endswith(path_end))

    def besides_card(self, task: TaskRow) -> list[Any]:
        """The requests other than the card's edits (how often the card is drawn follows
        the stages the polls happen to see)."""
        card = f"/messages/{task.card_message_id}"
        return [r for r in self.requests if not (r.method == "PATCH" and r.path.endswith(card))]

    async def task(self) -> TaskRow:
        [task] = await self.harness.tasks(self.world.alice.id)
        return task

    async def tracks(self) -> list[TrackRow]:
        return await self.harness.bot.store.tracks_for_task((await self.task()).id)

    def start(self) -> None:
        self.mark = len(self.harness.env.http_requests)
        self.harness.start_lifecycle()

    async def ended(self) -> list[TrackRow]:
        """Every track delivered or given up, the card drawn for it; then quiet."""

        async def settled() -> list[TrackRow] | None:
            task, tracks = await self.task(), await self.tracks()
            final = (Delivery.DELIVERED, Delivery.FAILED)
            done = task.state == TaskState.DONE and len(tracks) == 2
            ok = done and all(t.delivery in final for t in tracks) and not task.card_dirty
            return tracks if ok else None

        tracks: list[TrackRow] = await wait_until(settled)
        # What the end sets off (the card drawn once more, a DM) has a moment to finish.
        await wait_until(self._still_for(0.2))
        before = len(self.harness.env.http_requests)
        await asyncio.sleep(QUIET)
        assert len(self.harness.env.http_requests) == before, "still retrying after the end"
        return tracks

    def _still_for(self, seconds: float) -> Callable[[], Awaitable[bool]]:
        async def still() -> bool:
            before = len(self.harness.env.http_requests)
            await asyncio.sleep(seconds)
            return len(self.harness.env.http_requests) == before

        return still

    def dms(self) -> list[discord.Message]:
        return bot_messages(self.world.alice.user.dm_channel, self.harness.bot)


@contextlib.asynccontextmanager
async def requested(harness: Harness, world: World) -> AsyncIterator[Run]:
    await world.alice.slash(world.channel, "instrumental", audio=("riff.wav", WAV))
    [thread] = world.channel.threads
    yield Run(harness, world, thread)


# -- only slow: waited out or retried, posted once -----------------------------------------


class Answer:
    """An HTTP answer as discord.py reads it from aiohttp."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = "scripted"
        self.headers = {"content-type": "application/json", "Via": "1.1 google", **(headers or {})}
        self._text = json.dumps(body)

    async def text(self, encoding: str = "utf-8") -> str:
        return self._text


@dataclass
class Wire:
    """Puts discord.py's own HTTP client back in front of simcord for matching requests:
    the scripted answers come first (a 429, a 500), then simcord answers. discord.py's real
    retry code (waiting out a rate limit, retrying a 5xx) runs in between."""

    http: Any
    matches: Callable[[discord.http.Route], bool]
    answers: list[Answer]
    sent: int = 0  # requests that reached "Discord", refused ones included
    at: list[float] = field(default_factory=list)

    def install(self) -> None:
        simcord_request = self.http.request
        if not isinstance(self.http._global_over, asyncio.Event):  # set at login, not by simcord
            self.http._global_over = asyncio.Event()
            self.http._global_over.set()

        async def request(route: discord.http.Route, **kwargs: Any) -> Any:
            if not self.answers or not self.matches(route):
                return await simcord_request(route, **kwargs)
            original = dict(kwargs)  # discord.py rewrites kwargs on the way

            async def forward() -> Any:
                return await simcord_request(route, **original)

            self.http._HTTPClient__session = _Session(self, forward)
            try:
                return await discord.http.HTTPClient.request(self.http, route, **kwargs)
            finally:
                self.http._HTTPClient__session = None

        self.http.request = request


@dataclass
class _Session:
    wire: Wire
    forward: Callable[[], Awaitable[Any]]

    @contextlib.asynccontextmanager
    async def request(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[Answer]:
        self.wire.sent += 1
        self.wire.at.append(time.monotonic())
        if self.wire.answers:
            yield self.wire.answers.pop(0)
            return
        yield Answer(200, await self.forward())


def first_post_in(thread_id: int) -> Callable[[discord.http.Route], bool]:
    return lambda route: (
        route.method == "POST" and route.url.endswith(f"/channels/{thread_id}/messages")
    )


async def test_a_rate_limit_is_waited_out_and_the_track_posted_once(
    harness: Harness, world: World
) -> None:
    async with requested(harness, world) as run:
        retry_after = 0.3
        limited = Answer(
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            {"Retry-After": str(retry_after), "X-RateLimit-Scope": "user"},
        )
        wire = Wire(harness.bot.http, first_post_in(run.thread.id), [limited])
        wire.install()
        run.start()
        tracks = await run.ended()

    assert wire.sent == 2 and wire.at[1] - wire.at[0] >= retry_after  # discord.py waited
    assert [t.delivery for t in tracks] == [Delivery.DELIVERED] * 2
    assert [t.delivery_attempts for t in tracks] == [1, 1]  # the core never saw it
    assert len(track_posts(run.thread, harness.bot)) == 2
    assert card_stage(world.channel).startswith("✅ Done: 2 tracks")


async def test_a_server_error_once_is_retried_and_posted_once(
    harness: Harness, world: World
) -> None:
    async with requested(harness, world) as run:
        wire = Wire(
            harness.bot.http,
            first_post_in(run.thread.id),
            [Answer(500, {"message": "500: Internal Server Error", "code": 0})],
        )
        wire.install()
        run.start()
        tracks = await run.ended()

    assert wire.sent == 2  # discord.py retried it itself
    assert [t.delivery_attempts for t in tracks] == [1, 1]
    assert len(track_posts(run.thread, harness.bot)) == 2


async def test_errors_discord_py_gives_up_on_are_retried_by_the_core(
    harness: Harness, world: World
) -> None:
    """A 429 or a 5xx that outlasts discord.py's own retries is transient: tried again
    after a backoff (never classed with the 4xx that never succeed), posted once."""
    async with requested(harness, world) as run:
        posts = f"/channels/{run.thread.id}/messages"
        harness.env.inject_error("POST", posts, status=429, code=0, message="rate limited")
        harness.env.inject_error("POST", posts, status=503, code=0, message="unavailable")
        run.start()
        tracks = await run.ended()

    assert [t.delivery for t in tracks] == [Delivery.DELIVERED] * 2
    assert sum(t.delivery_attempts for t in tracks) == 4  # two failed tries, two posts
    assert len(track_posts(run.thread, harness.bot)) == 2
    assert run.count("POST", posts) == 4
    assert run.count("GET", posts) <= 2  # a post that failed is looked for once before again


# -- never going to work: a clear end, a bounded number of requests ---------------------------


async def test_permission_removed_mid_task_ends_clearly(harness: Harness, world: World) -> None:
    async with requested(harness, world) as run:
        refuse = flag("send_messages") | flag("send_messages_in_threads")
        bot_id = harness.bot.user.id
        harness.env.backend.set_overwrite(
            world.channel.id, Overwrite(bot_id, OverwriteType.MEMBER, deny=refuse)
        )
        run.start()
        tracks = await run.ended()

    assert [(t.delivery, t.delivery_error) for t in tracks] == [(Delivery.FAILED, NOT_ALLOWED)] * 2
    assert [t.delivery_attempts for t in tracks] == [1, 1]
    assert track_posts(run.thread, harness.bot) == []
    stage = card_stage(world.channel)
    assert stage == f"⚠️ Done, but I couldn't post here: {NOT_ALLOWED}"
    [dm] = run.dms()
    assert NOT_ALLOWED in dm.content and f"/channels/{world.guild.id}/{run.thread.id}" in dm.content
    # Each track: the file, then a link (posting.py's fallback for a refused upload); the
    # card drawn a few times; one DM. Nothing read back, nothing retried.
    assert run.count("POST", f"/channels/{run.thread.id}/messages") == 4
    assert run.count("GET", "/messages") == 0
    task = await run.task()
    assert len(run.besides_card(task)) <= 7  # the four posts, the DM and its channel
    assert run.count("PATCH", f"/messages/{task.card_message_id}") <= 8

    r = await world.alice.slash(world.channel, "tasks")
    [line, why] = r.response.embeds[0].description.splitlines()[:2]
    assert line.startswith("⚠️ done, but I couldn't post here · ")
    assert why.endswith(NOT_ALLOWED)


async def test_a_deleted_thread_sends_the_tracks_next_to_the_card(
    harness: Harness, world: World
) -> None:
    async with requested(harness, world) as run:
        harness.env.backend.delete_channel(run.thread.id)
        run.start()
        tracks = await run.ended()

    assert [t.delivery for t in tracks] == [Delivery.DELIVERED] * 2
    [task] = await harness.tasks(world.alice.id)
    posts = track_posts(world.channel, harness.bot)
    assert len(posts) == 2
    assert all(p.reference and p.reference.message_id == task.card_message_id for p in posts)
    assert card_stage(world.channel).startswith("✅ Done: 2 tracks")
    assert run.dms() == []
    # The card's edits never look up the gone thread: besides them, only each track's post
    # and its look-ups.
    assert len(run.besides_card(task)) <= 6
    assert run.count("PATCH", f"/messages/{task.card_message_id}") <= 8


async def test_a_locked_thread_ends_clearly(harness: Harness, world: World) -> None:
    async with requested(harness, world) as run:
        bot_id = harness.bot.user.id
        harness.env.backend.set_overwrite(
            world.channel.id,
            Overwrite(bot_id, OverwriteType.MEMBER, deny=flag("manage_threads")),
        )
        harness.env.backend.edit_channel(run.thread.id, {}, thread_metadata={"locked": True})
        # What Discord answers a post there (the bot checks first and does not send it).
        harness.env.inject_error(
            "POST", f"/channels/{run.thread.id}/messages", status=400, code=160005, times=None
        )
        run.start()
        tracks = await run.ended()

    assert {(t.delivery, t.delivery_error) for t in tracks} == {(Delivery.FAILED, THREAD_LOCKED)}
    assert run.count("POST", f"/channels/{run.thread.id}/messages") == 0
    assert card_stage(world.channel) == f"⚠️ Done, but I couldn't post here: {THREAD_LOCKED}"
    [dm] = run.dms()
    assert THREAD_LOCKED in dm.content
    task = await run.task()
    assert len(run.besides_card(task)) <= 3  # the DM, and nothing sent to the locked thread
    assert run.count("PATCH", f"/messages/{task.card_message_id}") <= 8


async def test_an_archived_thread_is_reopened_and_posted_in(harness: Harness, world: World) -> None:
    async with requested(harness, world) as run:
        harness.env.backend.edit_channel(run.thread.id, {}, thread_metadata={"archived": True})
        run.start()
        tracks = await run.ended()

    assert [t.delivery for t in tracks] == [Delivery.DELIVERED] * 2
    assert len(track_posts(run.thread, harness.bot)) == 2
    assert harness.env.backend.get_channel(run.thread.id).thread_metadata.archived is False
    assert run.count("PATCH", f"/channels/{run.thread.id}") == 1  # reopened once
    task = await run.task()
    # Reopened once, the two posts, and the archived thread's look-ups until it is back in
    # the cache: two or three, as the two tracks' marks and posts happen to interleave.
    assert len(run.besides_card(task)) <= 6
    assert run.count("PATCH", f"/messages/{task.card_message_id}") <= 8


async def test_a_card_in_an_archived_thread_is_reopened_before_it_is_edited(
    harness: Harness, world: World
) -> None:
    """Discord refuses edits in an archived thread (50083): reopen first, then edit."""
    raw = harness.env.backend.create_thread(world.channel.id, "jam night", world.alice.id)
    jam = ChannelHandle(harness.env, world.guild, raw)
    await world.alice.slash(jam, "instrumental", audio=("riff.wav", WAV))
    run = Run(harness, world, jam)
    harness.env.backend.edit_channel(jam.id, {}, thread_metadata={"archived": True})
    run.start()
    tracks = await run.ended()

    assert [t.delivery for t in tracks] == [Delivery.DELIVERED] * 2
    assert card_stage(jam).startswith("✅ Done: 2 tracks")
    writes = [(r.method, r.path) for r in run.requests if r.method == "PATCH"]
    assert writes[0] == ("PATCH", f"/channels/{jam.id}")  # reopened before the first edit
    assert writes.count(("PATCH", f"/channels/{jam.id}")) == 1


async def test_the_bot_removed_from_the_server_ends_clearly(harness: Harness, world: World) -> None:
    async with requested(harness, world) as run:
        run.start()
        # Removed once the request is on its way (removed before, a request still queued
        # is never sent: tests/cogs/test_money.py).
        await wait_until(lambda: harness.simulator.tasks)
        harness.env.backend.remove_guild(world.guild.id)
        tracks = await run.ended()

    assert {t.delivery for t in tracks} == {Delivery.FAILED}
    task = await run.task()
    assert task.delivery_error and task.card_error and task.gave_up_at is not None
    [dm] = run.dms()
    assert task.delivery_error in dm.content
    assert run.count("GET", "/messages") == 0
    assert len(run.requests) <= 14  # a look-up of the gone channel per change, and the DM


async def test_tasks_lines_say_what_was_given_up(store: Store) -> None:
    row, _ = await store.create_task(new_task(card_message_id=9, thread_id=8))
    await store.claim_for_submit(row.id, 1.0)
    await store.mark_submitted(row.id, "api-1", now=1.0, next_check_at=1.0)
    data = [TrackData("a", audio_url="https://cdn.example/a.mp3")]
    await store.apply_progress(row.id, Progress(Stage.COMPLETE, data, complete=True, now=2.0))
    [track] = await store.tracks_for_task(row.id)
    await store.delivery_gave_up(track.id, NOT_ALLOWED, 3.0)
    undelivered = await store.get_task(row.id)
    assert undelivered is not None
    head, why = task_line(undelivered).splitlines()
    assert head.startswith("⚠️ done, but I couldn't post here · ") and why.endswith(NOT_ALLOWED)

    card_only = replace(undelivered, delivery_error=None, card_error="The card was deleted.")
    head, why = task_line(card_only).splitlines()
    assert head.startswith("✅ done · ")
    assert why == "  ↳ Its status card can't be updated: The card was deleted."

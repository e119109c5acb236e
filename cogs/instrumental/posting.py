"""Posting a finished track (a file when it fits the channel's limit, a link otherwise) and
the failure notice; finding a post again after a crash."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from bot.app import Postable
from bot.audio import sniff_audio
from bot.fetch import FetchError, TooLarge, UrlPolicy, fetch_to_file
from bot.store import TaskRow, TrackRow
from cogs.instrumental import render
from cogs.instrumental.placement import HISTORY_LOOKBACK, Place, attach, nonce

if TYPE_CHECKING:
    from bot.app import Backline

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
DOWNLOAD_TIMEOUT = 60.0
REQUEST_TOO_LARGE = 40005  # Discord's "Request entity too large"
# Messages read after a post's marker to find it after a crash: it came right after the
# marker, so only the messages posted during its download and upload come before it.
FORWARD_LOOK = 500


def who(task: TaskRow) -> str:
    """Whom a post addresses: the requester, or nobody for an anonymous jam entry."""
    return "Entry:" if task.anonymous else f"<@{task.user_id}>"


def requester_only(task: TaskRow) -> discord.AllowedMentions:
    users = [] if task.anonymous else [discord.Object(task.user_id)]
    return discord.AllowedMentions(everyone=False, users=users, roles=False, replied_user=False)


def file_stem(title: str) -> str:
    safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip()
    return (safe or "instrumental")[:80]


class Posting:
    def __init__(self, bot: Backline) -> None:
        self.bot = bot
        # Result URLs come from the API: only public addresses (and the API's own origin,
        # e.g. the local simulator), checked again at every redirect.
        settings = bot.settings
        self.downloads = UrlPolicy.build(settings.api_base_url, settings.download_allowed_hosts)

    async def track(self, task: TaskRow, track: TrackRow, place: Place, *, total: int) -> int:
        """Post one track; returns the message id. The audio goes through a temporary
        file (downloaded into it, uploaded from it), never whole in memory."""
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="backline-"))
        try:
            path = folder / "track"
            kind = await self._download(task, track, self._upload_limit(place.target), path)
            if kind is not None:
                name = f"{file_stem(track.title or task.title)}.{kind}"
                try:
                    return await self._send_track(
                        task, track, place, total=total, file=discord.File(path, filename=name)
                    )
                except discord.HTTPException as exc:
                    # Too large after all, or no right to attach files here: a link works.
                    if exc.status not in (403, 413) and exc.code != REQUEST_TOO_LARGE:
                        raise
                    log.info("task %d: track file refused (%s), sending a link", task.id, exc)
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
        return await self._send_track(task, track, place, total=total, file=None)

    async def _send_track(
        self, task: TaskRow, track: TrackRow, place: Place, *, total: int, file: discord.File | None
    ) -> int:
        message = await place.target.send(
            f"{who(task)} track {track.position + 1} of {total} is ready.",
            embed=render.track_embed(task, track, total=total, linked=file is None),
            **attach(file),
            **place.reply(),
            allowed_mentions=requester_only(task),
            nonce=track.post_nonce or nonce("t", track.id),
        )
        return message.id

    async def find_track(self, track: TrackRow, place: Place) -> int | None:
        """A post made just before a crash, before its id could be stored: looked for from
        the message its marker recorded as older than it (the first messages after it),
        however many came later; without a marker (older rows), in the last ones."""
        marker = render.track_marker(track)
        if track.post_after is None:
            return await self._find(place.target, lambda text: text.endswith(marker))
        later = place.target.history(
            after=discord.Object(track.post_after), oldest_first=True, limit=FORWARD_LOOK
        )
        return await self._find_in(later, lambda text: text.endswith(marker))

    async def failure(self, task: TaskRow, place: Place) -> int:
        """Tell the requester once; returns the notice's message id."""
        if task.notice_message_id is not None:
            return task.notice_message_id
        marker = render.failure_marker(task.id)
        found = await self._find(place.target, lambda text: text == marker)
        if found is not None:
            return found
        message = await place.target.send(
            f"{who(task)} sorry, this one could not be made.",
            embed=render.failure_embed(task),
            **place.reply(),
            allowed_mentions=requester_only(task),
            nonce=nonce("f", task.id),
        )
        return message.id

    async def _find(self, channel: Postable, footer_matches: Callable[[str], bool]) -> int | None:
        return await self._find_in(channel.history(limit=HISTORY_LOOKBACK), footer_matches)

    async def _find_in(
        self, messages: AsyncIterator[discord.Message], footer_matches: Callable[[str], bool]
    ) -> int | None:
        me = self.bot.user
        async for message in messages:
            mine = me is not None and message.author.id == me.id
            if mine and any(footer_matches(e.footer.text or "") for e in message.embeds):
                return message.id
        return None

    def _upload_limit(self, channel: Postable) -> int:
        guild = getattr(channel, "guild", None)
        limit = guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT
        return min(limit, self.bot.settings.result_max_bytes)

    async def _download(self, task: TaskRow, track: TrackRow, limit: int, path: Path) -> str | None:
        """Download the audio into `path` when it fits the upload limit; returns its kind
        (the file extension). None means "post a link"."""
        if not track.audio_url:
            return None
        try:
            await fetch_to_file(
                self.bot.session,
                track.audio_url,
                path,
                max_bytes=limit,
                timeout=DOWNLOAD_TIMEOUT,
                policy=self.downloads,
                expect_audio=True,
            )
        except TooLarge:
            log.info("task %d: track %d is over %d bytes, linking it", task.id, track.id, limit)
            return None
        except FetchError as exc:
            log.warning(
                "task %d: track %d download failed (%s), linking it", task.id, track.id, exc
            )
            return None
        head = await asyncio.to_thread(_head, path)
        return sniff_audio(head) or "mp3"


def _head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(64)

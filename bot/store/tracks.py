"""Tracks: what the API made for a task, and whether each has been posted.

A post is announced ('attempted') before it is made, so after a crash the delivery
code knows to look for the message before posting again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import aiosqlite

from bot.store.database import Database, Params
from bot.store.rows import TRACK_COLUMNS, TrackData, TrackRow
from bot.store.sql import TRACK_PLACED, TRACK_WAITING
from bot.store.states import Delivery

log = logging.getLogger(__name__)


class TrackQueries(Database):
    async def _tracks(self, where: str, params: Params = ()) -> list[TrackRow]:
        async with self._conn.execute(
            f"SELECT {TRACK_COLUMNS} FROM tracks {where}",  # noqa: S608 - constant columns
            params,
        ) as cursor:
            return [TrackRow.from_row(row) for row in await cursor.fetchall()]

    async def tracks_for_task(self, task_id: int) -> list[TrackRow]:
        return await self._tracks("WHERE task_id = ? ORDER BY position", (task_id,))

    async def due_deliveries(
        self, now: float, limit: int, exclude: Iterable[int] = ()
    ) -> list[TrackRow]:
        """Finished tracks due to be posted, oldest first; never before their task's card."""
        skip = tuple(exclude)
        marks = ",".join("?" * len(skip))
        return await self._tracks(
            f"WHERE {TRACK_WAITING} AND {TRACK_PLACED} AND next_delivery_at <= ? "
            f"{f'AND id NOT IN ({marks})' if skip else ''} ORDER BY next_delivery_at LIMIT ?",
            (now, *skip, limit),
        )

    async def delivery_attempted(self, track_id: int) -> None:
        """Written before the post: after a crash, 'attempted' means "look before posting"."""
        await self._write(
            f"UPDATE tracks SET delivery = '{Delivery.ATTEMPTED}', "  # noqa: S608 - constant
            "delivery_attempts = delivery_attempts + 1 "
            f"WHERE id = ? AND delivery != '{Delivery.DELIVERED}'",
            (track_id,),
        )

    async def delivered(self, track_id: int, message_id: int, now: float) -> None:
        async def record(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                f"UPDATE tracks SET delivery = '{Delivery.DELIVERED}', "  # noqa: S608
                "message_id = ?, delivered_at = ?, next_delivery_at = NULL "
                f"WHERE id = ? AND delivery != '{Delivery.DELIVERED}'",
                (message_id, now, track_id),
            )
            await conn.execute(
                "UPDATE tasks SET card_dirty = 1, card_retry_at = 0, updated_at = ? "
                "WHERE id = (SELECT task_id FROM tracks WHERE id = ?)",
                (now, track_id),
            )

        await self._transaction(record)

    async def delivery_failed(self, track_id: int, retry_at: float) -> None:
        await self._write(
            "UPDATE tracks SET next_delivery_at = ? WHERE id = ?", (retry_at, track_id)
        )


async def merge_track(
    conn: aiosqlite.Connection, task_id: int, track: TrackData, now: float
) -> bool:
    """Insert or complete one reported track, inside the caller's transaction.

    A track's ready data is recorded once: later reports never rewrite it. Returns
    True when the track became ready now.
    """
    ready_at = now if track.audio_url else None
    cursor = await conn.execute(
        "INSERT INTO tracks (task_id, api_track_id, position, audio_url, stream_url, "
        "image_url, title, tags, duration, ready_at, next_delivery_at) "
        "VALUES (:task_id, :api_track_id, (SELECT count(*) FROM tracks WHERE task_id = :task_id),"
        " :audio_url, :stream_url, :image_url, :title, :tags, :duration, :ready_at, :ready_at) "
        "ON CONFLICT (task_id, api_track_id) DO UPDATE SET "
        " audio_url = excluded.audio_url, stream_url = excluded.stream_url, "
        " image_url = excluded.image_url, title = excluded.title, tags = excluded.tags, "
        " duration = excluded.duration, ready_at = excluded.ready_at, "
        " next_delivery_at = excluded.next_delivery_at "
        "WHERE tracks.ready_at IS NULL AND excluded.ready_at IS NOT NULL",
        {
            "task_id": task_id,
            "api_track_id": track.api_track_id,
            "audio_url": track.audio_url,
            "stream_url": track.stream_url,
            "image_url": track.image_url,
            "title": track.title,
            "tags": track.tags,
            "duration": track.duration,
            "ready_at": ready_at,
        },
    )
    return cursor.rowcount == 1 and ready_at is not None

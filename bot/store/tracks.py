"""Tracks: what the API made for a task, and whether each has been posted.

A post is announced ('attempted') before it is made, so after a crash the delivery
code knows to look for the message before posting again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.store.database import Conn, Database, Params
from bot.store.leases import lease_free
from bot.store.rows import TRACK_COLUMNS, TrackData, TrackRow
from bot.store.sql import TRACK_PLACED, TRACK_WAITING
from bot.store.states import Delivery, sql_list

log = logging.getLogger(__name__)

_FINAL = sql_list((Delivery.DELIVERED, Delivery.FAILED))


class TrackQueries(Database):
    async def _tracks(self, where: str, params: Params = ()) -> list[TrackRow]:
        rows = await self._fetchall(
            f"SELECT {TRACK_COLUMNS} FROM tracks {where}",  # noqa: S608 - constant columns
            params,
        )
        return [TrackRow.from_row(row) for row in rows]

    async def tracks_for_task(self, task_id: int) -> list[TrackRow]:
        return await self._tracks("WHERE task_id = ? ORDER BY position", (task_id,))

    async def due_deliveries(
        self, now: float, limit: int, exclude: Iterable[int] = ()
    ) -> list[TrackRow]:
        """Finished tracks due to be posted, oldest first; never before their task's card,
        never once given up."""
        skip = tuple(exclude)
        marks = ",".join("?" * len(skip))
        return await self._tracks(
            f"WHERE {TRACK_WAITING} AND delivery != '{Delivery.FAILED}' "
            f"AND {TRACK_PLACED} AND next_delivery_at <= ? "
            f"AND {lease_free('tracks.lease_until', 'tracks.lease_owner')} "
            f"{f'AND id NOT IN ({marks})' if skip else ''} ORDER BY next_delivery_at LIMIT ?",
            (now, self.leases.beat_stale, *skip, limit),
        )

    async def delivery_attempted(
        self, track_id: int, *, nonce: str | None = None, after: int | None = None
    ) -> bool:
        """Written before the post, the "about to post" marker: 'attempted', the post's
        `nonce` and a message id known older than it (`after`). After a crash it means
        "look for the post from `after` on before posting again". False: do not post. The
        take was deleted, or (PostgreSQL) another process took the post over while this one
        stalled."""
        claim, where = "", ""
        params = list[float | int | str | None]([nonce, after, track_id])
        if self.shared:  # the lease is checked (and taken or renewed) in this statement
            claim = ", lease_owner = ?, lease_until = db_now() + ?"
            where = f" AND (lease_owner = ? OR {lease_free('lease_until', 'lease_owner')})"
            params = [nonce, after, self.owner, self.leases.track]
            params += [track_id, self.owner, self.leases.beat_stale]
        changed = await self._write(
            f"UPDATE tracks SET delivery = '{Delivery.ATTEMPTED}', "  # noqa: S608 - constant
            f"delivery_attempts = delivery_attempts + 1, post_nonce = ?, post_after = ?{claim} "
            f"WHERE id = ? AND delivery NOT IN {_FINAL}{where}",
            params,
        )
        return changed == 1

    async def delivered(self, track_id: int, message_id: int, now: float) -> bool:
        """Record the post; False when the track was delivered already (another process's
        post is the one kept) or ended meanwhile (deleted with its take: deletion wins)."""

        async def record(conn: Conn) -> bool:
            changed = await conn.execute(
                f"UPDATE tracks SET delivery = '{Delivery.DELIVERED}', "  # noqa: S608
                "message_id = ?, delivered_at = ?, next_delivery_at = NULL "
                f"WHERE id = ? AND delivery NOT IN {_FINAL}",
                (message_id, now, track_id),
            )
            if changed:
                await conn.execute(
                    "UPDATE tasks SET card_dirty = 1, card_retry_at = 0, updated_at = ? "
                    "WHERE id = (SELECT task_id FROM tracks WHERE id = ?)",
                    (now, track_id),
                )
            return changed == 1

        return await self._transaction(record)

    async def delivery_failed(self, track_id: int, retry_at: float, *, count: bool = False) -> None:
        """Try again at `retry_at`. `count`: this try was not counted yet (a failed lookup
        of an earlier post counts as an attempt too)."""
        await self._write(
            "UPDATE tracks SET next_delivery_at = ?, "  # noqa: S608 - constant
            "delivery_attempts = delivery_attempts + ? "
            f"WHERE id = ? AND delivery NOT IN {_FINAL}",
            (retry_at, 1 if count else 0, track_id),
        )

    async def delivery_gave_up(
        self, track_id: int, reason: str, now: float, *, count: bool = False
    ) -> bool:
        """The post will not be made: the track ends as failed with `reason`, and its task
        keeps the first such reason for its card and `/tasks`. False if it was already
        delivered or given up."""

        async def give_up(conn: Conn) -> bool:
            changed = await conn.execute(
                f"UPDATE tracks SET delivery = '{Delivery.FAILED}', "  # noqa: S608 - constant
                "delivery_error = ?, next_delivery_at = NULL, "
                "delivery_attempts = delivery_attempts + ? "
                f"WHERE id = ? AND delivery NOT IN {_FINAL}",
                (reason, 1 if count else 0, track_id),
            )
            if changed != 1:
                return False
            await conn.execute(
                "UPDATE tasks SET delivery_error = coalesce(delivery_error, ?), card_dirty = 1, "
                "card_retry_at = 0, updated_at = ? "
                "WHERE id = (SELECT task_id FROM tracks WHERE id = ?)",
                (reason, now, track_id),
            )
            return True

        return await self._transaction(give_up)

    async def task_deliveries_gave_up(self, task_id: int, reason: str, now: float) -> int:
        """Nothing of this task can be posted (its card could never be placed): every
        finished track still waiting ends as failed. Returns how many."""

        async def give_up(conn: Conn) -> int:
            changed = await conn.execute(
                f"UPDATE tracks SET delivery = '{Delivery.FAILED}', "  # noqa: S608 - constant
                "delivery_error = ?, next_delivery_at = NULL "
                f"WHERE task_id = ? AND {TRACK_WAITING} AND delivery NOT IN {_FINAL}",
                (reason, task_id),
            )
            if changed:
                await conn.execute(
                    "UPDATE tasks SET delivery_error = coalesce(delivery_error, ?), "
                    "updated_at = ? WHERE id = ?",
                    (reason, now, task_id),
                )
            return changed

        return await self._transaction(give_up)

    async def claim_give_up_notice(self, task_id: int, now: float) -> bool:
        """Whether the requester is to be told that posting was given up: True once per
        task. Recorded before telling, so a crash never makes the bot tell twice."""
        changed = await self._write(
            "UPDATE tasks SET gave_up_at = ? WHERE id = ? AND gave_up_at IS NULL", (now, task_id)
        )
        return changed == 1


async def merge_track(conn: Conn, task_id: int, track: TrackData, now: float) -> bool:
    """Insert or complete one reported track, inside the caller's transaction.

    A track's ready data is recorded once: later reports never rewrite it. Returns
    True when the track became ready now.
    """
    ready_at = now if track.audio_url else None
    changed = await conn.execute(
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
    return changed == 1 and ready_at is not None

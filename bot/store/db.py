"""All of backline's SQL: an aiosqlite connection, migrations, and typed rows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, Self

import aiosqlite

log = logging.getLogger(__name__)

ACTIVE_STATES = ("queued", "submitting", "following")
STAGE_ORDER = {"none": 0, "pending": 1, "text": 2, "first": 3, "complete": 4}


class StoreError(RuntimeError):
    """The database cannot be used (for example it is newer than this code)."""


@dataclass(frozen=True, slots=True)
class NewTask:
    """What a member asked for; recorded before anything is submitted."""

    interaction_id: int
    user_id: int
    channel_id: int
    upload_url: str
    title: str
    tags: str
    negative_tags: str
    model: str
    guild_id: int | None = None
    thread_id: int | None = None
    card_message_id: int | None = None
    input_filename: str = ""
    vocal_gender: str | None = None
    style_weight: float | None = None
    weirdness: float | None = None
    audio_weight: float | None = None


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    interaction_id: int
    guild_id: int | None
    channel_id: int
    thread_id: int | None
    card_message_id: int | None
    user_id: int
    upload_url: str
    input_filename: str
    title: str
    tags: str
    negative_tags: str
    vocal_gender: str | None
    style_weight: float | None
    weirdness: float | None
    audio_weight: float | None
    model: str
    api_task_id: str | None
    state: str
    stage: str
    card_dirty: int
    card_retry_at: float
    submit_attempts: int
    poll_count: int
    error_count: int
    next_check_at: float | None
    callback_at: float | None
    error: str | None
    can_retry: int
    created_at: float
    submitted_at: float | None
    completed_at: float | None
    updated_at: float

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True, slots=True)
class TrackRow:
    id: int
    task_id: int
    api_track_id: str
    position: int
    audio_url: str
    stream_url: str
    image_url: str
    title: str
    tags: str
    duration: float | None
    ready_at: float | None
    delivery: str
    delivery_attempts: int
    next_delivery_at: float | None
    message_id: int | None
    delivered_at: float | None


@dataclass(frozen=True, slots=True)
class TrackData:
    """A track as the API reports it, to be merged into the store."""

    api_track_id: str
    audio_url: str = ""
    stream_url: str = ""
    image_url: str = ""
    title: str = ""
    tags: str = ""
    duration: float | None = None


_TASK_COLUMNS = ", ".join(f.name for f in fields(TaskRow))
_TRACK_COLUMNS = ", ".join(f.name for f in fields(TrackRow))


def _task(row: Sequence[Any]) -> TaskRow:
    return TaskRow(*row)


def _track(row: Sequence[Any]) -> TrackRow:
    return TrackRow(*row)


def migrations() -> list[tuple[int, str]]:
    """Numbered migration files (`0001_name.sql`), in order."""
    folder = resources.files("bot.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text("utf-8")))
    return sorted(found)


class Store:
    """The data-access layer. Every method is one explicit transaction."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        # One connection is shared by every coroutine: transactions must not interleave.
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Self:
        """Open (creating the folder and file), set pragmas, apply pending migrations."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)  # we BEGIN ourselves
        try:
            # Close each cursor: a PRAGMA that returns a row leaves its statement open
            # (blocking COMMIT) for as long as anything still references the cursor.
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA foreign_keys=ON",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA busy_timeout=5000",
            ):
                async with conn.execute(pragma):
                    pass
            store = cls(conn, path)
            await store._migrate()
        except BaseException:
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        await self._conn.close()

    async def _migrate(self) -> None:
        available = migrations()
        latest = available[-1][0] if available else 0
        current = await self._scalar("PRAGMA user_version")
        if current > latest:
            raise StoreError(
                f"the database {self.path} is at schema version {current}, newer than this "
                f"code's {latest}: run a newer backline or restore an older database"
            )
        pending = [(number, sql) for number, sql in available if number > current]
        if not pending:
            return
        # executescript would commit on its own; run statements inside one transaction.
        async with self._transaction() as conn:
            for number, sql in pending:
                for statement in _statements(sql):
                    await conn.execute(statement)
                log.info("applied database migration %04d", number)
            await conn.execute(f"PRAGMA user_version = {latest:d}")

    async def ping(self) -> bool:
        try:
            return await self._scalar("SELECT 1") == 1
        except (sqlite3.Error, ValueError):
            return False

    # -- small helpers -------------------------------------------------------------------

    async def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        async with self._conn.execute(sql, tuple(params)) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One statement in its own transaction; returns the rows changed."""
        async with self._transaction() as conn:
            cursor = await conn.execute(sql, tuple(params))
            return cursor.rowcount

    async def _tasks(self, where: str, params: Iterable[Any] = ()) -> list[TaskRow]:
        async with self._conn.execute(
            f"SELECT {_TASK_COLUMNS} FROM tasks {where}",  # noqa: S608 - constant columns
            tuple(params),
        ) as cursor:
            return [_task(row) for row in await cursor.fetchall()]

    # -- key-value state -----------------------------------------------------------------

    async def get_value(self, key: str) -> str | None:
        return await self._scalar("SELECT value FROM kv WHERE key = ?", (key,))

    async def set_value(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def set_value_once(self, key: str, value: str) -> str:
        """Store `value` unless the key exists; returns what is stored."""
        await self._write("INSERT OR IGNORE INTO kv (key, value) VALUES (?, ?)", (key, value))
        return await self.get_value(key) or value

    # -- tasks ---------------------------------------------------------------------------

    async def create_task(self, new: NewTask, *, now: float | None = None) -> tuple[TaskRow, bool]:
        """Record a request; a second delivery of the same interaction returns the first row.

        Returns the row and whether it was created now.
        """
        now = time.time() if now is None else now
        columns = [f.name for f in fields(NewTask)]
        values = [getattr(new, name) for name in columns]
        changed = await self._write(
            f"INSERT INTO tasks ({', '.join(columns)}, created_at, updated_at, next_check_at) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(columns))}, ?, ?, ?) "
            "ON CONFLICT (interaction_id) DO NOTHING",
            [*values, now, now, now],
        )
        rows = await self._tasks("WHERE interaction_id = ?", (new.interaction_id,))
        return rows[0], changed == 1

    async def get_task(self, task_id: int) -> TaskRow | None:
        rows = await self._tasks("WHERE id = ?", (task_id,))
        return rows[0] if rows else None

    async def get_task_by_api_id(self, api_task_id: str) -> TaskRow | None:
        rows = await self._tasks("WHERE api_task_id = ?", (api_task_id,))
        return rows[0] if rows else None

    async def recent_tasks(self, user_id: int, limit: int = 10) -> list[TaskRow]:
        return await self._tasks("WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit))

    async def set_discord_place(
        self, task_id: int, *, thread_id: int | None, card_message_id: int | None
    ) -> None:
        await self._write(
            "UPDATE tasks SET thread_id = coalesce(?, thread_id), "
            "card_message_id = coalesce(?, card_message_id), updated_at = ? WHERE id = ?",
            (thread_id, card_message_id, time.time(), task_id),
        )

    async def due_tasks(
        self, now: float, limit: int, *, state: str, exclude: Iterable[int] = ()
    ) -> list[TaskRow]:
        """Tasks in `state` whose next check is due, oldest due first."""
        skip = tuple(exclude)
        marks = ",".join("?" * len(skip))
        return await self._tasks(
            "WHERE state = ? AND next_check_at <= ? "
            f"{f'AND id NOT IN ({marks})' if skip else ''} ORDER BY next_check_at LIMIT ?",
            (state, now, *skip, limit),
        )

    async def next_due_at(self) -> float | None:
        """The earliest moment some task, card or track needs attention."""
        return await self._scalar(
            "SELECT min(t) FROM ("
            " SELECT min(next_check_at) AS t FROM tasks"
            "  WHERE state IN ('queued', 'submitting', 'following')"
            " UNION ALL SELECT min(card_retry_at) FROM tasks WHERE card_dirty = 1"
            " UNION ALL SELECT min(next_delivery_at) FROM tracks WHERE delivery != 'delivered'"
            "  AND ready_at IS NOT NULL)"
        )

    async def expired_tasks(self, submitted_before: float, limit: int = 100) -> list[TaskRow]:
        """Submitted tasks still running past the cut-off. Time waiting in the queue does
        not count: a queued request is never dropped."""
        return await self._tasks(
            "WHERE state = 'following' AND submitted_at < ? ORDER BY submitted_at LIMIT ?",
            (submitted_before, limit),
        )

    async def claim_for_submit(self, task_id: int, now: float) -> bool:
        """queued → submitting, counted; False if someone else moved it first."""
        return (
            await self._write(
                "UPDATE tasks SET state = 'submitting', submit_attempts = submit_attempts + 1, "
                "updated_at = ? WHERE id = ? AND state = 'queued'",
                (now, task_id),
            )
            == 1
        )

    async def mark_submitted(
        self, task_id: int, api_task_id: str, *, now: float, next_check_at: float
    ) -> None:
        await self._write(
            "UPDATE tasks SET state = 'following', stage = 'pending', api_task_id = ?, "
            "submitted_at = ?, next_check_at = ?, card_dirty = 1, updated_at = ? "
            "WHERE id = ? AND state = 'submitting'",
            (api_task_id, now, next_check_at, now, task_id),
        )

    async def requeue(self, task_id: int, *, now: float, next_check_at: float) -> None:
        """The API certainly did not take the submission: try again later."""
        await self._write(
            "UPDATE tasks SET state = 'queued', next_check_at = ?, error_count = error_count + 1, "
            "updated_at = ? WHERE id = ? AND state = 'submitting'",
            (next_check_at, now, task_id),
        )

    async def fail_task(
        self, task_id: int, reason: str, *, now: float, can_retry: bool = False
    ) -> bool:
        """Final failure with a member-readable reason; False if the task had already ended."""
        return (
            await self._write(
                "UPDATE tasks SET state = 'failed', error = ?, can_retry = ?, "
                "next_check_at = NULL, completed_at = ?, card_dirty = 1, card_retry_at = 0, "
                "updated_at = ? "
                "WHERE id = ? AND state IN ('queued', 'submitting', 'following')",
                (reason, int(can_retry), now, now, task_id),
            )
            == 1
        )

    async def fail_interrupted_submissions(self, reason: str, *, now: float) -> list[int]:
        """At start-up: tasks left in 'submitting' may or may not have reached the API."""
        ids = [row.id for row in await self._tasks("WHERE state = 'submitting'")]
        for task_id in ids:
            await self.fail_task(task_id, reason, now=now, can_retry=True)
        return ids

    async def schedule_check(
        self, task_id: int, *, next_check_at: float, error: bool = False
    ) -> None:
        await self._write(
            # updated_at stays: a routine check changes nothing a member sees.
            "UPDATE tasks SET next_check_at = ?, poll_count = poll_count + ?, "
            "error_count = error_count + ? WHERE id = ? AND state = 'following'",
            (next_check_at, 0 if error else 1, 1 if error else 0, task_id),
        )

    async def apply_progress(
        self,
        task_id: int,
        *,
        stage: str,
        tracks: Sequence[TrackData],
        complete: bool,
        now: float,
        next_check_at: float | None = None,
        from_callback: bool = False,
    ) -> bool:
        """Merge what the API reported, in one transaction. Stages only move forward;
        a track's ready data is recorded once; a finished task is never changed again.

        Returns True when anything a member can see changed.
        """
        async with self._transaction() as conn:
            async with conn.execute(
                "SELECT state, stage FROM tasks WHERE id = ?", (task_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None or row[0] != "following":
                return False
            changed = STAGE_ORDER.get(stage, 0) > STAGE_ORDER.get(row[1], 0)
            for track in tracks:
                changed |= await self._merge_track(task_id, track, now)
            await conn.execute(
                "UPDATE tasks SET stage = CASE WHEN ? > ? THEN ? ELSE stage END, "
                "state = CASE WHEN ? THEN 'done' ELSE state END, "
                "completed_at = CASE WHEN ? THEN ? ELSE completed_at END, "
                "next_check_at = CASE WHEN ? THEN NULL ELSE coalesce(?, next_check_at) END, "
                "callback_at = CASE WHEN ? THEN ? ELSE callback_at END, "
                "card_dirty = CASE WHEN ? THEN 1 ELSE card_dirty END, updated_at = ? "
                "WHERE id = ?",
                (
                    STAGE_ORDER.get(stage, 0), STAGE_ORDER.get(row[1], 0), stage,
                    complete,
                    complete, now,
                    complete, next_check_at,
                    from_callback, now,
                    changed or complete, now,
                    task_id,
                ),
            )  # fmt: skip
        return changed or complete

    async def _merge_track(self, task_id: int, track: TrackData, now: float) -> bool:
        ready = bool(track.audio_url)
        cursor = await self._conn.execute(
            "INSERT INTO tracks (task_id, api_track_id, position, audio_url, stream_url, "
            "image_url, title, tags, duration, ready_at, next_delivery_at) "
            "VALUES (?, ?, (SELECT count(*) FROM tracks WHERE task_id = ?), "
            " ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (task_id, api_track_id) DO UPDATE SET "
            " audio_url = excluded.audio_url, stream_url = excluded.stream_url, "
            " image_url = excluded.image_url, title = excluded.title, tags = excluded.tags, "
            " duration = excluded.duration, ready_at = excluded.ready_at, "
            " next_delivery_at = excluded.next_delivery_at "
            "WHERE tracks.ready_at IS NULL AND excluded.ready_at IS NOT NULL",
            (
                task_id, track.api_track_id, task_id, track.audio_url, track.stream_url,
                track.image_url, track.title, track.tags, track.duration,
                now if ready else None, now if ready else None,
            ),
        )  # fmt: skip
        return cursor.rowcount == 1 and ready

    async def tasks_needing_card(self, now: float, limit: int) -> list[TaskRow]:
        return await self._tasks(
            "WHERE card_dirty = 1 AND card_retry_at <= ? ORDER BY card_retry_at, id LIMIT ?",
            (now, limit),
        )

    async def card_shown(self, task_id: int, updated_at: float) -> None:
        """Clear the flag, unless the task changed again since the card was drawn."""
        await self._write(
            "UPDATE tasks SET card_dirty = 0 WHERE id = ? AND updated_at = ?", (task_id, updated_at)
        )

    async def card_failed(self, task_id: int, retry_at: float) -> None:
        await self._write("UPDATE tasks SET card_retry_at = ? WHERE id = ?", (retry_at, task_id))

    async def mark_card_dirty(self, task_ids: Iterable[int], now: float) -> None:
        ids = tuple(task_ids)
        if ids:
            await self._write(
                f"UPDATE tasks SET card_dirty = 1, card_retry_at = 0, updated_at = ? "  # noqa: S608
                f"WHERE id IN ({','.join('?' * len(ids))})",
                (now, *ids),
            )

    async def queue_position(self, task_id: int) -> int | None:
        """1 for the next task to be submitted; None when the task is not queued."""
        return await self._scalar(
            "SELECT (SELECT count(*) FROM tasks q WHERE q.state = 'queued' AND q.id <= t.id) "
            "FROM tasks t WHERE t.id = ? AND t.state = 'queued'",
            (task_id,),
        )

    async def queued_task_ids(self, limit: int) -> list[int]:
        """The first `limit` tasks in line."""
        async with self._conn.execute(
            "SELECT id FROM tasks WHERE state = 'queued' ORDER BY id LIMIT ?", (limit,)
        ) as cursor:
            return [row[0] for row in await cursor.fetchall()]

    async def is_idle(self) -> bool:
        """No task still active and no finished track waiting to be delivered."""
        return not await self._scalar(
            "SELECT EXISTS (SELECT 1 FROM tasks"
            "  WHERE state IN ('queued', 'submitting', 'following'))"
            " OR EXISTS (SELECT 1 FROM tracks"
            "  WHERE delivery != 'delivered' AND ready_at IS NOT NULL)"
        )

    async def count_by_state(self) -> dict[str, int]:
        async with self._conn.execute("SELECT state, count(*) FROM tasks GROUP BY state") as cursor:
            return {state: count for state, count in await cursor.fetchall()}

    # -- tracks --------------------------------------------------------------------------

    async def tracks_for_task(self, task_id: int) -> list[TrackRow]:
        async with self._conn.execute(
            f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE task_id = ? ORDER BY position",  # noqa: S608
            (task_id,),
        ) as cursor:
            return [_track(row) for row in await cursor.fetchall()]

    async def due_deliveries(
        self, now: float, limit: int, exclude: Iterable[int] = ()
    ) -> list[TrackRow]:
        skip = tuple(exclude)
        marks = ",".join("?" * len(skip))
        async with self._conn.execute(
            f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE delivery != 'delivered' "  # noqa: S608
            "AND ready_at IS NOT NULL AND next_delivery_at <= ? "
            f"{f'AND id NOT IN ({marks})' if skip else ''} ORDER BY next_delivery_at LIMIT ?",
            (now, *skip, limit),
        ) as cursor:
            return [_track(row) for row in await cursor.fetchall()]

    async def delivery_attempted(self, track_id: int) -> None:
        """Written before the post: after a crash, 'attempted' means "look before posting"."""
        await self._write(
            "UPDATE tracks SET delivery = 'attempted', delivery_attempts = delivery_attempts + 1 "
            "WHERE id = ? AND delivery != 'delivered'",
            (track_id,),
        )

    async def delivered(self, track_id: int, message_id: int, now: float) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE tracks SET delivery = 'delivered', message_id = ?, delivered_at = ?, "
                "next_delivery_at = NULL WHERE id = ? AND delivery != 'delivered'",
                (message_id, now, track_id),
            )
            await conn.execute(
                "UPDATE tasks SET card_dirty = 1, card_retry_at = 0, updated_at = ? "
                "WHERE id = (SELECT task_id FROM tracks WHERE id = ?)",
                (now, track_id),
            )

    async def delivery_failed(self, track_id: int, retry_at: float) -> None:
        await self._write(
            "UPDATE tracks SET next_delivery_at = ? WHERE id = ?", (retry_at, track_id)
        )


def _statements(sql: str) -> list[str]:
    """Split a migration file into statements (complete_statement respects quoting)."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        if line.lstrip().startswith("--") and not current.strip():
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements

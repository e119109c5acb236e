"""The one SQLite connection, its migrations, and transactions a cancellation cannot split.

Every coroutine shares one aiosqlite connection, whose statements run in order on its
own thread. A statement queued there runs even if the coroutine that queued it is
cancelled, so a transaction is driven by a task of its own that always ends with COMMIT
or ROLLBACK: a caller timing out (`asyncio.wait_for` around a callback) can stop
waiting, never leave the connection inside a transaction that nobody will end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

import aiosqlite

from bot.store.leases import Leases
from bot.store.rows import TASK_COLUMNS, TaskRow

log = logging.getLogger(__name__)

T = TypeVar("T")
Params = Sequence[Any] | Mapping[str, Any]
Row = Sequence[Any]


class Conn(Protocol):
    """One transaction's statements, the same calls on every engine. Parameters are `?`
    in order or `:name`."""

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the rows it changed."""

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT of one row; returns its `id`."""

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def lock(self, key: int) -> None:
        """Serialise transactions that read, decide and write under `key` (a quota, one
        server's settings) until this one ends."""


class SqliteConn:
    """`Conn` on the aiosqlite connection (`PgConn` is PostgreSQL's)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the rows it changed."""
        cursor = await self._conn.execute(sql, params)
        return cursor.rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT of one row; returns its `id`."""
        cursor = await self._conn.execute(sql, params)
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._conn.execute(sql, params) as cursor:
            row: Row | None = await cursor.fetchone()
            return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def lock(self, key: int) -> None:
        """SQLite has one writer at a time already (BEGIN IMMEDIATE)."""


Work = Callable[[Conn], Awaitable[T]]


class Dialect:
    """The few SQL spellings that differ between engines (SQLite here)."""

    name = "sqlite"
    unique_violation: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    integrity_error: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)  # any constraint
    for_update = ""  # a read that the transaction then writes on: one writer at a time already
    skip_locked = ""  # rows another writer holds are skipped (PostgreSQL); here there is none

    @staticmethod
    def json_has(column: str, key_param: str) -> str:
        """True where the JSON document in `column` sets the key given as a parameter."""
        return f"json_extract({column}, '$.' || {key_param}) IS NOT NULL"


PING_TIMEOUT = 2.0  # seconds a health check waits for the write lock

_PRAGMAS = (
    # First: the switch to WAL below waits for a process starting at the same time.
    "PRAGMA busy_timeout=5000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    # FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on a power cut, and
    # the 'submitting' and 'attempted' marks must be on disk before the API call or the
    # post they announce, or a restart would submit or post twice.
    "PRAGMA synchronous=FULL",
)


# The same table on PostgreSQL: which migration numbers the database has.
SCHEMA_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"


class StoreError(RuntimeError):
    """The database cannot be used (for example it is newer than this code)."""


def migrations(folder_name: str = "migrations") -> list[tuple[int, str]]:
    """Numbered migration files (`0001_name.sql`), in order."""
    folder = resources.files("bot.store") / folder_name
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text("utf-8")))
    return sorted(found)


class Database:
    """The connection and the helpers the query mixins build on."""

    dialect = Dialect()
    shared = False  # True on PostgreSQL: other processes may use the same database
    owner = ""  # this process, in the leases it takes (bot/store/processes.py)
    leases = Leases()

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        # One connection is shared by every coroutine: transactions must not interleave.
        self._lock = asyncio.Lock()
        # Transactions still running after their caller stopped waiting.
        self._units: set[asyncio.Task[Any]] = set()

    @classmethod
    async def open(cls, path: str | Path) -> Self:
        """Open (creating the folder and file), set pragmas, apply pending migrations."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)  # we BEGIN ourselves
        try:
            # Close each cursor: a PRAGMA that returns a row leaves its statement open
            # (blocking COMMIT) for as long as anything still references the cursor.
            for pragma in _PRAGMAS:
                async with conn.execute(pragma):
                    pass
            # The clock SQL reads (`db_now()`, as on PostgreSQL): one process owns the file.
            await conn.create_function("db_now", 0, time.time)
            store = cls(conn, path)
            await store._migrate()
        except BaseException:
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        """Let transactions already started finish, then close."""
        if self._units:
            await asyncio.gather(*self._units, return_exceptions=True)
        await self._conn.close()

    async def ping(self, timeout: float = PING_TIMEOUT) -> bool:
        """Whether the store can write: takes the write lock and lets it go again."""
        try:
            async with asyncio.timeout(timeout):
                await self._transaction(_nothing, commit=False)
        except (TimeoutError, sqlite3.Error, ValueError) as error:
            log.warning("store ping failed: %r", error)
            return False
        return True

    async def _migrate(self) -> None:
        """Pending migrations in one exclusive transaction that reads the schema version
        itself: two processes opening a fresh file at once migrate it once (the second
        waits, then finds nothing left to apply)."""
        conn = self._conn
        async with self._lock:
            await conn.execute("BEGIN EXCLUSIVE")
            try:
                await self._apply_pending(SqliteConn(conn))
                await conn.execute("COMMIT")
            except BaseException:
                await _rollback(conn)
                raise

    async def _apply_pending(self, conn: Conn) -> None:
        available = migrations()
        latest = available[-1][0] if available else 0
        row = await conn.fetchone("PRAGMA user_version")
        current = row[0] if row else 0
        if current > latest:
            raise StoreError(
                f"the database {self.path} is at schema version {current}, newer than this "
                f"code's {latest}: run a newer backline or restore an older database"
            )
        # Each number is applied once, whatever the order the files arrived in (numbers are
        # handed out to parallel work, so 0016 may land before 0013): kept one row a number.
        # A database from before this table has every number up to its user_version.
        row = await conn.fetchone(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
        has_table = bool(row and row[0])
        applied: set[int] = set(range(1, current + 1))
        if has_table:
            applied = {row[0] for row in await conn.fetchall("SELECT version FROM schema_version")}
        pending = [(number, sql) for number, sql in available if number not in applied]
        if has_table and not pending:
            return
        # executescript would commit on its own: statements one by one instead.
        await conn.execute(SCHEMA_VERSION_TABLE)
        if not has_table:
            for number in sorted(applied):
                await conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        for number, sql in pending:
            for statement in _statements(sql):
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
            log.info("applied database migration %04d", number)
        await conn.execute(f"PRAGMA user_version = {latest:d}")

    async def db_now(self) -> float:
        """The database's clock (epoch seconds): the one every process compares times by."""
        now: float = await self._scalar("SELECT db_now()")
        return now

    # -- helpers for the query mixins -----------------------------------------------------

    async def _scalar(self, sql: str, params: Params = ()) -> Any:
        row = await self._fetchone(sql, params)
        return row[0] if row else None

    async def _transaction(self, work: Work[T], *, commit: bool = True) -> T:
        """Run `work` in one transaction and return its result.

        If the caller is cancelled, the transaction still runs to its end (COMMIT, or
        ROLLBACK on error) and the cancellation is raised to the caller. `work` must not
        start another transaction: the lock is not re-entrant.
        """
        unit = asyncio.create_task(self._unit(work, commit))
        self._units.add(unit)
        unit.add_done_callback(self._units.discard)
        try:
            return await asyncio.shield(unit)
        except asyncio.CancelledError:
            unit.add_done_callback(_report_orphan)
            raise

    async def _unit(self, work: Work[T], commit: bool) -> T:
        conn = self._conn
        async with self._lock:
            if conn.in_transaction:  # only code outside the store could leave one open
                log.warning("the store's connection was left in a transaction: rolling back")
                await conn.execute("ROLLBACK")
            try:
                await conn.execute("BEGIN IMMEDIATE")
                result = await work(SqliteConn(conn))
                await conn.execute("COMMIT" if commit else "ROLLBACK")
            except BaseException:
                # Also after a failed BEGIN or COMMIT: statements run in order, so this
                # ends whatever was begun; with nothing begun it fails harmlessly.
                await _rollback(conn)
                raise
            return result

    async def listen(self, channel: str, heard: Callable[[str], None]) -> None:
        """Call `heard(payload)` when a process announces on `channel` (PostgreSQL); on
        SQLite there is no other process."""

    async def announce(self, channel: str, payload: str = "") -> None:
        """Tell the other processes (PostgreSQL): work may be due, a setting changed."""

    @contextlib.asynccontextmanager
    async def exclusive(self, key: int) -> AsyncIterator[None]:
        """One process at a time in the block (PostgreSQL: a session advisory lock). On
        SQLite the store serves one process: nothing to wait for."""
        yield

    async def _fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """A read outside any transaction (it sees the last committed state)."""
        return await SqliteConn(self._conn).fetchone(sql, params)

    async def _fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await SqliteConn(self._conn).fetchall(sql, params)

    async def _write(self, sql: str, params: Params = ()) -> int:
        """One statement in its own transaction; returns the rows changed."""

        async def write(conn: Conn) -> int:
            return await conn.execute(sql, params)

        return await self._transaction(write)

    async def _insert(self, sql: str, params: Params = ()) -> int:
        """One row inserted in its own transaction; returns its id."""

        async def insert(conn: Conn) -> int:
            return await conn.insert(sql, params)

        return await self._transaction(insert)

    async def _tasks(self, where: str, params: Params = ()) -> list[TaskRow]:
        rows = await self._fetchall(
            f"SELECT {TASK_COLUMNS} FROM tasks {where}",  # noqa: S608 - constant columns
            params,
        )
        return [TaskRow.from_row(row) for row in rows]


async def _nothing(conn: Conn) -> None:
    """A ping's transaction: taking the write lock is the whole test."""


def _report_orphan(unit: asyncio.Task[Any]) -> None:
    """A transaction whose caller stopped waiting failed: nobody else will hear of it."""
    if not unit.cancelled() and unit.exception() is not None:
        log.warning("store transaction failed after its caller gave up: %r", unit.exception())


async def _rollback(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.OperationalError as error:  # no transaction was active
        log.debug("rollback after a failed transaction: %s", error)


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

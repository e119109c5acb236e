"""PostgreSQL, for more than one bot process on one database (`DATABASE_URL=postgresql://…`).

The query mixins are the same as on SQLite: they speak through `Conn` (`?` or `:name`
parameters), and `PgConn` turns those into PostgreSQL's `$n`. What differs lives here: a
pool of connections instead of one, its own numbered migrations (`migrations_pg/`, kept in
step with SQLite's), advisory locks where SQLite's single writer already serialises, and
migrations applied under an advisory lock so processes starting together apply them once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Self

import asyncpg

from bot.store.database import (
    PING_TIMEOUT,
    SCHEMA_VERSION_TABLE,
    Database,
    Dialect,
    Params,
    Row,
    StoreError,
    T,
    Work,
)
from bot.store.database import migrations as migration_files

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x6261636B  # "back": one process applies migrations at a time
POOL_SIZE = 10
RETRIES = 5  # runs of a transaction PostgreSQL aborted for a deadlock
STATEMENT_TIMEOUT = 30.0
_TOKEN = re.compile(r"'(?:[^']|'')*'|::|:(\w+)|\?")


@functools.lru_cache(maxsize=1024)
def _translate(sql: str, named: bool) -> tuple[str, tuple[str, ...]]:
    """`?` (in order) or `:name` → `$n`; quoted text and `::` casts are left alone.
    Returns the statement and, for named parameters, the names in `$n` order."""
    names: list[str] = []
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        piece = match.group(0)
        if piece.startswith("'") or piece == "::":
            return piece
        if piece == "?":
            count += 1
            return f"${count}"
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _TOKEN.sub(replace, sql), tuple(names) if named else ()


def _args(sql: str, params: Params) -> tuple[str, list[Any]]:
    if isinstance(params, Mapping):
        query, names = _translate(sql, True)
        return query, [params[name] for name in names]
    query, _ = _translate(sql, False)
    return query, list(params)


def _changed(status: str) -> int:
    """Rows a command changed, from its status ("UPDATE 3", "INSERT 0 1", "DELETE 0")."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PgConn:
    """`Conn` on an asyncpg connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        query, args = _args(sql, params)
        return _changed(await self._conn.execute(query, *args))

    async def insert(self, sql: str, params: Params = ()) -> int:
        query, args = _args(sql, params)
        value: int = await self._conn.fetchval(f"{query} RETURNING id", *args)
        return value

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        query, args = _args(sql, params)
        record = await self._conn.fetchrow(query, *args)
        return None if record is None else tuple(record)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        query, args = _args(sql, params)
        return [tuple(record) for record in await self._conn.fetch(query, *args)]

    async def lock(self, key: int) -> None:
        """Held until the transaction ends."""
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", key)


class PgDialect(Dialect):
    name = "postgresql"
    unique_violation = (asyncpg.UniqueViolationError,)
    integrity_error = (asyncpg.IntegrityConstraintViolationError,)
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    @staticmethod
    def json_has(column: str, key_param: str) -> str:
        return f"jsonb_exists({column}::jsonb, {key_param})"


class PgDatabase(Database):
    """Overrides the SQLite primitives of `Database`; everything above them is shared."""

    dialect = PgDialect()

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self.url = url
        self._units: set[asyncio.Task[Any]] = set()
        self._listener: asyncpg.Connection | None = None
        self._listening = asyncio.Lock()

    @classmethod
    async def open(cls, path: Any) -> Self:
        """Connect to `postgresql://…` and apply pending migrations."""
        url = str(path)
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=POOL_SIZE,
                command_timeout=STATEMENT_TIMEOUT,
                # The statement cache is per connection; ours are few and fixed.
                statement_cache_size=256,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL ({type(exc).__name__})") from None
        store = cls(pool, url)
        try:
            await store._migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        if self._units:
            await asyncio.gather(*self._units, return_exceptions=True)
        await self._pool.close()

    async def ping(self, timeout: float = PING_TIMEOUT) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._fetchone("SELECT 1")
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("store ping failed: %r", error)
            return False
        return True

    async def _migrate(self) -> None:
        available = migration_files("migrations_pg")
        latest = available[-1][0] if available else 0
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(SCHEMA_VERSION_TABLE)
            applied = {row[0] for row in await conn.fetch("SELECT version FROM schema_version")}
            current = max(applied, default=0)
            if current > latest:
                raise StoreError(
                    f"the database is at schema version {current}, newer than this code's "
                    f"{latest}: run a newer backline or restore an older database"
                )
            # Each number once, whatever the order the files arrived in (see database.py).
            for number, sql in available:
                if number not in applied:
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
                    log.info("applied database migration %04d (PostgreSQL)", number)

    shared = True  # other processes may use the same database

    async def listen(self, channel: str, heard: Callable[[str], None]) -> None:
        """On a connection of its own, outside the pool, kept for the store's life."""
        async with self._listening:
            if self._listener is None:
                self._listener = await asyncpg.connect(self.url)
        await self._listener.add_listener(channel, lambda *args: heard(str(args[-1])))

    async def announce(self, channel: str, payload: str = "") -> None:
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_notify($1, $2)", channel, payload)

    @contextlib.asynccontextmanager
    async def exclusive(self, key: int) -> AsyncIterator[None]:
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", key)
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", key)

    async def _fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._pool.acquire() as conn:
            return await PgConn(conn).fetchone(sql, params)

    async def _fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._pool.acquire() as conn:
            return await PgConn(conn).fetchall(sql, params)

    async def _unit(self, work: Work[T], commit: bool) -> T:
        """One transaction; a deadlock or serialization failure (several processes updating
        the same rows in another order) rolled it back whole, so it is run again."""
        for attempt in range(1, RETRIES + 1):
            try:
                return await self._once(work, commit)
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if attempt == RETRIES:
                    raise
                await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    async def _once(self, work: Work[T], commit: bool) -> T:
        async with self._pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                result = await work(PgConn(conn))
            except BaseException:
                await transaction.rollback()
                raise
            if commit:
                await transaction.commit()
            else:
                await transaction.rollback()
            return result

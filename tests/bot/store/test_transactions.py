"""Transactions against cancellation and a store that cannot write."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from bot.store.database import Conn

pytestmark = pytest.mark.sqlite_only  # SQLite's one connection and its write lock


async def cancel_soon(write: asyncio.Future[Any], rng: random.Random) -> None:
    """Cancel `write` after a random number of event-loop turns (maybe none)."""
    for _ in range(rng.randrange(8)):
        await asyncio.sleep(0)
    write.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await write


async def test_cancelled_writes_leave_the_store_writable(store: Store) -> None:
    rng = random.Random(1)
    for i in range(300):
        await cancel_soon(asyncio.ensure_future(store.set_value(f"k{i}", "v")), rng)
        with contextlib.suppress(TimeoutError):  # as a caller's wait_for does it
            await asyncio.wait_for(store.set_value(f"w{i}", "v"), rng.random() / 1000)
    await store.set_value("after", "ok")
    assert await store.get_value("after") == "ok"
    assert await store.ping()


async def test_a_cancelled_transaction_is_never_split(store: Store) -> None:
    async def two_rows(i: int, conn: Conn) -> None:
        await conn.execute("INSERT INTO kv (key, value) VALUES (?, 'x')", (f"a{i}",))
        await asyncio.sleep(0)
        await conn.execute("INSERT INTO kv (key, value) VALUES (?, 'x')", (f"b{i}",))

    rng = random.Random(2)
    for i in range(200):
        write = asyncio.ensure_future(store._transaction(partial(two_rows, i)))
        await cancel_soon(write, rng)
    await store.set_value("after", "ok")  # waits for the transactions still running
    async with store._conn.execute("SELECT key FROM kv") as cursor:
        keys = {row[0] for row in await cursor.fetchall()}
    assert all((f"a{i}" in keys) == (f"b{i}" in keys) for i in range(200))


async def test_a_connection_left_in_a_transaction_is_recovered(store: Store) -> None:
    await store._conn.execute("BEGIN")  # as code outside the store might leave it
    await store.set_value("k", "v")
    assert not store._conn.in_transaction
    assert await store.get_value("k") == "v"


async def test_ping_fails_while_another_connection_holds_the_write_lock(db_path: Path) -> None:
    store = await Store.open(db_path)
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert await store.ping()
        other.execute("BEGIN IMMEDIATE")
        assert not await store.ping(timeout=0.2)
        other.execute("ROLLBACK")
        assert await store.ping()
        await store.set_value("k", "v")  # the writes waiting behind the ping go through
    finally:
        other.close()
        await store.close()


async def test_ping_fails_while_a_write_is_stuck(store: Store) -> None:
    async with store._lock:
        assert not await store.ping(timeout=0.1)
    assert await store.ping()


async def test_ping_fails_once_closed(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.close()
    assert not await store.ping()

"""The PostgreSQL the tests use: a database of their own on the server named by
`BACKLINE_TEST_POSTGRES` (by default the local server, `postgresql://postgres@127.0.0.1:5432/postgres`).

Each test run creates `backline_test_<pid>` on first use and drops it when the run ends (and
drops any left by a run that was killed), so runs side by side never share tables and nothing
else on the server is touched. In CI (`CI=true`) a server that cannot be reached fails the
run; elsewhere the PostgreSQL tests are skipped with the reason."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import asyncpg
import pytest

SERVER_URL = os.environ.get(
    "BACKLINE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_PREFIX = "backline_test_"
DB_NAME = f"{_PREFIX}{os.getpid()}"
PG_URL = urlsplit(SERVER_URL)._replace(path=f"/{DB_NAME}").geturl()
_created = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _ensure_database() -> None:
    """Creates this run's database once; drops those of runs that are gone."""
    global _created
    if _created:
        return
    try:
        admin = await asyncpg.connect(SERVER_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        reason = (
            f"PostgreSQL is not reachable at {SERVER_URL.split('@')[-1]} ({type(exc).__name__})"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: CI must run the PostgreSQL tests")
        pytest.skip(reason)
    try:
        names = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", _PREFIX + "%"
        )
        for (name,) in names:
            pid = name.removeprefix(_PREFIX)
            if name != DB_NAME and pid.isdigit() and not _alive(int(pid)):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await admin.close()
    _created = True


async def drop_database() -> None:
    """Drops this run's database (the end of the test run)."""
    if not _created:
        return
    admin = await asyncpg.connect(SERVER_URL, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    finally:
        await admin.close()


async def fresh_postgres() -> str:
    """An empty `public` schema in this run's own database; its URL."""
    await _ensure_database()
    conn = await asyncpg.connect(PG_URL, timeout=5)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return PG_URL

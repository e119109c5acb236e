"""The PostgreSQL the tests use: `BACKLINE_TEST_POSTGRES`, by default the local server's
`test` database. In CI (`CI=true`) a server that cannot be reached fails the run; elsewhere
the PostgreSQL tests are skipped with the reason."""

from __future__ import annotations

import os

import asyncpg
import pytest

PG_URL = os.environ.get("BACKLINE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


async def fresh_postgres() -> str:
    """An empty `public` schema in the test database; its URL."""
    try:
        conn = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL is not reachable at {PG_URL.split('@')[-1]} ({type(exc).__name__})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: CI must run the PostgreSQL tests")
        pytest.skip(reason)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return PG_URL

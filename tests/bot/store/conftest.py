"""The store's tests run on both engines: SQLite (a temporary file) and PostgreSQL (the
machine's server, a fresh schema per test). Tests of SQLite's own machinery (pragmas, the
one connection, its file migrations) are marked `sqlite_only` and run once.

PostgreSQL is `BACKLINE_TEST_POSTGRES` (default: the local server's `test` database). In
CI (`CI=true`) a PostgreSQL that cannot be reached fails the run; elsewhere those tests
are skipped with the reason."""

from __future__ import annotations

import pytest

from bot.store import Store


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items[:] = [
        item
        for item in items
        if not (item.get_closest_marker("sqlite_only") and "[postgresql]" in item.name)
    ]


@pytest.fixture
def store(each_store: Store) -> Store:
    return each_store

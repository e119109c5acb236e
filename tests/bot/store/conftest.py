"""The store's tests run on both engines: SQLite (a temporary file) and PostgreSQL (the
machine's server, a fresh schema per test). Tests of SQLite's own machinery (pragmas, the
one connection, its file migrations) are marked `sqlite_only` and run once.

PostgreSQL is a database of the run's own (tests/support/postgres.py). The PostgreSQL
twins of `sqlite_only` tests are reported as deselected, which is the gap between what
pytest collects and what it runs. In CI (`CI=true`) a PostgreSQL that cannot be reached
fails the run; elsewhere those tests are skipped with the reason."""

from __future__ import annotations

import pytest

from bot.store import Store


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def twin(item: pytest.Item) -> bool:
        return bool(item.get_closest_marker("sqlite_only")) and "[postgresql]" in item.name

    deselected = [item for item in items if twin(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not twin(item)]


@pytest.fixture
def store(each_store: Store) -> Store:
    return each_store

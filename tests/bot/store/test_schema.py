"""One schema truth: the SQLite tree (`migrations/`) and the PostgreSQL tree
(`migrations_pg/`) hold the same numbers and build the same schema, compared as each engine
reports it (tables, columns with nullability and type family, CHECK word lists and counts,
indexes). A pair that drifts fails here with the table and what differs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import PgStore, Store
from bot.store.database import migrations
from tests.support.postgres import fresh_postgres
from tests.support.schema import Schema, schema_of


def test_both_trees_hold_the_same_numbers() -> None:
    sqlite = [number for number, _ in migrations("migrations")]
    postgres = [number for number, _ in migrations("migrations_pg")]
    assert sqlite == postgres
    assert len(set(sqlite)) == len(sqlite)  # one file a number


async def migrated(tmp_path: Path) -> tuple[Schema, Schema]:
    lite = await Store.open(tmp_path / "schema.db")
    pg = await PgStore.open(await fresh_postgres())
    try:
        return await schema_of(lite), await schema_of(pg)
    finally:
        await lite.close()
        await pg.close()


async def test_both_engines_build_the_same_schema(tmp_path: Path) -> None:
    lite, pg = await migrated(tmp_path)
    assert sorted(lite.columns) == sorted(pg.columns), "tables"
    for table, columns in lite.columns.items():
        assert columns == pg.columns[table], f"columns of {table}"
    assert lite.checks == pg.checks, "CHECK word lists"
    assert lite.check_counts == pg.check_counts, "CHECK constraints per table"
    assert sorted(lite.indexes) == sorted(pg.indexes), "index names"
    for name, index in lite.indexes.items():
        assert index == pg.indexes[name], f"index {name}"


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_a_number_that_lands_after_a_higher_one_is_applied(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Numbers are handed out to work done side by side, so 0016 may reach a database
    before 0013: the lower one is applied when it arrives, on both engines."""
    late = 11  # an index no later migration builds on
    url = await fresh_postgres() if engine == "postgresql" else ""

    async def opened() -> Schema:
        store = await (PgStore.open(url) if url else Store.open(tmp_path / "late.db"))
        try:
            return await schema_of(store)
        finally:
            await store.close()

    folder = "migrations_pg" if url else "migrations"
    early = [(number, sql) for number, sql in migrations(folder) if number != late]
    # Where each engine reads its folder: as if file 0011 were not there yet.
    where = "bot.store.postgres.migration_files" if url else "bot.store.database.migrations"
    with monkeypatch.context() as patch:
        patch.setattr(where, lambda *_: early)
        before = await opened()
    after = await opened()
    assert "tasks_submitting" not in before.indexes
    assert after.indexes["tasks_submitting"].where == "state='submitting'"

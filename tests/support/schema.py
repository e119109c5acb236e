"""What a migrated database looks like, read back from the engine itself and normalised so
the SQLite and the PostgreSQL schema compare: tables, columns (name, nullability, type
family), the word lists of CHECK constraints, the number of CHECKs per table, and indexes
(table, columns, uniqueness, condition)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.store import PgStore, Store

# Declared types by family: the two trees spell the same storage differently.
TYPE_FAMILIES = {
    "integer": "integer",
    "bigint": "integer",
    "smallint": "integer",
    "int": "integer",
    "real": "real",
    "double precision": "real",
    "numeric": "real",
    "text": "text",
    "character varying": "text",
    "blob": "blob",
    "bytea": "blob",
    "boolean": "boolean",
}
IN_LIST = re.compile(r"(\w+)\s+IN\s*\(([^()]*)\)", re.IGNORECASE)
CAST = re.compile(r"::[a-z_]+(?: [a-z]+)?(?:\[\])?")
CREATE_INDEX = re.compile(
    r"CREATE (UNIQUE )?INDEX (?:IF NOT EXISTS )?\"?(\w+)\"? ON (?:public\.)?\"?(\w+)\"?"
    r"(?: USING \w+)? ?\((.*?)\)(?: WHERE (.*))?$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True, order=True)
class Column:
    name: str
    family: str
    not_null: bool


@dataclass(frozen=True)
class Index:
    table: str
    columns: tuple[str, ...]
    unique: bool
    where: str | None


@dataclass
class Schema:
    columns: dict[str, tuple[Column, ...]]  # table -> its columns, sorted by name
    # (table, column) -> each word list a CHECK holds it to (`state IN ('queued', …)`)
    checks: dict[tuple[str, str], list[tuple[str, ...]]]
    check_counts: dict[str, int]  # table -> how many CHECK constraints it has
    indexes: dict[str, Index]  # name -> the index


def family(declared: str) -> str:
    declared = declared.strip().lower()
    return TYPE_FAMILIES.get(declared, declared)


def plain_sql(sql: str) -> str:
    """PostgreSQL's rewritten SQL back to the plain form both trees are written in: no casts,
    `= ANY (ARRAY[…])` as `IN (…)`, `<>` as `!=`, no redundant brackets or spaces."""
    text = CAST.sub("", sql.lower())
    text = re.sub(r"=\s*any\s*\(\s*\(?\s*array\[(.*?)\]\s*\)?\s*\)", r" in (\1)", text)
    text = text.replace("<>", "!=")
    return re.sub(r"[\s()]", "", text)


def words(listed: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("'") for part in CAST.sub("", listed).split(","))


def add_check_lists(schema: Schema, table: str, check_sql: str) -> None:
    text = CAST.sub("", check_sql)
    text = re.sub(r"=\s*ANY\s*\(\s*\(?\s*ARRAY\[(.*?)\]\s*\)?\s*\)", r" IN (\1)", text, flags=re.I)
    for column, listed in IN_LIST.findall(text):
        lists = schema.checks.setdefault((table, column), [])
        lists.append(words(listed))
        lists.sort()


def parse_index(sql: str) -> tuple[str, Index]:
    match = CREATE_INDEX.match(" ".join(sql.split()))
    assert match is not None, f"an index this test cannot read: {sql}"
    unique, name, table, columns, where = match.groups()
    names = tuple(plain_sql(column) for column in columns.split(","))
    return name, Index(table, names, bool(unique), plain_sql(where) if where else None)


async def schema_of(store: Store | PgStore) -> Schema:
    if isinstance(store, PgStore):
        return await _postgres(store)
    return await _sqlite(store)


async def _sqlite(store: Store) -> Schema:
    tables = await store._fetchall(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    schema = Schema({}, {}, {}, {})
    for table, sql in tables:
        info = await store._fetchall(f'PRAGMA table_info("{table}")')
        # A primary key column is never NULL (PostgreSQL says so; SQLite leaves it implied).
        schema.columns[table] = tuple(
            sorted(
                Column(name, family(declared), bool(notnull or pk))
                for _, name, declared, notnull, _, pk in info
            )
        )
        add_check_lists(schema, table, sql)
        schema.check_counts[table] = len(re.findall(r"\bCHECK\s*\(", sql, re.IGNORECASE))
    for (sql,) in await store._fetchall(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    ):
        name, index = parse_index(sql)
        schema.indexes[name] = index
    return schema


async def _postgres(store: PgStore) -> Schema:
    schema = Schema({}, {}, {}, {})
    columns = await store._fetchall(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'public'"
    )
    by_table: dict[str, list[Column]] = {}
    for table, name, declared, nullable in columns:
        by_table.setdefault(table, []).append(Column(name, family(declared), nullable == "NO"))
    schema.columns = {table: tuple(sorted(cols)) for table, cols in by_table.items()}
    schema.check_counts = dict.fromkeys(by_table, 0)
    checks = await store._fetchall(
        "SELECT c.conrelid::regclass::text, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE c.contype = 'c' AND n.nspname = 'public'"
    )
    for table, definition in checks:
        add_check_lists(schema, table, definition)
        schema.check_counts[table] += 1
    # Indexes made by CREATE INDEX, not those behind a primary key or UNIQUE constraint
    # (SQLite keeps those out of sqlite_master's SQL too).
    indexes = await store._fetchall(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
    )
    for (sql,) in indexes:
        name, index = parse_index(sql)
        schema.indexes[name] = index
    return schema

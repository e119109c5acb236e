"""Large backlogs for tests and benchmarks: copies of a task's row, checks made due, tasks
counted, all through the store's own connection.

The one place outside `bot/store` that writes the tasks table with SQL of its own: the
tests use it too, so a change of the schema breaks a test here, not a benchmark silently.
"""

from __future__ import annotations

from typing import Any

from bot.store import PgStore, Store
from bot.store.database import Params

COPIES_FROM = 10**17  # copies' interaction ids: far above real ones (and the tests' counters)


async def copy_task_rows(store: Store, template: int, api_task_ids: list[str]) -> None:
    """A copy of task `template`'s row for each API task id, each with an interaction id of
    its own, in one transaction."""
    if isinstance(store, PgStore):
        sql = (
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'tasks' ORDER BY ordinal_position"
        )
    else:
        sql = "SELECT name FROM pragma_table_info('tasks')"
    columns = [name for (name,) in await store._fetchall(sql) if name != "id"]
    fresh = {"interaction_id": "?", "api_task_id": "?"}  # in this order in the table
    insert = (
        f"INSERT INTO tasks ({', '.join(columns)}) "
        f"SELECT {', '.join(fresh.get(name, name) for name in columns)} FROM tasks WHERE id = ?"
    )
    # After earlier copies.
    (last,) = await store._fetchone(
        "SELECT max(interaction_id) FROM tasks WHERE interaction_id > ?", (COPIES_FROM,)
    ) or (None,)
    last = last or COPIES_FROM

    async def copy(conn: Any) -> None:
        for offset, api_task_id in enumerate(api_task_ids, start=1):
            await conn.execute(insert, (last + offset, api_task_id, template))

    await store._transaction(copy)


async def check_at(store: Store, when: str, where: str, params: Params = ()) -> None:
    """Set the next check of the tasks matching `where` to the SQL expression `when`
    (`?` in both bound from `params`, in order): a backlog made due."""
    await store._write(f"UPDATE tasks SET next_check_at = {when} WHERE {where}", params)


async def count_tasks(store: Store, where: str, params: Params = ()) -> int:
    row = await store._fetchone(f"SELECT count(*) FROM tasks WHERE {where}", params)
    return int(row[0]) if row else 0

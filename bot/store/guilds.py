"""Per-server settings (one JSON document each), the credit alert flag, credits used."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.store.database import Conn, Database
from bot.store.rows import TaskRow
from bot.store.sql import ACTIVE_SQL

Document = dict[str, Any]


class GuildQueries(Database):
    async def guild_config(self, guild_id: int) -> Document:
        raw = await self._scalar(
            "SELECT config FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        return json.loads(raw) if raw else {}

    async def change_guild_config(
        self, guild_id: int, change: Callable[[Document], Document], *, now: float
    ) -> tuple[Document, Document]:
        """Read, change and write one server's document in one transaction (two moderators
        editing at once cannot lose each other's change). Returns (old, new)."""

        async def apply(conn: Conn) -> tuple[Document, Document]:
            await conn.lock(guild_id)  # the row may not exist yet: FOR UPDATE would not hold
            row = await conn.fetchone(
                "SELECT config FROM guild_settings WHERE guild_id = ?", (guild_id,)
            )
            old: Document = json.loads(row[0]) if row else {}
            new = change(dict(old))
            await conn.execute(
                "INSERT INTO guild_settings (guild_id, config, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET config = excluded.config, "
                "updated_at = excluded.updated_at",
                (guild_id, json.dumps(new, sort_keys=True), now),
            )
            return old, new

        return await self._transaction(apply)

    async def guilds_with(self, key: str) -> list[tuple[int, Document]]:
        """Servers whose document sets `key` (for example a log channel)."""
        rows = await self._fetchall(
            "SELECT guild_id, config FROM guild_settings "  # noqa: S608 - constant fragment
            f"WHERE {self.dialect.json_has('config', '?')} ORDER BY guild_id",
            (key,),
        )
        return [(row[0], json.loads(row[1])) for row in rows]

    async def credit_alerted(self, guild_id: int) -> bool:
        return bool(
            await self._scalar(
                "SELECT credit_alerted FROM guild_settings WHERE guild_id = ?", (guild_id,)
            )
        )

    async def set_credit_alerted(self, guild_id: int, alerted: bool) -> None:
        await self._write(
            "UPDATE guild_settings SET credit_alerted = ? WHERE guild_id = ?",
            (alerted, guild_id),
        )

    async def credits_used(self, guild_id: int, since_day: str) -> tuple[int, float]:
        """Requests the API accepted for this server and their credits, from a UTC day on
        (`YYYY-MM-DD`)."""
        row = await self._fetchone(
            "SELECT coalesce(sum(requests), 0), coalesce(sum(credits), 0) FROM guild_usage "
            "WHERE guild_id = ? AND day >= ?",
            (guild_id, since_day),
        )
        assert row is not None
        return int(row[0]), float(row[1])

    async def running_in_guild(self, guild_id: int, limit: int = 25) -> list[TaskRow]:
        """The server's unfinished tasks: following ones first, then the queue in order."""
        return await self._tasks(
            f"WHERE guild_id = ? AND state IN {ACTIVE_SQL} ORDER BY state = 'queued', id LIMIT ?",
            (guild_id, limit),
        )

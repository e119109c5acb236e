"""Small bot state that outlives a restart: the last synced command hash, the callback
secret. Plain strings under fixed keys; no schema change for each new one."""

from __future__ import annotations

import logging

from bot.store.database import Database

log = logging.getLogger(__name__)


class KeyValueQueries(Database):
    async def get_value(self, key: str) -> str | None:
        value: str | None = await self._scalar("SELECT value FROM kv WHERE key = ?", (key,))
        return value

    async def set_value(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def set_value_once(self, key: str, value: str) -> str:
        """Store `value` unless the key exists; returns what is stored."""
        await self._write(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, value)
        )
        return await self.get_value(key) or value

    async def claim_value(self, key: str, value: str) -> bool:
        """Store `value` if the key is absent or empty; True if this call stored it. Of
        many callers racing (tasks, processes), exactly one wins."""
        changed = await self._write(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE kv.value = ''",
            (key, value),
        )
        return changed == 1

    async def swap_value(self, key: str, expected: str, value: str) -> bool:
        """Replace `expected` by `value`; False (nothing changed) if the key held anything
        else meanwhile."""
        changed = await self._write(
            "UPDATE kv SET value = ? WHERE key = ? AND value = ?", (value, key, expected)
        )
        return changed == 1

"""Where a task lives in Discord, and whether its status card must be drawn again.

Every change a member should see sets `card_dirty`; the scheduler redraws and clears it
unless the task changed again meanwhile. A card whose task's creator is still posting
it (the placing window) is left alone until it is placed or the window closes. Failed
draws are counted (`card_attempts`); a card given up keeps why (`card_error`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from bot.store.database import Database
from bot.store.leases import lease_free
from bot.store.rows import TaskRow
from bot.store.sql import CARD_DUE_AT
from bot.store.states import TaskState

log = logging.getLogger(__name__)


class CardQueries(Database):
    async def set_discord_place(
        self,
        task_id: int,
        *,
        thread_id: int | None,
        card_message_id: int | None,
        input_message_id: int | None = None,
        upload_url: str | None = None,
        now: float | None = None,
    ) -> None:
        """The card is posted: record where, close the placing window, and have the
        scheduler redraw the card at once from its real place. A task waiting for its
        posted part (`upload_url` '') takes `upload_url` and is due at once (without one,
        its submission fails, unpaid)."""
        await self._write(
            "UPDATE tasks SET thread_id = coalesce(:thread_id, thread_id), "  # noqa: S608 - constant
            "card_message_id = coalesce(:card_message_id, card_message_id), "
            "input_message_id = coalesce(:input_message_id, input_message_id), "
            f"next_check_at = CASE WHEN upload_url = '' AND state = '{TaskState.QUEUED}' "
            "THEN :now ELSE next_check_at END, "
            "upload_url = CASE WHEN upload_url = '' THEN coalesce(:upload_url, '') "
            " ELSE upload_url END, "
            "placing_until = NULL, card_dirty = 1, card_retry_at = 0, card_attempts = 0, "
            "card_error = NULL, updated_at = :now "
            "WHERE id = :id",
            {
                "id": task_id,
                "thread_id": thread_id,
                "card_message_id": card_message_id,
                "input_message_id": input_message_id,
                "upload_url": upload_url,
                "now": time.time() if now is None else now,
            },
        )

    async def end_placing(self, task_id: int, *, now: float | None = None) -> None:
        """The creator could not post the card: the scheduler places it now."""
        await self._write(
            "UPDATE tasks SET placing_until = NULL, card_dirty = 1, card_retry_at = 0, "
            "updated_at = ? WHERE id = ?",
            (time.time() if now is None else now, task_id),
        )

    async def set_notice_message(self, task_id: int, message_id: int) -> None:
        """The failure notice is posted: its id keeps it from being posted twice."""
        await self._write(
            "UPDATE tasks SET notice_message_id = ? WHERE id = ?", (message_id, task_id)
        )

    async def tasks_needing_card(self, now: float, limit: int) -> list[TaskRow]:
        """Cards due to be drawn. A card given up is not dirty, so it is not drawn again
        for the change it failed on; only a later change a member should see (a stage, a
        posted track) tries it once more."""
        return await self._tasks(
            f"WHERE card_dirty = 1 AND {CARD_DUE_AT} <= ? "
            f"AND {lease_free('card_lease_until', 'card_lease_owner')} "
            "ORDER BY card_retry_at, id LIMIT ?",
            (now, self.leases.beat_stale, limit),
        )

    async def card_shown(self, task_id: int, updated_at: float) -> None:
        """The card is drawn: forget its failures, and clear the flag unless the task
        changed again since the card was drawn."""
        await self._write(
            "UPDATE tasks SET card_attempts = 0, card_error = NULL, "
            "card_dirty = CASE WHEN updated_at = ? THEN 0 ELSE card_dirty END WHERE id = ?",
            (updated_at, task_id),
        )

    async def card_failed(self, task_id: int, retry_at: float) -> None:
        """A draw failed and counts: the next one is due at `retry_at`."""
        await self._write(
            "UPDATE tasks SET card_attempts = card_attempts + 1, card_retry_at = ? WHERE id = ?",
            (retry_at, task_id),
        )

    async def card_gave_up(
        self, task_id: int, reason: str, *, updated_at: float, retry_at: float
    ) -> None:
        """No more draws for this change: the card keeps `reason` and is no longer dirty,
        unless the task changed again since the failed draw (then it is due at `retry_at`)."""
        await self._write(
            "UPDATE tasks SET card_attempts = card_attempts + 1, card_error = ?, "
            "card_retry_at = ?, "
            "card_dirty = CASE WHEN updated_at = ? THEN 0 ELSE card_dirty END WHERE id = ?",
            (reason, retry_at, updated_at, task_id),
        )

    async def mark_card_dirty(self, task_ids: Iterable[int], now: float) -> None:
        ids = tuple(task_ids)
        if ids:
            # Rows locked in id order, and (PostgreSQL) rows another process is writing
            # skipped: every process marks the head of the queue after each submission, and
            # a card that misses one redraw gets the next.
            await self._write(
                "UPDATE tasks SET card_dirty = 1, card_retry_at = 0, updated_at = ? "  # noqa: S608
                f"WHERE id IN (SELECT id FROM tasks WHERE id IN ({','.join('?' * len(ids))}) "
                f"AND removed_at IS NULL ORDER BY id{self.dialect.skip_locked})",
                (now, *ids),
            )

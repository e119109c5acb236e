"""Jam sessions: the jam rows, their phase moves (each happens once), entries and votes."""

from __future__ import annotations

from bot.store.database import Conn, Database
from bot.store.rows import JAM_COLUMNS, JamRow, TaskRow
from bot.store.states import ACTIVE_STATES, JamPhase, TaskState, VoteOutcome, sql_list

ENTRY = f"jam_id = ? AND state = '{TaskState.DONE}' AND removed_at IS NULL"
BEING_MADE = f"jam_id = ? AND state IN {sql_list(ACTIVE_STATES)} AND removed_at IS NULL"


class JamQueries(Database):
    async def create_jam(
        self,
        *,
        guild_id: int,
        channel_id: int,
        host_id: int,
        theme: str,
        tags: str | None,
        negative_tags: str | None,
        model: str | None,
        anonymous: bool,
        max_entries: int,
        submit_until: float,
        vote_until: float,
        now: float,
    ) -> JamRow | None:
        """A new jam in its submission phase; None if the channel already runs one."""
        try:
            jam_id = await self._insert(
                "INSERT INTO jams (guild_id, channel_id, host_id, theme, tags, negative_tags, "
                "model, anonymous, max_entries, submit_until, vote_until, vote_seconds, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, host_id, theme, tags, negative_tags, model, anonymous,
                 max_entries, submit_until, vote_until, vote_until - submit_until, now),
            )  # fmt: skip
        except self.dialect.unique_violation:
            return None
        return await self.get_jam(jam_id)

    async def drop_jam(self, jam_id: int) -> None:
        """A jam whose announcement could not be posted never started."""
        await self._write("DELETE FROM jams WHERE id = ? AND card_message_id IS NULL", (jam_id,))

    async def set_jam_place(self, jam_id: int, *, card_message_id: int, thread_id: int) -> None:
        await self._write(
            "UPDATE jams SET card_message_id = ?, thread_id = ? WHERE id = ?",
            (card_message_id, thread_id, jam_id),
        )

    async def get_jam(self, jam_id: int) -> JamRow | None:
        rows = await self._jams("WHERE id = ?", (jam_id,))
        return rows[0] if rows else None

    async def running_jam(self, channel_id: int) -> JamRow | None:
        """The jam running in a channel, or in the channel whose thread this is."""
        rows = await self._jams(
            "WHERE phase != 'ended' AND (channel_id = ? OR thread_id = ?)", (channel_id, channel_id)
        )
        return rows[0] if rows else None

    async def jam_of_thread(self, thread_id: int) -> JamRow | None:
        rows = await self._jams("WHERE thread_id = ? ORDER BY id DESC LIMIT 1", (thread_id,))
        return rows[0] if rows else None

    async def jams_needing_work(self, now: float) -> list[JamRow]:
        """Jams whose deadline passed, whose announcement is missing, or that vote (entries
        that finish during the vote get their Vote button then)."""
        return await self._jams(
            "WHERE (phase = 'submitting' AND submit_until <= ?)"
            " OR (phase = 'voting') OR announced != phase ORDER BY id",
            (now,),
        )

    async def next_jam_deadline(self) -> float | None:
        deadline: float | None = await self._scalar(
            "SELECT min(CASE phase WHEN 'submitting' THEN submit_until ELSE vote_until END) "
            "FROM jams WHERE phase != 'ended'"
        )
        return deadline

    async def move_jam(self, jam_id: int, before: JamPhase, after: JamPhase, *, now: float) -> bool:
        """`before` → `after`, once: False if another process or click moved it first."""
        changed = await self._write(
            "UPDATE jams SET phase = :after, "
            "submit_until = CASE WHEN :after = 'voting' AND :now < submit_until THEN :now "
            " ELSE submit_until END, "
            # Ended early, the vote keeps its length; on time (or caught up after a
            # restart), its deadline stays where it was.
            "vote_until = CASE WHEN :after = 'voting' AND :now < submit_until "
            " THEN :now + (vote_until - submit_until) "
            " WHEN :after = 'ended' AND :now < vote_until THEN :now ELSE vote_until END, "
            "ended_at = CASE WHEN :after = 'ended' THEN :now ELSE ended_at END "
            "WHERE id = :id AND phase = :before",
            {"id": jam_id, "before": before, "after": after, "now": now},
        )
        return changed == 1

    async def set_announced(
        self, jam_id: int, phase: JamPhase, results_message_id: int | None
    ) -> None:
        await self._write(
            "UPDATE jams SET announced = ?, "
            "results_message_id = coalesce(?, results_message_id) WHERE id = ?",
            (phase, results_message_id, jam_id),
        )

    async def jam_entries(self, jam_id: int) -> list[TaskRow]:
        """Finished entries (failed or deleted ones are not in the vote), oldest first."""
        return await self._tasks(f"WHERE {ENTRY} ORDER BY id", (jam_id,))

    async def jam_entries_being_made(self, jam_id: int) -> int:
        """Entries not finished yet (queued, submitting, following): they join the vote
        when they finish."""
        count: int = await self._scalar(
            f"SELECT count(*) FROM tasks WHERE {BEING_MADE}",  # noqa: S608 - constant
            (jam_id,),
        )
        return count

    async def extend_vote(self, jam_id: int, until: float) -> None:
        """A vote runs until `until` at least (an entry joined it late)."""
        await self._write(
            "UPDATE jams SET vote_until = ? WHERE id = ? AND phase = 'voting' AND vote_until < ?",
            (until, jam_id, until),
        )

    async def set_vote_message(self, task_id: int, message_id: int) -> None:
        await self._write(
            "UPDATE tasks SET vote_message_id = ? WHERE id = ?", (message_id, task_id)
        )

    async def vote(self, jam_id: int, voter_id: int, task_id: int, *, now: float) -> VoteOutcome:
        """Voted, moved or taken back, in one transaction (the jam must be voting)."""

        async def vote(conn: Conn) -> VoteOutcome:
            row = await conn.fetchone(
                "SELECT task_id FROM jam_votes WHERE jam_id = ? AND voter_id = ?",
                (jam_id, voter_id),
            )
            if row is not None and row[0] == task_id:
                await conn.execute(
                    "DELETE FROM jam_votes WHERE jam_id = ? AND voter_id = ?", (jam_id, voter_id)
                )
                return VoteOutcome.TAKEN_BACK
            await conn.execute(
                "INSERT INTO jam_votes (jam_id, voter_id, task_id, voted_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (jam_id, voter_id) DO UPDATE SET task_id = excluded.task_id, "
                "voted_at = excluded.voted_at",
                (jam_id, voter_id, task_id, now),
            )
            return VoteOutcome.VOTED if row is None else VoteOutcome.MOVED

        return await self._transaction(vote)

    async def vote_of(self, jam_id: int, voter_id: int) -> int | None:
        task_id: int | None = await self._scalar(
            "SELECT task_id FROM jam_votes WHERE jam_id = ? AND voter_id = ?", (jam_id, voter_id)
        )
        return task_id

    async def tallies(self, jam_id: int) -> dict[int, int]:
        rows = await self._fetchall(
            "SELECT task_id, count(*) FROM jam_votes WHERE jam_id = ? GROUP BY task_id",
            (jam_id,),
        )
        return {row[0]: row[1] for row in rows}

    async def ended_jams(self, guild_id: int, limit: int = 200) -> list[JamRow]:
        return await self._jams(
            "WHERE guild_id = ? AND phase = 'ended' ORDER BY id DESC LIMIT ?", (guild_id, limit)
        )

    async def _jams(self, where: str, params: tuple[object, ...] = ()) -> list[JamRow]:
        rows = await self._fetchall(
            f"SELECT {JAM_COLUMNS} FROM jams {where}",  # noqa: S608 - constant columns
            params,
        )
        return [JamRow.from_row(row) for row in rows]

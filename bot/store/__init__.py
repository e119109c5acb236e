"""All SQL lives in this package: one query mixin per concern over one connection, and
the numbered migration files. Callers see a single `Store`."""

from bot.store.cards import CardQueries
from bot.store.database import Database, StoreError
from bot.store.endings import TaskEndings
from bot.store.guilds import GuildQueries
from bot.store.jams import JamQueries
from bot.store.kv import KeyValueQueries
from bot.store.moves import TaskMoves
from bot.store.postgres import PgDatabase
from bot.store.processes import ProcessQueries
from bot.store.retention import RetentionQueries
from bot.store.rows import (
    JamRow,
    NewTask,
    Progress,
    TaskRow,
    TaskTiming,
    TrackData,
    TrackRow,
    Usage,
)
from bot.store.states import (
    ACTIVE_STATES,
    Delivery,
    JamPhase,
    Origin,
    Stage,
    TaskState,
    VocalGender,
    VoteOutcome,
)
from bot.store.tasks import TaskQueries
from bot.store.tracks import TrackQueries


class Store(
    ProcessQueries,
    JamQueries,
    GuildQueries,
    RetentionQueries,
    TaskQueries,
    TaskMoves,
    TaskEndings,
    CardQueries,
    TrackQueries,
    KeyValueQueries,
    Database,
):
    """The data-access layer. Every write is one explicit transaction."""


class PgStore(PgDatabase, Store):
    """The same store on PostgreSQL."""


async def open_store(url: str) -> Store:
    """`sqlite:///path` (the embedded default) or `postgresql://…`."""
    if url.startswith(("postgresql://", "postgres://")):
        return await PgStore.open(url)
    return await Store.open(url.removeprefix("sqlite:///"))


__all__ = [
    "ACTIVE_STATES",
    "Delivery",
    "JamPhase",
    "JamRow",
    "NewTask",
    "Origin",
    "PgStore",
    "Progress",
    "Stage",
    "Store",
    "StoreError",
    "TaskRow",
    "TaskState",
    "TaskTiming",
    "TrackData",
    "TrackRow",
    "Usage",
    "VocalGender",
    "VoteOutcome",
    "open_store",
]

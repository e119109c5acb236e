"""All SQL lives here: the data-access module and the numbered migration files."""

from bot.store.db import NewTask, Store, StoreError, TaskRow, TrackData, TrackRow

__all__ = ["NewTask", "Store", "StoreError", "TaskRow", "TrackData", "TrackRow"]

"""SQL fragments that more than one query must agree on, written once.

States appear as literals (from the enums), not parameters: SQLite uses a partial index
only when the query repeats the index's WHERE terms as the migrations wrote them.
"""

from __future__ import annotations

from bot.store.states import ACTIVE_STATES, Delivery, sql_list

ACTIVE_SQL = sql_list(ACTIVE_STATES)

# When a task's card is due to be drawn. While its creator is still posting the card
# (no card message yet, placing window open) the scheduler keeps away until the window
# closes, so `CARD_DUE_AT <= now` both selects cards to draw and, as a minimum, tells the
# scheduler when to wake: it must not report a card it may not touch as due.
CARD_DUE_AT = (
    "(CASE WHEN card_message_id IS NULL AND placing_until IS NOT NULL"
    " AND placing_until > card_retry_at THEN placing_until ELSE card_retry_at END)"
)

# A finished track that still has to be posted (matches the index tracks_undelivered).
TRACK_WAITING = (  # ready, not posted, not given up; the first term matches the index
    f"(tracks.delivery != '{Delivery.DELIVERED}' AND tracks.delivery != '{Delivery.FAILED}' "
    "AND tracks.ready_at IS NOT NULL)"
)

# Tracks are posted under their task's card: until the card has a message, never.
TRACK_PLACED = (
    "EXISTS (SELECT 1 FROM tasks placed WHERE placed.id = tracks.task_id"
    " AND placed.card_message_id IS NOT NULL)"
)

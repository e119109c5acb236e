-- Discord errors that will never succeed end in a clear state instead of being retried
-- forever (issue 9): card draws are counted, and a card given up keeps its reason; a
-- track that cannot be posted ends as 'failed' with its reason; the requester is told once.

-- Failed draws of the status card since it was last shown (the backoff grows with them).
ALTER TABLE tasks ADD COLUMN card_attempts INTEGER NOT NULL DEFAULT 0;
-- The card was given up: why, in a sentence a member reads.
ALTER TABLE tasks ADD COLUMN card_error TEXT;
-- A track of this task could not be posted: why (the first reason), for the card and /tasks.
ALTER TABLE tasks ADD COLUMN delivery_error TEXT;
-- When the requester was told (or the bot tried to tell them) that posting was given up.
ALTER TABLE tasks ADD COLUMN gave_up_at DOUBLE PRECISION;

-- 'failed' joins the delivery states. SQLite rebuilds the table to change the CHECK;
-- PostgreSQL alters it in place, ending with the same columns (delivery_error last),
-- constraints and index (tracks_undelivered is kept as it was).
-- pending: not posted; attempted: a post may have happened (check before posting again);
-- delivered: posted, message_id known; failed: given up, delivery_error says why.
ALTER TABLE tracks DROP CONSTRAINT tracks_delivery_check;
ALTER TABLE tracks ADD CONSTRAINT tracks_delivery_check
    CHECK (delivery IN ('pending', 'attempted', 'delivered', 'failed'));
ALTER TABLE tracks ADD COLUMN delivery_error TEXT;
ALTER TABLE tracks ADD CONSTRAINT tracks_failed_check
    CHECK (delivery != 'failed' OR (delivery_error IS NOT NULL AND next_delivery_at IS NULL));

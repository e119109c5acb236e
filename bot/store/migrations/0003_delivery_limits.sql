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
ALTER TABLE tasks ADD COLUMN gave_up_at REAL;

-- 'failed' joins the delivery states. SQLite cannot change a CHECK in place, so the table
-- is rebuilt (nothing references tracks, so foreign keys can stay on). `SELECT *` on
-- purpose: if an earlier migration added a column this list lacks, this fails loudly
-- instead of dropping it.
CREATE TABLE tracks_new (
    id               INTEGER PRIMARY KEY,
    task_id          INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    api_track_id     TEXT    NOT NULL,
    position         INTEGER NOT NULL,
    audio_url        TEXT    NOT NULL DEFAULT '',
    stream_url       TEXT    NOT NULL DEFAULT '',
    image_url        TEXT    NOT NULL DEFAULT '',
    title            TEXT    NOT NULL DEFAULT '',
    tags             TEXT    NOT NULL DEFAULT '',
    duration         REAL,
    ready_at         REAL,
    -- pending: not posted; attempted: a post may have happened (check before posting again);
    -- delivered: posted, message_id known; failed: given up, delivery_error says why.
    delivery         TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (delivery IN ('pending', 'attempted', 'delivered', 'failed')),
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    next_delivery_at REAL,
    message_id       INTEGER,
    delivered_at     REAL,
    delivery_error   TEXT,
    UNIQUE (task_id, api_track_id),
    UNIQUE (task_id, position),
    CHECK (delivery != 'delivered' OR message_id IS NOT NULL),
    CHECK (delivery != 'failed' OR (delivery_error IS NOT NULL AND next_delivery_at IS NULL))
);
INSERT INTO tracks_new SELECT *, NULL FROM tracks;
DROP TABLE tracks;
ALTER TABLE tracks_new RENAME TO tracks;
CREATE INDEX tracks_undelivered ON tracks (next_delivery_at) WHERE delivery != 'delivered';

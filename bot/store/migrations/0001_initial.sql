-- Tasks: one per Discord interaction; everything needed to resume after a restart.
CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY,
    interaction_id  INTEGER NOT NULL UNIQUE,
    guild_id        INTEGER,
    channel_id      INTEGER NOT NULL,
    thread_id       INTEGER,
    card_message_id INTEGER,
    user_id         INTEGER NOT NULL,
    upload_url      TEXT    NOT NULL,
    input_filename  TEXT    NOT NULL DEFAULT '',
    title           TEXT    NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    tags            TEXT    NOT NULL,
    negative_tags   TEXT    NOT NULL,
    vocal_gender    TEXT    CHECK (vocal_gender IN ('m', 'f')),
    style_weight    REAL    CHECK (style_weight BETWEEN 0 AND 1),
    weirdness       REAL    CHECK (weirdness BETWEEN 0 AND 1),
    audio_weight    REAL    CHECK (audio_weight BETWEEN 0 AND 1),
    model           TEXT    NOT NULL,
    api_task_id     TEXT    UNIQUE,
    -- queued: waiting for a submission slot; submitting: the API may be being called;
    -- following: submitted, learning stages; done / failed: final.
    state           TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'submitting', 'following', 'done', 'failed')),
    stage           TEXT    NOT NULL DEFAULT 'none'
                    CHECK (stage IN ('none', 'pending', 'text', 'first', 'complete', 'error')),
    -- the status card must be (re)shown: set by every change a member should see
    card_dirty      INTEGER NOT NULL DEFAULT 1,
    card_retry_at   REAL    NOT NULL DEFAULT 0,
    submit_attempts INTEGER NOT NULL DEFAULT 0,
    poll_count      INTEGER NOT NULL DEFAULT 0,
    error_count     INTEGER NOT NULL DEFAULT 0,
    next_check_at   REAL,
    callback_at     REAL,
    error           TEXT,
    can_retry       INTEGER NOT NULL DEFAULT 0,
    created_at      REAL    NOT NULL,
    submitted_at    REAL,
    completed_at    REAL,
    updated_at      REAL    NOT NULL,
    CHECK (state IN ('queued', 'submitting') OR state = 'failed' OR api_task_id IS NOT NULL)
);
CREATE INDEX tasks_due ON tasks (next_check_at) WHERE state IN ('queued', 'submitting', 'following');
CREATE INDEX tasks_running ON tasks (submitted_at) WHERE state = 'following';
CREATE INDEX tasks_queue ON tasks (id) WHERE state = 'queued';
CREATE INDEX tasks_user ON tasks (user_id, id);
CREATE INDEX tasks_card ON tasks (card_retry_at) WHERE card_dirty = 1;

-- Tracks: one row per API track of a task, with its delivery state.
CREATE TABLE tracks (
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
    -- delivered: posted, message_id known.
    delivery         TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (delivery IN ('pending', 'attempted', 'delivered')),
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    next_delivery_at REAL,
    message_id       INTEGER,
    delivered_at     REAL,
    UNIQUE (task_id, api_track_id),
    UNIQUE (task_id, position),
    CHECK (delivery != 'delivered' OR message_id IS NOT NULL)
);
CREATE INDEX tracks_undelivered ON tracks (next_delivery_at) WHERE delivery != 'delivered';

-- Small bot state: last synced command hash, the callback secret.
CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

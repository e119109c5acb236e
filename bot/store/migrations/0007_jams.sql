-- Community jam sessions (issue 12): a theme, a submission window, entries, votes, results.
CREATE TABLE jams (
    id               INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    thread_id        INTEGER,          -- the jam's thread, where entries are made and posted
    card_message_id  INTEGER,          -- the announcement card in the channel
    host_id          INTEGER NOT NULL,
    theme            TEXT    NOT NULL CHECK (length(theme) BETWEEN 1 AND 200),
    tags             TEXT,             -- the jam's style, where an entry leaves it empty
    negative_tags    TEXT,
    model            TEXT,
    anonymous        INTEGER NOT NULL DEFAULT 0 CHECK (anonymous IN (0, 1)),
    max_entries      INTEGER NOT NULL DEFAULT 1 CHECK (max_entries >= 1),
    -- submitting → voting → ended; each move is one conditional UPDATE, so it happens once.
    phase            TEXT    NOT NULL DEFAULT 'submitting'
                     CHECK (phase IN ('submitting', 'voting', 'ended')),
    submit_until     REAL    NOT NULL,
    vote_until       REAL    NOT NULL,
    -- the last phase whose announcement was posted: a restart posts what is missing, once
    announced        TEXT    NOT NULL DEFAULT 'submitting',
    results_message_id INTEGER,
    created_at       REAL    NOT NULL,
    ended_at         REAL,
    CHECK (vote_until >= submit_until)
);
-- One running jam per channel.
CREATE UNIQUE INDEX jams_running ON jams (channel_id) WHERE phase != 'ended';
CREATE INDEX jams_thread ON jams (thread_id);
CREATE INDEX jams_guild ON jams (guild_id, phase);

-- An entry is a task made in the jam's thread.
ALTER TABLE tasks ADD COLUMN jam_id INTEGER REFERENCES jams (id) ON DELETE SET NULL;
-- Shown without the requester's name until the results (anonymous jams).
ALTER TABLE tasks ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0;
-- The entry's message with its Vote button, posted once voting opens.
ALTER TABLE tasks ADD COLUMN vote_message_id INTEGER;
CREATE INDEX tasks_jam ON tasks (jam_id, user_id) WHERE jam_id IS NOT NULL;

-- One vote per member per jam: a second click moves it, a click on the same entry takes it back.
CREATE TABLE jam_votes (
    jam_id   INTEGER NOT NULL REFERENCES jams (id) ON DELETE CASCADE,
    voter_id INTEGER NOT NULL,
    task_id  INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    voted_at REAL    NOT NULL,
    PRIMARY KEY (jam_id, voter_id)
) WITHOUT ROWID;
CREATE INDEX jam_votes_task ON jam_votes (task_id);

-- Several bot processes on one database (issue 14). On SQLite (one process) the leases
-- stay empty; on PostgreSQL each piece of work is leased by the process doing it, and a
-- lease that ends (its process died) lets another process take the work over.

-- Polls and submissions of a task.
ALTER TABLE tasks ADD COLUMN lease_owner TEXT;
ALTER TABLE tasks ADD COLUMN lease_until REAL;
-- Drawing (or placing) a task's status card.
ALTER TABLE tasks ADD COLUMN card_lease_owner TEXT;
ALTER TABLE tasks ADD COLUMN card_lease_until REAL;
-- Posting a track.
ALTER TABLE tracks ADD COLUMN lease_owner TEXT;
ALTER TABLE tracks ADD COLUMN lease_until REAL;

-- Live processes: each beats every few seconds (the health endpoint counts them).
CREATE TABLE processes (
    id         TEXT    PRIMARY KEY,
    host       TEXT    NOT NULL,
    pid        INTEGER NOT NULL,
    started_at REAL    NOT NULL,
    beat_at    REAL    NOT NULL
);

-- The music API's rate limit is per key, whatever the number of processes: every call
-- with the key takes a row here first (a sliding window shared by all processes).
CREATE TABLE api_calls (
    at REAL NOT NULL
);
CREATE INDEX api_calls_at ON api_calls (at);

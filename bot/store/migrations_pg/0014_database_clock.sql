-- Several processes agree on time (issue 22): heartbeats, leases and the shared rate window
-- are dated by the server's clock, read in SQL as db_now() (SQLite defines the same
-- function on its connection). clock_timestamp(), not now(): a statement that waited for a
-- lock must not date what it writes to when its transaction began.
CREATE FUNCTION db_now() RETURNS DOUBLE PRECISION
    AS $$ SELECT extract(epoch FROM clock_timestamp())::DOUBLE PRECISION $$
    LANGUAGE SQL VOLATILE;

-- A post announces itself before it is made ('attempted', with its nonce and a message id
-- known older than it): after a crash the post is looked for from there on, however many
-- messages came after it.
ALTER TABLE tracks ADD COLUMN post_nonce TEXT;
ALTER TABLE tracks ADD COLUMN post_after BIGINT;

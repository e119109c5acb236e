-- Several processes agree on time (issue 22): heartbeats, leases and the shared rate window
-- are dated by the server's clock, read in SQL as db_now() (SQLite defines the same
-- function on its connection). clock_timestamp(), not now(): a statement that waited for a
-- lock must not date what it writes to when its transaction began.
CREATE FUNCTION db_now() RETURNS DOUBLE PRECISION
    AS $$ SELECT extract(epoch FROM clock_timestamp())::DOUBLE PRECISION $$
    LANGUAGE SQL VOLATILE;

-- Polling that uses what the API tells (issue 15): when the first track was seen ready
-- (and the poll before that, which did not see it), and when the task was last polled.
-- The API finishes about as long after the first track as the first track took after the
-- lyrics stage, so these bound when the task will be done.
ALTER TABLE tasks ADD COLUMN polled_at DOUBLE PRECISION;
ALTER TABLE tasks ADD COLUMN first_after DOUBLE PRECISION;
ALTER TABLE tasks ADD COLUMN first_seen DOUBLE PRECISION;

-- Polling that learns (issue 15): the poll before the one that saw the task done (or the
-- callback that told it), so a finished task's end is known to lie between the two. With
-- first_after/first_seen (0009) these give each model's (done - first) / (first - text).
ALTER TABLE tasks ADD COLUMN done_after DOUBLE PRECISION;

-- A task failed by its time-out is still looked at now and then: the API may finish it
-- yet (issue 21). Its next look is `next_check_at`, kept on the failed row; a small index
-- of just those, so the search never reads every finished task.
CREATE INDEX tasks_late ON tasks (next_check_at) WHERE state = 'failed' AND next_check_at IS NOT NULL;

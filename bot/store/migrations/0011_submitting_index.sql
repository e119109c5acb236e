-- Tasks caught mid-submission are looked for at every start (and, with several processes,
-- all along): a small index of just those, so the search never reads the whole backlog
-- (100,000 tasks in flight, issue 15).
CREATE INDEX tasks_submitting ON tasks (id) WHERE state = 'submitting';

-- The command that creates a task posts its card itself; until `placing_until` passes
-- (or the card is placed) the scheduler leaves the card and the task's tracks alone.
ALTER TABLE tasks ADD COLUMN placing_until DOUBLE PRECISION;
-- The member's recording, reposted in the task's thread.
ALTER TABLE tasks ADD COLUMN input_message_id BIGINT;
-- The failure notice, once posted: it is never posted twice.
ALTER TABLE tasks ADD COLUMN notice_message_id BIGINT;

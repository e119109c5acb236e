-- Tasks by state, kept up to date by triggers, so `/metrics` reads five rows instead of
-- scanning the tasks table on every scrape. A state's row is created the first time a
-- task enters it. The triggers see every INSERT, UPDATE OF state and DELETE of a task
-- (row triggers: a TRUNCATE of tasks would slip past them; the store never truncates).
CREATE TABLE task_counts (
    state TEXT    PRIMARY KEY,
    n     INTEGER NOT NULL CHECK (n >= 0)
);

INSERT INTO task_counts (state, n) SELECT state, count(*) FROM tasks GROUP BY state;

-- The function runs with the search_path of the migration, so it counts into the
-- task_counts next to the tasks it was created with, whatever the caller's path. Unlike
-- SQLite's single writer, concurrent transactions lock these rows: a move takes its two
-- states' rows in the order of their names, so two tasks moving between the same states
-- in opposite directions (a retry back to 'queued' while another task leaves it) wait
-- for each other instead of deadlocking.
CREATE FUNCTION task_counts_change() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.state < NEW.state) THEN
        UPDATE task_counts SET n = task_counts.n - 1 WHERE state = OLD.state;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO task_counts (state, n) VALUES (NEW.state, 1)
            ON CONFLICT (state) DO UPDATE SET n = task_counts.n + 1;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.state > NEW.state THEN
        UPDATE task_counts SET n = task_counts.n - 1 WHERE state = OLD.state;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_counts_change();

CREATE TRIGGER task_counts_update AFTER UPDATE OF state ON tasks
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION task_counts_change();

CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_counts_change();

-- Finished tasks by when they finished: the retention purge finds the old ones without
-- reading the rest. Its WHERE is repeated word for word by the purge's query.
CREATE INDEX tasks_finished ON tasks (completed_at) WHERE state IN ('done', 'failed');

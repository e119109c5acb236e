-- Tasks by state, kept up to date by triggers, so `/metrics` reads five rows instead of
-- scanning the tasks table on every scrape. A state's row is created the first time a
-- task enters it. The triggers see every INSERT, UPDATE OF state and DELETE of a task;
-- an `INSERT OR REPLACE` into tasks would slip past the delete trigger (SQLite fires it
-- for a replace only with recursive_triggers on): the store never replaces a task.
CREATE TABLE task_counts (
    state TEXT    PRIMARY KEY,
    n     INTEGER NOT NULL CHECK (n >= 0)
) WITHOUT ROWID;

INSERT INTO task_counts (state, n) SELECT state, count(*) FROM tasks GROUP BY state;

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks
BEGIN
    INSERT INTO task_counts (state, n) VALUES (NEW.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER task_counts_update AFTER UPDATE OF state ON tasks
WHEN OLD.state IS NOT NEW.state
BEGIN
    UPDATE task_counts SET n = n - 1 WHERE state = OLD.state;
    INSERT INTO task_counts (state, n) VALUES (NEW.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks
BEGIN
    UPDATE task_counts SET n = n - 1 WHERE state = OLD.state;
END;

-- Finished tasks by when they finished: the retention purge finds the old ones without
-- reading the rest. Its WHERE is repeated word for word by the purge's query.
CREATE INDEX tasks_finished ON tasks (completed_at) WHERE state IN ('done', 'failed');

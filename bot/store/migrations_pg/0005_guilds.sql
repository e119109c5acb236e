-- Moderators run the bot per server (issue 10): settings, quotas, credits used.

-- SQLite's json_valid(): whether the text parses as JSON (here: as jsonb).
CREATE FUNCTION is_json(document TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    PERFORM document::jsonb;
    RETURN TRUE;
EXCEPTION WHEN others THEN
    RETURN FALSE;
END;
$$;

-- One JSON document of settings per server; absent keys mean "the bot's default". The
-- document is validated by `bot.core.guilds.GuildConfig` before it is written. Kept as
-- TEXT (as on SQLite); the queries cast it to jsonb where they look inside.
CREATE TABLE guild_settings (
    guild_id       BIGINT  PRIMARY KEY,
    config         TEXT    NOT NULL DEFAULT '{}' CHECK (is_json(config)),
    -- the log channel was told that the balance fell below the alert threshold
    credit_alerted INTEGER NOT NULL DEFAULT 0 CHECK (credit_alerted IN (0, 1)),
    updated_at     DOUBLE PRECISION NOT NULL
);

-- A task that failed before the API accepted it gives its quota slot back.
ALTER TABLE tasks ADD COLUMN quota_returned INTEGER NOT NULL DEFAULT 0;
-- The server chose to post results in the channel itself, without a thread.
ALTER TABLE tasks ADD COLUMN in_place INTEGER NOT NULL DEFAULT 0;
-- Credits this task is expected to cost once accepted (the API does not report it).
ALTER TABLE tasks ADD COLUMN cost DOUBLE PRECISION NOT NULL DEFAULT 0;

-- Quotas count a member's and a server's requests of the day.
CREATE INDEX tasks_member ON tasks (guild_id, user_id, created_at);
CREATE INDEX tasks_guild ON tasks (guild_id, created_at);

-- Credits used per server and day (UTC, 'YYYY-MM-DD'), kept when old tasks are purged:
-- `/credits` shows the month. Counted once, when the API accepts a task (its id is
-- first recorded).
CREATE TABLE guild_usage (
    guild_id BIGINT  NOT NULL,
    day      TEXT    NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    credits  DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, day)
);

-- Runs with the migration's search_path (see task_counts_change in 0004).
CREATE FUNCTION guild_usage_accepted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO guild_usage (guild_id, day, requests, credits)
    VALUES (NEW.guild_id,
            to_char(to_timestamp(NEW.updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
            1, NEW.cost)
    ON CONFLICT (guild_id, day) DO UPDATE SET
        requests = guild_usage.requests + 1,
        credits = guild_usage.credits + EXCLUDED.credits;
    RETURN NULL;
END;
$$;

CREATE TRIGGER guild_usage_accepted AFTER UPDATE OF api_task_id ON tasks
    FOR EACH ROW
    WHEN (OLD.api_task_id IS NULL AND NEW.api_task_id IS NOT NULL AND NEW.guild_id IS NOT NULL)
    EXECUTE FUNCTION guild_usage_accepted();

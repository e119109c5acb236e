-- Iterating on a take (issue 11): where each task came from, and results a member removed.

-- The task this one re-rolls, tweaks or retries (NULL for a first request).
ALTER TABLE tasks ADD COLUMN parent_id BIGINT REFERENCES tasks (id) ON DELETE SET NULL;
-- How the request started.
ALTER TABLE tasks ADD COLUMN origin TEXT NOT NULL DEFAULT 'slash'
    CHECK (origin IN ('slash', 'menu', 'reroll', 'tweak', 'retry', 'jam'));
-- When its posts were deleted (Delete button): nothing is drawn or posted for it again.
ALTER TABLE tasks ADD COLUMN removed_at DOUBLE PRECISION;

CREATE INDEX tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;

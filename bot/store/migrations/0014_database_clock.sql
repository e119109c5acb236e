-- Several processes agree on time (issue 22). On SQLite one process owns the file: the
-- clock SQL reads, db_now(), is a function the connection defines (this process's clock);
-- on PostgreSQL it is the server's.

-- A post announces itself before it is made ('attempted', with its nonce and a message id
-- known older than it): after a crash the post is looked for from there on, however many
-- messages came after it.
ALTER TABLE tracks ADD COLUMN post_nonce TEXT;
ALTER TABLE tracks ADD COLUMN post_after INTEGER;

-- Several processes agree on time (issue 22). On SQLite one process owns the file: the
-- clock SQL reads, db_now(), is a function the connection defines (this process's clock);
-- on PostgreSQL it is the server's. Nothing to change in the schema here yet.
SELECT 1;

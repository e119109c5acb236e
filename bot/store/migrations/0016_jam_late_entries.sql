-- Entries still being made when a jam's submissions close join the vote when they finish
-- (issue 21, item 10), and each one that joins late gets the whole vote: its length is
-- kept here, since vote_until moves then.
ALTER TABLE jams ADD COLUMN vote_seconds REAL NOT NULL DEFAULT 0 CHECK (vote_seconds >= 0);
UPDATE jams SET vote_seconds = vote_until - submit_until;

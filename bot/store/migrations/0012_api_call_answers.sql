-- A call's slot in the shared rate window is dated again when its answer came (issue 15):
-- the provider counts arrivals, and a call held up on its way arrived before its answer.
-- Until then the slot is its process's, on the wire.
ALTER TABLE api_calls ADD COLUMN owner TEXT;
ALTER TABLE api_calls ADD COLUMN on_wire INTEGER NOT NULL DEFAULT 0;

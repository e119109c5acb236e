-- Issue 24: a recording the API does not document (Opus, AAC, FLAC, a video's sound) or a
-- trimmed part of a long take is transcoded and posted by the bot; this says what was sent.
-- Until that post exists the task's upload_url is '' and it is not submitted.
ALTER TABLE tasks ADD COLUMN input_sent TEXT;

-- Issue 14: call recording per queue. A call recording is made in a queue
-- and kept for that queue's retention (queues.<name>.recording.retention),
-- so the row names its queue ('' for a voicemail message); the retention
-- sweep lists a queue's live recordings oldest first.
ALTER TABLE recordings ADD COLUMN queue TEXT NOT NULL DEFAULT '';
CREATE INDEX recordings_live_queue ON recordings (kind, queue, created_at) WHERE deleted_at IS NULL;

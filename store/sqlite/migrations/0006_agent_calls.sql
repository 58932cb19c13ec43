-- Issue 11: an agent's calls today survive a restart. A queue record of
-- kind agent_answered is one offer an agent answered (callbacks included)
-- and names the agent. SQLite cannot change a CHECK constraint: the table
-- is rebuilt with its rows.
CREATE TABLE queue_recs_new (
	id TEXT PRIMARY KEY,
	queue TEXT NOT NULL,
	at INTEGER NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('joined', 'answered', 'abandoned', 'exited', 'handled', 'agent_answered')),
	call_id TEXT NOT NULL DEFAULT '',
	duration_us INTEGER NOT NULL DEFAULT 0,
	agent TEXT NOT NULL DEFAULT ''
);
INSERT INTO queue_recs_new (id, queue, at, kind, call_id, duration_us)
	SELECT id, queue, at, kind, call_id, duration_us FROM queue_recs;
DROP TABLE queue_recs;
ALTER TABLE queue_recs_new RENAME TO queue_recs;
CREATE INDEX queue_recs_at ON queue_recs (at);

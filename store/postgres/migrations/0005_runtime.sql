-- Issue 11: live state that survives a restart (store.Runtime). Rows are
-- replaced whole by the runtime writer (runstate), a few per second at most.
-- Timestamps are timestamptz.
CREATE TABLE registrations (
	username TEXT NOT NULL,
	uri TEXT NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	contact JSONB NOT NULL, -- the whole binding as JSON (store.Binding)
	PRIMARY KEY (username, uri)
);
CREATE INDEX registrations_expires ON registrations (expires_at);

CREATE TABLE agent_states (
	agent_id TEXT PRIMARY KEY,
	presence TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	since TIMESTAMPTZ NOT NULL,
	queues JSONB -- JSON object queue → penalty; NULL: as configured
);

CREATE TABLE queue_recs (
	id TEXT PRIMARY KEY,
	queue TEXT NOT NULL,
	at TIMESTAMPTZ NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('joined', 'answered', 'abandoned', 'exited', 'handled')),
	call_id TEXT NOT NULL DEFAULT '',
	duration_us BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX queue_recs_at ON queue_recs (at);

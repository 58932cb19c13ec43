-- Issue 7: a call is keyed on its SIP Call-ID and the caller's From tag
-- (RFC 3261 §12: a new From tag is a new call, so a Call-ID reused by a
-- later call is a second record, not a duplicate), and every leg of the
-- call (queue stays, agents, transfers) is kept as a JSON array.
--
-- SQLite cannot drop the column constraint call_id UNIQUE, so voice_calls
-- is rebuilt. Nothing references voice_calls, so foreign keys stay on.
CREATE TABLE voice_calls_new (
	interaction_id INTEGER PRIMARY KEY REFERENCES interactions (id) ON DELETE CASCADE,
	call_id TEXT NOT NULL,
	from_tag TEXT NOT NULL DEFAULT '',
	caller_number TEXT NOT NULL DEFAULT '',
	called_number TEXT NOT NULL DEFAULT '',
	flow_name TEXT NOT NULL DEFAULT '',
	flow_version TEXT NOT NULL DEFAULT '',
	path TEXT NOT NULL DEFAULT '[]',
	queue TEXT NOT NULL DEFAULT '',
	wait_seconds REAL NOT NULL DEFAULT 0,
	agent TEXT NOT NULL DEFAULT '',
	talk_seconds REAL NOT NULL DEFAULT 0,
	legs TEXT NOT NULL DEFAULT '[]',
	outcome TEXT NOT NULL DEFAULT '',
	hangup_cause TEXT NOT NULL DEFAULT '',
	hangup_side TEXT NOT NULL DEFAULT '',
	callback_attempts INTEGER NOT NULL DEFAULT 0,
	packets_lost INTEGER NOT NULL DEFAULT 0,
	jitter_ms REAL NOT NULL DEFAULT 0,
	UNIQUE (call_id, from_tag)
);
INSERT INTO voice_calls_new (interaction_id, call_id, caller_number, called_number, flow_name, flow_version, path,
	queue, wait_seconds, agent, talk_seconds, outcome, hangup_cause, hangup_side, callback_attempts, packets_lost, jitter_ms)
SELECT interaction_id, call_id, caller_number, called_number, flow_name, flow_version, path,
	queue, wait_seconds, agent, talk_seconds, outcome, hangup_cause, hangup_side, callback_attempts, packets_lost, jitter_ms
FROM voice_calls;
DROP TABLE voice_calls;
ALTER TABLE voice_calls_new RENAME TO voice_calls;

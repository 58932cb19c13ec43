-- Issue 10: callbacks. One row per request; the scheduler keeps the open
-- ones in memory at their place in the queue (tier and original join time,
-- never changed) and every change of state is a conditional UPDATE (WHERE
-- id = ? AND state = ?, plus the claim or the version it expects) in one
-- transaction with its attempt row and its interaction on the ticket.
-- Design and measurements: docs/callbacks.md ("Why our own tables").
-- Timestamps are Unix microseconds (UTC), like 0001.
CREATE TABLE callbacks (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	customer_id INTEGER NOT NULL REFERENCES customers (id),
	ticket_id INTEGER NOT NULL REFERENCES tickets (id),
	queue TEXT NOT NULL,
	number TEXT NOT NULL, -- E.164
	mode TEXT NOT NULL CHECK (mode IN ('customer_first', 'agent_first')),
	source TEXT NOT NULL CHECK (source IN ('virtual_hold', 'ivr', 'api')),
	state TEXT NOT NULL CHECK (state IN ('waiting', 'dialling', 'connected', 'completed', 'failed', 'expired', 'cancelled')),
	tier TEXT NOT NULL DEFAULT '',  -- the tier the caller was ranked with
	joined_at INTEGER NOT NULL,     -- the original join time: the place in the queue
	not_before INTEGER NOT NULL,    -- earliest next dial: chosen time, retry spacing, calendar opening
	expires_at INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	max_attempts INTEGER NOT NULL,
	interrupted INTEGER NOT NULL DEFAULT 0,
	claimed_by TEXT,                -- boot id of the process with an attempt in flight
	version INTEGER NOT NULL DEFAULT 1,
	outcome TEXT NOT NULL DEFAULT '',
	call_id TEXT NOT NULL DEFAULT '',  -- the call it was asked from (Call-ID, From tag)
	from_tag TEXT NOT NULL DEFAULT '',
	language TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	CHECK ((state IN ('dialling', 'connected')) = (claimed_by IS NOT NULL)),
	CHECK (attempts >= 0 AND attempts <= max_attempts)
);
-- One open callback per (number, queue): a duplicate insert fails, also
-- when two race, and the request returns the row this index points at.
CREATE UNIQUE INDEX callbacks_open_number ON callbacks (number, queue) WHERE state IN ('waiting', 'dialling', 'connected');
-- The scheduler's load at start.
CREATE INDEX callbacks_open ON callbacks (queue, joined_at, id) WHERE state IN ('waiting', 'dialling', 'connected');
-- LogCall puts a call on the ticket of the callback it asked for.
CREATE INDEX callbacks_call ON callbacks (call_id, from_tag);
CREATE INDEX callbacks_ticket ON callbacks (ticket_id, id);
CREATE INDEX callbacks_customer ON callbacks (customer_id, id);
CREATE INDEX callbacks_queue_state ON callbacks (queue, state, id);
CREATE INDEX callbacks_state ON callbacks (state, updated_at, id);

CREATE TABLE callback_attempts (
	callback_id INTEGER NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
	attempt INTEGER NOT NULL,
	claimed_by TEXT NOT NULL,
	started_at INTEGER NOT NULL,
	ended_at INTEGER,
	-- NULL while the call is in flight; a NULL from an older boot is a crash.
	result TEXT CHECK (result IN ('completed', 'no_answer', 'busy', 'rejected', 'no_confirmation', 'abandoned',
		'trunk_failed', 'refused', 'agent_missed', 'not_placed', 'interrupted')),
	trunk TEXT NOT NULL DEFAULT '',
	agent TEXT NOT NULL DEFAULT '',
	call_id TEXT NOT NULL,  -- the outbound call's Call-ID and From tag (its voice_calls row)
	from_tag TEXT NOT NULL,
	sip_status INTEGER NOT NULL DEFAULT 0,
	reason TEXT NOT NULL DEFAULT '',
	answered_at INTEGER,
	confirmed_at INTEGER,
	talk_seconds REAL NOT NULL DEFAULT 0,
	interaction_id INTEGER NOT NULL REFERENCES interactions (id),
	PRIMARY KEY (callback_id, attempt),
	CHECK ((result IS NULL) = (ended_at IS NULL))
);
CREATE INDEX callback_attempts_inflight ON callback_attempts (claimed_by) WHERE result IS NULL;

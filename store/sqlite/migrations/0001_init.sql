-- Ticket history. Timestamps are Unix microseconds (UTC) so that they sort
-- and compare as integers; JSON columns are TEXT.
CREATE TABLE customers (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL DEFAULT '',
	tier TEXT NOT NULL DEFAULT 'new' CHECK (tier IN ('vip', 'standard', 'new')),
	attributes TEXT NOT NULL DEFAULT '{}',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX customers_tier ON customers (tier, id);

-- Phones (E.164), emails (lowercased), chat handles, and raw caller IDs that
-- are not numbers: each value belongs to at most one customer.
CREATE TABLE customer_contacts (
	customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
	kind TEXT NOT NULL CHECK (kind IN ('phone', 'email', 'chat', 'caller')),
	value TEXT NOT NULL,
	position INTEGER NOT NULL DEFAULT 0,
	UNIQUE (kind, value)
);
CREATE INDEX customer_contacts_customer ON customer_contacts (customer_id, position);

CREATE TABLE tickets (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	customer_id INTEGER NOT NULL REFERENCES customers (id),
	subject TEXT NOT NULL,
	category TEXT NOT NULL DEFAULT 'general',
	tags TEXT NOT NULL DEFAULT '[]',
	status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'solved', 'closed')),
	priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
	assignee TEXT NOT NULL DEFAULT '',
	channel TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX tickets_customer_category ON tickets (customer_id, category, status, id);
CREATE INDEX tickets_status ON tickets (status, id);
CREATE INDEX tickets_category ON tickets (category, id);

CREATE TABLE interactions (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	customer_id INTEGER NOT NULL REFERENCES customers (id),
	ticket_id INTEGER REFERENCES tickets (id),
	channel TEXT NOT NULL CHECK (channel IN ('voice', 'email', 'chat', 'sms', 'social')),
	direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
	started_at INTEGER NOT NULL,
	ended_at INTEGER,
	summary TEXT NOT NULL DEFAULT '',
	body TEXT NOT NULL DEFAULT '',
	details TEXT,
	created_at INTEGER NOT NULL
);
-- Timeline: one customer, newest first, keyset on (started_at, id).
CREATE INDEX interactions_timeline ON interactions (customer_id, started_at DESC, id DESC);
CREATE INDEX interactions_ticket ON interactions (ticket_id, started_at DESC, id DESC);
CREATE INDEX interactions_started ON interactions (started_at DESC, id DESC);

CREATE TABLE voice_calls (
	interaction_id INTEGER PRIMARY KEY REFERENCES interactions (id) ON DELETE CASCADE,
	call_id TEXT NOT NULL UNIQUE,
	caller_number TEXT NOT NULL DEFAULT '',
	called_number TEXT NOT NULL DEFAULT '',
	flow_name TEXT NOT NULL DEFAULT '',
	flow_version TEXT NOT NULL DEFAULT '',
	path TEXT NOT NULL DEFAULT '[]',
	queue TEXT NOT NULL DEFAULT '',
	wait_seconds REAL NOT NULL DEFAULT 0,
	agent TEXT NOT NULL DEFAULT '',
	talk_seconds REAL NOT NULL DEFAULT 0,
	outcome TEXT NOT NULL DEFAULT '',
	hangup_cause TEXT NOT NULL DEFAULT '',
	hangup_side TEXT NOT NULL DEFAULT '',
	callback_attempts INTEGER NOT NULL DEFAULT 0,
	packets_lost INTEGER NOT NULL DEFAULT 0,
	jitter_ms REAL NOT NULL DEFAULT 0
);

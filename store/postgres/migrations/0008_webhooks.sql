-- Issue 13: webhooks. Subscriptions made through the API (those of the
-- configuration file live in the file), and the outbox: one delivery row
-- per (subscription, event), written before anything is sent, so a
-- delivery survives a crash; at-least-once, in id order per subscription.
-- Timestamps are timestamptz.
CREATE TABLE webhook_subscriptions (
	id TEXT PRIMARY KEY,
	url TEXT NOT NULL,
	secret TEXT NOT NULL,
	events JSONB NOT NULL DEFAULT '[]', -- event types; empty: all
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE webhook_deliveries (
	id BIGSERIAL PRIMARY KEY,
	subscription TEXT NOT NULL,
	event_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	body TEXT NOT NULL, -- the event as JSON, exactly the bytes signed and sent
	state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
	attempts INTEGER NOT NULL DEFAULT 0,
	created_at TIMESTAMPTZ NOT NULL,
	first_at TIMESTAMPTZ NOT NULL, -- the retry horizon starts here: enqueued, or replayed
	next_at TIMESTAMPTZ NOT NULL,
	claimed_by TEXT NOT NULL DEFAULT '',
	claimed_until TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
	last_status INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	done_at TIMESTAMPTZ,
	UNIQUE (subscription, event_id)
);
-- The head of each subscription's line: its oldest pending delivery.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (subscription, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (state, id);

-- Issue 12, reads and events on every node (docs/cluster.md "Views on
-- every node", "Events on every node"). PostgreSQL only. 0009, not 0008:
-- the webhook outbox's migration takes 0008.

-- One row: the leader's view of the ACD (queues, agents, callers'
-- positions) as JSON, rewritten in the leader's fenced commit at most
-- every 250 ms while the ACD changes and every second anyway. version
-- goes up at each write, across leaders; epoch is the writer's.
CREATE TABLE acd_view (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	version BIGINT NOT NULL,
	epoch BIGINT NOT NULL,
	at TIMESTAMPTZ NOT NULL,
	body JSONB NOT NULL
);
INSERT INTO acd_view (id, version, epoch, at, body) VALUES (1, 0, 0, now(), '{}');

-- Events too large for a NOTIFY payload (8000 bytes): the notification
-- carries this row's id. Kept a minute (every listener has read it by
-- then, or has gone), pruned by the publishing nodes.
CREATE TABLE acd_events (
	id BIGSERIAL PRIMARY KEY,
	node TEXT NOT NULL,
	at TIMESTAMPTZ NOT NULL DEFAULT now(),
	body TEXT NOT NULL
);
CREATE INDEX acd_events_at ON acd_events (at);

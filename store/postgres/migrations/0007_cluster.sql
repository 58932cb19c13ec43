-- Issue 12: several Hotline nodes, one ACD (docs/cluster.md). PostgreSQL
-- only: single-node SQLite mode has no cluster. The leader node holds a
-- session advisory lock and the epoch below; nodes send their inputs as
-- acd_commands, the leader consumes them and answers through acd_outbox,
-- and keeps the ACD's snapshot (acd_entries, acd_agents, acd_offers) in
-- the same fenced transaction, so a new leader starts where the last
-- commit left.
CREATE TABLE acd_nodes (
	id TEXT PRIMARY KEY,
	address TEXT NOT NULL DEFAULT '',
	started TIMESTAMPTZ NOT NULL,
	last_seen TIMESTAMPTZ NOT NULL,
	lost BOOLEAN NOT NULL DEFAULT FALSE -- its heartbeat expired; the leader removed its calls
);

-- One row: the leadership epoch (incremented by each new leader), who
-- holds it, and the leader's last commit (beat: a follower deposes a
-- leader whose session is alive but which has stopped committing).
CREATE TABLE acd_leader (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	epoch BIGINT NOT NULL,
	node TEXT NOT NULL DEFAULT '',
	since TIMESTAMPTZ NOT NULL,
	beat TIMESTAMPTZ NOT NULL
);
INSERT INTO acd_leader (id, epoch, node, since, beat) VALUES (1, 0, '', now(), now());

CREATE TABLE acd_commands (
	id BIGSERIAL PRIMARY KEY,
	node TEXT NOT NULL,
	kind TEXT NOT NULL,
	body JSONB NOT NULL,
	at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE acd_outbox (
	id BIGSERIAL PRIMARY KEY,
	node TEXT NOT NULL,
	kind TEXT NOT NULL,
	body JSONB NOT NULL
);
CREATE INDEX acd_outbox_node ON acd_outbox (node, id);

-- Callers waiting (or ringing), in service order (placed, seq).
CREATE TABLE acd_entries (
	call_id TEXT PRIMARY KEY,
	queue TEXT NOT NULL,
	node TEXT NOT NULL,
	placed TIMESTAMPTZ NOT NULL,
	seq BIGINT NOT NULL,
	body JSONB NOT NULL -- the join (tier, caller, From tag, ...)
);
CREATE INDEX acd_entries_node ON acd_entries (node);

CREATE TABLE acd_agents (
	agent_id TEXT PRIMARY KEY,
	presence TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	call_id TEXT NOT NULL DEFAULT '', -- bridged call, if any
	call_queue TEXT NOT NULL DEFAULT '',
	call_node TEXT NOT NULL DEFAULT '', -- the node with the call's media
	call_body JSONB -- the join of the bridged call (for a node-lost record)
);

CREATE TABLE acd_offers (
	offer_id TEXT PRIMARY KEY,
	node TEXT NOT NULL, -- the caller's node, which rings the agent
	body JSONB NOT NULL -- queue.Offer
);

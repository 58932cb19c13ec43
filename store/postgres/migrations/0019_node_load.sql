-- Issue 12: callbacks are dialled by any live node (docs/cluster.md,
-- "Callbacks in a cluster"). Each heartbeat carries the node's active
-- calls and whether it drains (shutting down, or its readiness failed),
-- so that the leader's callback scheduler gives a due callback's call to
-- the least loaded node that takes traffic.
ALTER TABLE acd_nodes ADD COLUMN calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE acd_nodes ADD COLUMN draining BOOLEAN NOT NULL DEFAULT FALSE;

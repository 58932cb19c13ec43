-- Issue 12: a node's configuration fingerprint (a hash of its agents and
-- queues). The leader's queue.Service is built from its own copy, so a node
-- whose copy differs from the leader's refuses to join (docs/cluster.md).
ALTER TABLE acd_nodes ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';

-- Issue 12: what a new leader takes over of each queue (docs/cluster.md
-- "Failover"): queue.QueueSnapshot as JSON, the member offered last
-- (round robin goes on after it) and the answers within the EWT window
-- (EWT goes on from them). Written by the leader in its fenced commit
-- when an offer rings or is answered; a queue without a row starts
-- afresh (round robin at its first member, EWT unknown).
CREATE TABLE acd_queues (
	queue TEXT PRIMARY KEY,
	state JSONB NOT NULL
);

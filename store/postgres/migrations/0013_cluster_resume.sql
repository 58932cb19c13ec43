-- Issue 12: what a new leader takes over beyond agents' presence and
-- callers' joins (docs/cluster.md "Failover"). Written by the leader in
-- its fenced commit with the rest of the snapshot; NULL in a row written
-- before this migration (the takeover then starts that agent or caller
-- afresh, as before).
-- acd_agents.state: queue.AgentSnapshot as JSON (run-time membership,
-- misses, calls answered, idle and state times, a call or wrap-up).
ALTER TABLE acd_agents ADD COLUMN state JSONB;
-- acd_entries.state: queue.EntrySnapshot as JSON (the real join time that
-- MaxWait counts from, the agents who missed the caller).
ALTER TABLE acd_entries ADD COLUMN state JSONB;
-- The leader's statistics records go to queue_recs (migration 0005) in
-- the same commit, so a new leader's figures go on from the old one's.

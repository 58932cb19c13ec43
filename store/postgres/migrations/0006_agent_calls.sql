-- Issue 11: an agent's calls today survive a restart. A queue record of
-- kind agent_answered is one offer an agent answered (callbacks included)
-- and names the agent.
ALTER TABLE queue_recs DROP CONSTRAINT queue_recs_kind_check;
ALTER TABLE queue_recs ADD CONSTRAINT queue_recs_kind_check
	CHECK (kind IN ('joined', 'answered', 'abandoned', 'exited', 'handled', 'agent_answered'));
ALTER TABLE queue_recs ADD COLUMN agent TEXT NOT NULL DEFAULT '';

-- Issue 12 (single node): an agent's idle time survives a restart, so
-- longest-idle goes on ranking agents as before it (docs/restart.md).
-- NULL: written before this.
ALTER TABLE agent_states ADD COLUMN idle_since TIMESTAMPTZ;

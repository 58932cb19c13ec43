-- Issue 12 (throughput): the ACD's bodies are the nodes' and the leader's
-- own JSON, written and read back whole, never queried inside. As JSONB
-- every row cost the server a parse on insert (the unnest's b::jsonb) and a
-- print on every read; as TEXT they are stored and returned byte for byte
-- (docs/cluster.md, "Benchmarks"). A node still running the older code
-- keeps working: its b::jsonb is assigned to TEXT by the I/O cast.
ALTER TABLE acd_commands ALTER COLUMN body TYPE TEXT;
ALTER TABLE acd_outbox ALTER COLUMN body TYPE TEXT;
ALTER TABLE acd_entries ALTER COLUMN body TYPE TEXT, ALTER COLUMN state TYPE TEXT;
ALTER TABLE acd_agents ALTER COLUMN call_body TYPE TEXT, ALTER COLUMN state TYPE TEXT;
ALTER TABLE acd_offers ALTER COLUMN body TYPE TEXT;
ALTER TABLE acd_view ALTER COLUMN body TYPE TEXT;

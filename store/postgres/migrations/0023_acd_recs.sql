-- Issue 12 (throughput): the leader's statistics records, one row per
-- commit instead of one queue_recs row per record (five per routing
-- decision, 28 % of the server's statement time in a sustained run:
-- docs/cluster.md, "Benchmarks"). body is the commit's records in the
-- leader's own text encoding (store/postgres/recs.go), written and read
-- back whole; id is the first record's ID (unique per epoch and record);
-- last_at the newest record's time, which a takeover prunes by (a row is
-- deleted once all its records are older than the figures' window).
-- queue_recs keeps a single node's records (the runstate writer) and the
-- ones leaders wrote before this migration; a takeover reads both. A
-- leader still on the older code does not read acd_recs: in a rolling
-- upgrade its figures miss what newer leaders recorded.
CREATE TABLE acd_recs (
    id      TEXT PRIMARY KEY,
    last_at TIMESTAMPTZ NOT NULL,
    body    TEXT NOT NULL
);
CREATE INDEX acd_recs_last_at ON acd_recs (last_at);
-- An agent's row is rewritten two or three times per call (offered,
-- bridged, freed) and never moves in its one index: with room left in
-- its page the new version goes beside the old one (a HOT update), with
-- no index entry to add (fillfactor 25: 3 in 4 updates HOT against none at
-- the default 100, 0.5-0.6x the upserts' time in docs/benchmarks.md's test).
-- 1,000 agents take a few hundred pages.
ALTER TABLE acd_agents SET (fillfactor = 25);

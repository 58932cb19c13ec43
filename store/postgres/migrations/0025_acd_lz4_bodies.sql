-- Issue 12 (throughput): the view (acd_view.body, about 1 MB of JSON with
-- 9,000 callers waiting, rewritten every ViewEvery while the ACD changes)
-- and a commit's statistics records (acd_recs.body, tens of kB under load)
-- go through TOAST compression in the leader's commit, which is the
-- cluster's serial path. pglz took about 24 ms of the server's time per
-- view write in BenchmarkClusterDispatch/run-1000; lz4 compresses the same
-- text several times faster (docs/benchmarks.md, 2026-12-06). Only new
-- values are compressed with it; both methods read back the same. A
-- server built without lz4 (or older than PostgreSQL 14) keeps pglz.
DO $$
BEGIN
	EXECUTE 'ALTER TABLE acd_view ALTER COLUMN body SET COMPRESSION lz4';
	EXECUTE 'ALTER TABLE acd_recs ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
	RAISE NOTICE 'acd bodies keep the default compression: %', SQLERRM;
END
$$;

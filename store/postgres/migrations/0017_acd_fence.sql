-- Issue 12: the ACD leader's commit goes to the server in one round trip
-- (a pipeline of statements in one implicit transaction, docs/cluster.md),
-- so its epoch check cannot be a SELECT whose answer the client reads
-- before it sends the rest. acd_fence runs first in that pipeline: it
-- locks the leader row (ordering the commit against a takeover's epoch
-- increment), sets the beat followers watch, and raises SQLSTATE HL409
-- when a newer leader holds the epoch, which aborts the whole
-- transaction.
CREATE FUNCTION acd_fence(want BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
	got BIGINT;
BEGIN
	UPDATE acd_leader SET beat = now() WHERE id = 1 RETURNING epoch INTO got;
	IF got IS DISTINCT FROM want THEN
		RAISE EXCEPTION 'acd leader epoch %, now %', want, got USING ERRCODE = 'HL409';
	END IF;
	RETURN got;
END
$$;

-- The token of the last batch of commands each node sent, written in the
-- batch's own statement: a node whose connection broke before the answer
-- reads it back (after the batch's transaction ended) to learn whether the
-- batch committed, so it sends it again only if it did not.
ALTER TABLE acd_nodes ADD COLUMN sent BIGINT NOT NULL DEFAULT 0;

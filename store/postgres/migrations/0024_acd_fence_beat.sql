-- Issue 12 (throughput): the leader's commit wrote the leader row's beat
-- every time (one row version per commit, a third of a stepped decision's
-- commits' bookkeeping rows). Followers only ask whether the beat is older
-- than LeaderExpiry (Depose), so acd_fence now writes it only when it is
-- older than fresh_secs (the leader passes LeaderExpiry/4; an idle leader
-- commits every LeaderExpiry/4, so the beat is never older than about
-- half of LeaderExpiry while the leader lives) and otherwise only locks
-- the row: the lock still orders the commit against a takeover's epoch
-- increment, which sets the beat itself. fresh_secs 0 always writes it
-- (Leader.Beat during a takeover's rebuild). The one-argument form stays,
-- as the two-argument one with fresh_secs 0, for one reason: in a rolling
-- upgrade a leader still running the previous binary calls it, and without
-- it that leader could not commit until a new node deposed it.
DROP FUNCTION acd_fence(BIGINT);

CREATE FUNCTION acd_fence(want BIGINT, fresh_secs DOUBLE PRECISION) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
	got BIGINT;
BEGIN
	-- A takeover that committed while this waited for the row is seen by
	-- both statements (read committed re-reads the row it waited for).
	UPDATE acd_leader SET beat = now() WHERE id = 1 AND beat < now() - make_interval(secs => fresh_secs) RETURNING epoch INTO got;
	IF NOT FOUND THEN
		SELECT epoch INTO got FROM acd_leader WHERE id = 1 FOR UPDATE;
	END IF;
	IF got IS DISTINCT FROM want THEN
		RAISE EXCEPTION 'acd leader epoch %, now %', want, got USING ERRCODE = 'HL409';
	END IF;
	RETURN got;
END
$$;

-- Rolling upgrades only (see above); this binary never calls it.
CREATE FUNCTION acd_fence(want BIGINT) RETURNS BIGINT LANGUAGE sql AS $$
	SELECT acd_fence(want, 0)
$$;

-- Issue 13: incremental sync, entity tags and idempotency keys.
--
-- change_tx orders every write of a customer, ticket or interaction for
-- the sync lists (updated_since / created_since with a cursor): a trigger
-- sets it to the id of the writing transaction. A sequence would not do:
-- its values are taken before commit, so a poller could pass a value whose
-- transaction commits later and miss it. Transaction ids are taken before
-- commit too, but pg_snapshot_xmin tells which are finished: a sync list
-- returns only rows whose change_tx is below the xmin of a snapshot taken
-- first, ordered by (change_tx, id), and every row that becomes visible
-- later has a change_tx at or above that xmin. A row written twice in one
-- transaction keeps one change_tx, so (change_tx, id) is unique; it is
-- also the row's entity tag (ETag) for If-Match.
ALTER TABLE customers ADD COLUMN change_tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN change_tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE interactions ADD COLUMN change_tx BIGINT NOT NULL DEFAULT 0;
-- Interactions change after they are created (a callback attempt's
-- outcome): updated_at, NULL until the first change.
ALTER TABLE interactions ADD COLUMN updated_at TIMESTAMPTZ;

CREATE FUNCTION hotline_change_tx() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.change_tx := pg_current_xact_id()::text::bigint;
	RETURN NEW;
END
$$;
CREATE TRIGGER customers_change_tx BEFORE INSERT OR UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION hotline_change_tx();
CREATE TRIGGER tickets_change_tx BEFORE INSERT OR UPDATE ON tickets FOR EACH ROW EXECUTE FUNCTION hotline_change_tx();
CREATE TRIGGER interactions_change_tx BEFORE INSERT OR UPDATE ON interactions FOR EACH ROW EXECUTE FUNCTION hotline_change_tx();
CREATE INDEX customers_change ON customers (change_tx, id);
CREATE INDEX tickets_change ON tickets (change_tx, id);
CREATE INDEX interactions_change ON interactions (change_tx, id);

-- Idempotency-Key: the first answer to a POST, kept 24 h, replayed to a
-- retry with the same key (per token) and body.
CREATE TABLE idempotency_keys (
	scope TEXT NOT NULL,
	key TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status INTEGER NOT NULL DEFAULT 0,
	headers TEXT NOT NULL DEFAULT '{}',
	body BYTEA,
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Rows written before this migration get a change_tx (this transaction's
-- id, through the triggers), so every row has an entity tag.
UPDATE customers SET change_tx = 0;
UPDATE tickets SET change_tx = 0;
UPDATE interactions SET change_tx = 0;

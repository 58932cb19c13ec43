-- Issue 13: incremental sync, entity tags and idempotency keys.
--
-- change_tx orders every write of a customer, ticket or interaction for
-- the sync lists (updated_since / created_since with a cursor). SQLite
-- serialises writers, so a counter bumped inside the writing transaction
-- (sync_clock, by the triggers below) grows in commit order: a poller
-- that has read up to n has seen every write numbered n or less. The
-- (change_tx, id) pair is also the row's entity tag (ETag) for If-Match.
CREATE TABLE sync_clock (n INTEGER NOT NULL);
INSERT INTO sync_clock (n) VALUES (0);
ALTER TABLE customers ADD COLUMN change_tx INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN change_tx INTEGER NOT NULL DEFAULT 0;
ALTER TABLE interactions ADD COLUMN change_tx INTEGER NOT NULL DEFAULT 0;
-- Interactions change after they are created (a callback attempt's
-- outcome): updated_at, NULL until the first change.
ALTER TABLE interactions ADD COLUMN updated_at INTEGER;

-- The triggers stamp every row written without a change_tx of its own:
-- LogCalls' batch statements stamp their rows themselves, with one bump
-- of the counter per statement (a third of the call logging's time went to
-- the per-row triggers). The WHEN clauses skip those rows, and keep the
-- triggers' own UPDATE from firing them again (were recursive_triggers on).
CREATE TRIGGER customers_change_ins AFTER INSERT ON customers WHEN NEW.change_tx = 0 BEGIN
	UPDATE sync_clock SET n = n + 1;
	UPDATE customers SET change_tx = (SELECT n FROM sync_clock) WHERE id = NEW.id;
END;
CREATE TRIGGER customers_change_upd AFTER UPDATE ON customers WHEN NEW.change_tx = OLD.change_tx BEGIN
	UPDATE sync_clock SET n = n + 1;
	UPDATE customers SET change_tx = (SELECT n FROM sync_clock) WHERE id = NEW.id;
END;
CREATE TRIGGER tickets_change_ins AFTER INSERT ON tickets WHEN NEW.change_tx = 0 BEGIN
	UPDATE sync_clock SET n = n + 1;
	UPDATE tickets SET change_tx = (SELECT n FROM sync_clock) WHERE id = NEW.id;
END;
CREATE TRIGGER tickets_change_upd AFTER UPDATE ON tickets WHEN NEW.change_tx = OLD.change_tx BEGIN
	UPDATE sync_clock SET n = n + 1;
	UPDATE tickets SET change_tx = (SELECT n FROM sync_clock) WHERE id = NEW.id;
END;
CREATE TRIGGER interactions_change_ins AFTER INSERT ON interactions WHEN NEW.change_tx = 0 BEGIN
	UPDATE sync_clock SET n = n + 1;
	UPDATE interactions SET change_tx = (SELECT n FROM sync_clock) WHERE id = NEW.id;
END;
CREATE TRIGGER interactions_change_upd AFTER UPDATE ON interactions WHEN NEW.change_tx = OLD.change_tx BEGIN
	UPDATE sync_clock SET n = n + 1;
	UPDATE interactions SET change_tx = (SELECT n FROM sync_clock) WHERE id = NEW.id;
END;
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
	body BLOB,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Rows written before this migration get a change_tx (through the
-- triggers), so every row has an entity tag.
UPDATE customers SET change_tx = change_tx;
UPDATE tickets SET change_tx = change_tx;
UPDATE interactions SET change_tx = change_tx;

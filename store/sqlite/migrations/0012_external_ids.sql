-- Issue 13: external ids and search.
--
-- A customer can be known to several desks (Zendesk, Freshdesk, a CRM),
-- each with its own id, so the ids live in their own table rather than a
-- column per desk: (kind, source, external_id) is unique, i.e. one desk's
-- id names one customer (kind 'c') or one ticket (kind 't'), and a row can
-- hold any number of sources. The store writes these rows in the same
-- transaction as an UPDATE of the owner's row, whose change_tx trigger
-- stamps the change for sync.
CREATE TABLE external_ids (
	kind TEXT NOT NULL,
	source TEXT NOT NULL,
	external_id TEXT NOT NULL,
	entity_id INTEGER NOT NULL,
	position INTEGER NOT NULL,
	PRIMARY KEY (kind, source, external_id)
);
CREATE INDEX external_ids_entity ON external_ids (kind, entity_id);
CREATE INDEX external_ids_bare ON external_ids (kind, external_id);

-- Search terms: the words of a customer's name or a ticket's subject,
-- folded (lower case, accents and đ removed) by the store, so "nguyen"
-- finds "Nguyễn" on both backends without collations or extensions. A
-- query word matches a term by prefix, a range scan of this index.
CREATE TABLE search_terms (
	kind TEXT NOT NULL,
	term TEXT NOT NULL,
	entity_id INTEGER NOT NULL,
	PRIMARY KEY (kind, term, entity_id)
);
CREATE INDEX search_terms_entity ON search_terms (kind, entity_id);

-- Issues 12 and 14: recordings in the database (recordings.store:
-- database), so every node of a cluster serves every recording without
-- shared storage. One header per object ("<recording id>.<format>", the
-- key a recording.Store uses) and its audio in chunks of 256 KiB, so a
-- range request reads a chunk or two and never the whole recording.
-- bytea rather than large objects: rows are deleted with plain DELETE in
-- the sweeper's transaction (no lo_unlink, no orphans for vacuumlo), are
-- copied by logical replication and by pg_dump of the schema's tables,
-- and the same SQL serves SQLite's blobs. A Put writes its chunks under a
-- fresh generation and switches the header in the same transaction: the
-- header names only committed, complete audio.
CREATE TABLE recording_audio (
	key TEXT PRIMARY KEY,
	generation BIGINT NOT NULL,
	size BIGINT NOT NULL,
	chunk_size INTEGER NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE recording_audio_chunks (
	key TEXT NOT NULL,
	generation BIGINT NOT NULL,
	seq INTEGER NOT NULL,
	data BYTEA NOT NULL,
	PRIMARY KEY (key, generation, seq)
);
-- PCM audio barely compresses: store the chunks out of line without
-- trying pglz on each one.
ALTER TABLE recording_audio_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

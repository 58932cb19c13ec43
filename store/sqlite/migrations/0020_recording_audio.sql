-- Issues 12 and 14: recordings in the database (recordings.store:
-- database). One header per object ("<recording id>.<format>", the key a
-- recording.Store uses) and its audio in blobs of 256 KiB, so a range
-- request reads a chunk or two. A Put writes its chunks under a fresh
-- generation and switches the header in the same transaction: the
-- header names only committed, complete audio.
CREATE TABLE recording_audio (
	key TEXT PRIMARY KEY,
	generation INTEGER NOT NULL,
	size INTEGER NOT NULL,
	chunk_size INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE recording_audio_chunks (
	key TEXT NOT NULL,
	generation INTEGER NOT NULL,
	seq INTEGER NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (key, generation, seq)
);

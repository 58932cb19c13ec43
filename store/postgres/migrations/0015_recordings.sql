-- Issue 14: recordings (voicemail messages; call recordings later). The
-- audio is in a recording store (files under the data directory, or a
-- bucket) under "<id>.<format>"; this is its metadata. A recording comes
-- with its call's record, so interaction_id is set when the call is
-- logged (NULL for one stored before its call). A deleted recording keeps
-- its row with deleted_at set: the deletion is recorded.
CREATE TABLE recordings (
	id TEXT PRIMARY KEY,
	call_id TEXT NOT NULL,
	from_tag TEXT NOT NULL DEFAULT '',
	interaction_id BIGINT REFERENCES interactions (id),
	kind TEXT NOT NULL CHECK (kind IN ('voicemail', 'call')),
	format TEXT NOT NULL,
	duration_ms BIGINT NOT NULL,
	size BIGINT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	deleted_at TIMESTAMPTZ
);
CREATE INDEX recordings_interaction ON recordings (interaction_id);
CREATE INDEX recordings_call ON recordings (call_id, from_tag);

-- Issue 7: a call is keyed on its SIP Call-ID and the caller's From tag
-- (RFC 3261 §12: a new From tag is a new call, so a Call-ID reused by a
-- later call is a second record, not a duplicate), and every leg of the
-- call (queue stays, agents, transfers) is kept as a jsonb array.
ALTER TABLE voice_calls ADD COLUMN from_tag TEXT NOT NULL DEFAULT '';
ALTER TABLE voice_calls ADD COLUMN legs JSONB NOT NULL DEFAULT '[]';
ALTER TABLE voice_calls DROP CONSTRAINT voice_calls_call_id_key;
ALTER TABLE voice_calls ADD CONSTRAINT voice_calls_call_id_from_tag_key UNIQUE (call_id, from_tag);

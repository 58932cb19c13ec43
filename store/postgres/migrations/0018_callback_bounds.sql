-- The callbacks: request bounds counted in the store (a cluster's nodes
-- share them, docs/cluster.md "Callbacks in a cluster"): who asked (the
-- API's token and client address; '' from the IVR), and the indexes the
-- hour's counts per number, per source and in all read.
ALTER TABLE callbacks ADD COLUMN source_key TEXT NOT NULL DEFAULT '';
CREATE INDEX callbacks_number_created ON callbacks (number, created_at);
CREATE INDEX callbacks_source_created ON callbacks (source_key, created_at) WHERE source_key <> '';
CREATE INDEX callbacks_created ON callbacks (created_at);

-- The closed loop's fields in the projection, for supervisors' inboxes and the rates the
-- districts are judged on. All derived from the documents at each push.

ALTER TABLE docs ADD COLUMN level TEXT NOT NULL DEFAULT 'community';
ALTER TABLE docs ADD COLUMN assignee INTEGER;
ALTER TABLE docs ADD COLUMN due_at INTEGER;
ALTER TABLE docs ADD COLUMN urged INTEGER NOT NULL DEFAULT 0;
ALTER TABLE docs ADD COLUMN duplicate_of TEXT;
ALTER TABLE docs ADD COLUMN conflict INTEGER NOT NULL DEFAULT 0;
-- When the record was first accepted and last closed (timeline times, ms).
ALTER TABLE docs ADD COLUMN accepted_at INTEGER;
ALTER TABLE docs ADD COLUMN closed_at INTEGER;
-- Returned for correction at least once (the rework rate).
ALTER TABLE docs ADD COLUMN ever_returned INTEGER NOT NULL DEFAULT 0;

CREATE INDEX docs_open_level ON docs(level, status, grid);
CREATE INDEX docs_due ON docs(due_at) WHERE due_at IS NOT NULL;

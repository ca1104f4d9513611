-- Photos. The bytes live on disk under the data directory (see ARCHITECTURE.md); this
-- records which blobs are complete and which records reference them.

CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,
    bytes       INTEGER NOT NULL,
    mime        TEXT NOT NULL,
    uploaded_by INTEGER REFERENCES users(id),
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX blobs_uploader ON blobs(uploaded_by, created_at);

-- Every attachment reference in every record's current state, rewritten at each push.
-- A reference may name a blob not uploaded yet: the photo is then pending.
CREATE TABLE blob_refs (
    sha256 TEXT NOT NULL,
    doc_id TEXT NOT NULL REFERENCES docs(id),
    PRIMARY KEY (sha256, doc_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX blob_refs_doc ON blob_refs(doc_id);

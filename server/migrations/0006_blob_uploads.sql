-- Everyone who has sent a photo's bytes, not only the first: having the bytes is what
-- entitles a user to the photo (see `Db::blob_readable`), and each upload counts against
-- its uploader's daily quota.

CREATE TABLE blob_uploads (
    sha256      TEXT NOT NULL REFERENCES blobs(sha256),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (sha256, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX blob_uploads_user ON blob_uploads(user_id, uploaded_at);

INSERT INTO blob_uploads (sha256, user_id, uploaded_at)
    SELECT sha256, uploaded_by, created_at FROM blobs WHERE uploaded_by IS NOT NULL;

-- Inside the database a record is named by a small integer, `docs.key`, instead of its
-- 36-character UUID. Rows that point at a record (changes, moves, photo references) were
-- keyed by the random UUID, so every new record dirtied a random page of each of their
-- indexes, and a group commit wrote and later checkpointed a page per index per record;
-- new keys only grow, so a new record's rows now go at the end of those indexes. The
-- UUID stays on `docs` (unique), the only place it is looked up by.
--
-- SQLite cannot add a primary key to a table, so the four tables are built anew and
-- filled from the old ones (the migration runner turns foreign keys off around it and
-- checks them afterwards).

CREATE TABLE docs_new (
    key           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    seq           INTEGER NOT NULL,
    created_seq   INTEGER NOT NULL,
    moved_seq     INTEGER NOT NULL,
    state         BLOB NOT NULL,
    heads         TEXT NOT NULL,
    change_count  INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    grid          TEXT NOT NULL,
    sector        TEXT,
    department    TEXT,
    category      TEXT NOT NULL,
    status        TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    title         TEXT NOT NULL,
    reported_by   INTEGER NOT NULL,
    reported_at   INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    lat           REAL,
    lng           REAL,
    accuracy_m    REAL,
    level         TEXT NOT NULL DEFAULT 'community',
    assignee      INTEGER,
    due_at        INTEGER,
    urged         INTEGER NOT NULL DEFAULT 0,
    duplicate_of  TEXT,
    conflict      INTEGER NOT NULL DEFAULT 0,
    accepted_at   INTEGER,
    closed_at     INTEGER,
    ever_returned INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Keys in the order records were first stored, so old records keep their order too.
INSERT INTO docs_new (key, id, seq, created_seq, moved_seq, state, heads, change_count, kind,
        grid, sector, department, category, status, urgency, title, reported_by, reported_at,
        updated_at, lat, lng, accuracy_m, level, assignee, due_at, urged, duplicate_of,
        conflict, accepted_at, closed_at, ever_returned)
    SELECT row_number() OVER (ORDER BY created_seq), id, seq, created_seq, moved_seq, state,
        heads, change_count, kind, grid, sector, department, category, status, urgency, title,
        reported_by, reported_at, updated_at, lat, lng, accuracy_m, level, assignee, due_at,
        urged, duplicate_of, conflict, accepted_at, closed_at, ever_returned
    FROM docs;

CREATE TABLE changes_new (
    seq         INTEGER PRIMARY KEY,
    doc         INTEGER NOT NULL REFERENCES docs(key),
    hash        BLOB NOT NULL,
    actor       BLOB NOT NULL,
    user_id     INTEGER REFERENCES users(id),
    bytes       BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (doc, hash)
) STRICT;
INSERT INTO changes_new (seq, doc, hash, actor, user_id, bytes, received_at)
    SELECT c.seq, d.key, c.hash, c.actor, c.user_id, c.bytes, c.received_at
    FROM changes c JOIN docs_new d ON d.id = c.doc_id
    ORDER BY c.seq;

CREATE TABLE doc_moves_new (
    seq            INTEGER PRIMARY KEY,
    doc            INTEGER NOT NULL REFERENCES docs(key),
    old_grid       TEXT NOT NULL,
    old_sector     TEXT,
    old_department TEXT
) STRICT;
INSERT INTO doc_moves_new (seq, doc, old_grid, old_sector, old_department)
    SELECT m.seq, d.key, m.old_grid, m.old_sector, m.old_department
    FROM doc_moves m JOIN docs_new d ON d.id = m.doc_id;

CREATE TABLE blob_refs_new (
    sha256 TEXT NOT NULL,
    doc    INTEGER NOT NULL REFERENCES docs(key),
    PRIMARY KEY (sha256, doc)
) STRICT, WITHOUT ROWID;
INSERT INTO blob_refs_new (sha256, doc)
    SELECT r.sha256, d.key FROM blob_refs r JOIN docs_new d ON d.id = r.doc_id;

DROP TABLE blob_refs;
DROP TABLE doc_moves;
DROP TABLE changes;
DROP TABLE docs;
ALTER TABLE docs_new RENAME TO docs;
ALTER TABLE changes_new RENAME TO changes;
ALTER TABLE doc_moves_new RENAME TO doc_moves;
ALTER TABLE blob_refs_new RENAME TO blob_refs;

CREATE UNIQUE INDEX docs_seq ON docs(seq);
CREATE INDEX docs_grid_seq ON docs(grid, seq);
CREATE INDEX docs_sector_seq ON docs(sector, seq) WHERE sector IS NOT NULL;
CREATE INDEX docs_department_seq ON docs(department, seq) WHERE department IS NOT NULL;
CREATE INDEX docs_status ON docs(status, grid);
CREATE INDEX docs_open_level ON docs(level, status, grid);
CREATE INDEX docs_due ON docs(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX changes_doc_seq ON changes(doc, seq);
CREATE INDEX doc_moves_grid ON doc_moves(old_grid, seq);
CREATE INDEX blob_refs_doc ON blob_refs(doc);

-- Documents of more than one type. `docs` keeps what every synced document has, whatever
-- its type: its id and type, its place in the change log, its saved state, and its
-- position in the org tree (grid, sector, department), which is what scope and pulls are
-- judged by. What the server projects from a record's fields (inboxes, rates, the
-- escalation job) moves to `records`, one row per record document; a new type adds its own
-- projection table beside it and leaves `docs` as it is.
--
-- Rebuilt, not altered: SQLite cannot drop indexed columns. The migration runner turns
-- foreign keys off around it and checks them afterwards.

CREATE TABLE records (
    doc           INTEGER PRIMARY KEY REFERENCES docs(key),
    kind          TEXT NOT NULL,
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
    level         TEXT NOT NULL,
    assignee      INTEGER,
    due_at        INTEGER,
    urged         INTEGER NOT NULL,
    duplicate_of  TEXT,
    conflict      INTEGER NOT NULL,
    accepted_at   INTEGER,
    closed_at     INTEGER,
    ever_returned INTEGER NOT NULL
) STRICT;
INSERT INTO records (doc, kind, category, status, urgency, title, reported_by, reported_at,
        updated_at, lat, lng, accuracy_m, level, assignee, due_at, urged, duplicate_of,
        conflict, accepted_at, closed_at, ever_returned)
    SELECT key, kind, category, status, urgency, title, reported_by, reported_at, updated_at,
        lat, lng, accuracy_m, level, assignee, due_at, urged, duplicate_of, conflict,
        accepted_at, closed_at, ever_returned
    FROM docs ORDER BY key;

CREATE TABLE docs_new (
    key           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    created_seq   INTEGER NOT NULL,
    moved_seq     INTEGER NOT NULL,
    state         BLOB NOT NULL,
    heads         TEXT NOT NULL,
    change_count  INTEGER NOT NULL,
    grid          TEXT NOT NULL,
    sector        TEXT,
    department    TEXT
) STRICT;
INSERT INTO docs_new (key, id, type, seq, created_seq, moved_seq, state, heads, change_count,
        grid, sector, department)
    SELECT key, id, 'record', seq, created_seq, moved_seq, state, heads, change_count, grid,
        sector, department
    FROM docs ORDER BY key;
DROP TABLE docs;
ALTER TABLE docs_new RENAME TO docs;

CREATE UNIQUE INDEX docs_seq ON docs(seq);
CREATE INDEX docs_grid_seq ON docs(grid, seq);
CREATE INDEX docs_sector_seq ON docs(sector, seq) WHERE sector IS NOT NULL;
CREATE INDEX docs_department_seq ON docs(department, seq) WHERE department IS NOT NULL;
CREATE INDEX records_status ON records(status);
CREATE INDEX records_open_level ON records(level, status);
CREATE INDEX records_due ON records(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX records_reported_at ON records(reported_at);

-- Record documents: an append-only change log with one global sequence, each document's
-- current state, and the queryable projection, all written in one transaction per push.

-- Every Automerge change the server accepted, in commit order. `seq` is the global
-- sequence pull cursors point into; the single writer makes it gap-free in commit order.
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY,
    doc_id      TEXT NOT NULL,
    hash        BLOB NOT NULL,
    actor       BLOB NOT NULL,
    user_id     INTEGER REFERENCES users(id),
    bytes       BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (doc_id, hash)
) STRICT;
CREATE INDEX changes_doc_seq ON changes(doc_id, seq);

-- Which user an Automerge actor id belongs to; bound when the server first sees it.
-- A NULL user is the server's own actor (jobs such as escalation).
CREATE TABLE actors (
    actor      BLOB PRIMARY KEY,
    user_id    INTEGER REFERENCES users(id),
    first_seen INTEGER NOT NULL
) STRICT;

-- Current state and projection of each record. `seq` is the seq of its latest change;
-- `created_seq` and `moved_seq` tell a pull when a client cannot have the document yet.
CREATE TABLE docs (
    id           TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL,
    created_seq  INTEGER NOT NULL,
    moved_seq    INTEGER NOT NULL,
    state        BLOB NOT NULL,
    heads        TEXT NOT NULL,
    change_count INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    grid         TEXT NOT NULL,
    sector       TEXT,
    department   TEXT,
    category     TEXT NOT NULL,
    status       TEXT NOT NULL,
    urgency      TEXT NOT NULL,
    title        TEXT NOT NULL,
    reported_by  INTEGER NOT NULL,
    reported_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    lat          REAL,
    lng          REAL,
    accuracy_m   REAL
) STRICT;
CREATE UNIQUE INDEX docs_seq ON docs(seq);
CREATE INDEX docs_grid_seq ON docs(grid, seq);
CREATE INDEX docs_sector_seq ON docs(sector, seq) WHERE sector IS NOT NULL;
CREATE INDEX docs_department_seq ON docs(department, seq) WHERE department IS NOT NULL;
CREATE INDEX docs_status ON docs(status, grid);

-- Where a record was before it moved (grid, sector or department changed), so a pull can
-- tell a client that could see the old position but not the new one to evict it.
CREATE TABLE doc_moves (
    seq            INTEGER PRIMARY KEY,
    doc_id         TEXT NOT NULL REFERENCES docs(id),
    old_grid       TEXT NOT NULL,
    old_sector     TEXT,
    old_department TEXT
) STRICT;
CREATE INDEX doc_moves_grid ON doc_moves(old_grid, seq);

-- The category catalogue, seeded from the code and open to administrators later.
CREATE TABLE categories (
    code             TEXT PRIMARY KEY,
    parent           TEXT REFERENCES categories(code),
    name_zh          TEXT NOT NULL,
    name_en          TEXT NOT NULL,
    kinds            TEXT NOT NULL,
    handling_hours   INTEGER NOT NULL,
    field_resolvable INTEGER NOT NULL CHECK (field_resolvable IN (0, 1)),
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
) STRICT;

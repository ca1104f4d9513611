-- The household registry and the visit cycle (关爱帮扶), with residents' personal
-- information kept where it can be corrected and erased.
--
-- A household is a synced document (`docs.type = 'household'`); `households` is its
-- projection and `members` one row per person it lists, with the care plan's dates kept
-- current in the same savepoint as whatever moves them (the household, the person's tags,
-- a visit). Personal fields are never in a document: `residents` holds them, one row per
-- person, replaced on correction and blanked on erasure; `resident_tags` their care tags.

CREATE TABLE households (
    doc           INTEGER PRIMARY KEY REFERENCES docs(key),
    number        TEXT NOT NULL,
    address       TEXT NOT NULL,
    interval_days INTEGER,
    created_by    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX households_number ON households(number);

CREATE TABLE members (
    pid               TEXT PRIMARY KEY,
    household         INTEGER NOT NULL REFERENCES docs(key),
    grid              TEXT NOT NULL,
    sector            TEXT,
    relation          TEXT NOT NULL,
    status            TEXT NOT NULL,
    since             INTEGER NOT NULL,
    -- The person's interval, else the household's, as a supervisor set it.
    interval_override INTEGER,
    -- The interval the plan applies (`care::interval_days`), NULL when on no schedule.
    interval_days     INTEGER,
    last_visit_at     INTEGER,
    -- When the next visit is due (`care::due_at`), NULL for a person on no schedule or no
    -- longer living there. Overdue and due soon are derived from it when read.
    due_at            INTEGER
) STRICT;
CREATE INDEX members_household ON members(household);
CREATE INDEX members_due ON members(grid, due_at) WHERE due_at IS NOT NULL;

CREATE TABLE care_tags (
    code          TEXT PRIMARY KEY,
    name_zh       TEXT NOT NULL,
    name_en       TEXT NOT NULL,
    interval_days INTEGER,
    active        INTEGER NOT NULL DEFAULT 1
) STRICT;

CREATE TABLE residents (
    pid        TEXT PRIMARY KEY,
    name       TEXT,
    gender     TEXT,
    birth_year INTEGER,
    phone      TEXT,
    id_number  TEXT,
    -- HMAC-SHA256 of the normalised ID number under the server's key: finds a person and a
    -- duplicate without the number itself.
    id_hash    BLOB,
    updated_at INTEGER NOT NULL,
    updated_by INTEGER,
    erased_at  INTEGER,
    -- Bumped by every change, for the phones' cache validator.
    rev        INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX residents_id_hash ON residents(id_hash) WHERE id_hash IS NOT NULL;
CREATE INDEX residents_name ON residents(name) WHERE name IS NOT NULL;

CREATE TABLE resident_tags (
    pid TEXT NOT NULL REFERENCES residents(pid),
    tag TEXT NOT NULL REFERENCES care_tags(code),
    PRIMARY KEY (pid, tag)
) STRICT, WITHOUT ROWID;
CREATE INDEX resident_tags_tag ON resident_tags(tag);

-- Whom a record (a visit) saw, from its `persons`.
CREATE TABLE record_persons (
    pid TEXT NOT NULL,
    doc INTEGER NOT NULL REFERENCES docs(key),
    PRIMARY KEY (pid, doc)
) STRICT, WITHOUT ROWID;
CREATE INDEX record_persons_doc ON record_persons(doc);

-- The household document a record is about, when it names one.
ALTER TABLE records ADD COLUMN household TEXT;
CREATE INDEX records_household ON records(household, reported_at) WHERE household IS NOT NULL;

-- Every look at personal data in clear, and every erasure and export: who, in which role,
-- whose, which fields, why, when and from where. Never updated or deleted by the server.
CREATE TABLE access_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    user_id   INTEGER NOT NULL REFERENCES users(id),
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    pid       TEXT,
    fields    TEXT NOT NULL,
    reason    TEXT NOT NULL,
    via       TEXT NOT NULL,
    client    TEXT,
    logged_at INTEGER NOT NULL
) STRICT;
CREATE INDEX access_log_at ON access_log(at);
CREATE INDEX access_log_pid ON access_log(pid) WHERE pid IS NOT NULL;

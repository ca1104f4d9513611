-- Changes taken out of a record's log by `haitang records repair`: accepted before the
-- server checked that every push loads back, they left the record's saved state unable to
-- load. They are kept here, never served, so an operator can see what was removed and who
-- sent it; the record itself is rebuilt from the changes that remain.
CREATE TABLE quarantined_changes (
    seq            INTEGER PRIMARY KEY,
    doc            INTEGER NOT NULL REFERENCES docs(key),
    hash           BLOB NOT NULL,
    actor          BLOB NOT NULL,
    user_id        INTEGER,
    bytes          BLOB NOT NULL,
    received_at    INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    quarantined_at INTEGER NOT NULL
) STRICT;

-- Org tree, departments, accounts, sessions and server settings.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

-- One row per unit of the five-level tree, plus sectors inside grids. `path` is the
-- scope prefix every permission check uses; it never changes once made.
CREATE TABLE units (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    parent_id   INTEGER REFERENCES units(id),
    kind        TEXT NOT NULL CHECK (kind IN ('district','street','workstation','community','grid','sector')),
    sector_kind TEXT CHECK (sector_kind IN ('building','lane','courtyard')),
    name        TEXT NOT NULL,
    CHECK ((kind = 'sector') = (sector_kind IS NOT NULL))
) STRICT;
CREATE INDEX units_parent ON units(parent_id);

-- Departments belong to a district or a street; their key is `<unit path>:<code>`.
CREATE TABLE departments (
    id      INTEGER PRIMARY KEY,
    key     TEXT NOT NULL UNIQUE,
    unit_id INTEGER NOT NULL REFERENCES units(id),
    code    TEXT NOT NULL,
    name    TEXT NOT NULL,
    UNIQUE (unit_id, code)
) STRICT;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    unit_id       INTEGER NOT NULL REFERENCES units(id),
    department_id INTEGER REFERENCES departments(id),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL
) STRICT;

-- A session is one login on one device; its refresh tokens form a chain. Revoking the
-- session kills the chain and every access token that names it.
CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_reason TEXT
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);

-- Only the SHA-256 of a refresh token is kept; `used_at` marks a rotated token, so a
-- second presentation is recognised as reuse.
CREATE TABLE refresh_tokens (
    hash       BLOB PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

-- A refresh token presented again within moments of its rotation (two requests racing,
-- or a retry after a lost answer) is given the same successor instead of revoking the
-- session. `successor_hash` names that successor; `successor_sealed` is the successor
-- token XORed with a key derived from the presented token, which only its holder has,
-- so the database alone still reveals no usable token.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash BLOB;
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed BLOB;

-- The `iat` of the access token issued with a session's latest rotation, until the client
-- shows it received that pair by using it; after that, the old refresh token presented
-- again can no longer be a request that crossed the rotation, and counts as reuse.
ALTER TABLE sessions ADD COLUMN rotated_iat INTEGER;

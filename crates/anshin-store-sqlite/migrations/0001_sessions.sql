-- Browser sessions (anshin-store/src/sessions.rs).
-- The cookie token is never stored, only its SHA-256 (token_hash), so a copy
-- of this file cannot be replayed as a cookie. Times are UTC microseconds
-- from the application's clock. STRICT makes SQLite refuse values of the
-- wrong type instead of silently converting them. This table must stay
-- equal to the PostgreSQL one: tests/schema_parity.rs in the PostgreSQL
-- backend compares them.
CREATE TABLE sessions (
    id                  BLOB    NOT NULL PRIMARY KEY, -- UUIDv7, 16 bytes
    token_hash          BLOB    NOT NULL UNIQUE,
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL
) STRICT;

-- The purge deletes by either deadline.
CREATE INDEX sessions_absolute_expires_at ON sessions (absolute_expires_at);
CREATE INDEX sessions_idle_expires_at ON sessions (idle_expires_at);

-- Browser sessions (anshin-store/src/sessions.rs).
-- The cookie token is never stored, only its SHA-256 (token_hash), so a
-- dump cannot be replayed as a cookie. Times are UTC microseconds from the
-- application's clock, not timestamptz, so both backends store the same
-- thing and tests can move time. Must stay equal to the SQLite table:
-- tests/schema_parity.rs compares them.
CREATE TABLE sessions (
    id                  UUID   NOT NULL PRIMARY KEY, -- UUIDv7
    token_hash          BYTEA  NOT NULL UNIQUE,
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL
);

-- The purge deletes by either deadline.
CREATE INDEX sessions_absolute_expires_at ON sessions (absolute_expires_at);
CREATE INDEX sessions_idle_expires_at ON sessions (idle_expires_at);

-- Members, e-mail code flows, login history, known devices, the mail
-- outbox and the key check. Mirrors the PostgreSQL migration of the same
-- name (compared by anshin-store-postgres/tests/schema_parity.rs).

-- A member. No password column value unless the member chose one (C12):
-- password_hash is NULL for password-less members, and choosing
-- password-less sets it back to NULL at once.
CREATE TABLE members (
    id                  BLOB    NOT NULL PRIMARY KEY, -- UUIDv7
    email               TEXT    NOT NULL UNIQUE,      -- normalised (lower-case)
    display_name        TEXT    NOT NULL,
    language            TEXT    NOT NULL,             -- 'ja' | 'en'
    password_hash       TEXT,                         -- Argon2id PHC string
    password_changed_at INTEGER,
    created_at          INTEGER NOT NULL
) STRICT;

-- One e-mail code request (C11). The code itself is never stored: only
-- HMAC-SHA-256(code key, flow id || code). failed_attempts is inherited by
-- the next flow for the same address while this one lives, so asking for
-- a new code does not reset it.
CREATE TABLE login_flows (
    id              BLOB    NOT NULL PRIMARY KEY,     -- UUIDv7, the flow_id
    purpose         TEXT    NOT NULL,                 -- 'signup' | 'login' | 'reauth'
    email           TEXT    NOT NULL,
    member_id       BLOB    REFERENCES members (id) ON DELETE CASCADE,
    display_name    TEXT,                             -- sign-up only
    language        TEXT    NOT NULL,
    code_hash       BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    consumed_at     INTEGER                           -- used or superseded
) STRICT;
CREATE INDEX login_flows_email_created_at ON login_flows (email, created_at);

-- What a member sees on the login history page (C10).
CREATE TABLE login_events (
    id         BLOB    NOT NULL PRIMARY KEY,
    member_id  BLOB    NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    ip         TEXT    NOT NULL,
    device     TEXT    NOT NULL,                      -- readable summary
    method     TEXT    NOT NULL,                      -- 'code' | 'password' | 'signup'
    outcome    TEXT    NOT NULL                       -- 'success' | 'failure' | ...
) STRICT;
CREATE INDEX login_events_member_at ON login_events (member_id, at);

-- Browsers a member has logged in from (the login mail says whether this
-- one was seen before). Only the hash of the device cookie is stored.
CREATE TABLE known_devices (
    member_id   BLOB    NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    device_hash BLOB    NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (member_id, device_hash)
) STRICT;

-- Sessions learn who they belong to. NULL member: a visitor's session
-- (it holds only the CSRF token's seed).
ALTER TABLE sessions ADD COLUMN member_id BLOB REFERENCES members (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER;
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN device TEXT;
ALTER TABLE sessions ADD COLUMN method TEXT;
CREATE INDEX sessions_member_id ON sessions (member_id);

-- Mail is written here in the same transaction as the event that causes
-- it; the delivery worker sends it. payload is the rendered message,
-- encrypted (it may hold a one-time code) and wiped once sent.
CREATE TABLE mail_outbox (
    id              BLOB    NOT NULL PRIMARY KEY,     -- UUIDv7, also the Message-ID
    kind            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    payload         BLOB,
    status          TEXT    NOT NULL,                 -- 'pending' | 'sent' | 'failed'
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    sent_at         INTEGER,
    last_error      TEXT
) STRICT;
CREATE INDEX mail_outbox_status_next ON mail_outbox (status, next_attempt_at);

-- Proof that every instance uses the same key ring as the data: an HMAC of
-- a constant under the ring's key. A mismatch stops the start.
CREATE TABLE key_check (
    id    INTEGER NOT NULL PRIMARY KEY,
    value BLOB    NOT NULL
) STRICT;

-- Staff accounts and staff sessions (issue 14; C21, C27). One account per
-- person, never shared; disabled, never deleted, when someone leaves (the
-- audit log will name these ids for good). Mirrors the SQLite
-- migration of the same name (compared by
-- anshin-store-postgres/tests/schema_parity.rs).
--
-- email: the person's work address, normalised (lower-case); how they log
-- in. role: one of admin, security, support, finance, shipping_worker,
-- shipping_manager (anshin_domain::StaffRole). status: active or disabled.
-- totp_secret: the RFC 6238 secret, AES-256-GCM under the staff key
-- derived from the key ring, with this table, column and the staff id as
-- associated data; NULL until enrolled. totp_last_step: the last time
-- step a code was accepted for, so a code works once (RFC 6238 §5.2).
-- enrol_token_hash / enrol_expires_at: SHA-256 of the one-time enrolment
-- link's token, and until when it works; NULL once used.
CREATE TABLE staff_accounts (
    id               UUID    NOT NULL PRIMARY KEY, -- UUIDv7
    email            TEXT    NOT NULL UNIQUE,
    role             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    totp_secret      BYTEA,
    totp_last_step   BIGINT,
    enrol_token_hash BYTEA   UNIQUE,
    enrol_expires_at BIGINT
);

-- Staff sessions: apart from members' sessions, on the staff listener
-- only, with their own cookie. Only the SHA-256 of the cookie token is
-- stored. second_factor_at: the last time the person proved the second
-- factor (login or step-up); acts that change data or reveal personal
-- data need it recent (staff.step_up_secs).
CREATE TABLE staff_sessions (
    id                  UUID    NOT NULL PRIMARY KEY,
    token_hash          BYTEA   NOT NULL UNIQUE,
    staff_id            UUID    NOT NULL REFERENCES staff_accounts (id) ON DELETE CASCADE,
    created_at          BIGINT  NOT NULL,
    last_seen_at        BIGINT  NOT NULL,
    absolute_expires_at BIGINT  NOT NULL,
    idle_expires_at     BIGINT  NOT NULL,
    second_factor_at    BIGINT  NOT NULL,
    ip                  TEXT    NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
CREATE INDEX staff_sessions_idle_expires_at ON staff_sessions (idle_expires_at);

-- Staff passkeys (issue 14; C21): WebAuthn credentials of staff accounts,
-- and the state of WebAuthn ceremonies under way. Mirrors the SQLite
-- migration of the same name (compared by
-- anshin-store-postgres/tests/schema_parity.rs).
--
-- staff_passkeys: one row per credential. credential_id: the
-- authenticator's credential id (unique across all accounts: a credential
-- belongs to one person). passkey: webauthn-rs's `Passkey` as JSON (the
-- public key, the signature counter, the backup state; nothing secret).
-- name: the person's label for it. last_used_at: NULL until a login.
CREATE TABLE staff_passkeys (
    id            UUID    NOT NULL PRIMARY KEY, -- UUIDv7
    staff_id      UUID    NOT NULL REFERENCES staff_accounts (id) ON DELETE CASCADE,
    credential_id BYTEA   NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    passkey       TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX staff_passkeys_staff ON staff_passkeys (staff_id);

-- A WebAuthn ceremony under way (registration or login): the app servers
-- keep no state, so the challenge and its options live here until the
-- browser answers. id_hash: SHA-256 of the ceremony token the page holds.
-- kind: register, login or step_up. staff_id: the account registering or
-- stepping up (NULL for a login, which learns the account from the
-- credential). state:
-- webauthn-rs's ceremony state as JSON. A ceremony is used once (the
-- write that finishes it deletes the row, guarded) and works until
-- expires_at; the purge job removes the rest.
CREATE TABLE staff_webauthn_ceremonies (
    id_hash    BYTEA   NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    staff_id   UUID    REFERENCES staff_accounts (id) ON DELETE CASCADE,
    state      TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX staff_webauthn_ceremonies_expires_at ON staff_webauthn_ceremonies (expires_at);

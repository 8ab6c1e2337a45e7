-- Login limits and lockout (C8). One row per counter key:
--   acct:<normalised e-mail>  consecutive failures of an account (password
--                             and code together), with its lock;
--   ip:<addr>, net:<prefix>   failures from an address or network in the
--                             current window;
--   global                    failures site-wide in the current window.
-- Keys for unknown addresses behave exactly like real ones, so limits
-- reveal nothing about which accounts exist.
CREATE TABLE auth_counters (
    key          TEXT    NOT NULL PRIMARY KEY,
    count        INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
) STRICT;

-- Links mailed to the owner of a locked account: they let the owner in
-- with a fresh code while the lock holds against everyone else. Only the
-- token's SHA-256 is stored.
CREATE TABLE unlock_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    email      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

-- Solved bot challenges (C7, anshin-store/src/challenges.rs). Each
-- proof-of-work solution is accepted once: the app inserts the SHA-256 of
-- the challenge text with ON CONFLICT DO NOTHING, and only the insert that
-- adds a row accepts it, so two instances cannot both take the same
-- solution. Rows are kept until the challenge expires (UTC microseconds,
-- app clock) and then purged: an expired challenge is refused anyway.
-- Mirrors the SQLite migration of the same number
-- (tests/schema_parity.rs compares them).
CREATE TABLE used_challenges (
    challenge_hash BYTEA  NOT NULL PRIMARY KEY,
    expires_at     BIGINT NOT NULL
);

-- The purge deletes by expiry.
CREATE INDEX used_challenges_expires_at ON used_challenges (expires_at);

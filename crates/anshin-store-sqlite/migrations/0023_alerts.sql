-- Security alerts evaluated inside anshin (issue 17; C29, ADR 0018).
-- Mirrors the PostgreSQL migration of the same name (compared by
-- anshin-store-postgres/tests/postgres/schema_parity.rs).
--
-- One row per time an alert went on: which rule (`failed_logins`,
-- `job_failing`, …), what it is about (`subject`: a job's name, or ''
-- for a site-wide rule; never personal data), the value and threshold
-- that fired it, and when it cleared (NULL while it stays on).
CREATE TABLE alerts (
    id          BLOB    NOT NULL PRIMARY KEY, -- UUIDv7
    rule        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    fired_at    INTEGER NOT NULL,
    value       INTEGER NOT NULL,
    threshold   INTEGER NOT NULL,
    resolved_at INTEGER
) STRICT;
-- At most one live alert per rule and subject: of several instances (or
-- a run repeated after a lost lease) firing the same alert, one insert
-- wins and the others' bundles (their mails, their audit entries) fail
-- whole. This is what suppresses duplicates.
CREATE UNIQUE INDEX alerts_one_live ON alerts (rule, subject) WHERE resolved_at IS NULL;
CREATE INDEX alerts_fired_at ON alerts (fired_at);

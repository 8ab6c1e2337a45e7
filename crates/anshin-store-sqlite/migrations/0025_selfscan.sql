-- The weekly self-scan's kept reports (issue 17; C30, ADR 0019).
-- Mirrors the PostgreSQL migration of the same name (compared by
-- anshin-store-postgres/tests/postgres/schema_parity.rs).
--
-- One row per run: when, how many findings, and the report as JSON and as
-- the text the security team was mailed. Crate names, versions, advisory
-- ids and setting names only: no personal data.
CREATE TABLE selfscan_reports (
    id          BLOB    NOT NULL PRIMARY KEY, -- UUIDv7
    ran_at      INTEGER NOT NULL,
    findings    INTEGER NOT NULL,
    report_json TEXT    NOT NULL,
    report_text TEXT    NOT NULL
) STRICT;
CREATE INDEX selfscan_reports_ran_at ON selfscan_reports (ran_at);

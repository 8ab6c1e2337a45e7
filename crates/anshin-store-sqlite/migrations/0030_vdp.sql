-- Vulnerability reports sent through /security (issue 18; C5). Mirrors
-- the PostgreSQL migration of the same name (compared by schema_parity.rs).
--
-- A report is sealed under a data key of its own (wrapped by the key ring,
-- bound to the report's id), as payout snapshots are (ADR 0020): the
-- reporter's address and the text are in `sealed` (AES-256-GCM, with
-- (vdp_reports, sealed, id) as associated data); the tracking id, the
-- status, the language and the times are not personal and stay clear.
CREATE TABLE vdp_reports (
    id           BLOB    NOT NULL PRIMARY KEY,                 -- UUIDv7
    tracking     TEXT    NOT NULL UNIQUE,
    status       TEXT    NOT NULL CHECK (status IN ('new', 'confirmed', 'fixed', 'rejected')),
    lang         TEXT    NOT NULL CHECK (lang IN ('ja', 'en')),
    received_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    kek_version  INTEGER NOT NULL,
    wrapped_key  BLOB    NOT NULL,
    sealed       BLOB    NOT NULL
) STRICT;
CREATE INDEX vdp_reports_received_at ON vdp_reports (received_at);
CREATE INDEX vdp_reports_kek_version ON vdp_reports (kek_version);

-- The security team's triage notes, sealed under the report's key with
-- (vdp_notes, text, note id) as associated data. staff_id: who wrote it.
CREATE TABLE vdp_notes (
    id          BLOB    NOT NULL PRIMARY KEY,                  -- UUIDv7
    report_id   BLOB    NOT NULL REFERENCES vdp_reports (id),
    staff_id    BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    sealed      BLOB    NOT NULL
) STRICT;
CREATE INDEX vdp_notes_report ON vdp_notes (report_id, created_at);

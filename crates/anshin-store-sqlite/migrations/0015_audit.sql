-- The tamper-evident audit log (C22, C26; issue 14). Mirrors the
-- PostgreSQL migration of the same name (compared by
-- anshin-store-postgres/tests/schema_parity.rs).
--
-- An entry is a leaf of an RFC 6962 Merkle tree (ADR 0010). Its index is
-- gap-free: it is taken from the one-row head below inside the writing
-- transaction (`UPDATE audit_head SET size = size + 1 … RETURNING`), so
-- writers queue on that row and a rolled-back act leaves no hole. The head
-- also keeps the tree's right edge (the roots of its perfect subtrees,
-- largest first, 32 bytes each) so that every entry row records the tree
-- head after it (`root`): `anshin audit verify` names the first index
-- whose recomputed head differs. Who, what and which record are
-- pseudonymous ids; the details sit in audit_details, and the entry holds
-- only their keyed hash (details_mac), so a retention purge can delete a
-- details row while the chain still verifies.
CREATE TABLE audit_head (
    id        INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    size      INTEGER NOT NULL CHECK (size >= 0),
    frontier  BLOB    NOT NULL
) STRICT;
INSERT INTO audit_head (id, size, frontier) VALUES (1, 0, X'');

CREATE TABLE audit_entries (
    idx          INTEGER NOT NULL PRIMARY KEY CHECK (idx >= 0),
    at           INTEGER NOT NULL,
    actor_kind   TEXT    NOT NULL,
    actor_id     TEXT,
    action       TEXT    NOT NULL,
    target_kind  TEXT,
    target_id    TEXT,
    origin       TEXT,
    reason       TEXT    NOT NULL,
    details_mac  BLOB    NOT NULL CHECK (length(details_mac) = 32),
    root         BLOB    NOT NULL CHECK (length(root) = 32)
) STRICT;
CREATE INDEX audit_entries_at ON audit_entries (at);

-- The details of an entry (JSON text, may name personal data): deleted by
-- the retention purge, never changed.
CREATE TABLE audit_details (
    idx      INTEGER NOT NULL PRIMARY KEY,
    details  TEXT    NOT NULL
) STRICT;

-- Signed checkpoints (C2SP signed notes) as the checkpoint job made them;
-- the same notes go to the witness directory and the security mailbox.
CREATE TABLE audit_checkpoints (
    size     INTEGER NOT NULL PRIMARY KEY CHECK (size >= 0),
    root     BLOB    NOT NULL CHECK (length(root) = 32),
    at       INTEGER NOT NULL,
    note     TEXT    NOT NULL
) STRICT;

-- Append-only: entries and checkpoints are never changed or removed;
-- details are removed (purge) but never changed; the head is never removed.
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_details_no_update BEFORE UPDATE ON audit_details
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

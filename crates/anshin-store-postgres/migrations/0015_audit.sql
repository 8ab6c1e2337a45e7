-- The tamper-evident audit log (C22, C26; issue 14). Mirrors the SQLite
-- migration of the same name; see there for the design (ADR 0010).
-- On PostgreSQL the `UPDATE audit_head … RETURNING` that assigns an index
-- takes the head row's lock until the commit, so concurrent writers (and
-- several app instances) append one after the other, gap-free.
CREATE TABLE audit_head (
    id        BIGINT  NOT NULL PRIMARY KEY CHECK (id = 1),
    size      BIGINT  NOT NULL CHECK (size >= 0),
    frontier  BYTEA   NOT NULL
);
INSERT INTO audit_head (id, size, frontier) VALUES (1, 0, '\x'::bytea);

CREATE TABLE audit_entries (
    idx          BIGINT  NOT NULL PRIMARY KEY CHECK (idx >= 0),
    at           BIGINT  NOT NULL,
    actor_kind   TEXT    NOT NULL,
    actor_id     TEXT,
    action       TEXT    NOT NULL,
    target_kind  TEXT,
    target_id    TEXT,
    origin       TEXT,
    reason       TEXT    NOT NULL,
    details_mac  BYTEA   NOT NULL CHECK (length(details_mac) = 32),
    root         BYTEA   NOT NULL CHECK (length(root) = 32)
);
CREATE INDEX audit_entries_at ON audit_entries (at);

CREATE TABLE audit_details (
    idx      BIGINT  NOT NULL PRIMARY KEY,
    details  TEXT    NOT NULL
);

CREATE TABLE audit_checkpoints (
    size     BIGINT  NOT NULL PRIMARY KEY CHECK (size >= 0),
    root     BYTEA   NOT NULL CHECK (length(root) = 32),
    at       BIGINT  NOT NULL,
    note     TEXT    NOT NULL
);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_details_no_update BEFORE UPDATE ON audit_details
FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints
FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- KEK versions as the database sees them (C13, ADR 0006), so that
-- `anshin keys retire` and a server storing a new member's data key
-- cannot both succeed for the same version. Mirrors the
-- SQLite migration of the same number
-- (tests/schema_parity.rs compares them).
--
-- A row appears when the first data key is wrapped under a version, or
-- when the version is retired, and is never deleted: retired_at set means
-- the KEK was destroyed and no member_keys row may name it again (a
-- server that loaded the ring before a rotation still wraps under the old
-- version). Both writers lock the version's row first, in the same
-- transaction as their member_keys insert or count:
--   storing a key:  upsert last_wrapped_at ... WHERE retired_at IS NULL
--                   (no row changed = retired: refuse), then insert;
--   retiring:       upsert retired_at, then count member_keys under the
--                   version (any = roll back and refuse).
-- The row lock orders them: whichever commits first, the other sees it.
-- Timestamps are UTC microseconds from the app clock.
CREATE TABLE kek_versions (
    kek_version     BIGINT NOT NULL PRIMARY KEY,
    last_wrapped_at BIGINT,
    retired_at      BIGINT
);

-- At most one live code flow per address and purpose (C11). Mirrors the
-- SQLite migration of the same number (tests/postgres/schema_parity.rs in the
-- PostgreSQL backend compares them).
--
-- Starting a flow supersedes the live ones for the address and passes
-- their attempt count on, so that asking for a new code does not reset
-- the count. On PostgreSQL two code requests at once could both miss each
-- other's uncommitted flow and leave two live flows, each with the full
-- attempt budget: parallel requests multiplied the guesses. With this
-- index the second insert waits for the first to commit and then finds
-- it; start_flow supersedes it (inheriting its count) and inserts again.
--
-- Older duplicates are superseded first (the newest live flow stays),
-- else the index could not be built.
UPDATE login_flows SET consumed_at = created_at
WHERE consumed_at IS NULL AND EXISTS (
    SELECT 1 FROM login_flows newer
    WHERE newer.email = login_flows.email
      AND newer.purpose = login_flows.purpose
      AND newer.consumed_at IS NULL
      AND (newer.created_at > login_flows.created_at
           OR (newer.created_at = login_flows.created_at AND newer.id > login_flows.id))
);
CREATE UNIQUE INDEX login_flows_one_live ON login_flows (email, purpose) WHERE consumed_at IS NULL;

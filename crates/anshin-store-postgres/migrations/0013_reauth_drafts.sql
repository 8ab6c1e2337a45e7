-- A form a member typed, kept while they confirm who they are (issue 12):
-- a change that needs a recent login (the payout bank account) asks for a
-- code; what was typed waits here and comes back in the form afterwards,
-- so nothing travels in a URL or a cookie. Mirrors the SQLite
-- migration of the same name (compared by
-- anshin-store-postgres/tests/schema_parity.rs).
--
-- draft: the form as JSON, AES-256-GCM under the member's data key with
-- this table, column and the session id as associated data, so it opens
-- only for the session that kept it. One draft per session and kind; it
-- goes with the session (logout, end, purge) and with the member's key
-- (shredding), and is ignored once expires_at passes (minutes), then
-- deleted by the session purge.
CREATE TABLE reauth_drafts (
    session_id  UUID    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    member_id   UUID    NOT NULL REFERENCES member_keys (member_id) ON DELETE CASCADE,
    draft       BYTEA   NOT NULL,
    expires_at  BIGINT  NOT NULL,
    PRIMARY KEY (session_id, kind)
);
CREATE INDEX reauth_drafts_expires_at ON reauth_drafts (expires_at);
CREATE INDEX reauth_drafts_member ON reauth_drafts (member_id);

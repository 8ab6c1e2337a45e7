-- Changing a member's e-mail address (issue 12). Mirrors the SQLite
-- migration of the same number (tests/postgres/schema_parity.rs compares
-- them).
--
-- An e-mail change is a code flow (purpose 'email_change') whose code goes
-- to the NEW address. Only the session that asked may finish it, so the
-- flow remembers that session: a code read from the new mailbox cannot be
-- entered from another browser of the member (or a stolen session of
-- theirs). No foreign key: an ended session is deleted, and its flow then
-- simply cannot be finished by anyone. NULL for flows that log in.
ALTER TABLE login_flows ADD COLUMN session_id UUID;

-- A member may ask for only so many e-mail changes in the code-request
-- window, whatever addresses they name (count_member_flows_since), so one
-- account cannot make the site mail codes to address after address.
CREATE INDEX login_flows_member_purpose_created_at ON login_flows (member_id, purpose, created_at);

-- Log retention (C26) and the console's audit log search (C22; issue
-- 14). Mirrors the PostgreSQL migration of the same name (compared by
-- anshin-store-postgres/tests/schema_parity.rs).
--
-- The retention job deletes login history by age across all members
-- (login_events_at); the security role's view of the audit log filters
-- entries by the person who acted or the record they were about, newest
-- first (audit_entries_actor, audit_entries_target).
CREATE INDEX login_events_at ON login_events (at);
CREATE INDEX audit_entries_actor ON audit_entries (actor_id, idx);
CREATE INDEX audit_entries_target ON audit_entries (target_id, idx);

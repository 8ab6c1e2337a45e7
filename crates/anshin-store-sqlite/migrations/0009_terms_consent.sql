-- Consent to the terms of use at sign-up. Mirrors the PostgreSQL
-- migration of the same name (tests/postgres/schema_parity.rs in the
-- PostgreSQL backend compares them).
--
-- A member records the version of the terms they accepted and when; a
-- later acceptance of new terms replaces both. Members who signed up
-- before this migration have neither (NULL): the terms page asks them.
-- The sign-up's code flow carries the version accepted on the form until
-- the code creates the member.
ALTER TABLE members ADD COLUMN terms_version TEXT;
ALTER TABLE members ADD COLUMN terms_accepted_at INTEGER;
ALTER TABLE login_flows ADD COLUMN terms_version TEXT;

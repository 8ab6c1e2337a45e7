-- Alert signals every instance shares (issue 17; C29, ADR 0018).
-- Mirrors the PostgreSQL migration of the same name (compared by
-- anshin-store-postgres/tests/postgres/schema_parity.rs).
--
-- What each instance counted of the events the alert rules count
-- (failed member logins, account locks, WAF refusals, 5xx answers, job
-- failures), added in 10-second buckets by that instance's flush: the
-- alert job, on whichever instance holds its lease, sums the buckets of
-- a rule's window, so it sees the events of every instance. `signal` is a
-- name from the code's closed set (`failed_logins`, `job:<job name>`);
-- never personal data. Rows older than the longest window are purged.
CREATE TABLE alert_tallies (
    bucket INTEGER NOT NULL, -- start of the 10-second bucket (µs)
    signal TEXT    NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (bucket, signal)
) STRICT;

-- The networks each staff member signed in to the console from (an IPv4
-- /24 or an IPv6 /48), as keyed hashes (the key ring's blind-index key,
-- domain `staff-network`): the database says whether a network is new
-- for a staff member, not which network it is. `novel` is 1 when other
-- networks of the same member were known at its first sight (the very
-- first network of an account is its baseline, not news): what the
-- `staff_new_network` alert counts over its window.
CREATE TABLE staff_networks (
    staff_id      BLOB    NOT NULL REFERENCES staff_accounts (id) ON DELETE CASCADE,
    network_hash  BLOB    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    novel         INTEGER NOT NULL,
    PRIMARY KEY (staff_id, network_hash)
) STRICT;
CREATE INDEX staff_networks_first_seen ON staff_networks (first_seen_at);

-- Deliveries of the alert webhook (`alerts.webhook_url`): one row per
-- alert and event (`fired`, `resolved`), queued in the bundle that puts
-- the alert on or clears it, so a delivery exists exactly when the alert
-- changed. The body holds only the rule, the subject, numbers and the
-- time; it is signed at each attempt (with that attempt's time). A failed
-- attempt is tried again after a growing delay (`next_attempt_at`);
-- NULL once delivered or given up. Claimed by moving `next_attempt_at`
-- past the attempt, in one statement, so two instances never send the
-- same delivery at once.
CREATE TABLE alert_webhooks (
    alert_id        BLOB    NOT NULL REFERENCES alerts (id),
    event           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    delivered_at    INTEGER,
    last_error      TEXT,
    PRIMARY KEY (alert_id, event)
) STRICT;
CREATE INDEX alert_webhooks_due ON alert_webhooks (next_attempt_at);

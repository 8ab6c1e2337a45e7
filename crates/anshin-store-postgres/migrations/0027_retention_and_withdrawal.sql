-- Retention of shipping history (issue 16, C17) and withdrawal (C18);
-- ADR 0021. Mirrors the
-- SQLite migration of the same name (compared by schema_parity.rs).
--
-- delivered_at: when the parcel was delivered (the 'delivered' parcel
-- event's time, kept here because the purge deletes the events);
-- purged_at: when the retention purge destroyed the shipment's key, its
-- label (both addresses), drop-off codes, parcel events, the order's
-- address snapshot and the audit details about it, one calendar month
-- (JST) after delivered_at. The row itself keeps only pseudonymous ids,
-- the status and these times.
ALTER TABLE shipments ADD COLUMN delivered_at BIGINT;
ALTER TABLE shipments ADD COLUMN purged_at BIGINT;
UPDATE shipments SET delivered_at = (
    SELECT MAX(e.at) FROM parcel_events e
    WHERE e.shipment_id = shipments.id AND e.kind = 'delivered'
) WHERE status = 'delivered';
CREATE INDEX shipments_to_purge ON shipments (delivered_at, id)
    WHERE purged_at IS NULL AND delivered_at IS NOT NULL;

-- The purge deletes the details of the audit entries about a record or
-- by a member: migration 0019's audit_entries_target and
-- audit_entries_actor indexes (target_id / actor_id first) serve it.

-- Withdrawal (C18): when the member left. Their e-mail address and name
-- are replaced by a tombstone (the address is free again), their data key
-- and personal rows deleted; the row stays for the orders and ledger
-- postings that name its id.
ALTER TABLE members ADD COLUMN withdrawn_at BIGINT;

-- Retention of payout history (issue 16, C16); ADR 0021 (its addendum). Mirrors the
-- PostgreSQL migration of the same name (compared by schema_parity.rs).
--
-- purged_at: when the retention purge destroyed the payout's key (so its
-- sealed bank snapshot, payout_banks, goes with it), cleared the bank's
-- result code and deleted the details of the audit entries about the
-- payout, one calendar month (JST) after completed_at. The row keeps
-- only what the ledger needs: pseudonymous ids, the status, the amounts
-- and the times.
ALTER TABLE payouts ADD COLUMN purged_at INTEGER;
CREATE INDEX payouts_to_purge ON payouts (completed_at, id)
    WHERE purged_at IS NULL AND completed_at IS NOT NULL;

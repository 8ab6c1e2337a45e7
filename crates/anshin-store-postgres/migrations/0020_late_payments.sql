-- A payment that arrives for an order already cancelled (issue 13): the
-- processor took the money and anshin gives it back at once; the ledger
-- shows both (`late_payment`: the clearing account debited, the new
-- liability `refunds_payable` credited, money owed to the buyer;
-- `late_refund`: the reverse). Mirrors the SQLite migration of the same
-- name (which rebuilds its tables; here the CHECKs are replaced).
ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
    CHECK (kind IN ('payment', 'refund', 'late_payment', 'late_refund'));
ALTER TABLE ledger_postings DROP CONSTRAINT ledger_postings_account_check;
ALTER TABLE ledger_postings ADD CONSTRAINT ledger_postings_account_check
    CHECK (account IN ('processor_clearing', 'seller_payable', 'platform_fee_revenue',
                       'refunds_payable'));

-- Creator payouts (issue 16, C16; ADR 0020). Mirrors the SQLite migration
-- of the same name (which rebuilds its ledger tables; here the CHECKs are
-- replaced).
ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
    CHECK (kind IN ('payment', 'refund', 'late_payment', 'late_refund', 'payout_hold',
                    'payout_paid', 'payout_void'));
ALTER TABLE ledger_postings DROP CONSTRAINT ledger_postings_account_check;
ALTER TABLE ledger_postings ADD CONSTRAINT ledger_postings_account_check
    CHECK (account IN ('processor_clearing', 'seller_payable', 'platform_fee_revenue',
                       'refunds_payable', 'payouts_pending', 'payout_fee_revenue'));

-- A batch: the payouts one Zengin transfer file carries. created_by: the
-- staff member who built it (NULL: the shell, `anshin payouts batch`).
-- transfer_date: the 振込指定日 the file asks for (YYYY-MM-DD, Tokyo).
CREATE TABLE payout_batches (
    id             UUID    NOT NULL PRIMARY KEY,                     -- UUIDv7
    created_by     UUID,
    created_at     BIGINT  NOT NULL,
    transfer_date  TEXT    NOT NULL,
    items          BIGINT  NOT NULL CHECK (items > 0),
    total_yen      BIGINT  NOT NULL CHECK (total_yen > 0),
    exported_at    BIGINT
);

-- A creator's payout. amount_yen: what left their balance (held in the
-- ledger); fee_yen: the transfer fee kept of it; the bank sends the rest.
-- The id is made by the member's page before the request, so a retry is
-- the same row (the primary key refuses a second). batch_line: the line
-- of the transfer file (顧客コード1), which the bank's result names.
-- completed_at: when it was paid or failed (retention counts from it).
CREATE TABLE payouts (
    id            UUID    NOT NULL PRIMARY KEY,                      -- UUIDv7
    shop_id       UUID    NOT NULL REFERENCES shops (id),
    member_id     UUID    NOT NULL REFERENCES members (id),
    status        TEXT    NOT NULL CHECK (status IN ('requested', 'batched', 'paid', 'failed')),
    amount_yen    BIGINT  NOT NULL CHECK (amount_yen > 0),
    fee_yen       BIGINT  NOT NULL CHECK (fee_yen >= 0 AND fee_yen < amount_yen),
    batch_id      UUID    REFERENCES payout_batches (id),
    batch_line    BIGINT  CHECK (batch_line > 0),
    failure_code  TEXT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    completed_at  BIGINT ,
    CHECK ((status IN ('paid', 'failed')) = (completed_at IS NOT NULL)),
    CHECK ((status = 'requested') = (batch_id IS NULL)),
    CHECK ((batch_id IS NULL) = (batch_line IS NULL)),
    UNIQUE (batch_id, batch_line)
);
CREATE INDEX payouts_shop ON payouts (shop_id, created_at);
CREATE INDEX payouts_status ON payouts (status, created_at);
CREATE INDEX payouts_completed ON payouts (completed_at);

-- The payout's data key, wrapped by the key ring (associated data binds
-- it to the payout). Deleting this row is the purge of the bank snapshot:
-- the snapshot row goes with it, and any copy of its ciphertext (a dead
-- tuple, a backup) is unreadable.
CREATE TABLE payout_keys (
    payout_id    UUID    NOT NULL PRIMARY KEY REFERENCES payouts (id),
    wrapped_key  BYTEA   NOT NULL,
    kek_version  BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX payout_keys_kek_version ON payout_keys (kek_version);

-- The bank account as it was at the request, sealed under the payout's
-- key with (payout_banks, account, payout id) as associated data.
CREATE TABLE payout_banks (
    payout_id  UUID    NOT NULL PRIMARY KEY REFERENCES payout_keys (payout_id) ON DELETE CASCADE,
    account    BYTEA   NOT NULL
);

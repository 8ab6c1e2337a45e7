-- Creator payouts (issue 16, C16; ADR 0020). Mirrors the PostgreSQL
-- migration of the same name (compared by schema_parity.rs).
--
-- The ledger learns three kinds (payout_hold, payout_paid, payout_void)
-- and two accounts (payouts_pending, payout_fee_revenue). SQLite cannot
-- widen a CHECK in place, so both ledger tables are built anew with the
-- wider lists and the rows copied, as migration 0020 did (the
-- append-only triggers fire on UPDATE and DELETE, never on a copy or a
-- DROP).
CREATE TABLE ledger_transactions_0026 (
    id          BLOB    NOT NULL PRIMARY KEY,                       -- UUIDv7
    key         TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('payment', 'refund', 'late_payment',
                          'late_refund', 'payout_hold', 'payout_paid', 'payout_void')),
    order_id    BLOB    REFERENCES orders (id),
    created_at  INTEGER NOT NULL
) STRICT;
INSERT INTO ledger_transactions_0026 (id, key, kind, order_id, created_at)
    SELECT id, key, kind, order_id, created_at FROM ledger_transactions;

CREATE TABLE ledger_postings_0026 (
    tx_id       BLOB    NOT NULL REFERENCES ledger_transactions_0026 (id),
    line        INTEGER NOT NULL,
    account     TEXT    NOT NULL CHECK (account IN ('processor_clearing', 'seller_payable',
                          'platform_fee_revenue', 'refunds_payable', 'payouts_pending',
                          'payout_fee_revenue')),
    shop_id     BLOB    REFERENCES shops (id),
    amount_yen  INTEGER NOT NULL CHECK (amount_yen <> 0),
    PRIMARY KEY (tx_id, line),
    CHECK ((account = 'seller_payable') = (shop_id IS NOT NULL))
) STRICT;
INSERT INTO ledger_postings_0026 (tx_id, line, account, shop_id, amount_yen)
    SELECT tx_id, line, account, shop_id, amount_yen FROM ledger_postings;

DROP TABLE ledger_postings;
DROP TABLE ledger_transactions;
ALTER TABLE ledger_transactions_0026 RENAME TO ledger_transactions;
ALTER TABLE ledger_postings_0026 RENAME TO ledger_postings;
CREATE INDEX ledger_transactions_order ON ledger_transactions (order_id);
CREATE INDEX ledger_postings_account_shop ON ledger_postings (account, shop_id);

CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;

-- A batch: the payouts one Zengin transfer file carries. created_by: the
-- staff member who built it (NULL: the shell, `anshin payouts batch`).
-- transfer_date: the 振込指定日 the file asks for (YYYY-MM-DD, Tokyo).
CREATE TABLE payout_batches (
    id             BLOB    NOT NULL PRIMARY KEY,                     -- UUIDv7
    created_by     BLOB,
    created_at     INTEGER NOT NULL,
    transfer_date  TEXT    NOT NULL,
    items          INTEGER NOT NULL CHECK (items > 0),
    total_yen      INTEGER NOT NULL CHECK (total_yen > 0),
    exported_at    INTEGER
) STRICT;

-- A creator's payout. amount_yen: what left their balance (held in the
-- ledger); fee_yen: the transfer fee kept of it; the bank sends the rest.
-- The id is made by the member's page before the request, so a retry is
-- the same row (the primary key refuses a second). batch_line: the line
-- of the transfer file (顧客コード1), which the bank's result names.
-- completed_at: when it was paid or failed (retention counts from it).
CREATE TABLE payouts (
    id            BLOB    NOT NULL PRIMARY KEY,                      -- UUIDv7
    shop_id       BLOB    NOT NULL REFERENCES shops (id),
    member_id     BLOB    NOT NULL REFERENCES members (id),
    status        TEXT    NOT NULL CHECK (status IN ('requested', 'batched', 'paid', 'failed')),
    amount_yen    INTEGER NOT NULL CHECK (amount_yen > 0),
    fee_yen       INTEGER NOT NULL CHECK (fee_yen >= 0 AND fee_yen < amount_yen),
    batch_id      BLOB    REFERENCES payout_batches (id),
    batch_line    INTEGER CHECK (batch_line > 0),
    failure_code  TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    completed_at  INTEGER,
    CHECK ((status IN ('paid', 'failed')) = (completed_at IS NOT NULL)),
    CHECK ((status = 'requested') = (batch_id IS NULL)),
    CHECK ((batch_id IS NULL) = (batch_line IS NULL)),
    UNIQUE (batch_id, batch_line)
) STRICT;
CREATE INDEX payouts_shop ON payouts (shop_id, created_at);
CREATE INDEX payouts_status ON payouts (status, created_at);
CREATE INDEX payouts_completed ON payouts (completed_at);

-- The payout's data key, wrapped by the key ring (associated data binds
-- it to the payout). Deleting this row is the purge of the bank snapshot:
-- the snapshot row goes with it, and any copy of its ciphertext (a dead
-- tuple, a backup) is unreadable.
CREATE TABLE payout_keys (
    payout_id    BLOB    NOT NULL PRIMARY KEY REFERENCES payouts (id),
    wrapped_key  BLOB    NOT NULL,
    kek_version  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX payout_keys_kek_version ON payout_keys (kek_version);

-- The bank account as it was at the request, sealed under the payout's
-- key with (payout_banks, account, payout id) as associated data.
CREATE TABLE payout_banks (
    payout_id  BLOB    NOT NULL PRIMARY KEY REFERENCES payout_keys (payout_id) ON DELETE CASCADE,
    account    BLOB    NOT NULL
) STRICT;

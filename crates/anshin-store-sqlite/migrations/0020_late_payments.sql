-- A payment that arrives for an order already cancelled (issue 13): the
-- processor took the money and anshin gives it back at once; the ledger
-- shows both (`late_payment`: the clearing account debited, the new
-- liability `refunds_payable` credited, money owed to the buyer;
-- `late_refund`: the reverse). Mirrors the PostgreSQL migration of the
-- same name.
--
-- SQLite cannot widen a CHECK in place, so both ledger tables are built
-- anew with the wider lists and the rows copied (the append-only triggers
-- fire on UPDATE and DELETE, never on a copy or a DROP). The postings are
-- built first pointing at the new transactions table, so that no
-- foreign key dangles at any moment; renaming that table carries the
-- reference along.
CREATE TABLE ledger_transactions_0020 (
    id          BLOB    NOT NULL PRIMARY KEY,                       -- UUIDv7
    key         TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('payment', 'refund', 'late_payment',
                          'late_refund')),
    order_id    BLOB    REFERENCES orders (id),
    created_at  INTEGER NOT NULL
) STRICT;
INSERT INTO ledger_transactions_0020 (id, key, kind, order_id, created_at)
    SELECT id, key, kind, order_id, created_at FROM ledger_transactions;

CREATE TABLE ledger_postings_0020 (
    tx_id       BLOB    NOT NULL REFERENCES ledger_transactions_0020 (id),
    line        INTEGER NOT NULL,
    account     TEXT    NOT NULL CHECK (account IN ('processor_clearing', 'seller_payable',
                          'platform_fee_revenue', 'refunds_payable')),
    shop_id     BLOB    REFERENCES shops (id),
    amount_yen  INTEGER NOT NULL CHECK (amount_yen <> 0),
    PRIMARY KEY (tx_id, line),
    CHECK ((account = 'seller_payable') = (shop_id IS NOT NULL))
) STRICT;
INSERT INTO ledger_postings_0020 (tx_id, line, account, shop_id, amount_yen)
    SELECT tx_id, line, account, shop_id, amount_yen FROM ledger_postings;

DROP TABLE ledger_postings;
DROP TABLE ledger_transactions;
ALTER TABLE ledger_transactions_0020 RENAME TO ledger_transactions;
ALTER TABLE ledger_postings_0020 RENAME TO ledger_postings;
CREATE INDEX ledger_transactions_order ON ledger_transactions (order_id);
CREATE INDEX ledger_postings_account_shop ON ledger_postings (account, shop_id);

-- Immutable, as before: a mistake is corrected by a new, reversing
-- transaction.
CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;

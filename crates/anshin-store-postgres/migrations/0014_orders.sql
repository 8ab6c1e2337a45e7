-- Cart, orders, payments (C15), processor events, refunds and the
-- double-entry ledger (issue 13). Mirrors the SQLite migration of the same
-- name (compared by tests/schema_parity.rs).
--
-- Money is whole yen in BIGINT columns, checked here again so that no code
-- path can store a negative amount. No column holds card data: the card is
-- typed into the processor's own element and anshin keeps only the
-- processor's references (payment method and intent ids), the card brand and
-- its last 4 digits (C15). The buyer's shipping address is a sealed
-- snapshot (order_shipping) under the buyer's data key; the seller's pages
-- never read it (C19).

-- The cart: server-side, bound to the session (a logout or an expired
-- session takes it along). One line per item; the quantity is what the
-- buyer chose, the price is read again at checkout (never taken from the
-- browser).
CREATE TABLE cart_lines (
    session_id  UUID    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    item_id     UUID    NOT NULL REFERENCES items (id),
    quantity    BIGINT  NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at    BIGINT  NOT NULL,
    PRIMARY KEY (session_id, item_id)
);
CREATE INDEX cart_lines_item ON cart_lines (item_id);

-- An order: one buyer, one shop. seller_id is the shop's owner when the
-- order was made (who may ship and refund it). Totals are computed once,
-- at checkout, from the database's prices: total = subtotal; the platform
-- fee is part of the total (the seller receives total - fee).
-- refunded_yen only grows, never past total_yen. reserved_until: when an
-- unpaid order gives its stock back.
CREATE TABLE orders (
    id                   UUID    NOT NULL PRIMARY KEY,               -- UUIDv7
    buyer_id             UUID    NOT NULL REFERENCES members (id),
    shop_id              UUID    NOT NULL REFERENCES shops (id),
    seller_id            UUID    NOT NULL REFERENCES members (id),
    status               TEXT    NOT NULL CHECK (status IN ('awaiting_payment', 'paid', 'shipped',
                                   'delivered', 'completed', 'cancelled', 'refunded')),
    subtotal_yen         BIGINT  NOT NULL CHECK (subtotal_yen >= 0),
    fee_yen              BIGINT  NOT NULL CHECK (fee_yen >= 0 AND fee_yen <= total_yen),
    total_yen            BIGINT  NOT NULL CHECK (total_yen > 0),
    refunded_yen         BIGINT  NOT NULL DEFAULT 0 CHECK (refunded_yen >= 0 AND refunded_yen <= total_yen),
    shipping_address_id  UUID,                                       -- the address chosen (may be deleted later)
    reserved_until       BIGINT  NOT NULL,
    card_brand           TEXT,
    card_last4           TEXT    CHECK (card_last4 IS NULL OR length(card_last4) = 4),
    paid_intent_id       TEXT,
    cancel_reason        TEXT,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    paid_at              BIGINT,
    shipped_at           BIGINT,
    delivered_at         BIGINT,
    completed_at         BIGINT,
    closed_at            BIGINT                                      -- cancelled or refunded in full
);
CREATE INDEX orders_buyer_created ON orders (buyer_id, created_at);
CREATE INDEX orders_shop_created ON orders (shop_id, created_at);
CREATE INDEX orders_status_reserved ON orders (status, reserved_until);

-- What was bought, at the price it had: titles and prices are copied so an
-- order reads the same after the item changes.
CREATE TABLE order_lines (
    order_id        UUID    NOT NULL REFERENCES orders (id),
    item_id         UUID    NOT NULL REFERENCES items (id),
    title           TEXT    NOT NULL,
    unit_price_yen  BIGINT  NOT NULL CHECK (unit_price_yen >= 0),
    quantity        BIGINT  NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    PRIMARY KEY (order_id, item_id)
);
CREATE INDEX order_lines_item ON order_lines (item_id);

-- Where the order goes: the chosen address as it was at checkout, sealed
-- (AES-256-GCM) under the buyer's data key with (order_shipping, address,
-- order id) as associated data. Shredding the buyer's key removes it.
CREATE TABLE order_shipping (
    order_id    UUID    NOT NULL PRIMARY KEY REFERENCES orders (id),
    member_id   UUID    NOT NULL REFERENCES member_keys (member_id) ON DELETE CASCADE,
    address     BYTEA   NOT NULL
);
CREATE INDEX order_shipping_member ON order_shipping (member_id);

-- Each try at paying: one PaymentIntent at the processor, created with the
-- idempotency key written here *before* the processor is asked (derived
-- from the order id and the attempt number, never random), so a retry
-- after a crash gets the same intent back instead of a second charge.
-- payment_method is the processor's reference to the tokenised card
-- (card_… / pm_…), never card data. At most one live attempt per order.
CREATE TABLE payment_attempts (
    id               UUID    NOT NULL PRIMARY KEY,                   -- UUIDv7
    order_id         UUID    NOT NULL REFERENCES orders (id),
    attempt_no       BIGINT  NOT NULL CHECK (attempt_no >= 1),
    idempotency_key  TEXT    NOT NULL UNIQUE,
    payment_method   TEXT    NOT NULL,
    intent_id        TEXT    UNIQUE,
    status           TEXT    NOT NULL CHECK (status IN ('started', 'requires_action', 'succeeded',
                               'failed', 'abandoned')),
    failure_code     TEXT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    UNIQUE (order_id, attempt_no)
);
CREATE UNIQUE INDEX payment_attempts_one_live ON payment_attempts (order_id)
    WHERE status IN ('started', 'requires_action');
CREATE INDEX payment_attempts_status_updated ON payment_attempts (status, updated_at);

-- Every processor event (webhook) that had an effect or was seen, by its
-- id, written in the same transaction as its effect: a redelivery finds
-- its id taken and changes nothing.
CREATE TABLE processor_events (
    event_id     TEXT    NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL,
    order_id     UUID,
    received_at  BIGINT  NOT NULL
);

-- Refunds, numbered per order. The idempotency key is derived from the
-- order and the number, so a double click (or a retry after a crash) asks
-- the processor for the same refund, never a second one. A pending refund
-- holds its amount against the order's total.
CREATE TABLE refunds (
    id                   UUID    NOT NULL PRIMARY KEY,               -- UUIDv7
    order_id             UUID    NOT NULL REFERENCES orders (id),
    seq                  BIGINT  NOT NULL CHECK (seq >= 1),
    amount_yen           BIGINT  NOT NULL CHECK (amount_yen > 0),
    idempotency_key      TEXT    NOT NULL UNIQUE,
    processor_refund_id  TEXT    UNIQUE,
    status               TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    requested_by         UUID    NOT NULL REFERENCES members (id),
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    UNIQUE (order_id, seq)
);
CREATE INDEX refunds_status_updated ON refunds (status, updated_at);

-- The double-entry ledger: immutable. One transaction per business event
-- (a payment, a refund), named by a unique key (`payment:<order>`,
-- `refund:<refund>`), so the same event can never be posted twice; its
-- postings sum to zero (checked by the store before insert and by
-- `anshin ledger check`). Amounts are signed whole yen: + debit, - credit.
CREATE TABLE ledger_transactions (
    id          UUID    NOT NULL PRIMARY KEY,                       -- UUIDv7
    key         TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('payment', 'refund')),
    order_id    UUID    REFERENCES orders (id),
    created_at  BIGINT  NOT NULL
);
CREATE INDEX ledger_transactions_order ON ledger_transactions (order_id);

CREATE TABLE ledger_postings (
    tx_id       UUID    NOT NULL REFERENCES ledger_transactions (id),
    line        BIGINT  NOT NULL,
    account     TEXT    NOT NULL CHECK (account IN ('processor_clearing', 'seller_payable',
                          'platform_fee_revenue')),
    shop_id     UUID    REFERENCES shops (id),
    amount_yen  BIGINT  NOT NULL CHECK (amount_yen <> 0),
    PRIMARY KEY (tx_id, line),
    CHECK ((account = 'seller_payable') = (shop_id IS NOT NULL))
);
CREATE INDEX ledger_postings_account_shop ON ledger_postings (account, shop_id);

-- Immutable: a posting, once written, is never changed or removed (a
-- mistake is corrected by a new, reversing transaction).
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only';
END;
$$;
CREATE TRIGGER ledger_transactions_no_change BEFORE UPDATE OR DELETE ON ledger_transactions
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_postings_no_change BEFORE UPDATE OR DELETE ON ledger_postings
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

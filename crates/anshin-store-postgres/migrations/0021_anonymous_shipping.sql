-- Anonymous shipping (issue 15, C19; ADR 0015). Mirrors the SQLite
-- migration of the same name (compared by schema_parity.rs).
--
-- Neither side of an order ever learns the other's name or address: the
-- parcel goes through the shipping centre, which alone prints the label.
-- No column here holds an address in clear: both addresses of a shipment
-- are sealed (AES-256-GCM) under the shipment's own data key, and a
-- drop-off code is stored only as a keyed hash.

-- The shop's choices. No row: anonymous shipping, sender = the owner's
-- default address. sender_address_id names one of the owner's addresses
-- (checked by the write; deleting the address leaves the default in use).
CREATE TABLE shop_shipping (
    shop_id            UUID    NOT NULL PRIMARY KEY REFERENCES shops (id),
    anonymous          BIGINT  NOT NULL CHECK (anonymous IN (0, 1)),
    sender_address_id  UUID,
    updated_at         BIGINT  NOT NULL
);

-- One shipment per anonymously shipped order, made in the payment's own
-- transaction. generation: the current drop-off code's (one more per
-- void).
CREATE TABLE shipments (
    id          UUID    NOT NULL PRIMARY KEY,                        -- UUIDv7
    order_id    UUID    NOT NULL UNIQUE REFERENCES orders (id),
    shop_id     UUID    NOT NULL REFERENCES shops (id),
    seller_id   UUID    NOT NULL REFERENCES members (id),
    buyer_id    UUID    NOT NULL REFERENCES members (id),
    status      TEXT    NOT NULL CHECK (status IN ('awaiting_dropoff', 'accepted', 'in_transit',
                                                    'delivered')),
    generation  BIGINT  NOT NULL CHECK (generation >= 0),
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX shipments_seller ON shipments (seller_id);
CREATE INDEX shipments_buyer ON shipments (buyer_id);

-- The shipment's data key, wrapped by the key ring (associated data binds
-- it to the shipment). Deleting this row is the purge: the label row goes
-- with it, and any copy of the ciphertexts is unreadable.
CREATE TABLE shipment_keys (
    shipment_id  UUID    NOT NULL PRIMARY KEY REFERENCES shipments (id),
    wrapped_key  BYTEA   NOT NULL,
    kek_version  BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX shipment_keys_kek_version ON shipment_keys (kek_version);

-- The label data: recipient (the buyer's order address as it was) and
-- sender (the seller's chosen address), each sealed under the shipment's
-- key with (shipment_labels, column, shipment id) as associated data.
CREATE TABLE shipment_labels (
    shipment_id  UUID    NOT NULL PRIMARY KEY REFERENCES shipment_keys (shipment_id) ON DELETE CASCADE,
    recipient    BYTEA   NOT NULL,
    sender       BYTEA
);

-- Every drop-off code a shipment had, by its keyed hash: live (the
-- seller's current one, at most one per shipment), accepted (used at the
-- counter: single use) or voided (replaced by the next generation).
CREATE TABLE dropoff_codes (
    code_hash    BYTEA   NOT NULL PRIMARY KEY,
    shipment_id  UUID    NOT NULL REFERENCES shipments (id),
    generation   BIGINT  NOT NULL CHECK (generation >= 0),
    status       TEXT    NOT NULL CHECK (status IN ('live', 'accepted', 'voided')),
    created_at   BIGINT  NOT NULL,
    ended_at     BIGINT ,
    UNIQUE (shipment_id, generation)
);
CREATE UNIQUE INDEX dropoff_codes_one_live ON dropoff_codes (shipment_id) WHERE status = 'live';

-- The parcel's timeline, as both members see it (no place, no person).
CREATE TABLE parcel_events (
    id           UUID    NOT NULL PRIMARY KEY,                       -- UUIDv7
    shipment_id  UUID    NOT NULL REFERENCES shipments (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('accepted', 'in_transit', 'delivered')),
    at           BIGINT  NOT NULL
);
CREATE INDEX parcel_events_shipment ON parcel_events (shipment_id, at);

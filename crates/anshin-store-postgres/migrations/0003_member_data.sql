-- Personal data of members (C13): phone, shipping addresses, bank
-- account. Mirrors the SQLite migration of the same name (compared by
-- anshin-store-postgres/tests/schema_parity.rs).
--
-- No column here holds personal data in clear. Each value is AES-256-GCM
-- under the member's data key, with the table, column and row id as
-- associated data (anshin-vault `fields`), so a ciphertext copied to
-- another row or column does not decrypt. The data key exists only
-- wrapped by the key ring (a file outside the database), one row per
-- member in member_keys: deleting that row shreds everything the member
-- stored.

-- The member's data key, wrapped (AES-256-GCM) under the KEK version
-- named in kek_version (also inside wrapped_key; the column is for
-- `anshin keys status` and `keys retire`).
CREATE TABLE member_keys (
    member_id   UUID    NOT NULL PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    wrapped_key BYTEA   NOT NULL,
    kek_version BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX member_keys_kek_version ON member_keys (kek_version);

-- phone: the canonical +81 number, encrypted. phone_index: blind index
-- (HMAC-SHA-256 under the ring's blind-index key) for equality lookups;
-- not unique, since a household may share a number.
CREATE TABLE member_phones (
    member_id   UUID    NOT NULL PRIMARY KEY REFERENCES member_keys (member_id) ON DELETE CASCADE,
    phone       BYTEA   NOT NULL,
    phone_index BYTEA   NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX member_phones_phone_index ON member_phones (phone_index);

-- address: one JSON object of every field, encrypted as a whole (the
-- fields are only ever read together, and one ciphertext hides which
-- optional fields are set). At most one default per member.
CREATE TABLE shipping_addresses (
    id          UUID    NOT NULL PRIMARY KEY,          -- UUIDv7
    member_id   UUID    NOT NULL REFERENCES member_keys (member_id) ON DELETE CASCADE,
    is_default  BIGINT  NOT NULL,                      -- 0 | 1
    address     BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX shipping_addresses_member ON shipping_addresses (member_id, created_at);
CREATE UNIQUE INDEX shipping_addresses_one_default ON shipping_addresses (member_id) WHERE is_default = 1;

-- account: bank code, branch, type, number and holder as one encrypted
-- JSON object.
CREATE TABLE bank_accounts (
    member_id   UUID    NOT NULL PRIMARY KEY REFERENCES member_keys (member_id) ON DELETE CASCADE,
    account     BYTEA   NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- Where an interrupted `anshin keys reencrypt` stopped: the table it was
-- working on and the last row id it committed. Rows are processed in id
-- order, so a rerun continues after last_id.
CREATE TABLE reencrypt_progress (
    id          BIGINT  NOT NULL PRIMARY KEY,          -- always 1
    stage       TEXT    NOT NULL,
    last_id     UUID    NOT NULL,
    done        BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

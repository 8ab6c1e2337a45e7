-- The catalog (issue 13): shops, their items and the items' images.
-- Mirrors the SQLite migration of the same name (compared by
-- tests/schema_parity.rs); only the search index differs (a pg_trgm GIN
-- index here, an FTS5 table there).
--
-- Nothing here is personal data: a shop is public by design. Prices are
-- whole yen (never floats), checked again here so that no code path can
-- store a negative price or stock. Every write of an owner's row is scoped
-- to the owner in its statement (anshin-store src/sql/shops.rs).

-- One shop per member (owner_id UNIQUE). No cascade from members: orders
-- and ledger postings will refer to shops, and must outlive nothing.
CREATE TABLE shops (
    id          UUID    NOT NULL PRIMARY KEY,                       -- UUIDv7
    owner_id    UUID    NOT NULL UNIQUE REFERENCES members (id),
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,                                   -- Markdown source
    icon_key    TEXT,                                               -- MediaKey
    status      TEXT    NOT NULL CHECK (status IN ('open', 'closed')),
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- stock NULL: unlimited (digital goods later). search_text: title and
-- description, NFKC-normalised and lower-cased by the core, so that both
-- databases match the same substrings (full-width ＡＢＣ and half-width
-- ｶﾀｶﾅ find their usual forms).
CREATE TABLE items (
    id          UUID    NOT NULL PRIMARY KEY,                       -- UUIDv7
    shop_id     UUID    NOT NULL REFERENCES shops (id),
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,                                   -- Markdown source
    price_yen   BIGINT  NOT NULL CHECK (price_yen >= 0),
    stock       BIGINT  CHECK (stock >= 0),
    status      TEXT    NOT NULL CHECK (status IN ('draft', 'on_sale', 'sold_out', 'hidden')),
    search_text TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
-- The public lists are read in created_at or price order, newest or
-- cheapest first, stopping after one page: these indexes give that order
-- (nearly every item is public, so filtering the status row by row costs
-- less than sorting everything; bench/README.md has the figures).
CREATE INDEX items_shop_created ON items (shop_id, created_at);
CREATE INDEX items_created ON items (created_at);
CREATE INDEX items_price ON items (price_yen);

-- An item's images, shown in position order (the first is the main one).
-- media_key and thumb_key name the files in the media store; the image
-- was re-encoded by anshin, so content_type is what it is, not what the
-- uploader said.
CREATE TABLE item_images (
    id           UUID    NOT NULL PRIMARY KEY,                      -- UUIDv7
    item_id      UUID    NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    position     BIGINT  NOT NULL,
    media_key    TEXT    NOT NULL UNIQUE,
    thumb_key    TEXT    NOT NULL UNIQUE,
    width        BIGINT  NOT NULL CHECK (width > 0),
    height       BIGINT  NOT NULL CHECK (height > 0),
    content_type TEXT    NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    created_at   BIGINT  NOT NULL
);
CREATE INDEX item_images_item_position ON item_images (item_id, position);
CREATE INDEX shops_icon_key ON shops (icon_key);

-- Search (PostgreSQL only): pg_trgm's GIN index serves ILIKE '%…%' on
-- search_text for patterns of 3 or more characters, Japanese included
-- (the database is UTF-8); shorter ones are checked row by row, as on
-- SQLite. The extension ships with PostgreSQL (contrib).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX items_search_trgm ON items USING gin (search_text gin_trgm_ops);

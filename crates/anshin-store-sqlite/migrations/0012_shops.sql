-- The catalog (issue 13): shops, their items and the items' images.
-- Mirrors the PostgreSQL migration of the same name (compared by
-- anshin-store-postgres/tests/schema_parity.rs); only the search index
-- differs (an FTS5 table here, a pg_trgm GIN index there).
--
-- Nothing here is personal data: a shop is public by design. Prices are
-- whole yen (never floats), checked again here so that no code path can
-- store a negative price or stock. Every write of an owner's row is scoped
-- to the owner in its statement (anshin-store src/sql/shops.rs).

-- One shop per member (owner_id UNIQUE). No cascade from members: orders
-- and ledger postings will refer to shops, and must outlive nothing.
CREATE TABLE shops (
    id          BLOB    NOT NULL PRIMARY KEY,                       -- UUIDv7
    owner_id    BLOB    NOT NULL UNIQUE REFERENCES members (id),
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,                                   -- Markdown source
    icon_key    TEXT,                                               -- MediaKey
    status      TEXT    NOT NULL CHECK (status IN ('open', 'closed')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- stock NULL: unlimited (digital goods later). search_text: title and
-- description, NFKC-normalised and lower-cased by the core, so that both
-- databases match the same substrings (full-width ＡＢＣ and half-width
-- ｶﾀｶﾅ find their usual forms).
CREATE TABLE items (
    id          BLOB    NOT NULL PRIMARY KEY,                       -- UUIDv7
    shop_id     BLOB    NOT NULL REFERENCES shops (id),
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,                                   -- Markdown source
    price_yen   INTEGER NOT NULL CHECK (price_yen >= 0),
    stock       INTEGER CHECK (stock >= 0),
    status      TEXT    NOT NULL CHECK (status IN ('draft', 'on_sale', 'sold_out', 'hidden')),
    search_text TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
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
    id           BLOB    NOT NULL PRIMARY KEY,                      -- UUIDv7
    item_id      BLOB    NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    media_key    TEXT    NOT NULL UNIQUE,
    thumb_key    TEXT    NOT NULL UNIQUE,
    width        INTEGER NOT NULL CHECK (width > 0),
    height       INTEGER NOT NULL CHECK (height > 0),
    content_type TEXT    NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX item_images_item_position ON item_images (item_id, position);
CREATE INDEX shops_icon_key ON shops (icon_key);

-- Search (SQLite only): an FTS5 index over search_text with the trigram
-- tokenizer, which matches any substring of 3 or more characters, so
-- Japanese text needs no word segmentation. case_sensitive 1: the text is
-- lower-cased already, and folding again would differ from PostgreSQL.
-- Kept in step with items by the triggers below (in the write's own
-- transaction). Shorter queries fall back to LIKE on items.search_text.
CREATE VIRTUAL TABLE item_search USING fts5 (
    item_id UNINDEXED,
    search_text,
    tokenize = 'trigram case_sensitive 1'
);
CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN
    INSERT INTO item_search (item_id, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER items_search_update AFTER UPDATE OF search_text ON items
WHEN old.search_text IS NOT new.search_text BEGIN
    DELETE FROM item_search WHERE item_id = old.id;
    INSERT INTO item_search (item_id, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
    DELETE FROM item_search WHERE item_id = old.id;
END;

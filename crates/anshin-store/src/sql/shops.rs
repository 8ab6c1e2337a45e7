//! Shops, items, images and the catalog search (see [`crate::shops`]).
//!
//! Every statement that writes an owner's row joins it to `shops.owner_id
//! = <owner>`; a write that touches no row fails its guard, so another
//! member's id answers exactly like a missing one.
//!
//! The search statement is the one place where the two databases differ
//! in text: [`search_statement`] builds it for a [`Dialect`] from constant
//! pieces (the number of terms decides how many clauses, never their
//! content) and returns the values to bind.

use uuid::Uuid;

use crate::shops::{SearchQuery, SearchSort};

/// Which database's search syntax to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// FTS5 trigram `MATCH` for terms of 3+ characters, LIKE otherwise.
    Sqlite,
    /// ILIKE for every term (pg_trgm's GIN index serves 3+ characters).
    Postgres,
}

/// A value bound to a search statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(String),
    Int(i64),
    Id(Uuid),
}

/// The columns of an [`crate::ItemSummary`], `i` being `items` and `s`
/// its shop.
pub const SUMMARY_COLUMNS: &str = "i.id, i.shop_id, s.name, i.title, i.price_yen, i.stock, \
     i.status, i.created_at, \
     (SELECT m.thumb_key FROM item_images m WHERE m.item_id = i.id \
      ORDER BY m.position, m.id LIMIT 1)";

/// `term` as a LIKE pattern matching it anywhere, with `\` as the escape
/// character (the statements say `ESCAPE '\'`): `%` and `_` in the term
/// match themselves, not "anything".
pub fn like_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// An FTS5 query that requires every term as a phrase: each term is
/// quoted (an inner `"` doubled), so FTS5 operators and syntax in the
/// input (`AND`, `NEAR(`, `*`, `^`, `:`, `-`, unbalanced quotes) are just
/// characters of the phrase. A NUL would end FTS5's reading of the query
/// inside the quotes ("unterminated string"): it is left out.
pub fn fts_query<'a>(terms: impl IntoIterator<Item = &'a str>) -> String {
    terms
        .into_iter()
        .map(|t| format!("\"{}\"", t.replace('\0', "").replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// How many characters the trigram index needs to serve a term.
pub const TRIGRAM_MIN_CHARS: usize = 3;

/// How SQLite runs a search with terms of 3 or more characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlitePlan {
    /// From the FTS5 index: its matches, then their items, then sorted.
    /// Fast when the terms are rare (most searches), slow when they match
    /// most of the catalog (everything is fetched and sorted).
    Fts,
    /// Items in the page's order (the `created_at` or `price_yen` index),
    /// each checked with LIKE until a page is full: fast when the terms
    /// are common, a full scan when they are rare.
    Scan,
}

/// Counts the FTS5 matches of a query, stopping at
/// [`FTS_PLAN_LIMIT`]: fewer means [`SqlitePlan::Fts`]. SQLite has no
/// statistics for the planner to make this choice itself.
pub const FTS_COUNT: &str =
    "SELECT COUNT(*) FROM (SELECT 1 FROM item_search WHERE item_search MATCH $1 LIMIT 2000)";
pub const FTS_PLAN_LIMIT: i64 = 2000;

/// The search statement for `dialect` (and, on SQLite, `plan`) and the
/// values to bind, in order.
pub fn search_statement(
    dialect: Dialect,
    plan: SqlitePlan,
    q: &SearchQuery,
) -> (String, Vec<Param>) {
    let mut params = Vec::new();
    let next = |p: Param, params: &mut Vec<Param>| {
        params.push(p);
        format!("${}", params.len())
    };
    let terms: Vec<&str> = q
        .terms
        .iter()
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .take(SearchQuery::MAX_TERMS)
        .collect();
    let (long, short): (Vec<&str>, Vec<&str>) = terms
        .iter()
        .partition(|t| t.chars().count() >= TRIGRAM_MIN_CHARS);
    let fts = dialect == Dialect::Sqlite && plan == SqlitePlan::Fts && !long.is_empty();
    let mut sql = if fts {
        // CROSS JOIN keeps SQLite's join order: the FTS matches first.
        let p = next(Param::Text(fts_query(long.iter().copied())), &mut params);
        // nosemgrep: anshin-sql-from-format -- {SUMMARY_COLUMNS} is a constant, {p} a `$n` placeholder from `next`; the value is bound
        format!(
            "SELECT {SUMMARY_COLUMNS} FROM item_search f CROSS JOIN items i ON i.id = f.item_id \
             JOIN shops s ON s.id = i.shop_id WHERE item_search MATCH {p}"
        )
    } else {
        format!(
            "SELECT {SUMMARY_COLUMNS} FROM items i JOIN shops s ON s.id = i.shop_id WHERE 1 = 1"
        )
    };
    // SQLite: the unary `+` keeps the status out of index choice, so the
    // order's index (created_at, price_yen) is used instead of sorting.
    sql.push_str(match dialect {
        Dialect::Sqlite => " AND +i.status IN ('on_sale', 'sold_out') AND s.status = 'open'",
        Dialect::Postgres => " AND i.status IN ('on_sale', 'sold_out') AND s.status = 'open'",
    });
    if let Some(shop) = q.shop {
        let p = next(Param::Id(shop.as_uuid()), &mut params);
        // nosemgrep: anshin-sql-from-format -- {p} is a `$n` placeholder from `next`; the value is bound
        sql.push_str(&format!(" AND i.shop_id = {p}"));
    }
    let (op, like_terms): (&str, Vec<&str>) = match dialect {
        Dialect::Sqlite if fts => ("LIKE", short),
        Dialect::Sqlite => ("LIKE", terms.clone()),
        Dialect::Postgres => ("ILIKE", terms.clone()),
    };
    for t in like_terms {
        let p = next(Param::Text(like_pattern(t)), &mut params);
        // nosemgrep: anshin-sql-from-format -- {op} is LIKE/ILIKE from the dialect match, {p} a `$n` placeholder; the value is bound
        sql.push_str(&format!(" AND i.search_text {op} {p} ESCAPE '\\'"));
    }
    if let Some(min) = q.min {
        let p = next(Param::Int(min.amount()), &mut params);
        // nosemgrep: anshin-sql-from-format -- {p} is a `$n` placeholder from `next`; the value is bound
        sql.push_str(&format!(" AND i.price_yen >= {p}"));
    }
    if let Some(max) = q.max {
        let p = next(Param::Int(max.amount()), &mut params);
        // nosemgrep: anshin-sql-from-format -- {p} is a `$n` placeholder from `next`; the value is bound
        sql.push_str(&format!(" AND i.price_yen <= {p}"));
    }
    sql.push_str(match q.sort {
        SearchSort::Newest => " ORDER BY i.created_at DESC, i.id DESC",
        SearchSort::PriceAsc => " ORDER BY i.price_yen ASC, i.created_at DESC, i.id DESC",
        SearchSort::PriceDesc => " ORDER BY i.price_yen DESC, i.created_at DESC, i.id DESC",
    });
    let limit = next(Param::Int(i64::from(q.limit)), &mut params);
    let offset = next(Param::Int(i64::from(q.offset)), &mut params);
    // nosemgrep: anshin-sql-from-format -- {limit} and {offset} are `$n` placeholders from `next`; the values are bound
    sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
    (sql, params)
}

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_shops {
    ($Db:ty, $dialect:expr) => {
        type ShopRow = (::uuid::Uuid, ::uuid::Uuid, String, String, Option<String>, String, i64, i64);
        type ItemRow = (::uuid::Uuid, ::uuid::Uuid, String, String, i64, Option<i64>, String, i64, i64);
        type SummaryRow = (
            ::uuid::Uuid,
            ::uuid::Uuid,
            String,
            String,
            i64,
            Option<i64>,
            String,
            i64,
            Option<String>,
        );
        type ImageRow = (::uuid::Uuid, ::uuid::Uuid, i64, String, String, i64, i64, String, i64);

        const SHOP_COLUMNS: &str =
            "id, owner_id, name, description, icon_key, status, created_at, updated_at";
        const ITEM_COLUMNS: &str = "id, shop_id, title, description, price_yen, stock, status, \
             created_at, updated_at";
        const IMAGE_COLUMNS: &str = "id, item_id, position, media_key, thumb_key, width, height, \
             content_type, created_at";

        fn media_key(table: &'static str, text: &str) -> Result<$crate::MediaKey, $crate::StoreError> {
            $crate::MediaKey::parse(text).ok_or(corrupt(table, "media key"))
        }

        fn shop_record(row: ShopRow) -> Result<$crate::ShopRecord, $crate::StoreError> {
            let (id, owner_id, name, description, icon_key, status, created_at, updated_at) = row;
            Ok($crate::ShopRecord {
                id: $crate::ShopId::from_uuid(id),
                owner_id: $crate::MemberId::from_uuid(owner_id),
                name: $crate::ShopName::parse(&name).ok_or(corrupt("shops", "name"))?,
                description: $crate::ShopDescription::parse(&description)
                    .ok_or(corrupt("shops", "description"))?,
                icon_key: icon_key.as_deref().map(|k| media_key("shops", k)).transpose()?,
                status: $crate::ShopStatus::parse(&status).map_err(|_| corrupt("shops", "status"))?,
                created_at: ts(created_at),
                updated_at: ts(updated_at),
            })
        }

        fn price(table: &'static str, yen: i64) -> Result<$crate::Price, $crate::StoreError> {
            $crate::Price::new($crate::Yen::new(yen)).ok_or(corrupt(table, "price_yen"))
        }

        fn stock(table: &'static str, n: Option<i64>) -> Result<$crate::Stock, $crate::StoreError> {
            $crate::Stock::from_db(n).ok_or(corrupt(table, "stock"))
        }

        fn item_status(table: &'static str, s: &str) -> Result<$crate::ItemStatus, $crate::StoreError> {
            $crate::ItemStatus::parse(s).map_err(|_| corrupt(table, "status"))
        }

        fn item_record(row: ItemRow) -> Result<$crate::ItemRecord, $crate::StoreError> {
            let (id, shop_id, title, description, price_yen, stock_n, status, created_at, updated_at) = row;
            Ok($crate::ItemRecord {
                id: $crate::ItemId::from_uuid(id),
                shop_id: $crate::ShopId::from_uuid(shop_id),
                title: $crate::ItemTitle::parse(&title).ok_or(corrupt("items", "title"))?,
                description: $crate::ItemDescription::parse(&description)
                    .ok_or(corrupt("items", "description"))?,
                price: price("items", price_yen)?,
                stock: stock("items", stock_n)?,
                status: item_status("items", &status)?,
                created_at: ts(created_at),
                updated_at: ts(updated_at),
            })
        }

        fn summary_record(row: SummaryRow) -> Result<$crate::ItemSummary, $crate::StoreError> {
            let (id, shop_id, shop_name, title, price_yen, stock_n, status, created_at, thumb) = row;
            Ok($crate::ItemSummary {
                id: $crate::ItemId::from_uuid(id),
                shop_id: $crate::ShopId::from_uuid(shop_id),
                shop_name: $crate::ShopName::parse(&shop_name).ok_or(corrupt("shops", "name"))?,
                title: $crate::ItemTitle::parse(&title).ok_or(corrupt("items", "title"))?,
                price: price("items", price_yen)?,
                stock: stock("items", stock_n)?,
                status: item_status("items", &status)?,
                thumb_key: thumb.as_deref().map(|k| media_key("item_images", k)).transpose()?,
                created_at: ts(created_at),
            })
        }

        fn image_record(row: ImageRow) -> Result<$crate::ImageRecord, $crate::StoreError> {
            let (id, item_id, position, media, thumb, width, height, content_type, created_at) = row;
            let dim = |v: i64| u32::try_from(v).map_err(|_| corrupt("item_images", "dimension"));
            Ok($crate::ImageRecord {
                id: $crate::ImageId::from_uuid(id),
                item_id: $crate::ItemId::from_uuid(item_id),
                position,
                media_key: media_key("item_images", &media)?,
                thumb_key: media_key("item_images", &thumb)?,
                width: dim(width)?,
                height: dim(height)?,
                format: $crate::ImageFormat::from_content_type(&content_type)
                    .map_err(|_| corrupt("item_images", "content_type"))?,
                created_at: ts(created_at),
            })
        }

        /// Locks the member's shop row for the rest of the transaction
        /// (orders parallel item adds on PostgreSQL; SQLite's `BEGIN
        /// IMMEDIATE` already does). `false` if the shop is not theirs.
        async fn lock_own_shop(
            tx: &mut Tx,
            owner: $crate::MemberId,
            shop: $crate::ShopId,
        ) -> Result<bool, $crate::StoreError> {
            let r = ::sqlx::query("UPDATE shops SET updated_at = updated_at WHERE id = $1 AND owner_id = $2")
                .bind(shop.as_uuid())
                .bind(owner.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(r.rows_affected() > 0)
        }

        /// Locks the shop of an item of the member; `false` if the item is
        /// not in the member's shop.
        async fn lock_own_item(
            tx: &mut Tx,
            owner: $crate::MemberId,
            item: $crate::ItemId,
        ) -> Result<bool, $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE shops SET updated_at = updated_at WHERE owner_id = $1 \
                 AND id = (SELECT shop_id FROM items WHERE id = $2)",
            )
            .bind(owner.as_uuid())
            .bind(item.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(r.rows_affected() > 0)
        }

        async fn open_shop(tx: &mut Tx, s: &$crate::ShopRecord) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO shops (id, owner_id, name, description, icon_key, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(s.id.as_uuid())
            .bind(s.owner_id.as_uuid())
            .bind(s.name.as_str())
            .bind(s.description.as_str())
            .bind(s.icon_key.as_ref().map(|k| k.as_str()))
            .bind(s.status.as_str())
            .bind(s.created_at.micros())
            .bind(s.updated_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        /// Runs an `UPDATE shops … WHERE id = $1 AND owner_id = $2`
        /// statement; the shop guard fails if it touched no row.
        fn shop_guard(
            result: Result<<$Db as ::sqlx::Database>::QueryResult, ::sqlx::Error>,
        ) -> Result<(), $crate::StoreError> {
            if result.map_err(other)?.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::SHOP_NOT_FOUND));
            }
            Ok(())
        }

        async fn edit_shop(
            tx: &mut Tx,
            owner: $crate::MemberId,
            shop: $crate::ShopId,
            name: &$crate::ShopName,
            description: &$crate::ShopDescription,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE shops SET name = $3, description = $4, updated_at = $5 \
                 WHERE id = $1 AND owner_id = $2",
            )
            .bind(shop.as_uuid())
            .bind(owner.as_uuid())
            .bind(name.as_str())
            .bind(description.as_str())
            .bind(at.micros())
            .execute(&mut **tx)
            .await;
            shop_guard(r)
        }

        async fn set_shop_status(
            tx: &mut Tx,
            owner: $crate::MemberId,
            shop: $crate::ShopId,
            status: $crate::ShopStatus,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query("UPDATE shops SET status = $3, updated_at = $4 WHERE id = $1 AND owner_id = $2")
                .bind(shop.as_uuid())
                .bind(owner.as_uuid())
                .bind(status.as_str())
                .bind(at.micros())
                .execute(&mut **tx)
                .await;
            shop_guard(r)
        }

        async fn set_shop_icon(
            tx: &mut Tx,
            owner: $crate::MemberId,
            shop: $crate::ShopId,
            icon: Option<&$crate::MediaKey>,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query("UPDATE shops SET icon_key = $3, updated_at = $4 WHERE id = $1 AND owner_id = $2")
                .bind(shop.as_uuid())
                .bind(owner.as_uuid())
                .bind(icon.map(|k| k.as_str()))
                .bind(at.micros())
                .execute(&mut **tx)
                .await;
            shop_guard(r)
        }

        async fn add_item(
            tx: &mut Tx,
            owner: $crate::MemberId,
            item: &$crate::NewItem,
            max_items: i64,
        ) -> Result<(), $crate::StoreError> {
            if !lock_own_shop(tx, owner, item.shop_id).await? {
                return Err($crate::StoreError::Precondition($crate::guards::SHOP_NOT_FOUND));
            }
            let (count,): (i64,) = ::sqlx::query_as("SELECT COUNT(*) FROM items WHERE shop_id = $1")
                .bind(item.shop_id.as_uuid())
                .fetch_one(&mut **tx)
                .await
                .map_err(other)?;
            if count >= max_items {
                return Err($crate::StoreError::Precondition($crate::guards::ITEM_LIMIT));
            }
            ::sqlx::query(
                "INSERT INTO items (id, shop_id, title, description, price_yen, stock, status, \
                 search_text, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(item.id.as_uuid())
            .bind(item.shop_id.as_uuid())
            .bind(item.title.as_str())
            .bind(item.description.as_str())
            .bind(item.price.yen().amount())
            .bind(item.stock.to_db())
            .bind(item.status.as_str())
            .bind(item.search_text.as_str())
            .bind(item.created_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        /// The `WHERE` of a write to an item of the member (`$1` the item,
        /// `$2` the owner).
        const OWN_ITEM: &str = "id = $1 AND shop_id IN (SELECT id FROM shops WHERE owner_id = $2)";

        async fn edit_item(
            tx: &mut Tx,
            owner: $crate::MemberId,
            item: $crate::ItemId,
            e: &$crate::ItemEdit,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(::sqlx::AssertSqlSafe(format!(
                "UPDATE items SET title = $3, description = $4, price_yen = $5, stock = $6, \
                 search_text = $7, updated_at = $8 WHERE {OWN_ITEM}"
            )))
            .bind(item.as_uuid())
            .bind(owner.as_uuid())
            .bind(e.title.as_str())
            .bind(e.description.as_str())
            .bind(e.price.yen().amount())
            .bind(e.stock.to_db())
            .bind(e.search_text.as_str())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::ITEM_NOT_FOUND));
            }
            Ok(())
        }

        async fn set_item_status(
            tx: &mut Tx,
            owner: $crate::MemberId,
            item: $crate::ItemId,
            status: $crate::ItemStatus,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(::sqlx::AssertSqlSafe(format!(
                "UPDATE items SET status = $3, updated_at = $4 WHERE {OWN_ITEM}"
            )))
            .bind(item.as_uuid())
            .bind(owner.as_uuid())
            .bind(status.as_str())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::ITEM_NOT_FOUND));
            }
            Ok(())
        }

        async fn add_item_image(
            tx: &mut Tx,
            owner: $crate::MemberId,
            image: &$crate::ImageRecord,
            max_images: i64,
        ) -> Result<(), $crate::StoreError> {
            if !lock_own_item(tx, owner, image.item_id).await? {
                return Err($crate::StoreError::Precondition($crate::guards::ITEM_NOT_FOUND));
            }
            let (count, last): (i64, Option<i64>) = ::sqlx::query_as(
                "SELECT COUNT(*), MAX(position) FROM item_images WHERE item_id = $1",
            )
            .bind(image.item_id.as_uuid())
            .fetch_one(&mut **tx)
            .await
            .map_err(other)?;
            if count >= max_images {
                return Err($crate::StoreError::Precondition($crate::guards::IMAGE_LIMIT));
            }
            ::sqlx::query(
                "INSERT INTO item_images (id, item_id, position, media_key, thumb_key, width, height, \
                 content_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(image.id.as_uuid())
            .bind(image.item_id.as_uuid())
            .bind(last.map_or(0, |p| p.saturating_add(1)))
            .bind(image.media_key.as_str())
            .bind(image.thumb_key.as_str())
            .bind(i64::from(image.width))
            .bind(i64::from(image.height))
            .bind(image.format.content_type())
            .bind(image.created_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn remove_item_image(
            tx: &mut Tx,
            owner: $crate::MemberId,
            image: $crate::ImageId,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "DELETE FROM item_images WHERE id = $1 AND item_id IN \
                 (SELECT i.id FROM items i JOIN shops s ON s.id = i.shop_id WHERE s.owner_id = $2)",
            )
            .bind(image.as_uuid())
            .bind(owner.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::IMAGE_NOT_FOUND));
            }
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::ShopRepo for Repos {
            async fn shop_of_owner(
                &self,
                owner: $crate::MemberId,
            ) -> Result<Option<$crate::ShopRecord>, $crate::StoreError> {
                let row: Option<ShopRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(format!(
                    "SELECT {SHOP_COLUMNS} FROM shops WHERE owner_id = $1"
                )))
                .bind(owner.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                row.map(shop_record).transpose()
            }

            async fn shop(
                &self,
                id: $crate::ShopId,
            ) -> Result<Option<$crate::ShopRecord>, $crate::StoreError> {
                let row: Option<ShopRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(format!(
                    "SELECT {SHOP_COLUMNS} FROM shops WHERE id = $1"
                )))
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                row.map(shop_record).transpose()
            }

            async fn item(
                &self,
                id: $crate::ItemId,
            ) -> Result<Option<$crate::ItemRecord>, $crate::StoreError> {
                let row: Option<ItemRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(format!(
                    "SELECT {ITEM_COLUMNS} FROM items WHERE id = $1"
                )))
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                row.map(item_record).transpose()
            }

            async fn count_items(&self, shop: $crate::ShopId) -> Result<i64, $crate::StoreError> {
                let (n,): (i64,) = ::sqlx::query_as("SELECT COUNT(*) FROM items WHERE shop_id = $1")
                    .bind(shop.as_uuid())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(n)
            }

            async fn shop_items(
                &self,
                shop: $crate::ShopId,
                offset: u32,
                limit: u32,
            ) -> Result<Vec<$crate::ItemSummary>, $crate::StoreError> {
                let rows: Vec<SummaryRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(format!(
                    "SELECT {SUMMARY_COLUMNS} FROM items i JOIN shops s ON s.id = i.shop_id WHERE i.shop_id = $1 \
                     ORDER BY i.created_at DESC, i.id DESC LIMIT $2 OFFSET $3",
                    SUMMARY_COLUMNS = $crate::sql::shops::SUMMARY_COLUMNS
                )))
                .bind(shop.as_uuid())
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter().map(summary_record).collect()
            }

            async fn item_images(
                &self,
                item: $crate::ItemId,
            ) -> Result<Vec<$crate::ImageRecord>, $crate::StoreError> {
                let rows: Vec<ImageRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(format!(
                    "SELECT {IMAGE_COLUMNS} FROM item_images WHERE item_id = $1 ORDER BY position, id"
                )))
                .bind(item.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter().map(image_record).collect()
            }

            async fn media_access(
                &self,
                key: &$crate::MediaKey,
            ) -> Result<Option<$crate::MediaAccess>, $crate::StoreError> {
                let row: Option<(::uuid::Uuid, i64)> = ::sqlx::query_as(
                    "SELECT s.owner_id, CAST(CASE WHEN s.status = 'open' \
                       AND i.status IN ('on_sale', 'sold_out') THEN 1 ELSE 0 END AS BIGINT) \
                     FROM item_images m JOIN items i ON i.id = m.item_id JOIN shops s ON s.id = i.shop_id \
                     WHERE m.media_key = $1 OR m.thumb_key = $1 \
                     UNION ALL \
                     SELECT owner_id, CAST(CASE WHEN status = 'open' THEN 1 ELSE 0 END AS BIGINT) \
                     FROM shops WHERE icon_key = $1 \
                     LIMIT 1",
                )
                .bind(key.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|(owner, public)| $crate::MediaAccess {
                    owner_id: $crate::MemberId::from_uuid(owner),
                    public: public != 0,
                }))
            }

            async fn search(
                &self,
                q: &$crate::SearchQuery,
            ) -> Result<Vec<$crate::ItemSummary>, $crate::StoreError> {
                use $crate::sql::shops::{Dialect, FTS_COUNT, FTS_PLAN_LIMIT, Param, SqlitePlan, TRIGRAM_MIN_CHARS, fts_query};
                let long: Vec<&str> = q
                    .terms
                    .iter()
                    .map(String::as_str)
                    .filter(|t| t.chars().count() >= TRIGRAM_MIN_CHARS)
                    .take($crate::SearchQuery::MAX_TERMS)
                    .collect();
                let plan = if $dialect == Dialect::Sqlite && !long.is_empty() {
                    let (n,): (i64,) = ::sqlx::query_as(FTS_COUNT)
                        .bind(fts_query(long))
                        .fetch_one(&self.pool)
                        .await
                        .map_err(other)?;
                    if n < FTS_PLAN_LIMIT { SqlitePlan::Fts } else { SqlitePlan::Scan }
                } else {
                    SqlitePlan::Scan
                };
                let (sql, params) = $crate::sql::shops::search_statement($dialect, plan, q);
                // Not a cached prepared statement: PostgreSQL then plans
                // each search for its own values (a generic plan cannot
                // tell a rare term, best found through the trigram index,
                // from a common one, best read in the page's order, and
                // picked a full scan for the rare ones: bench/README.md).
                let mut query = ::sqlx::query_as::<_, SummaryRow>(::sqlx::AssertSqlSafe(sql))
                    .persistent(false);
                for p in params {
                    query = match p {
                        Param::Text(t) => query.bind(t),
                        Param::Int(n) => query.bind(n),
                        Param::Id(id) => query.bind(id),
                    };
                }
                let rows = query.fetch_all(&self.pool).await.map_err(other)?;
                rows.into_iter().map(summary_record).collect()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use anshin_domain::Yen;

    #[test]
    fn like_patterns_escape_wildcards_and_the_escape() {
        assert_eq!(like_pattern("マグ"), "%マグ%");
        assert_eq!(like_pattern("100%"), "%100\\%%");
        assert_eq!(like_pattern("a_b"), "%a\\_b%");
        assert_eq!(like_pattern("c:\\x"), "%c:\\\\x%");
    }

    #[test]
    fn fts_terms_are_quoted_phrases() {
        assert_eq!(fts_query(["マグカップ"]), "\"マグカップ\"");
        assert_eq!(fts_query(["a\"b", "near(x"]), "\"a\"\"b\" AND \"near(x\"");
        assert_eq!(fts_query(["ab\0c"]), "\"abc\"");
    }

    #[test]
    fn statements_bind_every_value_and_number_parameters_in_order() {
        let q = SearchQuery {
            terms: vec!["マグカップ".into(), "赤".into()],
            min: Some(Yen::new(100)),
            max: Some(Yen::new(2000)),
            sort: SearchSort::PriceAsc,
            shop: None,
            offset: 20,
            limit: 21,
        };
        let (sql, params) = search_statement(Dialect::Sqlite, SqlitePlan::Fts, &q);
        assert!(
            sql.contains("MATCH $1") && sql.contains("LIKE $2 ESCAPE"),
            "{sql}"
        );
        assert!(sql.ends_with("LIMIT $5 OFFSET $6"), "{sql}");
        assert!(!sql.contains("マグ") && !sql.contains("赤"));
        assert_eq!(params.len(), 6);
        let (sql, params) = search_statement(Dialect::Sqlite, SqlitePlan::Scan, &q);
        assert!(
            !sql.contains("MATCH")
                && sql.contains("LIKE $1 ESCAPE")
                && sql.contains("LIKE $2 ESCAPE"),
            "{sql}"
        );
        assert_eq!(params[0], Param::Text("%マグカップ%".into()));
        assert_eq!(params.len(), 6);
        let (sql, params) = search_statement(Dialect::Postgres, SqlitePlan::Fts, &q);
        assert!(
            sql.contains("ILIKE $1 ESCAPE") && sql.contains("ILIKE $2 ESCAPE"),
            "{sql}"
        );
        assert_eq!(params[0], Param::Text("%マグカップ%".into()));
        assert_eq!(params.len(), 6);
    }
}

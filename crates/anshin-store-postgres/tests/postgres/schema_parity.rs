//! The two migration trees must describe the same schema: same tables, same
//! columns in the same order with equivalent types and nullability, same
//! primary keys, unique constraints and indexes. Without this test the
//! backends drift apart silently.

use std::collections::BTreeMap;

use anshin_store::Store;
use anshin_store_postgres::PostgresStore;
use anshin_store_postgres::scratch::ScratchDatabase;
use anshin_store_sqlite::SqliteStore;
use sqlx::AssertSqlSafe;

/// table → list of (column, canonical type, not null, part of primary key)
type Columns = BTreeMap<String, Vec<(String, String, bool, bool)>>;
/// table → sorted list of (index columns joined by ',', unique)
type Indexes = BTreeMap<String, Vec<(String, bool)>>;

/// Every table the migrations create. A new table is added here with its
/// migration pair, so that the comparison is known to cover it (two trees
/// that both lack it would otherwise compare equal).
const TABLES: [&str; 61] = [
    "alert_tallies",
    "alert_webhooks",
    "alerts",
    "audit_checkpoints",
    "audit_details",
    "audit_entries",
    "audit_head",
    "auth_counters",
    "bank_accounts",
    "cart_lines",
    "dropoff_codes",
    "incident_timeline",
    "incidents",
    "item_images",
    "items",
    "job_leases",
    "kek_versions",
    "key_check",
    "known_devices",
    "ledger_postings",
    "ledger_transactions",
    "login_events",
    "login_flows",
    "mail_outbox",
    "member_keys",
    "member_locks",
    "member_phones",
    "members",
    "order_lines",
    "order_shipping",
    "orders",
    "parcel_events",
    "payment_attempts",
    "payout_banks",
    "payout_batches",
    "payout_keys",
    "payouts",
    "processor_events",
    "reauth_drafts",
    "reencrypt_progress",
    "refunds",
    "selfscan_reports",
    "sessions",
    "shipment_keys",
    "shipment_labels",
    "shipments",
    "shipping_addresses",
    "shipping_shifts",
    "shipping_terminals",
    "shop_shipping",
    "shops",
    "staff_accounts",
    "staff_networks",
    "staff_passkeys",
    "staff_sessions",
    "staff_webauthn_ceremonies",
    "unlock_tokens",
    "used_challenges",
    "vdp_notes",
    "vdp_reports",
    "waybill_void_requests",
];

/// The catalog search index is the one thing the backends build
/// differently (migration 0012): SQLite's FTS5 table `item_search` (with
/// its shadow tables, kept by triggers) and PostgreSQL's pg_trgm GIN index
/// `items_search_trgm`. Left out of the comparison by these names only;
/// the conformance suite checks that both find the same items.
const SQLITE_SEARCH_TABLES: &str = "item_search";
const POSTGRES_SEARCH_INDEX: &str = "items_search_trgm";

/// Maps each backend's type names onto one vocabulary.
fn canonical(ty: &str) -> String {
    match ty.to_ascii_lowercase().as_str() {
        "integer" | "bigint" | "int8" => "int".into(),
        "smallint" | "int2" | "int4" => "int".into(),
        "text" | "character varying" | "varchar" => "text".into(),
        "blob" | "bytea" | "uuid" => "bytes".into(),
        "real" | "double precision" => "real".into(),
        "boolean" => "int".into(),
        other => format!("unknown:{other}"),
    }
}

async fn sqlite_schema(store: &SqliteStore) -> (Columns, Indexes) {
    let pool = store.pool();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' \
         AND name <> $1 AND substr(name, 1, length($1) + 1) <> $1 || '_' ORDER BY name",
    )
    .bind(SQLITE_SEARCH_TABLES)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut columns = Columns::new();
    let mut indexes = Indexes::new();
    for (table,) in tables {
        let cols: Vec<(i64, String, String, i64, Option<String>, i64)> =
            sqlx::query_as(AssertSqlSafe(format!("PRAGMA table_info({table})")))
                .fetch_all(pool)
                .await
                .unwrap();
        columns.insert(
            table.clone(),
            cols.into_iter()
                .map(|(_, name, ty, notnull, _, pk)| (name, canonical(&ty), notnull == 1, pk > 0))
                .collect(),
        );
        let list: Vec<(i64, String, i64, String, i64)> =
            sqlx::query_as(AssertSqlSafe(format!("PRAGMA index_list({table})")))
                .fetch_all(pool)
                .await
                .unwrap();
        let mut idx = Vec::new();
        for (_, name, unique, origin, _) in list {
            if origin == "pk" {
                continue; // primary keys are compared through the columns
            }
            let cols: Vec<(i64, i64, String)> =
                sqlx::query_as(AssertSqlSafe(format!("PRAGMA index_info({name})")))
                    .fetch_all(pool)
                    .await
                    .unwrap();
            let names: Vec<String> = cols.into_iter().map(|c| c.2).collect();
            idx.push((names.join(","), unique == 1));
        }
        idx.sort();
        indexes.insert(table, idx);
    }
    (columns, indexes)
}

async fn postgres_schema(store: &PostgresStore) -> (Columns, Indexes) {
    let pool = store.pool();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut columns = Columns::new();
    let mut indexes = Indexes::new();
    for (table,) in tables {
        let cols: Vec<(String, String, String, bool)> = sqlx::query_as(
            "SELECT c.column_name::text, c.data_type::text, c.is_nullable::text, \
               EXISTS (SELECT 1 FROM information_schema.table_constraints tc \
                 JOIN information_schema.key_column_usage k \
                   ON k.constraint_name = tc.constraint_name AND k.table_name = tc.table_name \
                 WHERE tc.table_name = c.table_name AND tc.constraint_type = 'PRIMARY KEY' \
                   AND k.column_name = c.column_name) \
             FROM information_schema.columns c \
             WHERE c.table_schema = current_schema() AND c.table_name = $1 \
             ORDER BY c.ordinal_position",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        columns.insert(
            table.clone(),
            cols.into_iter()
                .map(|(name, ty, nullable, pk)| (name, canonical(&ty), nullable == "NO", pk))
                .collect(),
        );
        let list: Vec<(String, bool)> = sqlx::query_as(
            "SELECT string_agg(a.attname::text, ',' ORDER BY k.ord), ix.indisunique \
             FROM pg_index ix \
             JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             JOIN pg_class i ON i.oid = ix.indexrelid \
             WHERE t.relname = $1 AND n.nspname = current_schema() AND NOT ix.indisprimary \
               AND i.relname <> $2 \
             GROUP BY ix.indexrelid, ix.indisunique",
        )
        .bind(&table)
        .bind(POSTGRES_SEARCH_INDEX)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut idx = list;
        idx.sort();
        indexes.insert(table, idx);
    }
    (columns, indexes)
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_match() {
    let dir = tempfile::tempdir().unwrap();
    let lite = SqliteStore::open_file(&dir.path().join("t.db"))
        .await
        .unwrap();
    lite.migrate().await.unwrap();
    let db = ScratchDatabase::create().await.unwrap();
    let pg = PostgresStore::connect_lazy(db.url(), 2).unwrap();
    pg.migrate().await.unwrap();

    let (lite_cols, lite_idx) = sqlite_schema(&lite).await;
    let (pg_cols, pg_idx) = postgres_schema(&pg).await;
    assert_eq!(
        lite_cols.keys().collect::<Vec<_>>(),
        TABLES,
        "SQLite tables differ from the list"
    );
    assert_eq!(
        pg_cols.keys().collect::<Vec<_>>(),
        TABLES,
        "PostgreSQL tables differ from the list"
    );
    // The job lease table as the job runner's SQL uses it.
    let job_columns: Vec<&str> = lite_cols["job_leases"]
        .iter()
        .map(|(name, _, _, _)| name.as_str())
        .collect();
    assert_eq!(
        job_columns,
        [
            "name",
            "holder",
            "lease_until",
            "next_run_at",
            "last_started_at",
            "last_success_at",
            "last_duration_us",
            "runs",
            "failures",
            "last_error"
        ]
    );
    for cols in lite_cols.values().chain(pg_cols.values()) {
        for (name, ty, _, _) in cols {
            assert!(
                !ty.starts_with("unknown"),
                "column {name} has an unmapped type {ty}"
            );
        }
    }
    assert_eq!(
        lite_cols, pg_cols,
        "columns differ between SQLite and PostgreSQL"
    );
    assert_eq!(
        lite_idx, pg_idx,
        "indexes differ between SQLite and PostgreSQL"
    );
    pg.pool().close().await;
    lite.pool().close().await;
}

/// The catalog's CHECKs hold on both databases, for a write that skipped
/// the domain's parsers: no negative price, no negative stock, no status
/// outside the closed set, no image of another content type.
#[tokio::test]
async fn catalog_checks_refuse_negative_prices_and_stock_on_both() {
    let dir = tempfile::tempdir().unwrap();
    let lite = SqliteStore::open_file(&dir.path().join("t.db"))
        .await
        .unwrap();
    lite.migrate().await.unwrap();
    let db = ScratchDatabase::migrated().await.unwrap();
    let pg = PostgresStore::connect_lazy(db.url(), 2).unwrap();
    pg.migrate().await.unwrap();
    let member = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
    let shop = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002);
    let setup = [
        "INSERT INTO members (id, email, display_name, language, created_at) \
         VALUES ($1, 'a@example.jp', 'A', 'ja', 0)",
        "INSERT INTO shops (id, owner_id, name, description, status, created_at, updated_at) \
         VALUES ($2, $1, 's', '', 'open', 0, 0)",
    ];
    let item = "INSERT INTO items (id, shop_id, title, description, price_yen, stock, status, \
                search_text, created_at, updated_at) VALUES ($1, $2, 't', '', $3, $4, $5, 't', 0, 0)";
    let cases: [(i64, Option<i64>, &str, bool); 5] = [
        (0, None, "on_sale", true),
        (-1, Some(1), "on_sale", false),
        (100, Some(-1), "on_sale", false),
        (i64::MIN, None, "draft", false),
        (100, Some(1), "deleted", false),
    ];
    for sql in setup {
        sqlx::query(sql)
            .bind(member)
            .bind(shop)
            .execute(lite.pool())
            .await
            .unwrap();
        sqlx::query(sql)
            .bind(member)
            .bind(shop)
            .execute(pg.pool())
            .await
            .unwrap();
    }
    for (n, (price, stock, status, ok)) in cases.into_iter().enumerate() {
        let id = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0001_0000 + n as u128);
        let on_lite = sqlx::query(item)
            .bind(id)
            .bind(shop)
            .bind(price)
            .bind(stock)
            .bind(status)
            .execute(lite.pool())
            .await;
        let on_pg = sqlx::query(item)
            .bind(id)
            .bind(shop)
            .bind(price)
            .bind(stock)
            .bind(status)
            .execute(pg.pool())
            .await;
        assert_eq!(on_lite.is_ok(), ok, "SQLite {price} {stock:?} {status}");
        assert_eq!(on_pg.is_ok(), ok, "PostgreSQL {price} {stock:?} {status}");
    }
    pg.pool().close().await;
    lite.pool().close().await;
}

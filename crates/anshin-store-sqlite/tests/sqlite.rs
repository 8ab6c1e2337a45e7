//! The SQLite backend's one test binary: the shared conformance suite,
//! one test per check, each on a fresh SQLite file in its own temporary
//! directory; and the pragmas the backend promises.
// Test code: a panic with a message is how a test reports failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use anshin_store::Store;
use anshin_store_sqlite::SqliteStore;

/// A migrated store on a new file; the directory goes when the test ends.
async fn fresh_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_file(&dir.path().join("t.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

anshin_store::conformance_tests!(fresh_store);

#[tokio::test]
async fn sqlite_pragmas_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_file(&dir.path().join("t.db"))
        .await
        .unwrap();
    let pool = store.pool();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(fk, 1);
    let (sd,): (i64,) = sqlx::query_as("PRAGMA secure_delete")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(sd, 1);
    let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(sync, 2, "synchronous should be FULL");
    let (busy,): (i64,) = sqlx::query_as("PRAGMA busy_timeout")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(busy >= 1000);
}

/// ADR 0023: only the second pool, for the writes a power cut may undo
/// without harm, commits without waiting for a sync; it opens the same
/// file in the same journal mode, so the next `FULL` commit's sync of the
/// WAL carries its commits to the disk too.
#[tokio::test]
async fn only_the_relaxed_pool_commits_without_a_sync() {
    let (store, _dir) = fresh_store().await;
    let number = |pool, name: &'static str| async move {
        let (v,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
            .fetch_one(pool)
            .await
            .unwrap();
        v
    };
    assert_eq!(number(store.pool(), "synchronous").await, 2, "FULL");
    assert_eq!(
        number(store.relaxed_pool(), "synchronous").await,
        1,
        "NORMAL"
    );
    assert_eq!(number(store.relaxed_pool(), "foreign_keys").await, 1);
    assert_eq!(number(store.relaxed_pool(), "secure_delete").await, 1);
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.relaxed_pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (main_file,): (String,) =
        sqlx::query_as("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let (relaxed_file,): (String,) =
        sqlx::query_as("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(store.relaxed_pool())
            .await
            .unwrap();
    assert_eq!(main_file, relaxed_file);
}

/// The retention purge runs each of its statements once per record (a
/// million times for a million records, in batches that must stay short):
/// SQLite's planner finds every statement's rows through an index, never
/// by reading a whole table (`SCAN`). Before migration 0031 the void
/// requests' words were cleared by reading every void request, for each
/// shipment purged.
#[tokio::test]
async fn c17_every_purge_statement_finds_its_rows_by_an_index() {
    let (store, _dir) = fresh_store().await;
    for sql in anshin_store::sql::purge_statements() {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(store.pool())
                .await
                .unwrap();
        let details: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
        assert!(
            details.iter().any(|d| d.starts_with("SEARCH ")),
            "{sql}: {details:?}"
        );
        assert!(
            !details.iter().any(|d| d.starts_with("SCAN ")),
            "{sql} reads a whole table: {details:?}"
        );
    }
}

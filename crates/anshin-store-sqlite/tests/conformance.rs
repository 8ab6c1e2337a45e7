//! The shared conformance suite on a fresh SQLite file.
// Test code: a panic with a message is how a test reports failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use anshin_store_sqlite::SqliteStore;

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_file(&dir.path().join("t.db"))
        .await
        .unwrap();
    anshin_store::conformance::run_all(&store).await;
    store.pool().close().await;
}

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

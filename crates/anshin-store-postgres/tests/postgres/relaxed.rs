//! The two pools' commit settings (ADR 0023): every commit waits for its
//! WAL flush, except on the pool of the writes a power cut may undo
//! without harm.

use anshin_store::{LockPolicy, Reservation, Store, Timestamp};
use anshin_store_postgres::PostgresStore;
use anshin_store_postgres::scratch::ScratchDatabase;

async fn setting(pool: &sqlx::PgPool) -> String {
    show(pool, "synchronous_commit").await
}

async fn show(pool: &sqlx::PgPool, name: &'static str) -> String {
    let (value,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SHOW {name}")))
        .fetch_one(pool)
        .await
        .unwrap();
    value
}

/// A lock another session holds makes a statement of either pool fail
/// as unavailable after [`anshin_store_postgres::LOCK_TIMEOUT`], not
/// wait without limit (ADR 0008, "a database out of reach is a 503").
#[tokio::test]
async fn both_pools_wait_for_a_lock_at_most_the_lock_timeout() {
    let db = ScratchDatabase::migrated().await.unwrap();
    let store = PostgresStore::connect_lazy(db.url(), 4).unwrap();
    assert_eq!(anshin_store_postgres::LOCK_TIMEOUT, "5s");
    assert_eq!(show(store.pool(), "lock_timeout").await, "5s");
    assert_eq!(show(store.relaxed_pool(), "lock_timeout").await, "5s");
    store.close().await;
}

#[tokio::test]
async fn only_the_relaxed_pool_commits_without_waiting_for_the_wal_flush() {
    let db = ScratchDatabase::migrated().await.unwrap();
    // The scratch URL turns synchronous commits off for the whole test
    // suite's speed; production URLs do not.
    let production = db.url().replace("%20-c%20synchronous_commit%3Doff", "");
    assert_ne!(production, db.url(), "the scratch URL changed its form");
    let store = PostgresStore::connect_lazy(&production, 4).unwrap();
    assert_eq!(setting(store.pool()).await, "on");
    assert_eq!(setting(store.relaxed_pool()).await, "off");
    // The relaxed pool is the same database: a reservation made through
    // it is read back through the main pool at once.
    let now = Timestamp::from_micros(1_000_000);
    let policy = LockPolicy {
        threshold: 5,
        delays: [anshin_store::Duration::from_secs(60); 4],
    };
    let reserved = store
        .throttle()
        .reserve_attempt("account:relaxed@example.com", now, &policy)
        .await
        .unwrap();
    assert!(matches!(reserved, Reservation::Allowed { count: 1, .. }));
    assert_eq!(
        store
            .throttle()
            .consecutive_failures("account:relaxed@example.com")
            .await
            .unwrap(),
        1
    );
    store.close().await;
}

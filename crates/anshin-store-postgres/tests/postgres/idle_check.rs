//! Which connections the pool checks before handing them out: only those
//! idle for [`CHECK_AFTER_IDLE`] or longer, not every one on every
//! acquire (sqlx's default, one more round trip each time; a login
//! acquires several).

use std::time::{Duration, Instant};

use anshin_store::{Store, StoreError};
use anshin_store_postgres::scratch::ScratchDatabase;
use anshin_store_postgres::{CHECK_AFTER_IDLE, PostgresStore};
use sqlx::Connection;

async fn backend_pid(pool: &sqlx::PgPool) -> Result<i32, sqlx::Error> {
    let (pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await?;
    Ok(pid)
}

/// Ends the server side of connection `pid`, as a restart or a failover
/// of the server would, while the pool holds it idle; `admin` is another
/// connection, opened beforehand so that this takes milliseconds.
async fn cut(admin: &mut sqlx::PgConnection, pid: i32) {
    let (ended,): (bool,) = sqlx::query_as("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut *admin)
        .await
        .unwrap();
    assert!(ended, "backend {pid} was not there to end");
    // pg_terminate_backend only signals: wait until the backend is gone.
    for _ in 0..500 {
        let (left,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM pg_stat_activity WHERE pid = $1")
                .bind(pid)
                .fetch_one(&mut *admin)
                .await
                .unwrap();
        if left == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("backend {pid} did not end");
}

/// A store with a pool of one connection (so it has no other to hand
/// out), used once and then cut while idle: the store, its database
/// (dropped last), the cut connection's backend and when it was last
/// used (it has been idle at most since then).
async fn one_connection_cut() -> (PostgresStore, ScratchDatabase, i32, Instant) {
    let db = ScratchDatabase::migrated().await.unwrap();
    let mut admin = sqlx::PgConnection::connect(db.url()).await.unwrap();
    let store = PostgresStore::connect_lazy(db.url(), 1).unwrap();
    let first = backend_pid(store.pool()).await.unwrap();
    let used = Instant::now();
    // sqlx gives a connection back in a task of its own, after a check of
    // its own: cut it only once it is idle in the pool, or that check
    // would find it cut and drop it instead.
    for _ in 0..500 {
        if store.pool().num_idle() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        store.pool().num_idle(),
        1,
        "the connection never went back to the pool"
    );
    cut(&mut admin, first).await;
    admin.close().await.unwrap();
    (store, db, first, used)
}

#[tokio::test]
async fn a_connection_cut_while_idle_is_replaced_before_it_is_used() {
    let (store, _db, first, _) = one_connection_cut().await;
    tokio::time::sleep(CHECK_AFTER_IDLE + Duration::from_millis(200)).await;
    // Idle long enough to be checked: the check finds it cut, and the
    // caller gets a new connection instead of an error.
    let second = backend_pid(store.pool()).await.unwrap();
    assert_ne!(first, second);
    store.close().await;
}

#[tokio::test]
async fn a_connection_in_steady_use_is_handed_out_unchecked_and_one_found_cut_is_dropped() {
    // A machine too busy to cut the connection within CHECK_AFTER_IDLE of
    // its last use would see it checked: try again then, a few times.
    for _ in 0..5 {
        let (store, _db, first, used) = one_connection_cut().await;
        if used.elapsed() >= CHECK_AFTER_IDLE {
            store.close().await;
            continue;
        }
        // Back in use within CHECK_AFTER_IDLE: no round trip checks it
        // (sqlx's default would have, and replaced it), so this use
        // fails, and the store calls it unavailable, as it does an I/O
        // error when the server goes away during a use...
        let failed = store.throttle().consecutive_failures("account:x").await;
        assert!(
            matches!(failed, Err(StoreError::Unavailable(_))),
            "{failed:?}"
        );
        // ...and the pool drops it instead of handing it out again.
        let second = backend_pid(store.pool()).await.unwrap();
        assert_ne!(first, second);
        store.close().await;
        return;
    }
    panic!("the connection could not be cut within {CHECK_AFTER_IDLE:?} of its use in 5 tries");
}

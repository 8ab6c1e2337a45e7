//! The shared conformance suite, each check on a fresh PostgreSQL
//! database that is dropped when the check ends.

use anshin_store::Store;
use anshin_store_postgres::PostgresStore;
use anshin_store_postgres::scratch::ScratchDatabase;

/// Connections per check: enough for the parallel checks to overlap for
/// real, few enough for two checks at a time on a default server.
const POOL_SIZE: u32 = 8;

/// A migrated store on a new scratch database; the database is dropped
/// with the guard.
async fn fresh_store() -> (PostgresStore, ScratchDatabase) {
    let db = ScratchDatabase::migrated().await.unwrap();
    let store = PostgresStore::connect_lazy(db.url(), POOL_SIZE).unwrap();
    store.migrate().await.unwrap();
    (store, db)
}

anshin_store::conformance_tests!(fresh_store);

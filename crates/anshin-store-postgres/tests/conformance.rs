//! The shared conformance suite on a fresh PostgreSQL database.
// Test code: a panic with a message is how a test reports failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use anshin_store_postgres::PostgresStore;
use anshin_store_postgres::scratch::ScratchDatabase;

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let db = ScratchDatabase::create().await.unwrap();
    let store = PostgresStore::connect_lazy(db.url(), 4).unwrap();
    anshin_store::conformance::run_all(&store).await;
    store.pool().close().await;
}

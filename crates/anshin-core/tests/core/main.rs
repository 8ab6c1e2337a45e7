//! The integration suite of `anshin-core`, as one test binary: use cases
//! and the job runner against real databases, each test on SQLite and on
//! PostgreSQL.

// Test code: a panic with a message is how a test reports failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable
)]

mod audit;
mod double_pay;
mod jobs;
mod ledger;
mod outbox;
mod payouts;

use std::sync::Arc;

use anshin_store::Store;
use anshin_store_postgres::PostgresStore;
use anshin_store_postgres::scratch::ScratchDatabase;
use anshin_store_sqlite::SqliteStore;

/// A fresh, migrated store and what keeps its database alive.
#[allow(missing_debug_implementations)]
pub struct Fresh {
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _db: Option<ScratchDatabase>,
}

impl Fresh {
    /// A second store on the same database with its own pool: what
    /// another instance of the app would hold.
    pub async fn another(&self) -> Arc<dyn Store> {
        if let Some(dir) = &self._dir {
            let store = SqliteStore::open_file(&dir.path().join("core.db"))
                .await
                .unwrap();
            return Arc::new(store);
        }
        let db = self._db.as_ref().unwrap();
        Arc::new(PostgresStore::connect_lazy(db.url(), 4).unwrap())
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub async fn fresh(backend: Backend) -> Fresh {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open_file(&dir.path().join("core.db"))
                .await
                .unwrap();
            store.migrate().await.unwrap();
            Fresh {
                store: Arc::new(store),
                _dir: Some(dir),
                _db: None,
            }
        }
        Backend::Postgres => {
            let db = ScratchDatabase::migrated()
                .await
                .expect("PostgreSQL for tests (start it, or set ANSHIN_TEST_POSTGRES_URL)");
            let store = PostgresStore::connect_lazy(db.url(), 4).unwrap();
            store.migrate().await.unwrap();
            Fresh {
                store: Arc::new(store),
                _dir: None,
                _db: Some(db),
            }
        }
    }
}

/// One test function per backend, like the test kit's `backends!`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await;
                }
            }
        )*
    };
}

//! Opens the store the configuration names: SQLite (the embedded default)
//! or PostgreSQL (several app instances).

use std::sync::Arc;

use anshin_store::Store;
use anshin_store_postgres::PostgresStore;
use anshin_store_sqlite::SqliteStore;

use crate::config::{DatabaseKind, Settings};

pub async fn open(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database_url();
    let kind = url
        .kind()
        .map_err(|e| anyhow::anyhow!("database.url {e}"))?;
    Ok(match kind {
        DatabaseKind::Sqlite => {
            std::fs::create_dir_all(&settings.data_dir)?;
            Arc::new(SqliteStore::connect(url.expose()).await.map_err(|e| {
                anyhow::anyhow!("cannot open SQLite database {}: {e}", url.redacted())
            })?)
        }
        DatabaseKind::Postgres => Arc::new(
            PostgresStore::connect_lazy(url.expose(), settings.database.max_connections)
                .map_err(|e| anyhow::anyhow!("database.url {}: {e}", url.redacted()))?,
        ),
    })
}

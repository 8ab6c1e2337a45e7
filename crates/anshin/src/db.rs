//! Opens the store the configuration names: SQLite (the embedded default)
//! or PostgreSQL (several app instances).

use std::sync::Arc;
use std::time::Duration;

use anshin_store::Store;
use anshin_store_postgres::PostgresStore;
use anshin_store_sqlite::SqliteStore;

use crate::config::{DatabaseKind, Settings};

pub async fn open(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database_url();
    let kind = url
        .kind()
        .map_err(|e| anyhow::anyhow!("database.url {e}"))?;
    let acquire_timeout = Duration::from_secs(settings.database.acquire_timeout_secs);
    Ok(match kind {
        DatabaseKind::Sqlite => {
            std::fs::create_dir_all(&settings.data_dir)?;
            Arc::new(
                SqliteStore::connect_with(url.expose(), acquire_timeout)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("cannot open SQLite database {}: {e}", url.redacted())
                    })?,
            )
        }
        DatabaseKind::Postgres => Arc::new(
            PostgresStore::connect_lazy_with(
                url.expose(),
                settings.database.max_connections,
                acquire_timeout,
            )
            .map_err(|e| anyhow::anyhow!("database.url {}: {e}", url.redacted()))?,
        ),
    })
}

//! Throw-away databases for tests: each test run gets its own fresh
//! database on the shared PostgreSQL server, dropped when the guard goes.
//!
//! [`ScratchDatabase::migrated`] copies a template that holds every
//! embedded migration (`CREATE DATABASE … TEMPLATE`, a file copy on the
//! server) instead of migrating each new database: the suites make
//! hundreds of them. The template's name carries a hash of the
//! migrations, so a changed migration makes a new template; it is built
//! under a server-wide advisory lock and published by a rename, so
//! parallel test processes neither race nor see a half-built one.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use anshin_store::StoreError;

/// The server tests use unless `ANSHIN_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database created for one test; dropped (with its connections) on drop.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates `anshin_test_<random>` on the server named by
    /// `ANSHIN_TEST_POSTGRES_URL` (or [`DEFAULT_ADMIN_URL`]).
    // Test support: a throwaway database's name needs uniqueness, not the
    // core's injected randomness (which lives above this crate).
    #[allow(clippy::disallowed_methods)]
    pub async fn create() -> Result<Self, StoreError> {
        let admin_url = std::env::var("ANSHIN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let name = format!("anshin_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = admin(&admin_url).await?;
        // The name is ours (a fixed prefix and hex digits), never user input.
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let _ = conn.close().await;
        let url = options_to_url(&admin_url, &name);
        Ok(Self {
            admin_url,
            name,
            url,
        })
    }

    /// A fresh database with every embedded migration applied, copied
    /// from the template (built on first use).
    #[allow(clippy::disallowed_methods)] // as in `create`
    pub async fn migrated() -> Result<Self, StoreError> {
        let admin_url = std::env::var("ANSHIN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let template = template_name();
        ensure_template(&admin_url, &template).await?;
        let name = format!("anshin_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = admin(&admin_url).await?;
        // Both names are ours (fixed prefixes and hex digits).
        sqlx::query(AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE {template}"
        )))
        .execute(&mut conn)
        .await
        .map_err(|e| StoreError::Other(e.to_string()))?;
        let _ = conn.close().await;
        let url = options_to_url(&admin_url, &name);
        Ok(Self {
            admin_url,
            name,
            url,
        })
    }

    /// Connection URL of the scratch database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `anshin_tpl_<hash of every embedded migration>`.
fn template_name() -> String {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same migrations give the same name in
    // every process of this build.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for m in crate::MIGRATOR.iter() {
        m.version.hash(&mut h);
        m.checksum.hash(&mut h);
    }
    format!("anshin_tpl_{:016x}", h.finish())
}

/// Builds the template unless it exists: under an advisory lock (one
/// builder across processes), into a database of another name that is
/// renamed only once migrated.
#[allow(clippy::disallowed_methods)] // as in `create`
async fn ensure_template(admin_url: &str, template: &str) -> Result<(), StoreError> {
    static READY: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    READY
        .get_or_try_init(|| async {
            let other = |e: sqlx::Error| StoreError::Other(e.to_string());
            let mut conn = admin(admin_url).await?;
            // An arbitrary constant: "anshin templates".
            sqlx::query("SELECT pg_advisory_lock(7061736869)")
                .execute(&mut conn)
                .await
                .map_err(other)?;
            let built = async {
                let exists: Option<(i32,)> =
                    sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
                        .bind(template)
                        .fetch_optional(&mut conn)
                        .await
                        .map_err(other)?;
                if exists.is_some() {
                    return Ok(());
                }
                let building = format!("anshin_tplb_{}", uuid::Uuid::now_v7().simple());
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {building}")))
                    .execute(&mut conn)
                    .await
                    .map_err(other)?;
                let store =
                    crate::PostgresStore::connect_lazy(&options_to_url(admin_url, &building), 2)?;
                let migrated = anshin_store::Store::migrate(&store).await;
                store.pool().close().await;
                migrated?;
                sqlx::query(AssertSqlSafe(format!(
                    "ALTER DATABASE {building} RENAME TO {template}"
                )))
                .execute(&mut conn)
                .await
                .map_err(other)?;
                Ok::<(), StoreError>(())
            }
            .await;
            let _ = sqlx::query("SELECT pg_advisory_unlock(7061736869)")
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
            built
        })
        .await
        .map(|_| ())
}

fn options_to_url(admin_url: &str, name: &str) -> String {
    // Replace the path (database name) of the admin URL, keep the query.
    match url_split(admin_url) {
        Some((base, query)) => format!("{base}/{name}{query}"),
        None => format!("{admin_url}/{name}"),
    }
}

/// Splits `postgres://user@host:port/db?query` into
/// (`postgres://user@host:port`, `?query`).
fn url_split(url: &str) -> Option<(&str, &str)> {
    let after_scheme = url.find("://")? + 3;
    let rest = url.get(after_scheme..)?;
    let path_start = after_scheme + rest.find('/')?;
    let query_start = url.find('?').unwrap_or(url.len());
    Some((url.get(..path_start)?, url.get(query_start..)?))
}

async fn admin(url: &str) -> Result<PgConnection, StoreError> {
    PgConnection::connect(url).await.map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot reach the test PostgreSQL server (set ANSHIN_TEST_POSTGRES_URL): {e}"
        ))
    })
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee: use a private one on a
        // plain thread and wait for it, so the database is gone afterwards.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = admin(&admin_url).await {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_url_replaces_the_database_and_keeps_the_query() {
        assert_eq!(
            options_to_url("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            options_to_url("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}

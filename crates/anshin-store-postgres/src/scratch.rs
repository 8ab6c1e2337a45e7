//! Throw-away databases for tests: each test run gets its own fresh
//! database on the shared PostgreSQL server, dropped when the guard goes.
//!
//! [`ScratchDatabase::migrated`] is what the suites use (they make
//! hundreds): a fresh *schema* in one shared database, `anshin_tests`,
//! with every embedded migration applied. Creating a schema and migrating
//! it takes a few tens of milliseconds where `CREATE DATABASE` copies and
//! fsyncs a whole template; the isolation is the same, because every
//! connection of the scratch URL has `search_path` set to its schema (and
//! `application_name` to its name, so its connections can be ended before
//! the schema is dropped). Those connections also run with
//! `synchronous_commit = off`: a commit is visible to every other session
//! at once, exactly as with a synchronous commit, and only a crash of the
//! PostgreSQL server itself could lose it, which no test does. Schemas a
//! killed test process left behind are dropped after an hour.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use anshin_store::StoreError;

/// The server tests use unless `ANSHIN_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The shared database the scratch schemas live in.
pub const SHARED: &str = "anshin_tests";

/// A database (or a schema of [`SHARED`]) created for one test; dropped,
/// with its connections, on drop.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Database,
    Schema,
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
            kind: Kind::Database,
        })
    }

    /// A fresh schema with every embedded migration applied, in the
    /// shared `anshin_tests` database (created on first use).
    #[allow(clippy::disallowed_methods)] // as in `create`
    pub async fn migrated() -> Result<Self, StoreError> {
        let admin_url = std::env::var("ANSHIN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        ensure_shared(&admin_url).await?;
        let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
        let url = schema_url(&admin_url, &schema);
        let store = crate::PostgresStore::connect_lazy(&url, 1)?;
        // The name is ours (a fixed prefix and hex digits).
        let made = sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(store.pool())
            .await
            .map_err(|e| StoreError::Other(e.to_string()));
        let migrated = match made {
            Ok(_) => anshin_store::Store::migrate(&store).await,
            Err(e) => Err(e),
        };
        store.pool().close().await;
        migrated?;
        Ok(Self {
            admin_url,
            name: schema,
            url,
            kind: Kind::Schema,
        })
    }

    /// Connection URL of the scratch database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name, or the schema's for [`Self::migrated`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The schema the scratch URL's connections use (`public` for a
    /// whole database): what `pg_dump --schema` wants.
    pub fn schema(&self) -> &str {
        match self.kind {
            Kind::Database => "public",
            Kind::Schema => &self.name,
        }
    }
}

/// The shared database's URL for `schema`: every connection searches that
/// schema (then `public`, where the shared database keeps its extensions),
/// names itself after it, and commits asynchronously.
fn schema_url(admin_url: &str, schema: &str) -> String {
    let base = options_to_url(admin_url, SHARED);
    let sep = if base.contains('?') { '&' } else { '?' };
    // `options` in the form libpq (pg_dump, psql) and sqlx both read.
    format!(
        "{base}{sep}application_name={schema}&options=-c%20search_path%3D{schema}%2Cpublic%20-c%20synchronous_commit%3Doff"
    )
}

/// Creates the shared database unless it exists (under an advisory lock,
/// so parallel test processes do not race), and drops scratch schemas
/// left by killed test processes more than an hour ago. Once per process.
async fn ensure_shared(admin_url: &str) -> Result<(), StoreError> {
    static READY: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    READY
        .get_or_try_init(|| async {
            let other = |e: sqlx::Error| StoreError::Other(e.to_string());
            let mut conn = admin(admin_url).await?;
            // An arbitrary constant: "anshin tests".
            sqlx::query("SELECT pg_advisory_lock(7061736869)")
                .execute(&mut conn)
                .await
                .map_err(other)?;
            let made = async {
                let exists: Option<(i32,)> =
                    sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
                        .bind(SHARED)
                        .fetch_optional(&mut conn)
                        .await
                        .map_err(other)?;
                if exists.is_none() {
                    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {SHARED}")))
                        .execute(&mut conn)
                        .await
                        .map_err(other)?;
                }
                // Extensions are per database, not per schema: the
                // migrations' `CREATE EXTENSION IF NOT EXISTS` would put
                // one into the first test's schema (and lose it when that
                // schema is dropped). Made once here, in `public`, which
                // every scratch schema's search path ends with.
                let mut shared = admin(&options_to_url(admin_url, SHARED)).await?;
                let made = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
                    .execute(&mut shared)
                    .await
                    .map_err(other);
                let _ = shared.close().await;
                made?;
                Ok::<(), StoreError>(())
            }
            .await;
            let _ = sqlx::query("SELECT pg_advisory_unlock(7061736869)")
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
            made?;
            drop_stale_schemas(admin_url).await;
            Ok(())
        })
        .await
        .map(|_| ())
}

/// Drops `t_<uuidv7>` schemas whose id is more than an hour old.
#[allow(clippy::disallowed_methods)] // test support: the wall clock decides what is stale
async fn drop_stale_schemas(admin_url: &str) {
    let Ok(mut conn) = admin(&options_to_url(admin_url, SHARED)).await else {
        return;
    };
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    for (name,) in names {
        let stale = name
            .strip_prefix("t_")
            .and_then(|hex| uuid::Uuid::try_parse(hex).ok())
            .and_then(|id| id.get_timestamp())
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                u128::from(secs) * 1000 + u128::from(nanos / 1_000_000)
            })
            .is_some_and(|made| now_ms.saturating_sub(made) > 3_600_000);
        if stale {
            let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE")))
                .execute(&mut conn)
                .await;
        }
    }
    let _ = conn.close().await;
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
        let kind = self.kind;
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
                match kind {
                    Kind::Database => {
                        if let Ok(mut conn) = admin(&admin_url).await {
                            let _ = sqlx::query(AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&mut conn)
                            .await;
                            let _ = conn.close().await;
                        }
                    }
                    Kind::Schema => {
                        if let Ok(mut conn) = admin(&options_to_url(&admin_url, SHARED)).await {
                            // End the test's connections (they name
                            // themselves after the schema), then drop it.
                            let _ = sqlx::query(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                            )
                            .bind(&name)
                            .execute(&mut conn)
                            .await;
                            let _ = sqlx::query(AssertSqlSafe(format!(
                                "DROP SCHEMA IF EXISTS {name} CASCADE"
                            )))
                            .execute(&mut conn)
                            .await;
                            let _ = conn.close().await;
                        }
                    }
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
    fn schema_url_sets_search_path_name_and_async_commit() {
        assert_eq!(
            schema_url("postgres://u@h/postgres?sslmode=disable", "t_1"),
            "postgres://u@h/anshin_tests?sslmode=disable&application_name=t_1\
             &options=-c%20search_path%3Dt_1%2Cpublic%20-c%20synchronous_commit%3Doff"
        );
    }

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

//! The PostgreSQL backend: for several app instances behind a load
//! balancer. Sessions, rate limits, locks and jobs all live here, so an
//! instance can be killed or added at any time.

pub mod scratch;

use std::str::FromStr;
use std::time::Duration;

use anshin_store::{
    AccountRepo, Backend, MailRepo, MemberDataRepo, SchemaStatus, SessionRepo, Store, StoreError,
};
use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

anshin_store::portable_repos!(
    sqlx::Postgres,
    "BEGIN",
    anshin_store::sql::shops::Dialect::Postgres
);

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    relaxed: PgPool,
    repos: Repos,
}

/// The pool of the writes that need no sync of their own (ADR 0023): a
/// quarter of the main pool's size, between 1 and 4. Each is one short
/// statement.
fn relaxed_connections(max_connections: u32) -> u32 {
    max_connections.div_ceil(4).clamp(1, 4)
}

/// How long a statement waits for a lock another session holds (an
/// operator's `LOCK TABLE`, a long migration on another instance) before
/// it fails as unavailable (SQLSTATE 55P03: a 503 to retry). The same
/// bound as SQLite's busy timeout; the site's own transactions hold their
/// locks for milliseconds.
pub const LOCK_TIMEOUT: &str = "5s";

/// How long a connection may sit idle in the pool before it is checked
/// (one round trip) on its way out. Under load every connection is back in
/// use within milliseconds; on a quiet site each is checked as before.
pub const CHECK_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A pool of at most `max` connections that checks an idle connection
/// before handing it out only if it has been idle for
/// [`CHECK_AFTER_IDLE`]. A connection that sat unused is the one a restart
/// or failover of the server, or a firewall's idle timeout, may have cut;
/// one in steady use has just shown that it works. sqlx's default checks
/// every connection on every acquire: one more round trip to the server
/// each time, and a login acquires several (the bench in bench/README.md).
fn pool_options(max: u32, acquire_timeout: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

impl PostgresStore {
    /// Connects lazily: the pool opens connections on demand, so the server
    /// starts (and reports not-ready) while PostgreSQL is down.
    pub fn connect_lazy(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_lazy_with(url, max_connections, anshin_store::ACQUIRE_TIMEOUT)
    }

    /// As [`Self::connect_lazy`], waiting at most `acquire_timeout` for a
    /// free connection before a request fails as unavailable.
    pub fn connect_lazy_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL URL: {e}")))?
            .options([("lock_timeout", LOCK_TIMEOUT)]);
        let pool =
            pool_options(max_connections, acquire_timeout).connect_lazy_with(options.clone());
        // An asynchronous commit is visible and locked exactly as a
        // synchronous one; only its WAL flush is left to the WAL writer or
        // to the next synchronous commit, which flushes everything before
        // it (ADR 0023).
        let relaxed = pool_options(relaxed_connections(max_connections), acquire_timeout)
            .connect_lazy_with(options.options([("synchronous_commit", "off")]));
        Ok(Self {
            repos: Repos::new(pool.clone(), relaxed.clone()),
            pool,
            relaxed,
        })
    }

    /// The pool, for tests that inspect the schema or the raw rows.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The pool of the writes that need no sync of their own (ADR 0023),
    /// for tests that check its setting.
    pub fn relaxed_pool(&self) -> &PgPool {
        &self.relaxed
    }
}

pub(crate) fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A driver error outside the repositories (migrations, the schema
/// check, the flush), told apart as the repositories' are: an outage is
/// [`StoreError::Unavailable`], so a start during a restart waits.
fn driver_error(e: sqlx::Error) -> StoreError {
    other(e)
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => match driver_error(e) {
                StoreError::Unavailable(e) => StoreError::Unavailable(e),
                e => StoreError::Migration(e.to_string()),
            },
            e => StoreError::Migration(e.to_string()),
        })
    }

    async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        let table: Option<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(driver_error)?;
        let applied: Vec<(i64,)> = if table.is_some() {
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .map_err(driver_error)?
        } else {
            Vec::new()
        };
        Ok(SchemaStatus {
            known: known.len(),
            applied: known
                .iter()
                .filter(|v| applied.iter().any(|(a,)| a == *v))
                .count(),
        })
    }

    fn sessions(&self) -> &dyn SessionRepo {
        &self.repos
    }

    fn accounts(&self) -> &dyn AccountRepo {
        &self.repos
    }

    fn mail(&self) -> &dyn MailRepo {
        &self.repos
    }

    fn throttle(&self) -> &dyn anshin_store::ThrottleRepo {
        &self.repos
    }

    fn challenges(&self) -> &dyn anshin_store::ChallengeRepo {
        &self.repos
    }

    fn member_data(&self) -> &dyn MemberDataRepo {
        &self.repos
    }

    fn jobs(&self) -> &dyn anshin_store::JobRepo {
        &self.repos
    }

    fn shops(&self) -> &dyn anshin_store::ShopRepo {
        &self.repos
    }

    fn orders(&self) -> &dyn anshin_store::OrderRepo {
        &self.repos
    }

    fn staff(&self) -> &dyn anshin_store::StaffRepo {
        &self.repos
    }

    fn staff_passkeys(&self) -> &dyn anshin_store::StaffPasskeyRepo {
        &self.repos
    }

    fn audit(&self) -> &dyn anshin_store::AuditRepo {
        &self.repos
    }

    fn incidents(&self) -> &dyn anshin_store::IncidentRepo {
        &self.repos
    }

    fn centre(&self) -> &dyn anshin_store::CentreRepo {
        &self.repos
    }

    fn alerts(&self) -> &dyn anshin_store::AlertRepo {
        &self.repos
    }

    fn selfscan(&self) -> &dyn anshin_store::SelfScanRepo {
        &self.repos
    }

    fn vdp(&self) -> &dyn anshin_store::VdpRepo {
        &self.repos
    }

    fn shipping(&self) -> &dyn anshin_store::ShippingRepo {
        &self.repos
    }

    fn payouts(&self) -> &dyn anshin_store::PayoutRepo {
        &self.repos
    }

    async fn commit(&self, changes: &anshin_store::Changes) -> Result<(), StoreError> {
        self.repos.commit(changes).await
    }

    async fn key_check(&self, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.repos.key_check(value).await
    }

    async fn flush_after_purge(
        &self,
        _patience: std::time::Duration,
    ) -> Result<anshin_store::Flushed, StoreError> {
        // Rows are gone for every reader and pg_dump at commit; dead
        // tuples hold only ciphertext until vacuum reuses their space.
        Ok(anshin_store::Flushed::Done)
    }

    async fn close(&self) {
        self.relaxed.close().await;
        self.pool.close().await;
    }
}

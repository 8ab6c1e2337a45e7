//! The SQLite backend: anshin's embedded default, one file in the data
//! directory, for a single app instance.
//!
//! Opened in WAL mode with `synchronous = FULL` (a committed payment
//! survives a power cut, not only a crash; the few writes a power cut may
//! undo without harm use a second pool without the wait, ADR 0023),
//! foreign keys enforced, `secure_delete` on (deleted personal data is
//! overwritten, not left in free pages) and a busy timeout so writers
//! queue instead of failing.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anshin_store::{
    AccountRepo, Backend, Flushed, MailRepo, MemberDataRepo, SchemaStatus, SessionRepo, Store,
    StoreError,
};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

anshin_store::portable_repos!(
    sqlx::Sqlite,
    "BEGIN IMMEDIATE",
    anshin_store::sql::shops::Dialect::Sqlite
);

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a query waits for a lock held by another writer.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The first pause between two tries of the flush after a purge, doubled
/// after each busy try up to [`FLUSH_MAX_PAUSE`].
const FLUSH_FIRST_PAUSE: Duration = Duration::from_millis(100);
const FLUSH_MAX_PAUSE: Duration = Duration::from_secs(2);

/// Connections for the writes that need no sync of their own (ADR 0023).
const RELAXED_CONNECTIONS: u32 = 2;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    relaxed: SqlitePool,
    repos: Repos,
}

impl SqliteStore {
    /// Opens (creating if missing) the database named by a `sqlite://` URL.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, anshin_store::ACQUIRE_TIMEOUT).await
    }

    /// As [`Self::connect`], waiting at most `acquire_timeout` for a free
    /// connection before a request fails as unavailable.
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid SQLite URL: {e}")))?;
        Self::open(options, acquire_timeout).await
    }

    /// Opens (creating if missing) the database file at `path`.
    pub async fn open_file(path: &Path) -> Result<Self, StoreError> {
        Self::open(
            SqliteConnectOptions::new().filename(path),
            anshin_store::ACQUIRE_TIMEOUT,
        )
        .await
    }

    async fn open(
        options: SqliteConnectOptions,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("secure_delete", "ON");
        // Connections are handed out without sqlx's default check: a
        // connection to a local file has no other end that could have gone
        // away, and the check is a hand-off to the connection's worker
        // thread and back on every acquire (a login acquires several; ADR
        // 0008, last amendment).
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(unavailable)?;
        // In WAL mode a `NORMAL` commit reaches the file but waits for no
        // sync; the next `FULL` commit's sync of the same file makes it
        // durable too (ADR 0023). Two connections: SQLite writes one at a
        // time anyway.
        let relaxed = SqlitePoolOptions::new()
            .max_connections(RELAXED_CONNECTIONS)
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(false)
            .connect_with(options.synchronous(SqliteSynchronous::Normal))
            .await
            .map_err(unavailable)?;
        Ok(Self {
            repos: Repos::new(pool.clone(), relaxed.clone()),
            pool,
            relaxed,
        })
    }

    /// The pool, for tests that inspect the schema or the raw rows.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The pool of the writes that need no sync of their own (ADR 0023),
    /// for tests that check its setting.
    pub fn relaxed_pool(&self) -> &SqlitePool {
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
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
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
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
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

    async fn flush_after_purge(&self, patience: Duration) -> Result<Flushed, StoreError> {
        // busy = 1: a reader's snapshot still needs frames of the WAL even
        // after the busy timeout (which each try waits through, so a try
        // can take up to `BUSY_TIMEOUT`); wait a little longer each time,
        // until `patience` has gone.
        let started = Instant::now();
        let mut pause = FLUSH_FIRST_PAUSE;
        let mut tries = 0u32;
        loop {
            tries += 1;
            let (busy, _log, _done): (i64, i64, i64) =
                sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(driver_error)?;
            let waited = started.elapsed();
            if busy == 0 {
                if tries > 1 {
                    tracing::info!(
                        tries,
                        waited_ms = waited.as_millis() as u64,
                        "the WAL is checkpointed and truncated after a purge"
                    );
                }
                return Ok(Flushed::Done);
            }
            if waited + pause > patience {
                tracing::warn!(
                    tries,
                    waited_ms = waited.as_millis() as u64,
                    "the WAL could not be truncated after a purge: a reader kept it busy; \
                     the flush is pending (the retention job retries it)"
                );
                return Ok(Flushed::Pending);
            }
            tracing::warn!(
                tries,
                waited_ms = waited.as_millis() as u64,
                retry_in_ms = pause.as_millis() as u64,
                "the WAL could not be truncated after a purge yet: a reader holds an old snapshot"
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(FLUSH_MAX_PAUSE);
        }
    }

    async fn close(&self) {
        self.relaxed.close().await;
        self.pool.close().await;
    }
}

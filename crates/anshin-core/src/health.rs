//! Whether this instance can serve: the database answers and has every
//! migration this binary embeds (what a load balancer asks `/readyz`).

use std::time::Duration;

use anshin_store::Store;

/// Why an instance is not ready (no detail: the log has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    MigrationsPending,
    DatabaseUnavailable,
    DatabaseTimeout,
}

impl NotReady {
    pub fn reason(self) -> &'static str {
        match self {
            NotReady::MigrationsPending => "migrations_pending",
            NotReady::DatabaseUnavailable => "database_unavailable",
            NotReady::DatabaseTimeout => "database_timeout",
        }
    }
}

/// Asks the database, waiting at most `timeout`.
pub async fn readiness(store: &dyn Store, timeout: Duration) -> Result<(), NotReady> {
    let check = async {
        store.ping().await?;
        store.schema_status().await
    };
    match tokio::time::timeout(timeout, check).await {
        Ok(Ok(status)) if status.is_current() => Ok(()),
        Ok(Ok(status)) => {
            tracing::warn!(
                known = status.known,
                applied = status.applied,
                "not ready: migrations pending"
            );
            Err(NotReady::MigrationsPending)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: database");
            Err(NotReady::DatabaseUnavailable)
        }
        Err(_) => {
            tracing::warn!("not ready: database timed out");
            Err(NotReady::DatabaseTimeout)
        }
    }
}

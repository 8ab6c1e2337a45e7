//! Security alerts (C29, ADR 0018): one row per time an alert went on,
//! resolved when it cleared. Reads here; firing and resolving are
//! [`crate::Write`]s committed with the alert's mail and audit entry, so
//! an alert is on exactly when its mail is queued and its entry written.

use anshin_domain::{AlertId, Timestamp};

use crate::StoreError;

/// An alert going on ([`crate::Write::FireAlert`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub id: AlertId,
    /// The rule's name (`failed_logins`, `job_failing`, …).
    pub rule: String,
    /// What it is about: a job's name, or `""` for a site-wide rule.
    /// Never personal data.
    pub subject: String,
    pub fired_at: Timestamp,
    pub value: i64,
    pub threshold: i64,
}

/// An alert, on or cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub id: AlertId,
    pub rule: String,
    pub subject: String,
    pub fired_at: Timestamp,
    pub value: i64,
    pub threshold: i64,
    /// `None` while the alert is on.
    pub resolved_at: Option<Timestamp>,
}

#[async_trait::async_trait]
pub trait AlertRepo: Send + Sync {
    /// Every alert that is on, oldest first.
    async fn firing(&self) -> Result<Vec<AlertRecord>, StoreError>;

    /// The newest `limit` alerts, on or cleared, newest first.
    async fn recent(&self, limit: u32) -> Result<Vec<AlertRecord>, StoreError>;
}

//! Security alerts (C29, ADR 0018): one row per time an alert went on,
//! resolved when it cleared. Reads here; firing and resolving are
//! [`crate::Write`]s committed with the alert's mail and audit entry, so
//! an alert is on exactly when its mail is queued and its entry written.

use anshin_domain::{AlertId, StaffId, Timestamp};

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

    /// Each signal's tallies (every instance's, [`crate::Write::AddAlertTallies`])
    /// in the buckets that start at or after `since`, summed, by signal
    /// name. One range read of the primary key `(bucket, signal)`.
    async fn tallies_since(&self, since: Timestamp) -> Result<Vec<(String, i64)>, StoreError>;

    /// Deletes the tallies of buckets that start before `before`; how
    /// many rows went.
    async fn purge_tallies(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Per staff member, how many networks were first seen at or after
    /// `since` while other networks of theirs were known
    /// ([`crate::Write::NoteStaffNetwork`]), for those with any.
    async fn new_staff_networks(&self, since: Timestamp)
    -> Result<Vec<(StaffId, i64)>, StoreError>;

    /// Claims up to `limit` webhook deliveries due at `now` for one
    /// attempt each: their next attempt moves to `until` (another
    /// instance or run takes them only if this attempt never reports),
    /// one conditional update per delivery, so each is claimed once.
    async fn claim_webhooks(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// Records an attempt: delivered (`next` is ignored), or failed with
    /// `error` and tried again at `next` (`None`: given up).
    async fn webhook_attempted(
        &self,
        alert: AlertId,
        event: &str,
        at: Timestamp,
        outcome: Result<(), (&str, Option<Timestamp>)>,
    ) -> Result<(), StoreError>;
}

/// A delivery of the alert webhook, claimed for one attempt
/// ([`AlertRepo::claim_webhooks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub alert: AlertId,
    /// `fired` or `resolved`.
    pub event: String,
    /// The JSON body (rule, subject, numbers, time).
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// The width of a tally bucket: an instance's counts are added to the
/// bucket their flush falls in, and a window counts the buckets that
/// start inside it.
pub const TALLY_BUCKET: anshin_domain::Duration = anshin_domain::Duration::from_micros(10_000_000);

/// The bucket `at` falls in (its start).
pub fn tally_bucket(at: Timestamp) -> Timestamp {
    let w = TALLY_BUCKET.micros();
    Timestamp::from_micros(at.micros().div_euclid(w) * w)
}

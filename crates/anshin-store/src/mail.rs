//! The mail outbox: mail is inserted in the same transaction as the event
//! that causes it (see `AccountRepo`), and the delivery worker claims due
//! rows with a lease, so several instances never send the same row at
//! once and a crashed worker's row is picked up again after the lease.

use uuid::Uuid;

use crate::StoreError;

#[derive(Clone)]
pub struct NewMail {
    /// Also the Message-ID's local part, so a re-send after a crash is
    /// recognisable as the same message.
    pub id: Uuid,
    /// What the mail is about (`login_code`, `login_notice`, …), for
    /// monitoring; never personal data.
    pub kind: &'static str,
    pub created_at: i64,
    /// The rendered message, encrypted by the app (it may hold a code).
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for NewMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A claimed outbox row.
#[derive(Clone)]
pub struct OutboxItem {
    pub id: Uuid,
    pub kind: String,
    pub created_at: i64,
    pub payload: Vec<u8>,
    /// Including this one.
    pub attempts: i64,
}

impl std::fmt::Debug for OutboxItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxItem")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
pub trait MailRepo: Send + Sync {
    /// Queues a mail on its own (for mails not tied to another write).
    async fn enqueue(&self, mail: &NewMail) -> Result<(), StoreError>;

    /// Claims the oldest due pending mail until `lease_until`.
    async fn claim_due(&self, now: i64, lease_until: i64)
    -> Result<Option<OutboxItem>, StoreError>;

    /// Delivered: the payload is wiped.
    async fn mark_sent(&self, id: Uuid, now: i64) -> Result<(), StoreError>;

    /// Transient failure: try again at `next_attempt_at`.
    async fn mark_retry(
        &self,
        id: Uuid,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<(), StoreError>;

    /// Permanent failure: no more attempts; the payload is wiped.
    async fn mark_failed(&self, id: Uuid, error: &str) -> Result<(), StoreError>;

    /// Counts by status, for monitoring and tests.
    async fn count_by_status(&self, status: &str) -> Result<i64, StoreError>;
}

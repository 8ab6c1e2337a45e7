//! The mail outbox: mail is queued by [`crate::Changes`] in the same
//! transaction as the event that causes it, and the delivery job claims
//! due rows with a lease, so several instances never send the same row at
//! once and a crashed worker's row is picked up again after the lease.

use anshin_domain::{MailId, MailStatus, Timestamp};

use crate::StoreError;

#[derive(Clone)]
pub struct NewMail {
    /// Also the Message-ID's local part, so a re-send after a crash is
    /// recognisable as the same message.
    pub id: MailId,
    /// What the mail is about (`login_code`, `login_notice`, …), for
    /// monitoring; never personal data.
    pub kind: &'static str,
    pub created_at: Timestamp,
    /// The rendered message, encrypted by the core (it may hold a code).
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
    pub id: MailId,
    pub kind: String,
    pub created_at: Timestamp,
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
    /// Claims the oldest due pending mail until `lease_until`.
    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<OutboxItem>, StoreError>;

    /// Claims up to `max` of the oldest due pending mails until
    /// `lease_until`, in one statement (one commit for a batch). Each row
    /// goes to one claimer, however many claim at once.
    async fn claim_due_many(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        max: u32,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// Gives a claimed mail back unsent (the worker is stopping): due
    /// again at once, its attempt not counted.
    async fn release(&self, id: MailId) -> Result<(), StoreError>;

    /// Delivered: the payload is wiped.
    async fn mark_sent(&self, id: MailId, now: Timestamp) -> Result<(), StoreError>;

    /// Several delivered at once: [`MailRepo::mark_sent`] for each, in one
    /// statement and one commit (a batch the transport took together).
    async fn mark_sent_many(&self, ids: &[MailId], now: Timestamp) -> Result<(), StoreError>;

    /// Transient failure: try again at `next_attempt_at`.
    async fn mark_retry(
        &self,
        id: MailId,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<(), StoreError>;

    /// Permanent failure: no more attempts; the payload is wiped.
    async fn mark_failed(&self, id: MailId, error: &str) -> Result<(), StoreError>;

    /// Counts by status, for monitoring and tests.
    async fn count_by_status(&self, status: MailStatus) -> Result<i64, StoreError>;
}

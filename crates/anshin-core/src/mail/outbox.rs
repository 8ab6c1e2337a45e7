//! The delivery job: claims due outbox rows (with a lease, so several
//! instances never send one row at once), decrypts each, hands it to the
//! transport, and records the outcome. It runs on every instance (the row
//! leases make that safe) on the job runner. Transient failures retry with
//! exponential back-off; permanent ones (and running out of attempts) mark
//! the row failed. Every outcome wipes the payload except a retry.
//!
//! Crash safety: a row is marked sent only after the transport accepted
//! it. A crash in between leaves the row pending; after the lease it is
//! sent again with the same Message-ID, and the file transport skips a
//! message id it already wrote, so nothing is lost and the embedded default
//! never duplicates. (An SMTP relay cannot be asked "did you already get
//! this?"; that one window is documented, and the Message-ID lets mail
//! clients fold the copy.) Because the file transport keeps one copy per
//! Message-ID, it takes a claimed batch at once (one directory sync) and
//! the batch is marked sent in one statement; over SMTP each mail is still
//! marked sent as soon as the relay took it, so a crash repeats one mail
//! at most.

use std::sync::Arc;

use anshin_domain::Duration;
use anshin_store::{OutboxItem, Store};
use lettre::message::Mailbox;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::jobs::{Job, Schedule, Scope};
use crate::keys::Keys;
use crate::mail::compose;
use crate::mail::message::OutgoingMail;
use crate::mail::transport::{Transport, TransportError};

/// How long a claimed row is ours before another worker may take it.
const LEASE: Duration = Duration::from_micros(120_000_000);
/// Attempts before a transiently failing mail is given up.
pub const MAX_ATTEMPTS: i64 = 10;
/// Mails claimed at once: one commit claims them all (each is still
/// marked sent on its own, right after the transport took it).
const BATCH: u32 = 16;
/// Time left on a batch's lease below which the rest of it is given back.
const LEASE_MARGIN: Duration = Duration::from_micros(60_000_000);
/// How often an idle instance looks for due mail.
const POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// The `mail.deliver` job.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub store: Arc<dyn Store>,
    pub keys: Arc<Keys>,
    pub transport: Arc<dyn Transport>,
    pub from: Mailbox,
    pub clock: Arc<dyn Clock>,
}

/// Back-off after `attempts` failed attempts: 10 s, 20 s, 40 s … capped at
/// one hour.
pub fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 12) - 1).unwrap_or(0);
    let secs = 10u64.saturating_mul(1 << exp).min(3600);
    Duration::from_secs(secs)
}

#[async_trait::async_trait]
impl Job for Outbox {
    fn name(&self) -> &'static str {
        "mail.deliver"
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            every: POLL,
            scope: Scope::EachInstance,
        }
    }

    /// Delivers every due mail; a mail being sent when `stop` comes is
    /// finished first.
    async fn run(&self, stop: &CancellationToken) -> anyhow::Result<u64> {
        let mut sent = 0;
        while !stop.is_cancelled() {
            let now = self.clock.now();
            let lease_until = now + LEASE;
            let batch = self
                .store
                .mail()
                .claim_due_many(now, lease_until, BATCH)
                .await?;
            if batch.is_empty() {
                break;
            }
            if self.transport.idempotent() {
                sent += self.deliver_together(batch).await?;
                continue;
            }
            let mut items = batch.into_iter();
            for item in items.by_ref() {
                self.deliver(item).await?;
                sent += 1;
                // Stopping, or near the lease's end (a slow relay): the
                // rest go back unsent rather than risk a second worker
                // sending them too.
                if stop.is_cancelled() || self.clock.now() + LEASE_MARGIN >= lease_until {
                    break;
                }
            }
            for item in items {
                self.store.mail().release(item.id).await?;
            }
        }
        Ok(sent)
    }
}

impl Outbox {
    /// Claims and delivers one due mail; `Ok(false)` when none is due.
    pub async fn deliver_one(&self) -> Result<bool, anshin_store::StoreError> {
        let now = self.clock.now();
        let Some(item) = self.store.mail().claim_due(now, now + LEASE).await? else {
            return Ok(false);
        };
        self.deliver(item).await?;
        Ok(true)
    }

    async fn deliver(&self, item: OutboxItem) -> Result<(), anshin_store::StoreError> {
        let Some(outgoing) = self.open(&item).await? else {
            return Ok(());
        };
        let outcome = self.transport.send(&outgoing).await;
        self.settle(&item, outcome).await
    }

    /// A batch for a transport that delivers a repeat as one copy (the
    /// file transport): handed over together, and the delivered ones
    /// marked sent in one statement, so a batch costs one commit instead
    /// of one per mail. A crash before that commit leaves the batch
    /// pending; after the lease it is delivered again and the transport
    /// keeps the copies it already has. Returns how many rows it settled.
    async fn deliver_together(
        &self,
        items: Vec<OutboxItem>,
    ) -> Result<u64, anshin_store::StoreError> {
        let settled = u64::try_from(items.len()).unwrap_or(u64::MAX);
        let mut ready = Vec::with_capacity(items.len());
        let mut mails = Vec::with_capacity(items.len());
        for item in items {
            if let Some(mail) = self.open(&item).await? {
                mails.push(mail);
                ready.push(item);
            }
        }
        let mut outcomes = self.transport.send_many(&mails).await.into_iter();
        let mut sent = Vec::with_capacity(ready.len());
        for item in &ready {
            let outcome = outcomes.next().unwrap_or_else(|| {
                Err(TransportError::transient(
                    "the transport gave no answer for this mail",
                ))
            });
            match outcome {
                Ok(()) => {
                    tracing::info!(mail = %item.id, kind = %item.kind, attempts = item.attempts, "mail delivered");
                    sent.push(item.id);
                }
                Err(e) => self.settle(item, Err(e)).await?,
            }
        }
        self.store
            .mail()
            .mark_sent_many(&sent, self.clock.now())
            .await?;
        Ok(settled)
    }

    /// The mail a claimed row holds, decrypted; `None` (and the row
    /// marked failed) when its payload cannot be read.
    async fn open(
        &self,
        item: &OutboxItem,
    ) -> Result<Option<OutgoingMail>, anshin_store::StoreError> {
        let rendered = match compose::open(&self.keys, item.id, &item.payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(mail = %item.id, kind = %item.kind, error = %e, "outbox payload unreadable");
                self.store
                    .mail()
                    .mark_failed(item.id, "payload unreadable")
                    .await?;
                return Ok(None);
            }
        };
        Ok(Some(OutgoingMail {
            message_id: item.id.as_uuid().simple().to_string(),
            from: self.from.clone(),
            to: rendered.to,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            date_micros: item.created_at.micros(),
        }))
    }

    /// Records what the transport said: sent, retry later, or failed.
    async fn settle(
        &self,
        item: &OutboxItem,
        outcome: Result<(), TransportError>,
    ) -> Result<(), anshin_store::StoreError> {
        let mail = self.store.mail();
        match outcome {
            Ok(()) => {
                tracing::info!(mail = %item.id, kind = %item.kind, attempts = item.attempts, "mail delivered");
                mail.mark_sent(item.id, self.clock.now()).await
            }
            Err(e) if e.is_transient() && item.attempts < MAX_ATTEMPTS => {
                let next = self.clock.now() + backoff(item.attempts);
                // The transport's message may quote the recipient: log and
                // store only its kind.
                tracing::warn!(mail = %item.id, kind = %item.kind, attempts = item.attempts, "mail delivery failed; will retry");
                mail.mark_retry(item.id, next, "transient").await
            }
            Err(e) => {
                let why = if e.is_transient() {
                    "gave up after retries"
                } else {
                    "permanent"
                };
                tracing::error!(mail = %item.id, kind = %item.kind, attempts = item.attempts, why, "mail delivery failed");
                mail.mark_failed(item.id, why).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(5), Duration::from_secs(160));
        assert_eq!(backoff(50), Duration::from_secs(3600));
    }
}

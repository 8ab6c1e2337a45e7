//! The delivery worker: claims due outbox rows (with a lease, so several
//! instances never send one row at once), decrypts each, hands it to the
//! transport, and records the outcome. Transient failures retry with
//! exponential back-off; permanent ones (and running out of attempts) mark
//! the row failed. Every outcome wipes the payload except a retry.
//!
//! Crash safety: a row is marked sent only after the transport accepted
//! it. A crash in between leaves the row pending; after the lease it is
//! sent again with the same Message-ID, and the file transport skips a
//! message id it already wrote, so nothing is lost and the embedded default
//! never duplicates. (An SMTP relay cannot be asked "did you already get
//! this?"; that one window is documented, and the Message-ID lets mail
//! clients fold the copy.)

use std::sync::Arc;
use std::time::Duration;

use anshin_store::{OutboxItem, Store};
use lettre::message::Mailbox;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SECOND};
use crate::keys::Keys;
use crate::mail::compose;
use crate::mail::message::OutgoingMail;
use crate::mail::transport::Transport;

/// How long a claimed row is ours before another worker may take it.
const LEASE: i64 = 120 * SECOND;
/// Attempts before a transiently failing mail is given up.
pub const MAX_ATTEMPTS: i64 = 10;
/// How often an idle worker looks for due mail.
const POLL: Duration = Duration::from_millis(200);

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
pub fn backoff(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 12) - 1).unwrap_or(0);
    (10 * SECOND).saturating_mul(1 << exp).min(3600 * SECOND)
}

impl Outbox {
    /// Delivers until `shutdown`; a mail being sent when it comes is
    /// finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.deliver_one().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "mail outbox unavailable"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

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
        let mail = self.store.mail();
        let rendered = match compose::open(&self.keys, item.id, &item.payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(mail = %item.id, kind = %item.kind, error = %e, "outbox payload unreadable");
                return mail.mark_failed(item.id, "payload unreadable").await;
            }
        };
        let outgoing = OutgoingMail {
            message_id: item.id.simple().to_string(),
            from: self.from.clone(),
            to: rendered.to,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            date_micros: item.created_at,
        };
        match self.transport.send(&outgoing).await {
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
        assert_eq!(backoff(1), 10 * SECOND);
        assert_eq!(backoff(2), 20 * SECOND);
        assert_eq!(backoff(5), 160 * SECOND);
        assert_eq!(backoff(50), 3600 * SECOND);
    }
}

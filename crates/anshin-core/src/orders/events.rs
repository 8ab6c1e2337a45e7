//! Processor webhooks (`POST /hooks/payments`): the processor tells us
//! an intent changed. The request carries no session and no CSRF token;
//! its signature is its authentication ([`crate::payments::signature`]).
//!
//! For an event about one of our intents, the intent is asked for again
//! at the processor (the event is a notice that something changed; the
//! processor's current answer is the truth, so events that arrive late or
//! out of order cannot move an order backwards), then applied once with
//! the event's id in the same transaction. A redelivered event finds its
//! id taken and changes nothing; an event about an intent we never made
//! is recorded and ignored.

use super::error::OrderError;
use super::transitions::{EventRef, apply_intent};
use crate::Services;
use crate::payments::ProcessorError;
use crate::payments::signature::{SignatureError, verify};
use anshin_store::{Changes, Write, guards};
use secrecy::ExposeSecret;

/// What became of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// It took effect (or found its effect already made by another
    /// report, and was recorded).
    Applied,
    /// Seen before: nothing changed.
    Duplicate,
    /// Not about one of our intents, or of a kind we do not act on:
    /// recorded, nothing else.
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No signing secret is configured: every webhook is refused.
    #[error("webhooks are not configured")]
    NotConfigured,
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    /// Signed, but not an event we can read.
    #[error("malformed event")]
    Malformed,
    /// The processor could not be asked about the intent (it will send
    /// the event again).
    #[error(transparent)]
    Processor(#[from] ProcessorError),
    #[error(transparent)]
    Order(#[from] OrderError),
}

/// The largest event body read (Stripe's events are a few KB).
pub const MAX_BODY: usize = 256 * 1024;

/// A processor id: its prefix, then 1 to 100 letters, digits or `_`.
fn plain_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 100
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// Verifies, reads and applies one webhook delivery. `body` must be the
/// raw bytes as received.
pub async fn receive(
    svc: &Services,
    signature: Option<&str>,
    body: &[u8],
) -> Result<WebhookOutcome, WebhookError> {
    let settings = &svc.settings.payments;
    let secret = settings
        .webhook_secret
        .as_ref()
        .ok_or(WebhookError::NotConfigured)?;
    let header = signature.ok_or(SignatureError::Malformed)?;
    if body.len() > MAX_BODY {
        return Err(WebhookError::Malformed);
    }
    // Justified: the signing secret is needed to compute the MAC.
    verify(
        secret.expose_secret().as_bytes(),
        header,
        body,
        svc.now(),
        settings.webhook_tolerance(),
    )?;
    let event: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| WebhookError::Malformed)?;
    let id = event
        .get("id")
        .and_then(serde_json::Value::as_str)
        .filter(|i| plain_id(i, "evt_"))
        .ok_or(WebhookError::Malformed)?;
    let kind = event
        .get("type")
        .and_then(serde_json::Value::as_str)
        .filter(|k| {
            k.len() <= 100
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
        })
        .ok_or(WebhookError::Malformed)?;
    if svc
        .store
        .orders()
        .event_seen(id)
        .await
        .map_err(OrderError::from)?
    {
        return Ok(WebhookOutcome::Duplicate);
    }
    let object = event.pointer("/data/object");
    let is_intent = object
        .and_then(|o| o.get("object"))
        .is_some_and(|o| o == "payment_intent");
    let intent_id = (kind.starts_with("payment_intent.") && is_intent)
        .then(|| {
            object
                .and_then(|o| o.get("id"))
                .and_then(serde_json::Value::as_str)
        })
        .flatten()
        .filter(|i| plain_id(i, "pi_"));
    let attempt = match intent_id {
        Some(pi) => svc
            .store
            .orders()
            .attempt_by_intent(pi)
            .await
            .map_err(OrderError::from)?,
        None => None,
    };
    let ev = EventRef { id, kind };
    let Some(attempt) = attempt else {
        tracing::info!(
            event = id,
            kind,
            "processor event not about one of our intents; recorded"
        );
        let w = Write::RecordEvent {
            event_id: id.to_owned(),
            kind: kind.to_owned(),
            order: None,
            at: svc.now(),
        };
        return match svc.store.commit(&Changes::new().with(w)).await {
            Ok(()) => Ok(WebhookOutcome::Ignored),
            Err(e) if e.is_precondition(guards::EVENT_SEEN) => Ok(WebhookOutcome::Duplicate),
            Err(e) => Err(OrderError::from(e).into()),
        };
    };
    let intent = svc
        .processor
        .intent(attempt.intent_id.as_deref().unwrap_or_default())
        .await?;
    let applied = apply_intent(svc, &attempt, &intent, Some(ev)).await?;
    tracing::info!(event = id, kind, order = %attempt.order_id, duplicate = applied.duplicate, "processor event applied");
    Ok(if applied.duplicate {
        WebhookOutcome::Duplicate
    } else {
        WebhookOutcome::Applied
    })
}

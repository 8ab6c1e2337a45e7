//! Webhooks of the card processor: `POST /hooks/payments` (C15).
//!
//! A machine endpoint: no session, no CSRF token (exempted in
//! `common::csrf`, which says why); the `Stripe-Signature` header is the
//! authentication, verified by the core over the raw body before anything
//! is parsed. Answers JSON: 200 once the event is recorded (applied,
//! duplicate or ignored), 400 for a bad signature or body (the processor
//! should not retry those), 401 when no signing secret is configured, 503
//! when the processor could not be asked about the intent (it retries).

use anshin_core::orders::{self, WebhookError, WebhookOutcome};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use http::HeaderMap;

use crate::web::AppState;
use crate::web::common::errors::{ErrorCode, WebError};

pub fn router() -> Router<AppState> {
    Router::new().route("/hooks/payments", post(payments))
}

#[derive(Debug, serde::Serialize)]
struct Received {
    received: bool,
    outcome: &'static str,
}

async fn payments(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>, WebError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let result = orders::receive(&state.core, signature, &body).await;
    if result.is_err() {
        state.core.metrics.webhook_failures.inc();
    }
    match result {
        Ok(outcome) => Ok(Json(Received {
            received: true,
            outcome: match outcome {
                WebhookOutcome::Applied => "applied",
                WebhookOutcome::Duplicate => "duplicate",
                WebhookOutcome::Ignored => "ignored",
            },
        })),
        Err(WebhookError::NotConfigured) => {
            Err(WebError::Unauthorized(ErrorCode::WebhooksNotConfigured))
        }
        Err(WebhookError::Signature(e)) => {
            tracing::warn!(reason = %e, "webhook refused: signature");
            Err(WebError::BadRequest(ErrorCode::InvalidSignature))
        }
        Err(WebhookError::Malformed) => Err(WebError::BadRequest(ErrorCode::MalformedJson)),
        Err(WebhookError::Processor(p)) => Err(WebError::from(p)),
        Err(WebhookError::Order(o)) => Err(WebError::from(o)),
    }
}

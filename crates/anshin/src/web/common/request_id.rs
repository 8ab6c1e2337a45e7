//! A request id for every request: generated here (a client-sent
//! `X-Request-Id` is ignored, so nobody can forge or inject log text),
//! attached to the tracing span so every log line of the request carries
//! it, returned in `X-Request-Id`, and shown on error pages so a member can
//! quote it to support.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use tracing::Instrument as _;

use crate::web::AppState;

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub const HEADER: &str = "x-request-id";

/// A fresh request id (UUIDv7 from the core's clock and randomness).
pub fn new_id(state: &AppState) -> String {
    state
        .core
        .random
        .id::<uuid::Uuid>(state.core.now())
        .simple()
        .to_string()
}

pub async fn assign(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = new_id(&state);
    req.extensions_mut().insert(RequestId(id.clone()));
    // Only the path: query strings may carry personal data.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request finished"
        );
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, v);
    }
    res
}

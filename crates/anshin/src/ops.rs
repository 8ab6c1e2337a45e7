//! The operations listener (plain HTTP, for loopback or a private network):
//! `GET /healthz` answers 200 while the process lives; `GET /readyz`
//! answers 200 only when the database answers and every embedded migration
//! is applied, so a load balancer sends traffic only to instances that can
//! serve it. Neither says why in detail: the log does.

use std::sync::Arc;
use std::time::Duration;

use anshin_store::Store;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{Value, json};

/// How long readiness waits for the database before saying no.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router(store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(store)
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(store): State<Arc<dyn Store>>) -> (StatusCode, Json<Value>) {
    let check = async {
        store.ping().await?;
        store.schema_status().await
    };
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(status)) if status.is_current() => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Ok(Ok(status)) => {
            tracing::warn!(
                known = status.known,
                applied = status.applied,
                "not ready: migrations pending"
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "not_ready", "reason": "migrations_pending"})),
            )
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: database");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "not_ready", "reason": "database_unavailable"})),
            )
        }
        Err(_) => {
            tracing::warn!("not ready: database timed out");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "not_ready", "reason": "database_timeout"})),
            )
        }
    }
}

//! The operations listener (plain HTTP, for loopback or a private network):
//! `GET /healthz` answers 200 while the process lives (with this
//! instance's id, which names it in job leases); `GET /readyz` answers 200
//! only when the database answers and every embedded migration is applied,
//! so a load balancer sends traffic only to instances that can serve it;
//! `GET /metrics` gives counters in the Prometheus text format. Neither
//! says why in detail: the log does.

use std::sync::Arc;
use std::time::Duration;

use anshin_core::jobs::JobStats;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{Value, json};

use crate::web::AppState;

/// How long readiness waits for the database before saying no.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the ops routes read.
#[derive(Debug, Clone)]
pub struct OpsState {
    pub site: AppState,
    pub jobs: Arc<JobStats>,
    /// This instance's id (the holder name in job leases).
    pub instance: String,
}

pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(
    State(ops): State<OpsState>,
) -> ([(http::header::HeaderName, &'static str); 1], String) {
    let core = &ops.site.core;
    let c = core.challenges.counts();
    let mut text = core.metrics.render(core.passwords.hashes_computed());
    for (name, help, v) in [
        (
            "anshin_challenges_issued_total",
            "Bot challenges issued (C7).",
            c.issued,
        ),
        (
            "anshin_challenges_passed_total",
            "Bot challenge solutions accepted.",
            c.passed,
        ),
        (
            "anshin_challenges_failed_total",
            "Bot challenge solutions refused (forged, replayed, expired).",
            c.failed,
        ),
        (
            "anshin_challenges_missing_total",
            "Requests that needed a challenge and had none.",
            c.missing,
        ),
    ] {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
        ));
    }
    waf_metrics(&mut text, &ops.site.waf.counters().snapshot());
    let level = core.challenges.level();
    text.push_str(&format!(
        "# HELP anshin_attack_level Attack level from site-wide login failures (0 calm, up to 6); challenges get harder per level (C7).\n\
         # TYPE anshin_attack_level gauge\nanshin_attack_level {level}\n"
    ));
    text.push_str(&ops.jobs.render());
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
}

/// The WAF's counters (C6): requests inspected and refused, and matches
/// per CRS rule id (a rule counts once per request it matched). Rule ids
/// only: never the variable's value.
fn waf_metrics(text: &mut String, w: &anshin_waf::CountersSnapshot) {
    for (name, help, v) in [
        (
            "anshin_waf_inspected_total",
            "Requests inspected by the WAF (C6).",
            w.inspected,
        ),
        (
            "anshin_waf_blocked_total",
            "Requests refused by the WAF rules (mode block).",
            w.blocked,
        ),
        (
            "anshin_waf_would_block_total",
            "Requests the WAF rules would have refused (mode detect).",
            w.would_block,
        ),
        (
            "anshin_waf_body_refused_total",
            "Requests refused because the body was too large or unreadable.",
            w.body_refused,
        ),
    ] {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
        ));
    }
    text.push_str(
        "# HELP anshin_waf_rule_matches_total Requests each WAF rule matched.\n\
         # TYPE anshin_waf_rule_matches_total counter\n",
    );
    for (rule, n) in &w.per_rule {
        text.push_str(&format!(
            "anshin_waf_rule_matches_total{{rule=\"{rule}\"}} {n}\n"
        ));
    }
}

async fn healthz(State(ops): State<OpsState>) -> Json<Value> {
    Json(json!({"status": "ok", "instance": ops.instance}))
}

async fn readyz(State(ops): State<OpsState>) -> (StatusCode, Json<Value>) {
    match anshin_core::health::readiness(ops.site.core.store.as_ref(), READY_TIMEOUT).await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reason": e.reason()})),
        ),
    }
}

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
    /// The serving certificate (its days left).
    pub certs: Arc<crate::tls::CertResolver>,
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
    state_gauges(&ops, &mut text).await;
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
}

/// Gauges read at each scrape (C29): the outbox's backlog, the audit
/// checkpoint's age and how long entries wait for one, from the database (the same on every instance), the
/// certificate's days left from its file. A value that cannot be read is
/// left out (the log says why), never reported as zero.
async fn state_gauges(ops: &OpsState, text: &mut String) {
    let core = &ops.site.core;
    let now = core.now();
    let mut gauge = |name: &str, help: &str, v: i64| {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
        ));
    };
    match core
        .store
        .mail()
        .count_by_status(anshin_domain::MailStatus::Pending)
        .await
    {
        Ok(n) => gauge("anshin_outbox_pending", "Mails waiting in the outbox.", n),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count the outbox"),
    }
    match core.store.audit().checkpoints().await {
        Ok(cps) => {
            if let Some(last) = cps.iter().map(|c| c.at).max() {
                gauge(
                    "anshin_audit_checkpoint_age_seconds",
                    "Seconds since the last signed audit checkpoint.",
                    (now.micros() - last.micros()).div_euclid(1_000_000),
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the audit checkpoints"),
    }
    match anshin_core::monitoring::unwitnessed_secs(core.store.as_ref(), now).await {
        Ok(s) => gauge(
            "anshin_audit_unwitnessed_seconds",
            "How long the oldest audit entry not yet in a signed checkpoint has waited (0: all are).",
            s,
        ),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the audit log"),
    }
    match crate::tls::CertInfo::of_file(&ops.certs.files().cert) {
        Ok(info) => gauge(
            "anshin_certificate_days_left",
            "Days until the serving TLS certificate expires.",
            (info.not_after.micros() - now.micros()).div_euclid(86_400_000_000),
        ),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the certificate"),
    }
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

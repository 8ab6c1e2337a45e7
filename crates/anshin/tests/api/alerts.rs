//! Security alerts evaluated inside anshin (C29, issue 17, ADR 0018), end
//! to end on SQLite and PostgreSQL with the real job runner, the real
//! outbox and a real SMTP server, the clock moved by hand:
//!
//! - acceptance 1: a bounded credential-stuffing run on loopback puts the
//!   `failed_logins` alert on once, mails the security team once, stays
//!   quiet while the attack goes on (flooding does not spam the team),
//!   and a "cleared" mail follows when it stops; each change is an audit
//!   entry and a signed webhook a receiver verifies (a forged body does
//!   not verify);
//! - the same for a failing job (the audit checkpoint job, while an entry
//!   of the log is edited behind its back);
//! - acceptance 5: after a run with known members' e-mail addresses and
//!   names, neither `/metrics` nor the alert mails nor the webhook bodies
//!   hold any of them.

use std::sync::{Arc, Mutex};

use anshin_core::monitoring::AlertSettings;
use anshin_store::audit::AuditAction;
use anshin_testkit::anshin::config::Settings;
use anshin_testkit::{Backend, SECOND, TestApp, backends};
use serde_json::json;

use super::audit::exec;

backends!(
    c29_credential_stuffing_fires_once_stays_quiet_and_clears,
    c29_a_failing_job_fires_once_and_clears,
    c29_no_personal_value_in_metrics_or_alerts,
    c29_the_dashboard_and_prometheus_rules_use_only_exported_metrics,
);

pub(crate) const TEAM: &str = "security-team@example.jp";
const HOOK_SECRET: &str = "alert-hook-secret-0123456789";

pub(crate) fn alerting(s: &mut Settings) {
    s.limits.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    s.limits.throttled_delay_ms = 0;
    // Known members are attacked too (acceptance 5): no bot challenge
    // in the way of the bounded run.
    s.limits.lock_threshold = 100;
    s.limits.challenge_after_failures = 50;
    s.alerts = AlertSettings {
        every_secs: 1,
        security_team: vec![TEAM.into()],
        ..AlertSettings::default()
    };
    s.alerts.failed_logins.threshold = 10;
    s.alerts.failed_logins.window_secs = 300;
    s.alerts.job_failing.threshold = 1;
    s.alerts.job_failing.window_secs = 300;
}

/// A receiver of the alert webhook on loopback: keeps each body with its
/// `Anshin-Signature` header.
type Received = Arc<Mutex<Vec<(String, String)>>>;

async fn webhook_receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: http::HeaderMap, body: String| {
            let keep = keep.clone();
            async move {
                let sig = headers
                    .get("anshin-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                keep.lock().unwrap().push((body, sig));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// The job's runs as the database records them (every instance's).
async fn runs(app: &TestApp, job: &str) -> i64 {
    app.store
        .jobs()
        .find(job)
        .await
        .unwrap()
        .map_or(0, |r| r.runs)
}

pub(crate) async fn wait_for_runs(app: &TestApp, job: &str, at_least: i64) {
    for _ in 0..600 {
        if runs(app, job).await >= at_least {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{job} never ran {at_least} times");
}

/// Moves the clock by `secs` and waits until the alert job ran once more
/// (it is due every second of the test's clock).
pub(crate) async fn evaluate_after(app: &TestApp, secs: i64) {
    let before = runs(app, "alerts.evaluate").await;
    app.clock.advance(secs * SECOND);
    wait_for_runs(app, "alerts.evaluate", before + 1).await;
}

/// Waits until the outbox is empty (every mail queued so far reached
/// the SMTP server), then returns the mails to the team.
async fn team_mails(app: &TestApp) -> Vec<anshin_testkit::Mail> {
    for _ in 0..1200 {
        let pending = app
            .store
            .mail()
            .count_by_status(anshin_store::MailStatus::Pending)
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let sink = app.sink.as_ref().unwrap();
    sink.messages()
        .iter()
        .map(|m| anshin_testkit::parse_mail(m))
        .filter(|m| m.to == TEAM)
        .collect()
}

async fn audit_count(app: &TestApp, action: AuditAction) -> usize {
    super::audit::entries(app)
        .await
        .iter()
        .filter(|e| e.entry.action == action)
        .count()
}

/// `n` failed password logins for unknown addresses, each from its own
/// network (so no address or network limit steps in).
pub(crate) async fn failed_logins(
    app: &TestApp,
    from: usize,
    n: usize,
    email: impl Fn(usize) -> String,
) {
    for i in from..from + n {
        let res = app
            .client
            .post(app.url("/api/v1/login/password"))
            .header("x-forwarded-for", format!("203.0.{}.7", i % 250))
            .json(&json!({"email": email(i), "password": "wrong password guess 1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "attempt {i}");
    }
}

async fn c29_credential_stuffing_fires_once_stays_quiet_and_clears(b: Backend) {
    let (url, hook) = webhook_receiver().await;
    let app = TestApp::spawn_mail_with(b, move |s| {
        alerting(s);
        s.alerts.webhook_url = Some(url);
        s.alerts.webhook_secret = Some(HOOK_SECRET.to_owned().into());
    })
    .await;
    // The first evaluation at start is the baseline.
    wait_for_runs(&app, "alerts.evaluate", 1).await;
    let victim = |i: usize| format!("victim{i:03}@example.jp");

    // The attack: 12 failed logins, over a threshold of 10.
    failed_logins(&app, 0, 12, victim).await;
    evaluate_after(&app, 1).await;
    let on = app.store.alerts().firing().await.unwrap();
    assert_eq!(on.len(), 1, "{on:?}");
    assert_eq!((on[0].rule.as_str(), on[0].value), ("failed_logins", 12));
    let mails = app.mails_to(TEAM, 1).await;
    assert!(
        mails[0].subject.contains("failed_logins"),
        "{}",
        mails[0].subject
    );
    assert!(mails[0].text.contains("12"), "{}", mails[0].text);

    // The attack goes on: more failures, more evaluations; the alert
    // stays on and nobody is mailed again (no spam by flooding).
    for round in 0..3 {
        failed_logins(&app, 12 + round * 12, 12, victim).await;
        evaluate_after(&app, 1).await;
    }
    assert_eq!(app.store.alerts().firing().await.unwrap().len(), 1);
    assert_eq!(team_mails(&app).await.len(), 1, "one mail while it lasts");
    assert_eq!(audit_count(&app, AuditAction::AlertFired).await, 1);
    assert_eq!(app.metric("anshin_alerts_fired_total").await, 1);

    // The attack stops; once its failures leave the 300 s window, the
    // alert clears, and one mail says so.
    evaluate_after(&app, 301).await;
    assert!(app.store.alerts().firing().await.unwrap().is_empty());
    let mails = app.mails_to(TEAM, 2).await;
    assert_eq!(team_mails(&app).await.len(), 2);
    assert!(
        mails
            .iter()
            .any(|m| m.subject.starts_with("Security alert cleared"))
    );
    assert_eq!(audit_count(&app, AuditAction::AlertResolved).await, 1);
    let history = app.store.alerts().recent(10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].resolved_at.is_some());
    // A quiet evaluation later changes nothing.
    evaluate_after(&app, 1).await;
    assert_eq!(team_mails(&app).await.len(), 2);

    // The webhook got both, signed; a receiver that verifies refuses a
    // forged body or an old delivery.
    let got = hook.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    let events: Vec<String> = got
        .iter()
        .map(|(body, _)| {
            serde_json::from_str::<serde_json::Value>(body).unwrap()["event"].to_string()
        })
        .collect();
    assert_eq!(events, ["\"fired\"", "\"resolved\""]);
    let tol = anshin_domain::Duration::from_secs(300);
    for (body, sig) in &got {
        let t: serde_json::Value = serde_json::from_str(body).unwrap();
        let at = anshin_domain::Timestamp::from_micros(t["at"].as_i64().unwrap() * 1_000_000);
        let verify = |body: &str, now| {
            anshin_core::payments::signature::verify(
                HOOK_SECRET.as_bytes(),
                sig,
                body.as_bytes(),
                now,
                tol,
            )
        };
        assert!(verify(body, at).is_ok(), "{body} {sig}");
        assert!(verify(&body.replace("failed_logins", "waf_blocks"), at).is_err());
        assert!(
            verify(body, at + 3_600 * SECOND).is_err(),
            "a replay an hour later"
        );
    }
    app.stop().await;
}

async fn c29_a_failing_job_fires_once_and_clears(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| {
        alerting(s);
        s.audit.checkpoint_every_secs = 1;
    })
    .await;
    wait_for_runs(&app, "alerts.evaluate", 1).await;
    wait_for_runs(&app, "audit_checkpoint", 1).await;
    // A new entry is written, and someone edits it in the database before
    // the checkpoint job reads it: the job refuses to sign, and fails, on
    // every run.
    let entry = anshin_core::audit::entry(
        &app.services,
        anshin_store::Actor::System,
        AuditAction::SettingsAtStart,
        None,
        None,
        "test",
        json!({}),
    );
    app.store
        .commit(&anshin_store::Changes::new().audited(entry))
        .await
        .unwrap();
    let idx = app.store.audit().head().await.unwrap().size - 1;
    let drop = match b {
        Backend::Sqlite => "DROP TRIGGER audit_entries_no_update;",
        Backend::Postgres => "DROP TRIGGER audit_entries_no_change ON audit_entries;",
    };
    exec(&app, drop).await.unwrap();
    exec(
        &app,
        &format!("UPDATE audit_entries SET origin = '198.51.100.0/24' WHERE idx = {idx}"),
    )
    .await
    .unwrap();
    let mut rounds = 0;
    while app.store.alerts().firing().await.unwrap().is_empty() {
        rounds += 1;
        assert!(rounds < 40, "the job_failing alert never went on");
        evaluate_after(&app, 1).await;
    }
    let on = app.store.alerts().firing().await.unwrap();
    assert_eq!(on.len(), 1, "{on:?}");
    assert_eq!(
        (on[0].rule.as_str(), on[0].subject.as_str()),
        ("job_failing", "audit_checkpoint")
    );
    let mails = app.mails_to(TEAM, 1).await;
    assert!(
        mails[0].subject.contains("job_failing (audit_checkpoint)"),
        "{}",
        mails[0].subject
    );
    // It keeps failing: no second mail.
    for _ in 0..3 {
        evaluate_after(&app, 1).await;
    }
    let failures = app
        .store
        .jobs()
        .find("audit_checkpoint")
        .await
        .unwrap()
        .unwrap()
        .failures;
    assert!(failures >= 2, "the job kept failing: {failures}");
    assert_eq!(team_mails(&app).await.len(), 1);
    assert_eq!(audit_count(&app, AuditAction::AlertFired).await, 1);

    // The entry is put back: the job succeeds again; when its failures
    // have left the window, the alert clears with one mail.
    exec(
        &app,
        &format!("UPDATE audit_entries SET origin = NULL WHERE idx = {idx}"),
    )
    .await
    .unwrap();
    let mut rounds = 0;
    loop {
        evaluate_after(&app, 1).await;
        let rec = app
            .store
            .jobs()
            .find("audit_checkpoint")
            .await
            .unwrap()
            .unwrap();
        if rec.last_error.is_none() && rec.last_success_at.is_some() {
            break;
        }
        rounds += 1;
        assert!(rounds < 40, "the checkpoint job never succeeded again");
    }
    // One more sample after the last failure, then past the window.
    evaluate_after(&app, 1).await;
    evaluate_after(&app, 301).await;
    assert!(app.store.alerts().firing().await.unwrap().is_empty());
    let mails = app.mails_to(TEAM, 2).await;
    assert!(
        mails
            .iter()
            .any(|m| m.subject.starts_with("Security alert cleared"))
    );
    assert_eq!(team_mails(&app).await.len(), 2);
    assert_eq!(audit_count(&app, AuditAction::AlertResolved).await, 1);
    app.stop().await;
}

async fn c29_no_personal_value_in_metrics_or_alerts(b: Backend) {
    let (url, hook) = webhook_receiver().await;
    let app = TestApp::spawn_mail_with(b, move |s| {
        alerting(s);
        s.alerts.webhook_url = Some(url);
        s.alerts.webhook_secret = Some(HOOK_SECRET.to_owned().into());
    })
    .await;
    wait_for_runs(&app, "alerts.evaluate", 1).await;
    // Members with known addresses and names use the site, and are the
    // targets of the attack.
    let known = [
        ("yamada.taro@example.jp", "山田太郎"),
        ("suzuki.hanako@example.jp", "Hanako Suzuki"),
    ];
    for (i, (email, name)) in known.iter().enumerate() {
        let m = app.sign_up(email, name, 0).await;
        m.set_password(&app, "lantern orbit tangerine seventeen")
            .await;
        let res = app
            .client
            .get(app.url(&format!("/shops/{email}")))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{i}");
    }
    failed_logins(&app, 0, 12, |i| known[i % 2].0.to_owned()).await;
    evaluate_after(&app, 1).await;
    evaluate_after(&app, 301).await;
    let mails = team_mails(&app).await;
    assert!(mails.len() >= 2, "fired and cleared: {}", mails.len());
    let metrics = anshin_testkit::reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The scrape has the per-route histogram, by template.
    assert!(
        metrics.contains("route=\"/api/v1/login/password\",method=\"POST\",status=\"4xx\""),
        "{metrics}"
    );
    let hooks = hook.lock().unwrap().clone();
    assert_eq!(hooks.len(), 2);
    let mut texts = vec![("metrics".to_owned(), metrics)];
    for m in &mails {
        texts.push((
            format!("mail {}", m.subject),
            format!("{}\n{}\n{}", m.subject, m.text, m.html),
        ));
    }
    for (body, sig) in hooks {
        texts.push(("webhook".to_owned(), format!("{body}\n{sig}")));
    }
    for (email, name) in known {
        let local = email.split('@').next().unwrap();
        for (what, text) in &texts {
            for needle in [email, local, name] {
                assert!(!text.contains(needle), "{what} holds {needle:?}:\n{text}");
            }
            assert!(!text.contains("%40"), "{what} holds an encoded address");
        }
    }
    app.stop().await;
}

/// Every `anshin_…` name in a text, once each.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("anshin_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// Acceptance 4: the Grafana dashboard and the Prometheus rules in
/// `deploy/` name only metrics that `/metrics` exports (a histogram's
/// `_bucket`/`_count`/`_sum` by its family's TYPE line).
async fn c29_the_dashboard_and_prometheus_rules_use_only_exported_metrics(b: Backend) {
    let app = TestApp::spawn(b).await;
    // The gauges read from the database appear once there is a checkpoint.
    wait_for_runs(&app, "audit_checkpoint", 1).await;
    let exported = anshin_testkit::reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut checked = 0;
    for file in [
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/anshin-dashboard.json",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let names = metric_names(&text);
        assert!(names.len() >= 8, "{file}: {names:?}");
        for name in names {
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|base| exported.contains(&format!("# TYPE {base} histogram\n")));
            let typed = exported.contains(&format!("# TYPE {name} "));
            assert!(
                typed || family.is_some(),
                "{file} uses {name}, which /metrics does not export"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
    app.stop().await;
}

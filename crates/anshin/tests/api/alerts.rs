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
//!   hold any of them;
//! - behind a load balancer: two instances on one database, the attack
//!   sent only to the one that does not run the alert job, and the alert
//!   still fires once, is mailed once and clears (the shared tallies);
//! - a staff member signing in to the console from a network they had not
//!   used before alerts the team once (mail in Japanese, audit entry,
//!   the console's alerts page in both languages), with no address in
//!   the mail or on `/metrics`, whichever instance they signed in on;
//! - a webhook receiver that fails gets the delivery again after the
//!   backoff (a real local HTTP server that answers 503 first), signed
//!   afresh, once it succeeds never again.

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
    c29_credential_stuffing_on_another_instance_fires_once_and_clears,
    c29_a_staff_login_from_a_new_network_alerts_the_team_once,
    c29_a_failed_webhook_is_retried_with_backoff_until_delivered,
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

/// Moves the first instance's clock, waits for its alert run, then
/// moves the second's the same way: the second's clock never passes the
/// time the first set the job's next run to, so it never finds the alert
/// job due (the first runs it, as the lease holder would).
async fn step(app: &TestApp, other: &TestApp, secs: i64) {
    evaluate_after(app, secs).await;
    other.clock.advance(secs * SECOND);
}

/// Waits until the alert job ran at the instance's present time.
async fn evaluated_at_now(app: &TestApp) {
    use super::staff::Now as _;
    let now = app.clock.now_for_tests();
    for _ in 0..600 {
        let rec = app.store.jobs().find("alerts.evaluate").await.unwrap();
        if rec
            .and_then(|r| r.last_started_at)
            .is_some_and(|t| t >= now)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the alert job never ran at {now:?}");
}

/// Waits until every instance's flushes put at least `n` of `signal`
/// into the shared tallies.
async fn wait_for_tally(app: &TestApp, signal: &str, n: i64) {
    let since = anshin_testkit::T0 - 86_400 * SECOND;
    for _ in 0..800 {
        let sums = app.store.alerts().tallies_since(since).await.unwrap();
        if sums.iter().any(|(s, c)| s == signal && *c >= n) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{signal} never reached {n} in the shared tallies");
}

/// A labelled sample of an instance's `/metrics`, if it is there.
async fn labelled(app: &TestApp, line_start: &str) -> Option<u64> {
    let text = anshin_testkit::reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .map(|v| v.trim().parse().unwrap())
}

/// Scale-out: the credential stuffing reaches only the instance that
/// does not run the alert job; its counts reach the database by its own
/// flush, and the instance that runs the job fires the alert once, mails
/// once, stays quiet while the attack lasts and clears after it.
async fn c29_credential_stuffing_on_another_instance_fires_once_and_clears(b: Backend) {
    let app = TestApp::spawn_mail_with(b, alerting).await;
    // The first evaluation ran (at T0) before the second instance starts:
    // the job is next due at T0 + 1 s, which the second's clock (T0) is
    // before.
    wait_for_runs(&app, "alerts.evaluate", 1).await;
    let other = app.sibling_with(alerting).await;
    let victim = |i: usize| format!("victim{i:03}@example.jp");

    failed_logins(&other, 0, 12, victim).await;
    wait_for_tally(&app, "failed_logins", 12).await;
    step(&app, &other, 1).await;
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
    // The instance that runs the job saw no failed login itself.
    assert_eq!(app.metric("anshin_logins_failed_total").await, 0);
    assert_eq!(other.metric("anshin_logins_failed_total").await, 12);

    // The attack goes on, still only on the other instance: one alert,
    // one mail.
    for round in 0..3 {
        failed_logins(&other, 12 + round * 12, 12, victim).await;
        wait_for_tally(
            &app,
            "failed_logins",
            24 + 12 * i64::try_from(round).unwrap(),
        )
        .await;
        step(&app, &other, 1).await;
    }
    assert_eq!(app.store.alerts().firing().await.unwrap().len(), 1);
    assert_eq!(team_mails(&app).await.len(), 1, "one mail while it lasts");
    assert_eq!(audit_count(&app, AuditAction::AlertFired).await, 1);

    // It stops; past the window the alert clears with one mail.
    step(&app, &other, 301).await;
    assert!(app.store.alerts().firing().await.unwrap().is_empty());
    let mails = app.mails_to(TEAM, 2).await;
    assert!(
        mails
            .iter()
            .any(|m| m.subject.starts_with("Security alert cleared"))
    );
    assert_eq!(team_mails(&app).await.len(), 2);
    assert_eq!(audit_count(&app, AuditAction::AlertResolved).await, 1);
    step(&app, &other, 1).await;
    assert_eq!(team_mails(&app).await.len(), 2);

    // The other instance flushed its counts and never ran the alert job.
    assert!(labelled(&other, "anshin_job_runs_total{job=\"alerts.tally\"}").await >= Some(1));
    assert_eq!(
        labelled(&other, "anshin_job_runs_total{job=\"alerts.evaluate\"}").await,
        Some(0)
    );
    assert!(labelled(&other, "anshin_job_skipped_total{job=\"alerts.evaluate\"}").await >= Some(1));
    assert!(labelled(&app, "anshin_job_runs_total{job=\"alerts.evaluate\"}").await >= Some(6));
    other.stop().await;
    app.stop().await;
}

/// Signs in to the staff console as if from `from` (through the trusted
/// proxy); returns the session's `Cookie` value.
async fn staff_login_from(app: &TestApp, email: &str, secret: &str, from: &str) -> String {
    use super::staff::Now as _;
    let code = super::staff::code(secret, app.clock.now_for_tests());
    let res = app
        .client
        .post(app.staff_url("/login"))
        .header(http::header::ORIGIN, &app.staff_origin)
        .header("x-forwarded-for", from)
        .form(&[("email", email), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed in from {from}");
    anshin_testkit::cookie_pair(
        anshin_testkit::set_cookie(&res, anshin::web::console::COOKIE).expect("a staff cookie"),
    )
}

fn staff_networks(s: &mut Settings) {
    alerting(s);
    s.alerts.language = anshin_domain::Lang::Ja;
    s.staff.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    s.staff.allowed_networks = vec![
        "127.0.0.1/32".parse().unwrap(),
        "198.51.100.0/24".parse().unwrap(),
        "203.0.113.0/24".parse().unwrap(),
        "2001:db8::/32".parse().unwrap(),
    ];
}

/// A staff member's first network is their baseline; another address of
/// it is no news; a network they never used raises `staff_new_network`
/// once (mail in the team's language, audit entry, the console's page),
/// about their staff id only; further sign-ins from it, on either
/// instance, mail nobody; past the window it clears.
async fn c29_a_staff_login_from_a_new_network_alerts_the_team_once(b: Backend) {
    let app = TestApp::spawn_mail_with(b, staff_networks).await;
    wait_for_runs(&app, "alerts.evaluate", 1).await;
    let email = "aiko.watanabe@example.jp";
    // Enrolment moves the clock on 61 s; once the job ran at that time,
    // the second instance starts and catches up (see `step`).
    let secret =
        super::staff::enrolled(&app, email, anshin_core::domain::StaffRole::Security).await;
    evaluated_at_now(&app).await;
    let other = app.sibling_with(staff_networks).await;
    other.clock.advance(61 * SECOND);
    let staff = anshin_core::staff::find_by_id_or_email(&app.services, email)
        .await
        .unwrap();

    // The baseline, then another address of the same /24 on the other
    // instance: nothing.
    staff_login_from(&app, email, &secret, "198.51.100.7").await;
    step(&app, &other, 1).await;
    step(&app, &other, 31).await;
    staff_login_from(&other, email, &secret, "198.51.100.200").await;
    step(&app, &other, 1).await;
    assert!(app.store.alerts().firing().await.unwrap().is_empty());

    // A network never used, on the other instance.
    step(&app, &other, 31).await;
    let cookie = staff_login_from(&other, email, &secret, "203.0.113.9").await;
    step(&app, &other, 1).await;
    let on = app.store.alerts().firing().await.unwrap();
    assert_eq!(on.len(), 1, "{on:?}");
    assert_eq!(
        (on[0].rule.as_str(), on[0].subject.as_str(), on[0].value),
        ("staff_new_network", staff.to_string().as_str(), 1)
    );
    let mails = app.mails_to(TEAM, 1).await;
    let mail = &mails[0];
    assert!(
        mail.subject.contains("セキュリティアラート"),
        "{}",
        mail.subject
    );
    assert!(
        mail.subject.contains("staff_new_network"),
        "{}",
        mail.subject
    );
    assert!(
        mail.text
            .contains("これまでログインしたことのないネットワーク"),
        "{}",
        mail.text
    );
    assert!(mail.text.contains(&staff.to_string()), "{}", mail.text);
    assert_eq!(audit_count(&app, AuditAction::AlertFired).await, 1);

    // Again from the new network, and from the old one, on both
    // instances: no second alert, no second mail.
    for (i, from) in ["203.0.113.77", "198.51.100.7"].into_iter().enumerate() {
        step(&app, &other, 31).await;
        let on = if i == 0 { &app } else { &other };
        staff_login_from(on, email, &secret, from).await;
        step(&app, &other, 1).await;
    }
    assert_eq!(app.store.alerts().firing().await.unwrap().len(), 1);
    assert_eq!(team_mails(&app).await.len(), 1);

    // The security role sees it in the console, in both languages.
    for (lang, words) in [
        ("ja", "これまで使ったことのないネットワーク"),
        ("en", "from a network the staff member had not used before"),
    ] {
        let page = app
            .client
            .get(app.staff_url("/alerts"))
            .header("x-forwarded-for", "203.0.113.9")
            .header(http::header::COOKIE, &cookie)
            .header(http::header::ACCEPT_LANGUAGE, lang)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{lang}");
        let html = page.text().await.unwrap();
        assert!(html.contains("staff_new_network"), "{lang}: {html}");
        assert!(html.contains(&staff.to_string()), "{lang}");
        assert!(html.contains(words), "{lang}: {html}");
        assert!(
            !html.contains(email) && !html.contains("203.0.113"),
            "{lang}"
        );
    }

    // No network, address or e-mail in the mail or on either /metrics.
    for app in [&app, &other] {
        let metrics = anshin_testkit::reqwest::get(app.ops_url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for needle in ["198.51.100", "203.0.113", email, "aiko"] {
            assert!(!metrics.contains(needle), "/metrics holds {needle}");
            assert!(
                !format!("{}\n{}\n{}", mail.subject, mail.text, mail.html).contains(needle),
                "the mail holds {needle}"
            );
        }
    }

    // Past the window (an hour), it clears, with one mail.
    step(&app, &other, 3_601).await;
    assert!(app.store.alerts().firing().await.unwrap().is_empty());
    app.mails_to(TEAM, 2).await;
    assert_eq!(team_mails(&app).await.len(), 2);
    assert_eq!(audit_count(&app, AuditAction::AlertResolved).await, 1);
    other.stop().await;
    app.stop().await;
}

/// A webhook receiver on loopback that answers 503 to the first
/// `failures` deliveries and 200 after; keeps every body with its
/// signature.
async fn flaky_receiver(failures: usize) -> (String, Received) {
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
                let mut got = keep.lock().unwrap();
                got.push((body, sig));
                if got.len() <= failures {
                    http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

async fn deliveries(hook: &Received, n: usize) -> Vec<(String, String)> {
    for _ in 0..400 {
        let got = hook.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("fewer than {n} webhook deliveries");
}

/// A delivery that fails is not lost: the `alerts.webhook` job sends it
/// again once its backoff (30 s of the clock) is over, signed at the
/// retry's time; after it succeeded, never again.
async fn c29_a_failed_webhook_is_retried_with_backoff_until_delivered(b: Backend) {
    let (url, hook) = flaky_receiver(1).await;
    let app = TestApp::spawn_mail_with(b, move |s| {
        alerting(s);
        s.alerts.webhook_url = Some(url);
        s.alerts.webhook_secret = Some(HOOK_SECRET.to_owned().into());
    })
    .await;
    wait_for_runs(&app, "alerts.evaluate", 1).await;
    failed_logins(&app, 0, 12, |i| format!("victim{i:03}@example.jp")).await;
    evaluate_after(&app, 1).await;
    assert_eq!(app.store.alerts().firing().await.unwrap().len(), 1);
    // The first attempt, at once: refused.
    deliveries(&hook, 1).await;
    assert_eq!(app.metric("anshin_alert_webhook_failures_total").await, 1);
    // Before the backoff is over, nothing more.
    evaluate_after(&app, 10).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(hook.lock().unwrap().len(), 1, "retried before the backoff");
    // After it, the retry job delivers it.
    evaluate_after(&app, 25).await;
    let got = deliveries(&hook, 2).await;
    assert_eq!(got[0].0, got[1].0, "the same delivery");
    assert_ne!(got[0].1, got[1].1, "signed afresh");
    let tol = anshin_domain::Duration::from_secs(300);
    let retried_at = anshin_testkit::T0 + 36 * SECOND;
    assert!(
        anshin_core::payments::signature::verify(
            HOOK_SECRET.as_bytes(),
            &got[1].1,
            got[1].0.as_bytes(),
            retried_at,
            tol
        )
        .is_ok(),
        "{got:?}"
    );
    // Delivered: no further attempt, however long.
    evaluate_after(&app, 60).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(hook.lock().unwrap().len(), 2);
    assert_eq!(app.metric("anshin_alert_webhook_failures_total").await, 1);
    // The clearing is delivered at once (the receiver is up now).
    evaluate_after(&app, 301).await;
    let got = deliveries(&hook, 3).await;
    let last: serde_json::Value = serde_json::from_str(&got[2].0).unwrap();
    assert_eq!(last["event"], "resolved");
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(hook.lock().unwrap().len(), 3);
    app.stop().await;
}

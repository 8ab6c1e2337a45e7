//! The weekly self-scan (C30, issue 17, ADR 0019), end to end on SQLite
//! and PostgreSQL with the real job runner, outbox, SMTP server and alert
//! job, the clock moved by hand:
//!
//! - acceptance 2: a small crate built here with `cargo auditable` (into
//!   `target/tmp`, so CI builds a few kilobytes, not the workspace a
//!   second time) carries its dependency list; an advisory database
//!   written by the test in RustSec's format, with one advisory matching
//!   a crate version in that list (and others that do not match), yields
//!   exactly that finding, a mail to the security team and the `selfscan`
//!   alert; the real snapshot (`../shared/rustsec-advisory-db`) yields
//!   the truth the README states; a binary without the list (this test
//!   executable, a plain `cargo build`) is a finding, not a pass;
//! - acceptance 3: with two instances on one database, the weekly job
//!   runs once per week of the clock (the lease and the recorded next
//!   run), and the reports survive a restart (a new instance lists them,
//!   in the console too).
//!
//! Attempts (ADR 0019): a binary without its list, no or an empty
//! database, many instances scanning to flood the team.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anshin::selfscan::{Dep, check, lockfile_list};
use anshin_core::selfscan::{FindingKind, Report};
use anshin_store::audit::AuditAction;
use anshin_testkit::anshin::config::Settings;
use anshin_testkit::{Backend, SECOND, TestApp, backends};

use super::alerts::{TEAM, alerting, evaluate_after, wait_for_runs};

backends!(
    c30_a_matching_advisory_is_exactly_one_finding_mailed_and_alerted,
    c30_a_binary_without_its_list_is_a_finding_not_a_pass,
    c30_the_weekly_scan_runs_once_a_week_across_two_instances_and_survives_a_restart,
);

const JOB: &str = "selfscan.weekly";
const WEEK: i64 = 7 * 86_400;

/// The crate the fixture depends on: a version the workspace's lock holds
/// too, so an offline build finds it in the local registry cache.
const DEP: &str = "cfg-if";
const DEP_VERSION: &str = "1.0.5";

/// The real advisory database snapshot (`../shared/rustsec-advisory-db`
/// beside the repository), or `ANSHIN_ADVISORY_DB`.
fn snapshot() -> PathBuf {
    std::env::var_os("ANSHIN_ADVISORY_DB").map_or_else(
        || super::journeys::repo_root().join("../shared/rustsec-advisory-db"),
        PathBuf::from,
    )
}

/// A tiny binary built with `cargo auditable` (once per test process,
/// into `target/tmp/selfscan-fixture`; a rebuild there takes a second).
fn fixture_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| fixture(true))
}

/// The same crate built with a plain `cargo build`: no list.
fn plain_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| fixture(false))
}

fn fixture(auditable: bool) -> PathBuf {
    {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("selfscan-fixture");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"selfscan-fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
                 publish = false\n\n[dependencies]\n{DEP} = \"={DEP_VERSION}\"\n\n[workspace]\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("src/main.rs"),
            "cfg_if::cfg_if! {\n    if #[cfg(unix)] {\n        fn main() { println!(\"unix\"); }\n    } \
             else {\n        fn main() {}\n    }\n}\n",
        )
        .unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let (args, target): (&[&str], _) = if auditable {
            (&["auditable", "build"], dir.join("target-auditable"))
        } else {
            (&["build"], dir.join("target-plain"))
        };
        // One build at a time in the shared directory (two test threads).
        static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = BUILD
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let out = std::process::Command::new(&cargo)
            .args(args)
            .args(["--offline", "--quiet", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("cargo");
        assert!(
            out.status.success(),
            "cargo auditable build of the fixture failed (install it: scripts/setup): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("debug/selfscan-fixture")
    }
}

/// One advisory in RustSec's format (`crates/<package>/<id>.md`).
fn advisory(db: &Path, id: &str, package: &str, patched: &str, informational: Option<&str>) {
    let dir = db.join("crates").join(package);
    std::fs::create_dir_all(&dir).unwrap();
    let info = informational.map_or(String::new(), |k| format!("informational = \"{k}\"\n"));
    std::fs::write(
        dir.join(format!("{id}.md")),
        format!(
            "```toml\n[advisory]\nid = \"{id}\"\npackage = \"{package}\"\ndate = \"2026-12-01\"\n\
             url = \"https://example.invalid/{id}\"\n{info}\n[versions]\npatched = [\"{patched}\"]\n```\n\n\
             # Test advisory {id} against {package}\n\nWritten by the self-scan test.\n"
        ),
    )
    .unwrap();
}

/// A test database: one vulnerability that matches the fixture's
/// `cfg-if`, one for a version it does not have, one for a crate it does
/// not use, and an informational one that matches (a warning, not a
/// finding).
fn test_db() -> tempfile::TempDir {
    let db = tempfile::tempdir().unwrap();
    advisory(db.path(), "RUSTSEC-2026-9001", DEP, ">= 9.0.0", None);
    advisory(db.path(), "RUSTSEC-2026-9002", DEP, ">= 1.0.0", None);
    advisory(
        db.path(),
        "RUSTSEC-2026-9003",
        "not-in-the-binary",
        ">= 9.0.0",
        None,
    );
    advisory(
        db.path(),
        "RUSTSEC-2026-9004",
        DEP,
        ">= 9.0.0",
        Some("unmaintained"),
    );
    db
}

fn scanning(db: &Path, binary: Option<&Path>) -> impl Fn(&mut Settings) + Clone + use<> {
    let db = db.to_owned();
    let binary = binary.map(Path::to_owned);
    move |s: &mut Settings| {
        alerting(s);
        s.selfscan.enabled = true;
        s.selfscan.poll_secs = 1;
        s.selfscan.advisory_db = Some(db.clone());
        s.selfscan.binary = binary.clone();
    }
}

async fn reports(app: &TestApp) -> Vec<Report> {
    app.store
        .selfscan()
        .recent(100)
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(&r.json).unwrap())
        .collect()
}

fn ids(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.id.as_str()).collect()
}

/// Waits until `n` mails to the team whose subject starts with `prefix`
/// arrived; returns them.
async fn team_mails(app: &TestApp, prefix: &str, n: usize) -> Vec<anshin_testkit::Mail> {
    for _ in 0..600 {
        let mails: Vec<_> = app
            .sink
            .as_ref()
            .unwrap()
            .messages()
            .iter()
            .map(|m| anshin_testkit::parse_mail(m))
            .filter(|m| m.to == TEAM && m.subject.starts_with(prefix))
            .collect();
        if mails.len() >= n {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} mails \"{prefix}…\" to the team");
}

async fn job_runs(app: &TestApp) -> i64 {
    app.store
        .jobs()
        .find(JOB)
        .await
        .unwrap()
        .map_or(0, |r| r.runs)
}

async fn audit_count(app: &TestApp, action: AuditAction) -> usize {
    super::audit::entries(app)
        .await
        .iter()
        .filter(|e| e.entry.action == action)
        .count()
}

/// Acceptance 2: exactly the matching advisory is a finding; the report
/// is kept, mailed to the team and audited; the alert goes on and is
/// mailed once.
async fn c30_a_matching_advisory_is_exactly_one_finding_mailed_and_alerted(b: Backend) {
    let bin = fixture_binary();
    let db = test_db();
    let app = TestApp::spawn_mail_with(b, scanning(db.path(), Some(bin))).await;
    wait_for_runs(&app, JOB, 1).await;
    let kept = reports(&app).await;
    assert_eq!(kept.len(), 1);
    let r = &kept[0];
    // The crates.io packages of the list: cfg-if (the fixture itself is a
    // local package, which no advisory can name).
    assert_eq!(r.dependencies, Some(1), "{r:?}");
    assert_eq!(r.advisories, 4);
    assert_eq!(ids(r), ["RUSTSEC-2026-9001"], "{}", r.text());
    assert_eq!(r.findings[0].kind, FindingKind::Advisory);
    assert_eq!(r.findings[0].subject, format!("{DEP}@{DEP_VERSION}"));
    assert_eq!(
        r.findings[0].detail,
        "Test advisory RUSTSEC-2026-9001 against cfg-if"
    );
    // The informational advisory is listed as a warning, not a finding.
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].id, "RUSTSEC-2026-9004");
    assert_eq!(audit_count(&app, AuditAction::SelfScanRan).await, 1);
    // The report, mailed to the team.
    let mails = team_mails(&app, "Weekly self-scan", 1).await;
    assert_eq!(mails[0].subject, "Weekly self-scan: findings: 1");
    assert!(
        mails[0].text.contains("RUSTSEC-2026-9001"),
        "{}",
        mails[0].text
    );
    assert!(!mails[0].text.contains("RUSTSEC-2026-9002"));
    // The alert job sees it: the `selfscan` alert goes on, mailed once.
    let mut rounds = 0;
    while app.store.alerts().firing().await.unwrap().is_empty() {
        rounds += 1;
        assert!(rounds < 40, "the selfscan alert never went on");
        evaluate_after(&app, 1).await;
    }
    let on = app.store.alerts().firing().await.unwrap();
    assert_eq!(on.len(), 1, "{on:?}");
    assert_eq!((on[0].rule.as_str(), on[0].value), ("selfscan", 1));
    let alert_mails = team_mails(&app, "Security alert", 1).await;
    assert_eq!(alert_mails[0].subject, "Security alert: selfscan");
    // It stays on: no second alert mail, one audit entry.
    evaluate_after(&app, 1).await;
    evaluate_after(&app, 1).await;
    assert_eq!(team_mails(&app, "Security alert", 1).await.len(), 1);
    assert_eq!(audit_count(&app, AuditAction::AlertFired).await, 1);
    app.stop().await;
}

/// Acceptance 2: a plain `cargo build` (as this test executable is)
/// carries no list: the scan says so as a finding, and the alert goes
/// on. The team reads Japanese here (`alerts.language = "ja"`): the
/// report and the alert are mailed in Japanese. The real snapshot against the workspace's whole lock (every
/// binary's list is a part of it) gives the truth the README states.
async fn c30_a_binary_without_its_list_is_a_finding_not_a_pass(b: Backend) {
    let snap = snapshot();
    let cfg = scanning(&snap, Some(plain_binary()));
    let app = TestApp::spawn_mail_with(b, move |s| {
        cfg(s);
        s.alerts.language = anshin_domain::Lang::Ja;
    })
    .await;
    wait_for_runs(&app, JOB, 1).await;
    let r = &reports(&app).await[0];
    assert_eq!(r.dependencies, None);
    assert_eq!(ids(r), ["no_dependency_list"], "{}", r.text());
    assert_eq!(r.findings[0].kind, FindingKind::NoDependencyList);
    assert!(r.advisories > 800, "the snapshot loads: {}", r.advisories);
    let mails = team_mails(&app, "週次セルフスキャン", 1).await;
    assert_eq!(mails[0].subject, "週次セルフスキャン: 検出件数: 1");
    assert!(mails[0].text.contains("no_dependency_list"));
    assert!(
        mails[0]
            .text
            .contains("週次セルフスキャンで以下が見つかりました")
    );
    let mut rounds = 0;
    while app.store.alerts().firing().await.unwrap().is_empty() {
        rounds += 1;
        assert!(rounds < 40, "the selfscan alert never went on");
        evaluate_after(&app, 1).await;
    }
    let alert = team_mails(&app, "セキュリティアラート", 1).await;
    assert_eq!(alert[0].subject, "セキュリティアラート: selfscan");
    app.stop().await;

    // The truth of the snapshot (README, "Self-scan"): the workspace's
    // crates.io packages have one known vulnerability, accepted with its
    // reason (`selfscan.ignore`), and no finding.
    let lock = super::journeys::repo_root().join("Cargo.lock");
    let list: Vec<Dep> = lockfile_list(&lock).unwrap();
    let mut truth = Report::default();
    check(
        &mut truth,
        Some(&list),
        Some(&snap),
        &anshin_core::selfscan::SelfScanSettings::default().ignore,
    );
    assert_eq!(ids(&truth), Vec::<&str>::new(), "{}", truth.text());
    let ignored: Vec<&str> = truth.ignored.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ignored, ["RUSTSEC-2023-0071"], "{}", truth.text());
    // And the fixture, built with its list, is clean against it.
    let mut fixture = Report::default();
    anshin::selfscan::dependencies(&mut fixture, fixture_binary(), Some(&snap), &[]);
    assert_eq!(ids(&fixture), Vec::<&str>::new(), "{}", fixture.text());
    assert!(fixture.dependencies.is_some());
}

/// Acceptance 3: two instances, one scan per week of the clock; the
/// reports survive a restart.
async fn c30_the_weekly_scan_runs_once_a_week_across_two_instances_and_survives_a_restart(
    b: Backend,
) {
    let bin = fixture_binary();
    let db = test_db();
    let cfg = scanning(db.path(), Some(bin));
    let one = TestApp::spawn_mail_with(b, cfg.clone()).await;
    let two = one.sibling_with(cfg.clone()).await;
    wait_for_runs(&one, JOB, 1).await;
    // Both instances ask every second whether it is due: it is not.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(job_runs(&one).await, 1);
    // A day later: still not due.
    one.clock.advance(86_400 * SECOND);
    two.clock.advance(86_400 * SECOND);
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(job_runs(&one).await, 1);
    assert_eq!(reports(&one).await.len(), 1);
    // A week after the first: one of the two scans, once.
    one.clock.advance((WEEK - 86_400) * SECOND);
    two.clock.advance((WEEK - 86_400) * SECOND);
    wait_for_runs(&one, JOB, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(job_runs(&one).await, 2);
    assert_eq!(reports(&two).await.len(), 2);
    assert_eq!(audit_count(&one, AuditAction::SelfScanRan).await, 2);
    assert_eq!(team_mails(&one, "Weekly self-scan", 2).await.len(), 2);

    // A restart: both stop, a new instance on the database keeps the
    // reports (and does not scan again before the week is over).
    let three = two.sibling_with(cfg.clone()).await;
    one.stop().await;
    two.stop().await;
    three.clock.advance((WEEK + 86_400) * SECOND);
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(job_runs(&three).await, 2, "not due yet after the restart");
    let kept = reports(&three).await;
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|r| ids(r) == ["RUSTSEC-2026-9001"]));
    // And it runs when the next week is due.
    three.clock.advance(WEEK * SECOND);
    wait_for_runs(&three, JOB, 3).await;
    assert_eq!(reports(&three).await.len(), 3);
    three.stop().await;
}

//! The audit log through the doors (C22; issue 14, acceptance 4): a login
//! writes exactly one entry in its own transaction, and no login happens
//! if that entry cannot be written; `anshin audit verify` passes on an
//! untouched log and fails naming the index after an edit made directly in
//! the database; the independent verifier (`scripts/audit-verify.py`, no
//! anshin code) recomputes the signed root from an export; the server
//! signs a last checkpoint at shutdown.

use std::path::Path;
use std::process::Command;

use anshin_core::audit::AuditAction;
use anshin_core::clock::Clock as _;
use anshin_domain::EmailAddress;
use anshin_store::Actor;
use anshin_testkit::reqwest::StatusCode;
use anshin_testkit::{Backend, TestApp, backends, set_cookie};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_anshin");
pub(crate) const ORIGIN: &str = "test.example/audit";

pub(crate) async fn spawn(b: Backend, witness: &Path) -> TestApp {
    let witness = witness.to_owned();
    TestApp::spawn_mail_with(b, move |s| {
        s.audit.origin = Some(ORIGIN.into());
        s.audit.witness_dir = Some(witness);
    })
    .await
}

pub(crate) async fn exec(app: &TestApp, sql: &str) -> Result<u64, String> {
    match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&pool)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string());
            pool.close().await;
            r
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&pool)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string());
            pool.close().await;
            r
        }
    }
}

/// Makes every audit write fail from now on (a trigger that refuses
/// inserts into `audit_entries`), as a full disk or a broken log would.
pub(crate) async fn refuse_audit_writes(app: &TestApp) {
    let refuse = match app.backend {
        Backend::Sqlite => "CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_entries \
                            BEGIN SELECT RAISE(ABORT, 'audit refused'); END;"
            .to_owned(),
        Backend::Postgres => {
            "CREATE FUNCTION audit_test_refuse() RETURNS trigger LANGUAGE plpgsql \
                              AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END; $$; \
                              CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_entries \
                              FOR EACH ROW EXECUTE FUNCTION audit_test_refuse();"
                .to_owned()
        }
    };
    exec(app, &refuse).await.unwrap();
}

pub(crate) async fn entries(app: &TestApp) -> Vec<anshin_store::StoredAuditEntry> {
    app.store.audit().entries(0, 10_000).await.unwrap()
}

/// Runs `anshin <args>` on the app's data directory and database.
pub(crate) fn cli(app: &TestApp, witness: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("ANSHIN_DATA_DIR", &app.data_dir)
        .env("ANSHIN_DATABASE__URL", &app.database_url)
        .env("ANSHIN_KEYS__FILE", &app.keys_file)
        .env("ANSHIN_AUDIT__ORIGIN", ORIGIN)
        .env("ANSHIN_AUDIT__WITNESS_DIR", witness)
        .env("ANSHIN_LOG__LEVEL", "warn")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn c22_a_login_writes_exactly_one_audit_entry_or_does_not_happen(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    let app = spawn(b, witness.path()).await;
    let email = "audited@example.jp";
    app.sign_up(email, "Audited", 0).await;
    let member = app
        .store
        .accounts()
        .find_member_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    // The start of the instance is the first entry.
    let after_signup = entries(&app).await;
    assert_eq!(after_signup.len(), 2, "the start, the sign-up's login");
    app.log_in_again(email).await;
    let all = entries(&app).await;
    assert_eq!(all.len(), 3, "one login, one entry");
    let e = &all[2].entry;
    assert_eq!(e.action, AuditAction::LoginSucceeded);
    assert_eq!(e.actor, Actor::Member(member));
    assert_eq!(
        e.origin.as_deref(),
        Some("127.0.0.0/24"),
        "a network, not the address"
    );
    let details: serde_json::Value = serde_json::from_str(e.details.as_deref().unwrap()).unwrap();
    assert!(details["method"].is_string());
    assert!(
        !e.details.as_deref().unwrap().contains(email),
        "no address in the details"
    );

    // The audit write fails: the login fails with it, nothing is kept.
    refuse_audit_writes(&app).await;
    let sessions_before = app
        .store
        .sessions()
        .list_for_member(member, app.clock.now())
        .await
        .unwrap()
        .len();
    let mails_before = app.mails_to(email, 0).await.len();
    let res = app
        .client
        .post(app.url("/api/v1/login/code"))
        .json(&json!({"email": email, "altcha": app.solve_challenge().await}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let flow: serde_json::Value = res.json().await.unwrap();
    // The newest mail after `mails_before` that holds a code (the notice
    // of the login before may arrive in between).
    let mut n = mails_before + 1;
    let code = loop {
        let mails = app.mails_to(email, n).await;
        if let Some(code) = mails[mails_before..]
            .iter()
            .rev()
            .find_map(|m| anshin_testkit::code_in(&m.text))
        {
            break code;
        }
        n += 1;
    };
    let res = app
        .client
        .post(app.url("/api/v1/login/code/verify"))
        .json(&json!({"flow_id": flow["flow_id"], "code": code}))
        .send()
        .await
        .unwrap();
    assert!(
        !res.status().is_success(),
        "no login without its audit entry: {}",
        res.status()
    );
    assert!(set_cookie(&res, "__Host-anshin_session").is_none());
    assert_eq!(
        app.store
            .sessions()
            .list_for_member(member, app.clock.now())
            .await
            .unwrap()
            .len(),
        sessions_before,
        "no session was made"
    );
    assert_eq!(entries(&app).await.len(), 3);
    app.stop().await;
}

async fn c22_audit_verify_fails_naming_the_index_and_an_independent_verifier_agrees(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    let app = spawn(b, witness.path()).await;
    app.sign_up("one@example.jp", "One", 0).await;
    app.sign_up("two@example.jp", "Two", 0).await;
    app.log_in_again("one@example.jp").await;
    let n = entries(&app).await.len();
    assert_eq!(n, 4, "the start, two sign-ups, a login");

    let (ok, out) = cli(&app, witness.path(), &["audit", "checkpoint"]);
    assert!(ok, "{out}");
    let (ok, key) = cli(&app, witness.path(), &["audit", "public-key"]);
    assert!(ok && key.contains(&format!("{ORIGIN}+")), "{key}");
    let key = key
        .lines()
        .find(|l| l.starts_with(&format!("{ORIGIN}+")))
        .unwrap()
        .to_owned();
    let (ok, out) = cli(&app, witness.path(), &["audit", "verify"]);
    assert!(ok, "an untouched log verifies: {out}");
    assert!(out.contains("audit verify passed"), "{out}");

    // The independent verifier: export, then recompute the signed root.
    let note = std::fs::read_dir(witness.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "note"))
        .max()
        .expect("a witnessed checkpoint");
    assert!(
        std::fs::read_to_string(&note)
            .unwrap()
            .starts_with(&format!("{ORIGIN}\n{n}\n"))
    );
    let python = |export: &str| {
        let file = witness.path().join("export.jsonl");
        std::fs::write(&file, export).unwrap();
        let out = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scripts/audit-verify.py"
            ))
            .args(["--key", &key, "--checkpoint"])
            .arg(&note)
            .arg(&file)
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, export) = cli(
        &app,
        witness.path(),
        &["audit", "export", "--since", "1970-01-01T00:00:00Z"],
    );
    assert!(ok, "{export}");
    assert_eq!(export.lines().count(), n, "{export}");
    let (ok, out) = python(&export);
    assert!(ok, "the independent verifier agrees: {out}");
    assert!(out.contains("OK"), "{out}");

    // An attacker edits entry 1 directly in the database.
    let drop = match b {
        Backend::Sqlite => "DROP TRIGGER audit_entries_no_update;",
        Backend::Postgres => "DROP TRIGGER audit_entries_no_change ON audit_entries;",
    };
    assert!(
        exec(
            &app,
            "UPDATE audit_entries SET origin = '198.51.100.0/24' WHERE idx = 1"
        )
        .await
        .is_err(),
        "the trigger refuses first"
    );
    exec(&app, drop).await.unwrap();
    exec(
        &app,
        "UPDATE audit_entries SET origin = '198.51.100.0/24' WHERE idx = 1",
    )
    .await
    .unwrap();
    let (ok, out) = cli(&app, witness.path(), &["audit", "verify"]);
    assert!(!ok, "verify fails after the edit: {out}");
    assert!(out.contains("PROBLEM: index 1:"), "names the index: {out}");
    let (_, export) = cli(
        &app,
        witness.path(),
        &["audit", "export", "--since", "1970-01-01T00:00:00Z"],
    );
    let (ok, out) = python(&export);
    assert!(!ok && out.contains("index 1"), "{out}");
    app.stop().await;
}

async fn c22_the_server_signs_a_checkpoint_at_shutdown(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    let app = spawn(b, witness.path()).await;
    app.sign_up("late@example.jp", "Late", 0).await;
    app.stop().await;
    let names: Vec<String> = std::fs::read_dir(witness.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&format!("checkpoint-{:020}.note", 2)),
        "the last act is witnessed at shutdown: {names:?}"
    );
}

/// "Settings at start" (C22): every instance's start is an entry holding
/// its effective configuration, secrets redacted.
async fn c22_each_start_records_its_settings_without_secrets(b: Backend) {
    const SECRET: &str = "whsec_never_in_the_audit_log";
    let app = TestApp::spawn_with(b, |s| {
        s.payments.webhook_secret = Some(SECRET.to_owned().into());
    })
    .await;
    let sibling = app.sibling().await;
    let starts: Vec<_> = entries(&app)
        .await
        .into_iter()
        .filter(|e| e.entry.action == AuditAction::SettingsAtStart)
        .collect();
    assert_eq!(starts.len(), 2, "one entry per instance started");
    let mut instances = Vec::new();
    for e in &starts {
        assert_eq!(e.entry.actor, Actor::System);
        assert_eq!(e.entry.reason, "process_start");
        let details: serde_json::Value =
            serde_json::from_str(e.entry.details.as_deref().unwrap()).unwrap();
        let config = details["config"].as_str().unwrap();
        assert!(config.contains("[limits]") && config.contains("lock_threshold"));
        assert_eq!(details["config_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(details["version"], env!("CARGO_PKG_VERSION"));
        assert!(!config.contains(SECRET), "secrets are redacted: {config}");
        assert!(
            !config.contains('@') && config.contains("from_address = \"[address]\""),
            "addresses are masked: {config}"
        );
        let instance = details["instance"].as_str().unwrap().to_owned();
        if instance == app.instance {
            // The sibling was configured without the secret.
            assert!(
                config.contains("webhook_secret = \"[redacted]\""),
                "{config}"
            );
        }
        instances.push(instance);
    }
    assert!(instances.contains(&app.instance) && instances.contains(&sibling.instance));
    sibling.stop().await;
    app.stop().await;
}

backends!(
    c22_each_start_records_its_settings_without_secrets,
    c22_a_login_writes_exactly_one_audit_entry_or_does_not_happen,
    c22_audit_verify_fails_naming_the_index_and_an_independent_verifier_agrees,
    c22_the_server_signs_a_checkpoint_at_shutdown,
);

//! A newcomer's journeys through the site in a real browser (issue 12):
//! Debian's chromium, driven by `e2e/journeys.spec.mjs` (playwright-core),
//! in Japanese and in English, on SQLite and PostgreSQL. The script signs
//! up from the home page (through the footer's help, contact and legal
//! pages, accepting the terms), reads its codes from the real SMTP server
//! through a small mailbox endpoint this test serves (which also moves the
//! app's clock, so a login can grow old), and walks addresses, phone, bank
//! account, sessions, a message to support (read back from the same
//! server), language, the profile (display name, e-mail change with its
//! re-authentication), then the marketplace (issue 13: the member opens a
//! shop, lists an item and uploads its image with the file picker; a
//! buyer in another browser searches, finds it and sees the picture), and
//! logout. On every page, at 360 px and
//! 1280 px, axe-core must find no serious or critical violation and
//! nothing may scroll sideways; after every action the page must say what
//! happened. See the script's header for every check.
//!
//! Needs node, chromium and `e2e/node_modules` (`scripts/setup --test`).

use std::path::PathBuf;
use std::sync::Arc;

use anshin_core::i18n::{Catalogs, Lang};
use anshin_testkit::{Backend, TestApp, backends, parse_mail};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

backends!(journeys_in_japanese, journeys_in_english);

/// Where the contact form's messages go in the journey.
const SUPPORT: &str = "support@journey.example.jp";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Deserialize)]
struct MailsQuery {
    to: String,
}

/// `GET /mails?to=`: the mails the SMTP server received for an address,
/// oldest first, as `{subject, text}`.
async fn mails(State(app): State<Arc<TestApp>>, Query(q): Query<MailsQuery>) -> Json<Value> {
    let sink = app.sink.as_ref().expect("started with spawn_mail");
    let mut list: Vec<_> = sink
        .messages()
        .iter()
        .map(|m| parse_mail(m))
        .filter(|m| m.to == q.to)
        .collect();
    list.sort_by(|a, b| a.message_id.cmp(&b.message_id));
    Json(json!(
        list.iter()
            .map(|m| json!({"subject": m.subject, "text": m.text}))
            .collect::<Vec<_>>()
    ))
}

#[derive(Deserialize)]
struct AdvanceQuery {
    secs: i64,
}

/// `POST /advance?secs=`: moves the app's clock forward (a login grows
/// old, so a change asks for a fresh code).
async fn advance(State(app): State<Arc<TestApp>>, Query(q): Query<AdvanceQuery>) -> Json<Value> {
    app.clock.advance(q.secs * anshin_testkit::SECOND);
    Json(json!({"advanced": q.secs}))
}

async fn journeys_in_japanese(b: Backend) {
    journey(b, Lang::Ja).await;
}

async fn journeys_in_english(b: Backend) {
    journey(b, Lang::En).await;
}

async fn journey(b: Backend, lang: Lang) {
    let root = repo_root();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "chromium is missing at {chromium}: run scripts/setup --test"
    );
    for module in ["playwright-core", "axe-core"] {
        assert!(
            root.join("e2e/node_modules").join(module).is_dir(),
            "e2e/node_modules/{module} is missing: run scripts/setup --test"
        );
    }
    let app =
        Arc::new(TestApp::spawn_mail_with(b, |s| s.operator.support_email = SUPPORT.into()).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mailbox = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        axum::serve(
            listener,
            Router::new()
                .route("/mails", get(mails))
                .route("/advance", axum::routing::post(advance))
                .with_state(app.clone()),
        )
        .into_future(),
    );
    let catalogs = Catalogs::load().unwrap();
    let catalog = json!({
        "flash": catalogs.get(lang).flash,
        "support": SUPPORT,
    });
    let out = tokio::process::Command::new("node")
        .arg(root.join("e2e/journeys.spec.mjs"))
        .arg(&app.origin)
        .arg(&mailbox)
        .arg(lang.code())
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", catalog.to_string())
        // Passed on when set: where the script saves its screenshots.
        .env(
            "SCREENSHOTS",
            std::env::var("SCREENSHOTS").unwrap_or_default(),
        )
        .output()
        .await
        .expect("node is missing: run scripts/setup --test");
    server.abort();
    let _ = server.await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser journey ({}) failed:\n{stderr}\n{stdout}",
        lang.code()
    );
    let v: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON result line");
    assert!(
        v["pages"].as_u64().unwrap() >= 40,
        "the journey visited too few pages: {v}"
    );
    assert_eq!(
        v["checks"].as_u64().unwrap(),
        2 * (v["pages"].as_u64().unwrap() + 1),
        "every page checked at both widths (plus the signed-out browser's login)"
    );
    Arc::try_unwrap(app)
        .expect("the mailbox server holds no reference")
        .stop()
        .await;
}

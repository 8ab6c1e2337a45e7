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

pub(crate) fn repo_root() -> PathBuf {
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

// ---- the checkout journey (issue 13, C15) ----

backends!(c15_checkout_journey_pays_by_card_in_a_browser_and_no_card_number_is_kept_anywhere);

/// The test card numbers, as typed and as grouped on a card.
const CARDS: [&str; 3] = ["4242424242424242", "4000002760003184", "4000000000000341"];

fn spaced(n: &str) -> String {
    n.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

fn holds_a_card_number(hay: &[u8]) -> Option<String> {
    let forms: Vec<String> = CARDS
        .iter()
        .flat_map(|n| {
            [
                n.to_string(),
                spaced(n),
                spaced(n).replace(' ', "-"),
                spaced(n).replace(' ', "%20"),
            ]
        })
        .collect();
    // Every form starts with '4': look only where one does (the
    // PostgreSQL WAL segments are 16 MiB each).
    hay.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'4')
        .find_map(|(i, _)| {
            forms
                .iter()
                .find(|f| hay[i..].starts_with(f.as_bytes()))
                .cloned()
        })
}

#[test]
fn the_card_number_search_finds_every_form() {
    assert_eq!(
        holds_a_card_number(b"x 4000 0027 6000 3184 y").as_deref(),
        Some("4000 0027 6000 3184")
    );
    assert_eq!(
        holds_a_card_number(b"\x004242-4242-4242-4242").as_deref(),
        Some("4242-4242-4242-4242")
    );
    assert_eq!(
        holds_a_card_number(b"4000%200000%200000%200341").as_deref(),
        Some("4000%200000%200000%200341")
    );
    assert_eq!(holds_a_card_number(b"4242 4242 4242 424"), None);
}

/// Every byte anshin keeps: the database (SQLite file and WAL; or a
/// `pg_dump` of the schema, the schema's table, index and TOAST files and
/// the WAL segments written since `since`) and every file in the data
/// directory.
fn kept_bytes(app: &TestApp, since: std::time::SystemTime) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p.display().to_string(), bytes));
            }
        }
    }
    walk(&app.data_dir, &mut out);
    if let Some(schema) = app.database_schema() {
        let dump = std::process::Command::new("pg_dump")
            .args(["--no-owner", "--schema", schema])
            .arg(&app.database_url)
            .output()
            .expect("pg_dump (postgresql-client)");
        assert!(
            dump.status.success(),
            "{}",
            String::from_utf8_lossy(&dump.stderr)
        );
        let text = String::from_utf8_lossy(&dump.stdout).into_owned();
        assert!(
            text.contains("payment_attempts") && text.contains("card_"),
            "the dump holds the orders"
        );
        out.push(("pg_dump".into(), dump.stdout));
        // The files behind it: a row once updated or deleted lives on in
        // the table's pages and in the WAL (read after a checkpoint, so
        // that every page is on disk).
        let psql = |sql: &str| {
            let o = std::process::Command::new("psql")
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .arg(&app.database_url)
                .output()
                .expect("psql (postgresql-client)");
            assert!(
                o.status.success(),
                "{sql}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            String::from_utf8(o.stdout).unwrap()
        };
        psql("CHECKPOINT");
        let data = std::path::PathBuf::from(psql("SHOW data_directory").trim());
        let files = psql(&format!(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = '{schema}' AND c.relkind IN ('r', 'i') \
             UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = '{schema}' AND c.reltoastrelid <> 0"
        ));
        let mut relations = 0;
        for f in files.lines().filter(|l| !l.trim().is_empty()) {
            // The main fork and its 1 GiB segments, if any.
            for (n, path) in std::iter::once(data.join(f))
                .chain((1..).map(|i| data.join(format!("{f}.{i}"))))
                .enumerate()
            {
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        relations += 1;
                        out.push((path.display().to_string(), bytes));
                    }
                    Err(_) if n > 0 => break,
                    Err(e) => panic!("{}: {e}", path.display()),
                }
            }
        }
        assert!(relations > 20, "the schema's files were read: {relations}");
        let mut segments = 0;
        for e in std::fs::read_dir(data.join("pg_wal")).unwrap().flatten() {
            let recent = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|m| m >= since);
            if e.file_type().unwrap().is_file() && recent {
                segments += 1;
                out.push((
                    e.path().display().to_string(),
                    std::fs::read(e.path()).unwrap(),
                ));
            }
        }
        assert!(segments > 0, "the WAL written during the journey was read");
    } else {
        for file in ["anshin.db", "anshin.db-wal"] {
            assert!(out.iter().any(|(p, _)| p.ends_with(file)), "{file} is read");
        }
    }
    out
}

/// The checkout journey's control server: moves the clock for the
/// reservation to end, and relays the processor's webhooks to anshin
/// after keeping each body (the requests anshin serves that do not come
/// from the browser).
struct Control {
    market: Arc<crate::commerce::Market>,
    webhooks: std::sync::Mutex<Vec<Vec<u8>>>,
}

async fn relay_webhook(
    State(c): State<Arc<Control>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, String) {
    c.webhooks.lock().unwrap().push(body.to_vec());
    let app = &c.market.app;
    let mut req = app.client.post(app.url("/hooks/payments")).body(body);
    for name in ["content-type", "stripe-signature"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.as_bytes());
        }
    }
    let res = req.send().await.unwrap();
    let status = axum::http::StatusCode::from_u16(res.status().as_u16()).unwrap();
    (status, res.text().await.unwrap_or_default())
}

async fn expire(State(c): State<Arc<Control>>) -> Json<Value> {
    let m = &c.market;
    m.app.clock.advance(61 * anshin_testkit::SECOND);
    let done = anshin_core::orders::reconcile(&m.app.services, &Default::default())
        .await
        .unwrap();
    Json(json!({"cancelled": done.cancelled}))
}

async fn c15_checkout_journey_pays_by_card_in_a_browser_and_no_card_number_is_kept_anywhere(
    b: Backend,
) {
    use crate::commerce::*;
    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let root = repo_root();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "chromium: run scripts/setup --test"
    );
    let m = Arc::new(Market::start_with(b, |s| s.payments.reservation_secs = 60).await);
    let app = m.app.clone();
    // The creator has no shop yet: the journey opens it and lists the
    // items in the browser.
    let creator = buyer(&app, "journey-seller@example.jp").await;
    let buyer = buyer(&app, "journey-buyer@example.jp").await;

    let started = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = format!("http://{}", listener.local_addr().unwrap());
    let relay = Arc::new(Control {
        market: m.clone(),
        webhooks: Default::default(),
    });
    let server = tokio::spawn(
        axum::serve(
            listener,
            Router::new()
                .route("/expire", axum::routing::post(expire))
                .route("/hooks/payments", axum::routing::post(relay_webhook))
                .with_state(relay.clone()),
        )
        .into_future(),
    );
    // The processor's webhooks go through the relay, which keeps them.
    m.stripe
        .send_webhooks_to(&control, &app.data_dir.join("tls/cert.pem"))
        .await;
    let catalogs = Catalogs::load().unwrap();
    let t = catalogs.get(lang);
    let catalog = json!({
        "flash": t.flash,
        "decline": t.checkout.decline_card_declined,
        "sold_out": t.checkout.sold_out,
        "one_left": t.checkout.stock_left.replace("{n}", "1"),
    });
    let log = tempfile::NamedTempFile::new().unwrap();
    let out = tokio::process::Command::new("node")
        .arg(root.join("e2e/checkout.spec.mjs"))
        .arg(&app.origin)
        .arg(&control)
        .arg(lang.code())
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", catalog.to_string())
        .env("ANSHIN_PROCESSOR", &m.stripe.base)
        .env("BUYER_COOKIE", &buyer.cookie)
        .env("SELLER_COOKIE", &creator.cookie)
        .env("ANSHIN_REQUEST_LOG", log.path())
        .output()
        .await
        .expect("node: run scripts/setup --test");
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "checkout journey ({}) failed:\n{stderr}\n{stdout}",
        lang.code()
    );
    let v: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON result");
    eprintln!("checkout journey: {v}");
    assert!(v["pages"].as_u64().unwrap() >= 14, "{v}");
    assert_eq!(
        v["checks"].as_u64().unwrap(),
        2 * v["pages"].as_u64().unwrap()
    );

    // Both paid orders are paid, in the creator's new shop; the declined
    // one is cancelled; the ledger agrees.
    let shop = app
        .store
        .shops()
        .shop_of_owner(creator.member)
        .await
        .unwrap()
        .expect("the journey opened a shop");
    for (key, status) in [
        ("ok", "paid"),
        ("threeDs", "paid"),
        ("declined", "cancelled"),
    ] {
        let id = anshin_domain::OrderId::parse(v["orders"][key].as_str().unwrap()).unwrap();
        let o = app.store.orders().order(id).await.unwrap().unwrap();
        assert_eq!(o.status.as_str(), status, "{key}");
        assert_eq!(o.shop_id, shop.id, "{key}");
        assert_eq!(o.buyer_id, buyer.member, "{key}");
    }
    ledger_sound(&app).await;
    // The processor's side agrees: one charge for each paid order, none
    // for the declined one.
    let charges = m.stripe.charges_per_order().await;
    for (key, n) in [("ok", 1), ("threeDs", 1), ("declined", 0)] {
        let id = v["orders"][key].as_str().unwrap();
        assert_eq!(
            charges.get(id).copied().unwrap_or(0),
            n,
            "{key}: {charges:?}"
        );
    }

    // Acceptance 2: the card numbers went to the processor only.
    let requests: Vec<Value> = serde_json::from_slice(&std::fs::read(log.path()).unwrap()).unwrap();
    let to = |who: &'static str| requests.iter().filter(move |r| r["to"] == who);
    assert!(
        to("site").count() > 20,
        "the browser's requests to anshin were logged"
    );
    for r in to("site") {
        let text = format!("{} {}", r["url"], r["body"]);
        assert_eq!(
            holds_a_card_number(text.as_bytes()),
            None,
            "a request to anshin carried a card number: {r}"
        );
    }
    // The other requests anshin served: the processor's webhooks.
    let webhooks = relay.webhooks.lock().unwrap().clone();
    assert!(
        webhooks
            .iter()
            .any(|w| String::from_utf8_lossy(w).contains("payment_intent.succeeded")),
        "the processor's webhooks went through the relay: {}",
        webhooks.len()
    );
    for w in &webhooks {
        assert_eq!(
            holds_a_card_number(w),
            None,
            "a webhook carried a card number"
        );
    }
    let to_processor: String = to("processor").map(|r| r["body"].to_string()).collect();
    for n in CARDS {
        assert!(
            to_processor.contains(n),
            "the check can fail: {n} went to the processor"
        );
    }
    assert!(
        to("site").any(|r| r["body"].as_str().unwrap_or_default().contains("card_")),
        "anshin received the processor's references instead"
    );
    for (what, bytes) in kept_bytes(&app, started) {
        assert_eq!(holds_a_card_number(&bytes), None, "a card number in {what}");
    }
    let logs = anshin_testkit::captured_logs();
    assert_eq!(
        holds_a_card_number(logs.as_bytes()),
        None,
        "a card number in the logs"
    );
    let sink = app.sink.as_ref().unwrap();
    let mails = sink.messages();
    assert!(mails.len() >= 6, "the mails were sent");
    for mail in mails {
        assert_eq!(holds_a_card_number(&mail), None, "a card number in a mail");
    }
    let metrics = reqwest_get(&app.ops_url("/metrics")).await;
    assert!(metrics.contains("anshin_job_runs_total"));
    assert_eq!(
        holds_a_card_number(metrics.as_bytes()),
        None,
        "a card number in the metrics"
    );
}

async fn reqwest_get(url: &str) -> String {
    anshin_testkit::reqwest::get(url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

backends!(c21_console_journey_enrols_logs_in_adds_and_disables_staff_in_a_browser);

#[derive(Deserialize)]
pub(crate) struct CodeQuery {
    secret: String,
}

/// The authenticator app of the console journey: one step later on the
/// app's clock, the code for that step (a code works once per step).
pub(crate) async fn next_code(
    State(app): State<Arc<TestApp>>,
    Query(q): Query<CodeQuery>,
) -> Json<Value> {
    use anshin_core::clock::Clock as _;
    app.clock.advance(31 * anshin_testkit::SECOND);
    let code = anshin_core::staff::code_at(&q.secret, app.clock.now()).unwrap();
    Json(json!({ "code": code }))
}

/// The staff console in chromium (issue 14; C20, C21, C27): enrolment by
/// the one-time link with TOTP, login, the staff list, adding a worker,
/// changing their role (choose, confirm), disabling them after a
/// confirmation page, logout; then support looks a
/// member up by e-mail and sees their data (acceptance 5, C22) and
/// security reads and filters the audit log; in Japanese on SQLite and in
/// English on PostgreSQL (`e2e/console.spec.mjs`).
async fn c21_console_journey_enrols_logs_in_adds_and_disables_staff_in_a_browser(b: Backend) {
    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let app = Arc::new(TestApp::spawn_mail(b).await);
    let email = "admin@journey.example.jp";
    let enrolment = anshin_core::staff::add(&app.services, email, anshin_domain::StaffRole::Admin)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        axum::serve(
            listener,
            Router::new()
                .route("/code", axum::routing::post(next_code))
                .with_state(app.clone()),
        )
        .into_future(),
    );
    // A member with a phone and an address for support to look up
    // (issue 14, acceptance 5), and the support and security workers.
    let member_email = "member@journey.example.jp";
    app.sign_up(member_email, "Journey Member", 0).await;
    let member = app
        .store
        .accounts()
        .find_member_by_email(&anshin_domain::EmailAddress::parse(member_email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let phone = "090-1234-5678";
    anshin_core::member_data::set_phone(
        &app.services,
        member,
        &anshin_core::member_data::PhoneNumber::parse(phone).unwrap(),
    )
    .await
    .unwrap();
    let address =
        anshin_core::member_data::ShippingAddress::parse(anshin_core::member_data::RawAddress {
            recipient_name: "山田 花子".into(),
            postal_code: "100-0001".into(),
            prefecture: "東京都".into(),
            city: "千代田区".into(),
            line1: "千代田1-1".into(),
            line2: None,
            phone: None,
        })
        .unwrap();
    anshin_core::member_data::add_address(&app.services, member, &address, true)
        .await
        .unwrap();
    let support_email = "support@journey.example.jp";
    let security_email = "security@journey.example.jp";
    let support = anshin_core::staff::add(
        &app.services,
        support_email,
        anshin_domain::StaffRole::Support,
    )
    .await
    .unwrap();
    let security = anshin_core::staff::add(
        &app.services,
        security_email,
        anshin_domain::StaffRole::Security,
    )
    .await
    .unwrap();
    let catalogs = Catalogs::load().unwrap();
    let t = &catalogs.get(lang).staff;
    let words = json!({
        "email": email,
        "support_email": support_email,
        "security_email": security_email,
        "member_email": member_email,
        "member_id": member.to_string(),
        "member_phone": phone,
        "member_recorded": t.member_recorded,
        "flash_enrolled": t.flash_enrolled,
        "flash_logged_in": t.flash_logged_in,
        "flash_logged_out": t.flash_logged_out,
        "flash_disabled": t.flash_disabled,
        "flash_role_changed": t.flash_role_changed,
        "role_sessions_note": t.role_sessions_note,
        "role_finance": t.roles["finance"],
        "staff_added": t.staff_added,
        "staff_status_disabled": t.staff_status_disabled,
    });
    let out = tokio::process::Command::new("node")
        .arg(repo_root().join("e2e/console.spec.mjs"))
        .arg(&app.staff_origin)
        .arg(app.staff_url(&enrolment.path()))
        .arg(&control)
        .arg(lang.code())
        .arg(app.staff_url(&support.path()))
        .arg(app.staff_url(&security.path()))
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", words.to_string())
        .output()
        .await
        .expect("node: run scripts/setup --test");
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "console journey ({}) failed:\n{}\n{stdout}",
        lang.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON result");
    assert_eq!(v["pages"], 17, "{v}");
    assert_eq!(v["checks"], 34, "{v}");
    // The worker is there, with the role the admin gave, disabled, never
    // deleted.
    let staff = app.store.staff().list_staff().await.unwrap();
    let worker = staff
        .iter()
        .find(|s| s.email.as_str() == "worker@example.jp")
        .expect("the worker was added");
    assert_eq!(worker.status.as_str(), "disabled");
    assert_eq!(worker.role, anshin_domain::StaffRole::Finance);
}

backends!(c21_passkey_journey_registers_and_logs_in_with_chromiums_virtual_authenticator);

/// Staff passkeys in chromium (issue 14 acceptance 3; C21): enrolment
/// with TOTP, a passkey added on the security page with chromium's
/// virtual authenticator (CDP `WebAuthn.addVirtualAuthenticator`), a
/// login with e-mail + passkey, the passkey removed; in Japanese on
/// SQLite and in English on PostgreSQL (`e2e/console-passkeys.spec.mjs`).
/// The console is opened at `https://localhost:PORT` (no WebAuthn on an
/// IP address).
async fn c21_passkey_journey_registers_and_logs_in_with_chromiums_virtual_authenticator(
    b: Backend,
) {
    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let app = Arc::new(TestApp::spawn(b).await);
    let email = "passkey@journey.example.jp";
    let enrolment =
        anshin_core::staff::add(&app.services, email, anshin_domain::StaffRole::Support)
            .await
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        axum::serve(
            listener,
            Router::new()
                .route("/code", axum::routing::post(next_code))
                .route("/advance", axum::routing::post(past_step_up))
                .with_state(app.clone()),
        )
        .into_future(),
    );
    let catalogs = Catalogs::load().unwrap();
    let t = &catalogs.get(lang).staff;
    let words = json!({
        "email": email,
        "flash_logged_in": t.flash_logged_in,
        "flash_logged_out": t.flash_logged_out,
        "flash_stepped_up": t.flash_stepped_up,
        "flash_passkey_added": t.passkeys.flash_added,
        "flash_passkey_removed": t.passkeys.flash_removed,
        "last_used_word": t.passkeys.last_used.replace("{date}", "").trim(),
    });
    let base = app.staff_passkey_origin();
    let out = tokio::process::Command::new("node")
        .arg(repo_root().join("e2e/console-passkeys.spec.mjs"))
        .arg(&base)
        .arg(format!("{base}{}", enrolment.path()))
        .arg(&control)
        .arg(lang.code())
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", words.to_string())
        .output()
        .await
        .expect("node: run scripts/setup --test");
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "passkey journey ({}) failed:\n{}\n{stdout}",
        lang.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON result");
    assert_eq!(v["pages"], 6, "{v}");
    assert_eq!(v["checks"], 12, "{v}");
    // The database holds no passkey any more, and the log has the whole
    // story: added, a passkey login, removed.
    let log = app.store.audit().entries(0, 1000).await.unwrap();
    let count = |a: anshin_store::audit::AuditAction, reason: Option<&str>| {
        log.iter()
            .filter(|e| e.entry.action == a && reason.is_none_or(|r| e.entry.reason == r))
            .count()
    };
    use anshin_store::audit::AuditAction as A;
    assert_eq!(count(A::StaffPasskeyAdded, None), 1);
    assert_eq!(count(A::StaffLogin, Some("passkey")), 1);
    assert_eq!(count(A::StaffPasskeyRemoved, None), 1);
}

/// Moves the app's clock past `staff.step_up_secs` (the passkey journey's
/// "some minutes later").
async fn past_step_up(State(app): State<Arc<TestApp>>) -> Json<Value> {
    app.clock.advance(301 * anshin_testkit::SECOND);
    Json(json!({}))
}

backends!(c28_incident_journey_opens_locks_ends_sessions_and_closes_in_a_browser);

/// Incident response in chromium (issue 14, C28): a member of the
/// security team enrols and logs in, opens an incident, locks a member,
/// ends the member's sessions and closes the incident with lessons
/// learned, each act through its confirmation page (plain forms, no
/// script); in Japanese on SQLite and in English on PostgreSQL
/// (`e2e/console-incident.spec.mjs`). Afterwards the member is locked,
/// their session is gone, and the audit log and the timeline name the
/// staff member as the doer of each act.
async fn c28_incident_journey_opens_locks_ends_sessions_and_closes_in_a_browser(b: Backend) {
    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let app = Arc::new(TestApp::spawn_mail(b).await);
    let email = "lead@journey.example.jp";
    let enrolment =
        anshin_core::staff::add(&app.services, email, anshin_domain::StaffRole::Security)
            .await
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        axum::serve(
            listener,
            Router::new()
                .route("/code", axum::routing::post(next_code))
                .with_state(app.clone()),
        )
        .into_future(),
    );
    let member_email = "hana@journey.example.jp";
    let session = app.sign_up(member_email, "Hana", 0).await.session;
    let member = app
        .store
        .accounts()
        .find_member_by_email(&anshin_domain::EmailAddress::parse(member_email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let catalogs = Catalogs::load().unwrap();
    let t = &catalogs.get(lang).staff;
    let i = &t.incidents;
    let (title, lessons) = match lang {
        Lang::Ja => (
            "クレデンシャルスタッフィング",
            "アカウントごとのログイン制限を強める。WAF の警告を毎日見る。",
        ),
        Lang::En => (
            "credential stuffing",
            "Tighten per-account login limits; read the WAF alerts daily.",
        ),
    };
    let m = member.to_string();
    let words = json!({
        "email": email,
        "member_id": m,
        "title": title,
        "lessons": lessons,
        "none": i.none,
        "flash_logged_in": t.flash_logged_in,
        "confirm_open": i.confirm_open.replace("{title}", title),
        "flash_opened": i.flash_opened,
        "confirm_lock": i.confirm_lock.replace("{member}", &m),
        "flash_locked": i.flash_locked,
        "confirm_end_member": i.confirm_end_member.replace("{member}", &m),
        "flash_sessions_ended": i.flash_sessions_ended.replace("{members}", "0").replace("{staff}", "0"),
        "confirm_close": i.confirm_close,
        "flash_closed": i.flash_closed,
        "closed_no_acts": i.closed_no_acts,
        "status_closed": i.status_closed,
    });
    let out = tokio::process::Command::new("node")
        .arg(repo_root().join("e2e/console-incident.spec.mjs"))
        .arg(&app.staff_origin)
        .arg(app.staff_url(&enrolment.path()))
        .arg(&control)
        .arg(lang.code())
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", words.to_string())
        .output()
        .await
        .expect("node: run scripts/setup --test");
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "incident journey ({}) failed:\n{}\n{stdout}",
        lang.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON result");
    assert_eq!(v["pages"], 11, "{v}");
    assert_eq!(v["checks"], 22, "{v}");

    // The acts took effect and name the staff member.
    assert!(app.store.incidents().is_locked(member).await.unwrap());
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .header(anshin_testkit::reqwest::header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        anshin_testkit::reqwest::StatusCode::UNAUTHORIZED
    );
    let incidents = app.store.incidents().list_incidents().await.unwrap();
    assert_eq!(incidents.len(), 1);
    let rec = &incidents[0];
    assert_eq!(rec.status, anshin_store::IncidentStatus::Closed);
    assert_eq!(rec.lessons.as_deref(), Some(lessons));
    let staff = app
        .store
        .staff()
        .find_staff_by_email(&anshin_domain::EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
        .as_uuid();
    let lines = app.store.incidents().timeline(rec.id).await.unwrap();
    let codes: Vec<_> = lines.iter().map(|l| l.action.as_str()).collect();
    assert_eq!(
        codes,
        ["opened", "member_locked", "sessions_ended", "closed"]
    );
    assert!(lines.iter().all(|l| l.actor == format!("staff:{staff}")));
    use anshin_store::audit::{Actor, AuditAction as A};
    let log = app.store.audit().entries(0, 1000).await.unwrap();
    for action in [
        A::IncidentOpened,
        A::IncidentMemberLocked,
        A::IncidentSessionsEnded,
        A::IncidentClosed,
    ] {
        let by: Vec<_> = log
            .iter()
            .filter(|e| e.entry.action == action)
            .map(|e| e.entry.actor)
            .collect();
        assert_eq!(by, [Actor::Staff(staff)], "{action:?}");
    }
}

backends!(c25_centre_journey_checks_in_requests_and_approves_a_void_in_a_browser);

/// The shipping centre in chromium (issue 15; C24, C25), two people in
/// two browsers (`e2e/console-centre.spec.mjs`): a shipping manager
/// registers two terminals, is sent to the shift page when opening the
/// pending voids off shift, checks in; a shipping worker checks in on the
/// other terminal and asks for a waybill to be voided (asked first); the
/// manager approves it (asked first, the reason shown); the worker checks
/// out (asked first); the manager reads the shift log. In Japanese on
/// SQLite and in English on PostgreSQL. Afterwards the request is
/// approved by the manager, and the audit log names each person for
/// their steps.
async fn c25_centre_journey_checks_in_requests_and_approves_a_void_in_a_browser(b: Backend) {
    use anshin_domain::StaffRole;
    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let app = Arc::new(TestApp::spawn(b).await);
    let manager_email = "manager@centre.example.jp";
    let worker_email = "worker@centre.example.jp";
    let manager = anshin_core::staff::add(&app.services, manager_email, StaffRole::ShippingManager)
        .await
        .unwrap();
    let worker = anshin_core::staff::add(&app.services, worker_email, StaffRole::ShippingWorker)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        axum::serve(
            listener,
            Router::new()
                .route("/code", axum::routing::post(next_code))
                .with_state(app.clone()),
        )
        .into_future(),
    );
    let catalogs = Catalogs::load().unwrap();
    let t = &catalogs.get(lang).staff;
    let c = &t.centre;
    let (t1, t2, reason) = match lang {
        Lang::Ja => ("受付1", "受付2", "送り状が破れた"),
        Lang::En => ("Counter 1", "Counter 2", "the waybill got torn"),
    };
    let shipment = anshin_store::conformance::shipping::a_shipment(&*app.store, 211).await;
    let s = shipment.to_string();
    let on = |terminal: &str| {
        let start = c.on_shift.split("{since}").next().unwrap_or_default();
        start.replace("{terminal}", terminal)
    };
    let words = json!({
        "manager_email": manager_email,
        "worker_email": worker_email,
        "flash_logged_in": t.flash_logged_in,
        "t1": t1,
        "t2": t2,
        "shipment": s,
        "reason": reason,
        "no_terminals": c.no_terminals,
        "flash_registered": c.flash_registered,
        "flash_shift_needed": c.flash_shift_needed,
        "flash_checked_in": c.flash_checked_in,
        "on_shift_t1": on(t1),
        "on_shift_t2": on(t2),
        "confirm_void": c.confirm_void.replace("{shipment}", &s),
        "flash_void_requested": c.flash_void_requested,
        "confirm_approve_start": c.confirm_approve.replace("{shipment}", &s).split("{who}").next().unwrap_or_default(),
        "flash_void_approved": c.flash_void_approved,
        "none_voids": c.none_voids,
        "confirm_check_out": c.confirm_check_out.replace("{terminal}", t2),
        "flash_checked_out": c.flash_checked_out,
        "off_shift": c.off_shift,
        "end_checked_out": c.end_checked_out,
    });
    let out = tokio::process::Command::new("node")
        .arg(repo_root().join("e2e/console-centre.spec.mjs"))
        .arg(&app.staff_origin)
        .arg(app.staff_url(&manager.path()))
        .arg(app.staff_url(&worker.path()))
        .arg(&control)
        .arg(lang.code())
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", words.to_string())
        .output()
        .await
        .expect("node: run scripts/setup --test");
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "centre journey ({}) failed:\n{}\n{stdout}",
        lang.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON result");
    assert_eq!(v["pages"], 15, "{v}");
    assert_eq!(v["checks"], 30, "{v}");

    // The void was approved by the manager, asked by the worker.
    let approved = app
        .store
        .centre()
        .list_void_requests(anshin_store::VoidStatus::Approved, 10)
        .await
        .unwrap();
    assert_eq!(approved.len(), 1);
    let r = &approved[0];
    assert_eq!(r.shipment, shipment);
    assert_eq!(r.requested_by, worker.staff);
    assert_eq!(r.decided_by, Some(manager.staff));
    assert_eq!(r.reason, reason);
    use anshin_store::audit::{Actor, AuditAction as A};
    let log = app.store.audit().entries(0, 1000).await.unwrap();
    let by = |action: A| -> Vec<Actor> {
        log.iter()
            .filter(|e| e.entry.action == action)
            .map(|e| e.entry.actor)
            .collect()
    };
    let (m, w) = (
        Actor::Staff(manager.staff.as_uuid()),
        Actor::Staff(worker.staff.as_uuid()),
    );
    assert_eq!(by(A::TerminalRegistered), [m, m]);
    assert_eq!(by(A::ShiftCheckedIn), [m, w]);
    assert_eq!(by(A::VoidRequested), [w]);
    assert_eq!(by(A::VoidApproved), [m]);
    assert_eq!(by(A::ShiftCheckedOut), [w]);
}

backends!(c29_alerts_journey_security_sees_a_fired_alert_in_a_browser);

/// The security alerts in chromium (issue 17, C29): a bounded
/// credential-stuffing run puts the `failed_logins` alert on; a new member
/// of the security team enrols, logs in, opens "Alerts" from the menu and
/// sees it on and in the history, then the self-scan page (C30) with the
/// newest report's findings, in Japanese on SQLite and in English
/// on PostgreSQL (`e2e/console-alerts.spec.mjs`), at 360 and 1280 px.
async fn c29_alerts_journey_security_sees_a_fired_alert_in_a_browser(b: Backend) {
    use super::alerts::{alerting, evaluate_after, failed_logins, wait_for_runs};
    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let app = Arc::new(
        TestApp::spawn_mail_with(b, |s| {
            alerting(s);
            // The weekly self-scan (C30) of a binary without a list (and
            // no database): its findings on /selfscan; its alert rule off,
            // so the alerts page shows the one alert of this journey.
            s.selfscan.enabled = true;
            s.selfscan.poll_secs = 1;
            s.selfscan.binary = Some("/bin/true".into());
            s.alerts.selfscan.enabled = false;
        })
        .await,
    );
    wait_for_runs(&app, "alerts.evaluate", 1).await;
    wait_for_runs(&app, "selfscan.weekly", 1).await;
    failed_logins(&app, 0, 12, |i| format!("guess{i}@journey.example.jp")).await;
    evaluate_after(&app, 1).await;
    assert_eq!(app.store.alerts().firing().await.unwrap().len(), 1);
    // A support worker signs in from their usual network, then from one
    // they never used: the `staff_new_network` alert goes on too.
    let away = "away@journey.example.jp";
    let secret = super::staff::enrolled(&app, away, anshin_domain::StaffRole::Support).await;
    for from in ["198.51.100.7", "203.0.113.9"] {
        use anshin_core::clock::Clock as _;
        app.clock.advance(31 * anshin_testkit::SECOND);
        let code = anshin_core::staff::code_at(&secret, app.clock.now()).unwrap();
        anshin_core::staff::login(&app.services, away, &code, from.parse().unwrap())
            .await
            .unwrap();
    }
    evaluate_after(&app, 1).await;
    assert_eq!(app.store.alerts().firing().await.unwrap().len(), 2);
    let email = "watch@journey.example.jp";
    let enrolment =
        anshin_core::staff::add(&app.services, email, anshin_domain::StaffRole::Security)
            .await
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        axum::serve(
            listener,
            Router::new()
                .route("/code", axum::routing::post(next_code))
                .with_state(app.clone()),
        )
        .into_future(),
    );
    let catalogs = Catalogs::load().unwrap();
    let c = catalogs.get(lang);
    let t = &c.staff;
    let words = json!({
        "email": email,
        "flash_logged_in": t.flash_logged_in,
        "title": t.alerts.title,
        "still_on": t.alerts.still_on,
        "rule_text": c.alert_rule("failed_logins"),
        "rule_text_staff": c.alert_rule("staff_new_network"),
        "selfscan_title": t.selfscan.title,
        "selfscan_findings": t.selfscan.col_findings,
    });
    let out = tokio::process::Command::new("node")
        .arg(repo_root().join("e2e/console-alerts.spec.mjs"))
        .arg(&app.staff_origin)
        .arg(app.staff_url(&enrolment.path()))
        .arg(&control)
        .arg(lang.code())
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", words.to_string())
        .output()
        .await
        .expect("node: run scripts/setup --test");
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "alerts journey ({}) failed:\n{}\n{stdout}",
        lang.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON result");
    assert_eq!(v["pages"], 4, "{v}");
    assert_eq!(v["checks"], 8, "{v}");
}

//! Demo data (`anshin demo seed`, issue 18: what the dynamic scan, C3,
//! walks): the real binary fills an empty database with members, shops,
//! items and orders through the core, the orders paid at localstripe with
//! a card the processor tokenised, prints the demo member's e-mail and
//! password (which then log in on the site), and refuses a database that
//! already has a member, changing nothing. Both databases.

use std::process::Command;

use anshin_testkit::localstripe::{LocalStripe, PUBLISHABLE_KEY, SECRET_KEY};
use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, cookie_pair, set_cookie};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_anshin");

/// `anshin demo seed <args>` on the app's data directory, database and
/// key ring, with the app's card processor.
fn seed(app: &TestApp, stripe: &LocalStripe, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(["demo", "seed"])
        .args(args)
        .env("ANSHIN_DATA_DIR", &app.data_dir)
        .env("ANSHIN_DATABASE__URL", &app.database_url)
        .env("ANSHIN_KEYS__FILE", &app.keys_file)
        .env("ANSHIN_PAYMENTS__API_BASE", format!("{}/", stripe.base))
        .env("ANSHIN_PAYMENTS__SECRET_KEY", SECRET_KEY)
        .env("ANSHIN_PAYMENTS__PUBLISHABLE_KEY", PUBLISHABLE_KEY)
        .env("ANSHIN_LOG__LEVEL", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn with_processor(b: Backend) -> (TestApp, LocalStripe) {
    let stripe = LocalStripe::start();
    let app = TestApp::spawn_mail_with(b, |s| stripe.configure(s)).await;
    (app, stripe)
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let res = app
        .client
        .get(app.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

backends!(
    c03_demo_seed_fills_an_empty_database_and_its_member_logs_in,
    c03_demo_seed_refuses_a_database_that_has_members
);

async fn c03_demo_seed_fills_an_empty_database_and_its_member_logs_in(b: Backend) {
    let (app, stripe) = with_processor(b).await;
    let card = stripe.tokenise("4242424242424242").await;
    let (ok, out, err) = seed(&app, &stripe, &["--json", "--card", &card]);
    assert!(ok, "demo seed failed: {out}{err}");
    let data: Value = serde_json::from_str(&out).unwrap();
    let n = |k: &str| data[k].as_array().unwrap().len();
    assert_eq!(
        (
            n("members"),
            n("shops"),
            n("items"),
            n("orders"),
            n("sales")
        ),
        (3, 2, 5, 1, 1),
        "{data}"
    );
    assert_eq!(data["orders_skipped"], false);
    assert_eq!(data["orders_paid"], true);
    assert_eq!(app.store.incidents().count_members().await.unwrap(), 3);

    // The printed e-mail and password log in on the site.
    let res = app
        .client
        .post(app.url("/api/v1/login/password"))
        .json(&json!({"email": data["email"], "password": data["password"]}))
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(&res, "__Host-anshin_session").map(cookie_pair);
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = cookie.unwrap();

    // Every kind of record is there for the pages and APIs to show.
    let order = data["orders"][0].as_str().unwrap();
    let sale = data["sales"][0].as_str().unwrap();
    let item = data["items"][0].as_str().unwrap();
    let shop = data["shops"][1].as_str().unwrap();
    for path in [
        format!("/api/v1/orders/{order}"),
        format!("/orders/{order}"),
        format!("/api/v1/sales/{sale}"),
        format!("/sales/{sale}"),
        format!("/items/{item}"),
        format!("/shops/{shop}"),
        "/shop/manage".to_owned(),
        "/account/addresses".to_owned(),
    ] {
        let (status, _) = get(&app, &path, &cookie).await;
        assert_eq!(status, StatusCode::OK, "GET {path}");
    }
    let (_, orders) = get(&app, "/api/v1/orders", &cookie).await;
    assert!(orders.contains(order), "{orders}");
    let (_, search) = get(&app, "/api/v1/search?q=notebook", "").await;
    assert!(search.contains("A5 notebook"), "{search}");

    // The seller sees the paid order as a sale.
    let (_, sales) = get(&app, "/api/v1/sales", &cookie).await;
    assert!(sales.contains(sale), "{sales}");

    // A second seed is refused now that the database has members.
    let (ok, out, err) = seed(&app, &stripe, &[]);
    assert!(!ok);
    assert!(
        err.contains("already has 3 member(s)"),
        "stdout: {out}\nstderr: {err}"
    );
}

async fn c03_demo_seed_refuses_a_database_that_has_members(b: Backend) {
    let (app, stripe) = with_processor(b).await;
    app.sign_up("real@example.jp", "Real Person", 0).await;
    let (ok, out, err) = seed(&app, &stripe, &[]);
    assert!(!ok, "seed ran on a database with a member: {out}");
    assert!(
        err.contains("already has 1 member(s)"),
        "stdout: {out}\nstderr: {err}"
    );
    assert!(!out.contains("password"), "{out}");
    // Nothing was added: still one member, no shop, no demo audit entry.
    assert_eq!(app.store.incidents().count_members().await.unwrap(), 1);
    let (_, search) = get(&app, "/api/v1/search?q=notebook", "").await;
    assert!(!search.contains("A5 notebook"), "{search}");
    let seeded = app
        .store
        .audit()
        .entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == anshin_store::audit::AuditAction::DemoSeeded)
        .count();
    assert_eq!(seeded, 0);
}

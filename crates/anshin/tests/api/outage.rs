//! A database out of reach is a 503 with `Retry-After`, not a 500: a
//! client, a browser's visitor and a load balancer learn that trying
//! again shortly may work, and the body says no more than the generic
//! text (C29: servers are watched; only healthy ones get traffic).
//!
//! Each database is taken out of reach the way it can be: PostgreSQL's
//! connection cut (a restart, a failover, a network fault), SQLite's
//! write lock held by another process past the busy timeout (a backup,
//! an operator's command). Both recover without a restart.

use std::time::{Duration, Instant};

use anshin_testkit::proxy::CuttableProxy;
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, TestApp};
use serde_json::json;
use sqlx::Connection;

const EMAIL: &str = "outage@example.jp";
const PASSWORD: &str = "lantern orbit tangerine seventeen";

async fn login(app: &TestApp) -> Response {
    app.client
        .post(app.url("/api/v1/login/password"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

/// A 503 that invites a retry and says nothing of the cause.
async fn assert_retry_later(res: Response, html: bool) {
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        res.headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("5"),
        "a 503 for the database says when to try again"
    );
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = res.text().await.unwrap();
    if html {
        assert!(kind.starts_with("text/html"), "{kind}");
        assert!(
            body.contains("一時的に利用できません") || body.contains("Temporarily unavailable"),
            "the generic 503 page: {body}"
        );
    } else {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"], "service_unavailable", "{body}");
        assert!(v["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    }
    // Neither the driver's text nor the database's name reaches the client.
    for word in [
        "database", "pool", "sqlx", "postgres", "sqlite", "locked", "busy",
    ] {
        assert!(
            !body.to_lowercase().contains(word),
            "the body names the cause ({word}): {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c29_postgres_out_of_reach_is_a_503_to_retry_on_the_api_and_the_pages() {
    let proxy = CuttableProxy::to_test_postgres().await;
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        proxy.carry(s);
        // How long a request waits for a connection before it gives up.
        s.database.acquire_timeout_secs = 2;
    })
    .await;
    let member = app.member_with_password(EMAIL, PASSWORD).await;
    assert_eq!(login(&app).await.status(), StatusCode::OK);

    proxy.cut();
    let started = Instant::now();
    assert_retry_later(login(&app).await, false).await;
    // A signed-in page: the session itself cannot be looked up.
    let page = app
        .client
        .get(app.url("/account"))
        .header(header::COOKIE, &member.session)
        .header(header::ACCEPT_LANGUAGE, "ja")
        .send()
        .await
        .unwrap();
    assert_retry_later(page, true).await;
    // Each answer came within the acquire timeout (and a little), not
    // after a hang.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    proxy.restore();
    // Back without a restart: the pool connects again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = login(&app).await.status();
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            Instant::now() < deadline,
            "still {status} after the restore"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c29_sqlite_locked_by_another_process_past_the_busy_timeout_is_a_503_to_retry() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.member_with_password(EMAIL, PASSWORD).await;
    assert_eq!(login(&app).await.status(), StatusCode::OK);

    // Another process (here a connection of the test's own) takes the
    // write lock and keeps it, as a backup or an operator's command may.
    let mut other = sqlx::SqliteConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    // A login writes (its attempt is reserved before the hash): it waits
    // the busy timeout, then is told to come back.
    assert_retry_later(login(&app).await, false).await;

    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    assert_eq!(login(&app).await.status(), StatusCode::OK);
    app.stop().await;
}

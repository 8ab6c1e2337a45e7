//! A database out of reach is a 503 with `Retry-After`, not a 500: a
//! client, a browser's visitor and a load balancer learn that trying
//! again shortly may work, and the body says no more than the generic
//! text (C29: servers are watched; only healthy ones get traffic).
//!
//! Two ways out of reach: PostgreSQL's connection cut (a restart, a
//! failover, a network fault; SQLite, a local file, has no connection to
//! cut), and, on both databases, a lock another process holds past the
//! timeout (a backup, an operator's command). Both recover without a
//! restart.

use std::time::{Duration, Instant};

use anshin_testkit::proxy::CuttableProxy;
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends};
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

backends!(c29_a_lock_held_by_another_process_past_the_timeout_is_a_503_to_retry);

/// Another process (here a connection of the test's own) takes the lock
/// a login's first write needs and keeps it, as a backup, an operator's
/// command or a long migration on another instance may: SQLite's write
/// lock (past its busy timeout), PostgreSQL's lock on the attempt
/// counters (past the store's `lock_timeout`).
async fn c29_a_lock_held_by_another_process_past_the_timeout_is_a_503_to_retry(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.member_with_password(EMAIL, PASSWORD).await;
    assert_eq!(login(&app).await.status(), StatusCode::OK);

    let release = match b {
        Backend::Sqlite => hold::<sqlx::Sqlite>(&app.database_url, "BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            hold::<sqlx::Postgres>(
                &app.database_url,
                "BEGIN; LOCK TABLE auth_counters IN EXCLUSIVE MODE",
            )
            .await
        }
    };
    // A login writes before the hash (its attempt is reserved): it waits
    // for the lock as long as the timeout allows, then is told to come
    // back, not left hanging.
    let started = Instant::now();
    assert_retry_later(login(&app).await, false).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // Reads go on: the instance stays ready (a held lock is not a lost
    // database, and a load balancer should keep sending it traffic).
    let ready = anshin_testkit::reqwest::Client::new()
        .get(app.ops_url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    release.await;
    assert_eq!(login(&app).await.status(), StatusCode::OK);
    app.stop().await;
}

/// Opens a connection of its own, runs `take` on it (a transaction that
/// takes a lock), and keeps it until the returned future rolls it back.
async fn hold<DB: sqlx::Database>(
    url: &str,
    take: &'static str,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    let mut other = DB::Connection::connect(url).await.unwrap();
    sqlx::raw_sql(take).execute(&mut other).await.unwrap();
    Box::pin(async move {
        sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
        other.close().await.unwrap();
    })
}

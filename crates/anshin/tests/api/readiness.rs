//! `/readyz` tells a load balancer the truth: 503 while the database is
//! unreachable or migrations are pending, 200 again once they are fine,
//! without a restart (C29: servers are watched, and only healthy ones
//! get traffic).

use std::time::Duration;

use anshin_testkit::proxy::CuttableProxy;
use anshin_testkit::reqwest::StatusCode;
use anshin_testkit::{Backend, TestApp, backends};

async fn readyz(app: &TestApp) -> (StatusCode, serde_json::Value) {
    let res = anshin_testkit::reqwest::Client::new()
        .get(app.ops_url("/readyz"))
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

/// Polls until `/readyz` answers `want`, for at most 15 s.
async fn wait_for(app: &TestApp, want: StatusCode) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = readyz(app).await;
        if status == want {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readyz stuck at {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c29_readyz_is_503_while_postgres_is_unreachable_and_200_when_back() {
    let proxy = CuttableProxy::to_test_postgres().await;
    let app = TestApp::spawn_with(Backend::Postgres, |s| proxy.carry(s)).await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    proxy.cut();
    let body = wait_for(&app, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["status"], "not_ready");
    // Liveness is not readiness: the process is alive.
    let health = anshin_testkit::reqwest::Client::new()
        .get(app.ops_url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    proxy.restore();
    wait_for(&app, StatusCode::OK).await;
    // And the site serves again.
    let res = app
        .client
        .get(app.url("/settings/language"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await;
}

backends!(c29_readyz_is_503_while_migrations_are_pending);

async fn c29_readyz_is_503_while_migrations_are_pending(b: Backend) {
    let app = TestApp::spawn(b).await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    // A database that has not (successfully) applied the newest migration,
    // as after a failed upgrade.
    let mark = |ok: bool| {
        format!(
            "UPDATE _sqlx_migrations SET success = {ok} \
             WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)"
        )
    };
    let run = |sql: String| {
        let url = app.database_url.clone();
        async move {
            match b {
                Backend::Sqlite => {
                    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&pool)
                        .await
                        .unwrap();
                    pool.close().await;
                }
                Backend::Postgres => {
                    let pool = sqlx::PgPool::connect(&url).await.unwrap();
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&pool)
                        .await
                        .unwrap();
                    pool.close().await;
                }
            }
        }
    };
    run(mark(false)).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["reason"], "migrations_pending");
    run(mark(true)).await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    app.stop().await;
}

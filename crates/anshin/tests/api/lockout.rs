//! Logins hold against credential stuffing (C8): limits checked before any
//! hash, an account lock that parallel requests and several instances
//! cannot get past, answers that reveal nothing, and a mailed link that
//! keeps the owner from being locked out. On SQLite and PostgreSQL.

use anshin_testkit::SECOND;
use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, cookie_pair, set_cookie};
use serde_json::{Value, json};

backends!(
    c08_parallel_wrong_passwords_never_pass_the_lock,
    c08_locked_unknown_and_wrong_answers_are_indistinguishable,
    c08_an_attacker_cannot_lock_the_owner_out,
    c08_throttled_clients_get_429_and_cost_no_hash,
    c08_current_password_guesses_from_a_session_count_toward_the_lock,
    c08_attempts_on_a_locked_account_count_against_the_client,
);

const PASSWORD: &str = "lantern orbit tangerine seventeen";
/// Argon2id computations of an instance, on its /metrics.
const HASHES: &str = "anshin_password_hashes_total";

/// A password login that always carries a solved bot challenge (the
/// server asks for one after a few failures, C7); what is tested here is
/// the lock behind it.
async fn password_login(app: &TestApp, email: &str, password: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/login/password"))
        .json(&json!({"email": email, "password": password, "altcha": app.solve_challenge().await}))
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

async fn c08_parallel_wrong_passwords_never_pass_the_lock(b: Backend) {
    // All attempts come from one address; its ceiling (which also counts
    // attempts on the locked account) is not what this test is about.
    let roomy = |s: &mut anshin_testkit::anshin::config::Settings| {
        s.limits.max_failures_per_ip = 1000;
        s.limits.max_failures_per_network = 1000;
    };
    let a = TestApp::spawn_mail_with(b, roomy).await;
    let other = a.sibling_with(roomy).await;
    let email = "race@example.jp";
    a.member_with_password(email, PASSWORD).await;
    let before = a.metric(HASHES).await + other.metric(HASHES).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = if i % 2 == 0 { &a } else { &other };
        let (client, url) = (app.client.clone(), app.url("/api/v1/login/password"));
        let altcha = app.solve_challenge().await;
        tasks.push(tokio::spawn(async move {
            client.post(url).json(&json!({"email": "race@example.jp", "password": format!("wrong guess number {i:02} !!"), "altcha": altcha})).send().await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    let computed = a.metric(HASHES).await + other.metric(HASHES).await - before;
    assert!(
        computed <= 10,
        "{computed} password hashes computed for 50 parallel attempts; the limit is 10"
    );
    // The lock holds: even the right password is refused now, on both.
    assert_eq!(
        password_login(&a, email, PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        password_login(&other, email, PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Exactly the counted attempts show up as failures in the history.
    let failures = match b {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&a.database_url).await.unwrap();
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM login_events WHERE outcome = 'failure'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            n
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&a.database_url).await.unwrap();
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM login_events WHERE outcome = 'failure'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            n
        }
    };
    assert_eq!(failures, 10, "failures counted before the lock");
    // After the first delay (1 min, controlled clock), the owner's password works again.
    a.clock.advance(61 * SECOND);
    assert_eq!(password_login(&a, email, PASSWORD).await.0, StatusCode::OK);
    other.stop().await;
    a.stop().await;
}

async fn c08_locked_unknown_and_wrong_answers_are_indistinguishable(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "same@example.jp";
    app.member_with_password(email, PASSWORD).await;
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("request_id");
        v
    };
    let wrong = password_login(&app, email, "not the password at all").await;
    let unknown = password_login(&app, "nobody-here@example.jp", PASSWORD).await;
    for _ in 0..9 {
        password_login(&app, email, "not the password at all").await;
    }
    let locked = password_login(&app, email, PASSWORD).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (unknown.0, strip(unknown.1.clone())),
        (wrong.0, strip(wrong.1.clone()))
    );
    assert_eq!(
        (locked.0, strip(locked.1.clone())),
        (wrong.0, strip(wrong.1.clone()))
    );
    // Unknown addresses lock the same way (so a lock says nothing either).
    for _ in 0..10 {
        password_login(&app, "nobody-here@example.jp", PASSWORD).await;
    }
    let unknown_locked = password_login(&app, "nobody-here@example.jp", PASSWORD).await;
    assert_eq!(
        (unknown_locked.0, strip(unknown_locked.1)),
        (wrong.0, strip(wrong.1))
    );
    app.stop().await;
}

async fn c08_an_attacker_cannot_lock_the_owner_out(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "owner@example.jp";
    app.member_with_password(email, PASSWORD).await;
    for _ in 0..10 {
        password_login(&app, email, "attacker guess attacker guess").await;
    }
    // The owner is told, with a link.
    let mails = app.mails_to(email, 4).await;
    let notice = &mails[3];
    let link = notice
        .text
        .lines()
        .find(|l| l.contains("/login/unlock?token="))
        .expect("unlock link in the lock mail")
        .trim()
        .to_owned();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    // The attacker keeps going; the lock holds against them.
    for _ in 0..5 {
        assert_eq!(
            password_login(&app, email, "attacker guess attacker guess")
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
    // The attacker also uses up the address's code requests (5 per 10
    // minutes, the sign-up's included), which must not make the unlock
    // link useless.
    let mut requested = 0;
    loop {
        let res = app
            .client
            .post(app.url("/api/v1/login/code"))
            .json(&json!({"email": email, "altcha": app.solve_challenge().await}))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        requested += 1;
        assert!(requested <= 5, "code requests are not limited");
    }
    assert_eq!(requested, 4);
    // The owner follows the link (the page exists) and logs in with a fresh code.
    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let res = app
        .client
        .post(app.url("/api/v1/login/unlock"))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let flow: Value = res.json().await.unwrap();
    let code = app.code_for(email, 9).await; // after the 4 attacker-requested codes
    let res = app
        .client
        .post(app.url("/api/v1/login/code/verify"))
        .json(&json!({"flow_id": flow["flow_id"], "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the owner could not get in");
    let cookie = cookie_pair(set_cookie(&res, "__Host-anshin_session").unwrap());
    // The link works once.
    let res = app
        .client
        .post(app.url("/api/v1/login/unlock"))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The lock and the unlock are in the owner's history.
    let history: Value = app
        .client
        .get(app.url("/api/v1/me/logins"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let h = history.as_array().unwrap();
    assert!(h.iter().any(|e| e["outcome"] == "locked"), "{history}");
    assert!(
        h.iter()
            .any(|e| e["method"] == "unlock" && e["outcome"] == "success"),
        "{history}"
    );
    // A normal login code still cannot pass a lock, only the unlock code.
    app.stop().await;
}

async fn c08_throttled_clients_get_429_and_cost_no_hash(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| s.limits.max_failures_per_ip = 5).await;
    for i in 0..5 {
        let (status, _) = password_login(&app, &format!("spray{i}@example.jp"), PASSWORD).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let before = app.metric(HASHES).await;
    let started = std::time::Instant::now();
    let res = app
        .client
        .post(app.url("/api/v1/login/password"))
        .json(&json!({"email": "spray9@example.jp", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Held `limits.throttled_delay_ms` (1 s by default) before the answer,
    // so ignoring Retry-After does not make a flood.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1000),
        "the 429 came after {:?}",
        started.elapsed()
    );
    let retry: u64 = res.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "rate_limited");
    assert_eq!(
        app.metric(HASHES).await,
        before,
        "a throttled request computed a hash"
    );
    // The window passes (controlled clock) and the address may try again.
    app.clock.advance(901 * SECOND);
    assert_eq!(
        password_login(&app, "spray9@example.jp", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

/// A stolen session cannot guess the current password without limit
/// through the password-change route: those guesses share the account lock.
async fn c08_current_password_guesses_from_a_session_count_toward_the_lock(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "session@example.jp";
    app.member_with_password(email, PASSWORD).await;
    let res = app
        .client
        .post(app.url("/api/v1/login/password"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = cookie_pair(set_cookie(&res, "__Host-anshin_session").unwrap());
    app.clock.advance(11 * 60 * SECOND); // no longer a recent login
    let change = |current: &str| {
        app.client
            .put(app.url("/api/v1/me/password"))
            .header(header::COOKIE, &cookie)
            .json(&json!({"password": "quiet harbor violet engine", "current_password": current}))
            .send()
    };
    for i in 0..10 {
        let res = change(&format!("guess number {i} of the thief"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let before = app.metric(HASHES).await;
    let res = change(PASSWORD).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "the lock did not hold on the change route"
    );
    assert_eq!(
        app.metric(HASHES).await,
        before,
        "a locked change computed a hash"
    );
    assert_eq!(
        password_login(&app, email, PASSWORD).await.0,
        StatusCode::UNAUTHORIZED,
        "login not locked too"
    );
    app.stop().await;
}

/// Hammering an account that is already locked costs no hash, but each
/// attempt still counts against the client's address like a wrong
/// password, so the address ceiling stops it with 429 (otherwise a locked
/// account would be a free target for unbounded requests).
async fn c08_attempts_on_a_locked_account_count_against_the_client(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| {
        s.limits.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.limits.max_failures_per_ip = 5;
    })
    .await;
    let email = "hammered@example.jp";
    app.member_with_password(email, PASSWORD).await;
    let login_from = |ip: String, password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/login/password"))
                .header("x-forwarded-for", ip)
                .json(&json!({"email": email, "password": password, "altcha": app.solve_challenge().await}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Ten wrong passwords from ten networks lock the account.
    for i in 0..10 {
        let status = login_from(format!("198.51.{}.7", 100 + i), "not the password at all").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let before = app.metric(HASHES).await;
    for _ in 0..5 {
        assert_eq!(
            login_from("203.0.113.7".into(), PASSWORD).await,
            StatusCode::UNAUTHORIZED,
            "a locked account answers like a wrong password"
        );
    }
    assert_eq!(
        login_from("203.0.113.7".into(), PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "attempts on a locked account were not counted against the address"
    );
    assert_eq!(
        app.metric(HASHES).await,
        before,
        "a locked account's answer computed a hash"
    );
    app.stop().await;
}

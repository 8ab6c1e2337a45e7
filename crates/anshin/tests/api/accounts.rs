//! Members sign in with e-mail codes or, if they choose, a password (C9–C12,
//! C14), end to end over real HTTPS and real SMTP, on SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use anshin_testkit::SECOND;
use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, cookie_pair, set_cookie};
use serde_json::{Value, json};

backends!(
    c11_signup_and_code_login_through_real_smtp,
    c11_codes_are_single_use_limited_expiring_and_bound_to_their_flow,
    c11_code_requests_do_not_reveal_accounts,
    c12_c14_password_set_login_and_removal,
    c10_sessions_end_at_once_on_every_instance,
    c09_every_login_sends_one_mail_and_appears_in_history,
    c09_a_password_login_mail_knows_the_device_only_from_its_own_cookie,
    bad_input_gets_a_clear_4xx_and_changes_nothing,
    c12_sensitive_changes_need_recent_authentication,
    c09_not_me_login_ends_every_other_session,
    c11_account_pages_work_as_forms,
    c07_signup_and_code_requests_need_a_solved_challenge,
);

const SESSION: &str = "__Host-anshin_session";

async fn post(
    app: &TestApp,
    path: &str,
    body: Value,
    cookie: Option<&str>,
) -> anshin_testkit::reqwest::Response {
    let mut r = app.client.post(app.url(path)).json(&body);
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.send().await.unwrap()
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> anshin_testkit::reqwest::Response {
    app.client
        .get(app.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

/// Signs up through the API and the mailed code; returns the session cookie.
async fn sign_up(app: &TestApp, email: &str) -> String {
    app.sign_up(email, "山田 太郎", 0).await.session
}

/// Requests a login code; returns (flow id, code), waiting for mail `n`.
async fn login_code(app: &TestApp, email: &str, n: usize) -> (Value, String) {
    let altcha = app.solve_challenge().await;
    let res = post(
        app,
        "/api/v1/login/code",
        json!({"email": email, "altcha": altcha}),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let flow: Value = res.json().await.unwrap();
    (flow["flow_id"].clone(), app.code_for(email, n).await)
}

async fn c11_signup_and_code_login_through_real_smtp(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "taro@example.jp";
    let cookie = sign_up(&app, email).await;
    let me: Value = get(&app, "/api/v1/me", &cookie).await.json().await.unwrap();
    assert_eq!(me["email"], email);
    assert_eq!(me["display_name"], "山田 太郎");
    assert_eq!(me["has_password"], false);

    // Mail 1: sign-up code; mail 2: welcome. Now a code login: mail 3.
    app.mails_to(email, 2).await;
    let altcha = app.solve_challenge().await;
    let res = post(
        &app,
        "/api/v1/login/code",
        json!({"email": email, "altcha": altcha}),
        None,
    )
    .await;
    let body = res.text().await.unwrap();
    let flow: Value = serde_json::from_str(&body).unwrap();
    let code = app.code_for(email, 3).await;
    assert!(!body.contains(&code), "the code is in the response");
    let res = post(
        &app,
        "/api/v1/login/code/verify",
        json!({"flow_id": flow["flow_id"], "code": code}),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let session = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let res_body = res.text().await.unwrap();
    assert!(!res_body.contains(&code));
    assert_eq!(
        get(&app, "/api/v1/me", &session).await.status(),
        StatusCode::OK
    );
    // The code is nowhere but in the mail: not in the outbox (encrypted,
    // then wiped), not in the flows table (only its keyed hash).
    let dump = raw_dump(&app).await;
    assert!(
        !dump.contains(&code),
        "the code is stored in clear somewhere"
    );
    let logs = anshin_testkit::captured_logs();
    assert!(logs.contains("logged in"), "logs were captured");
    assert!(!logs.contains(&code), "the code is in the logs");
    assert!(!logs.contains(email), "the e-mail address is in the logs");
    app.stop().await;
}

/// Every text and blob column of the tables that could hold a code, as one
/// string (blobs as lossy UTF-8), to search for secrets.
async fn raw_dump(app: &TestApp) -> String {
    let q = "SELECT CAST(code_hash AS TEXT) FROM login_flows";
    let mut out = String::new();
    match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            for (b,) in sqlx::query_as::<_, (Option<Vec<u8>>,)>("SELECT payload FROM mail_outbox")
                .fetch_all(&pool)
                .await
                .unwrap()
            {
                out.push_str(&String::from_utf8_lossy(&b.unwrap_or_default()));
            }
            for (b,) in sqlx::query_as::<_, (Vec<u8>,)>("SELECT code_hash FROM login_flows")
                .fetch_all(&pool)
                .await
                .unwrap()
            {
                out.push_str(&String::from_utf8_lossy(&b));
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            for (b,) in sqlx::query_as::<_, (Option<Vec<u8>>,)>("SELECT payload FROM mail_outbox")
                .fetch_all(&pool)
                .await
                .unwrap()
            {
                out.push_str(&String::from_utf8_lossy(&b.unwrap_or_default()));
            }
            for (b,) in sqlx::query_as::<_, (Vec<u8>,)>("SELECT code_hash FROM login_flows")
                .fetch_all(&pool)
                .await
                .unwrap()
            {
                out.push_str(&String::from_utf8_lossy(&b));
            }
            pool.close().await;
        }
    }
    let _ = q;
    out
}

async fn c11_codes_are_single_use_limited_expiring_and_bound_to_their_flow(b: Backend) {
    // Per-code limits only: keep the account lock (C8, tests/lockout.rs)
    // out of the way of the many wrong codes below.
    let app = TestApp::spawn_mail_with(b, |s| s.limits.lock_threshold = 100).await;
    let email = "hanako@example.jp";
    sign_up(&app, email).await;
    app.mails_to(email, 2).await;
    let verify = |flow: Value, code: String| {
        post(
            &app,
            "/api/v1/login/code/verify",
            json!({"flow_id": flow, "code": code}),
            None,
        )
    };

    // Works once.
    let (flow, code) = login_code(&app, email, 3).await;
    assert_eq!(
        verify(flow.clone(), code.clone()).await.status(),
        StatusCode::OK
    );
    let again = verify(flow, code).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_code"
    );
    app.mails_to(email, 4).await; // the login notice

    // Five wrong tries kill it: the right code fails afterwards.
    let (flow, code) = login_code(&app, email, 5).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(
            verify(flow.clone(), wrong.into()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        verify(flow, code).await.status(),
        StatusCode::UNAUTHORIZED,
        "6th try accepted"
    );

    // A new code does not reset the count: 3 wrong, new code, 2 wrong, dead.
    app.clock.advance(11 * 60 * SECOND); // let the dead flow expire
    let (flow, _) = login_code(&app, email, 6).await;
    for _ in 0..3 {
        verify(flow.clone(), wrong.into()).await;
    }
    let (flow2, code2) = login_code(&app, email, 7).await;
    for _ in 0..2 {
        assert_eq!(
            verify(flow2.clone(), wrong.into()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        verify(flow2, code2).await.status(),
        StatusCode::UNAUTHORIZED,
        "a new code reset the count"
    );

    // Expired (controlled clock).
    app.clock.advance(11 * 60 * SECOND);
    let (flow, code) = login_code(&app, email, 8).await;
    app.clock
        .advance(10 * 60 * SECOND + anshin_testkit::anshin_core::domain::Duration::from_micros(1));
    assert_eq!(
        verify(flow, code).await.status(),
        StatusCode::UNAUTHORIZED,
        "expired code accepted"
    );

    // A code from one flow does not work in another.
    app.clock.advance(11 * 60 * SECOND);
    let (flow_a, _code_a) = login_code(&app, email, 9).await;
    let other = "jiro@example.jp";
    sign_up(&app, other).await;
    app.mails_to(other, 2).await;
    let (_flow_b, code_b) = login_code(&app, other, 3).await;
    assert_eq!(
        verify(flow_a, code_b).await.status(),
        StatusCode::UNAUTHORIZED,
        "code worked in another flow"
    );
    app.stop().await;
}

async fn c11_code_requests_do_not_reveal_accounts(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| s.auth.code_requests_per_window = 1000).await;
    let known = "known@example.jp";
    sign_up(&app, known).await;
    let unknown = "nobody@example.jp";
    let mut times = (Vec::new(), Vec::new());
    for i in 0..100 {
        let email = if i % 2 == 0 { known } else { unknown };
        let started = Instant::now();
        let altcha = app.solve_challenge().await;
        let res = post(
            &app,
            "/api/v1/login/code",
            json!({"email": email, "altcha": altcha}),
            None,
        )
        .await;
        let elapsed = started.elapsed();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        let body: Value = res.json().await.unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, vec!["flow_id"], "same body shape");
        assert!(uuid::Uuid::parse_str(body["flow_id"].as_str().unwrap()).is_ok());
        if i % 2 == 0 {
            times.0.push(elapsed)
        } else {
            times.1.push(elapsed)
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (a, b2) = (median(&mut times.0), median(&mut times.1));
    let (lo, hi) = if a < b2 { (a, b2) } else { (b2, a) };
    // Same work on both paths: medians within 30% (plus 2 ms of noise).
    assert!(
        hi <= lo + lo * 3 / 10 + Duration::from_millis(2),
        "timing differs: known {a:?}, unknown {b2:?}"
    );
    // Both addresses got mail: the owner a code, the stranger a notice.
    let to_unknown = app.mails_to(unknown, 1).await;
    assert!(
        anshin_testkit::code_in(&to_unknown[0].text).is_none(),
        "no code for an unknown address"
    );
    app.stop().await;
}

async fn c12_c14_password_set_login_and_removal(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "pw@example.jp";
    let cookie = sign_up(&app, email).await;
    let password = "lantern orbit tangerine seventeen";
    let res = app
        .client
        .put(app.url("/api/v1/me/password"))
        .header(header::COOKIE, &cookie)
        .json(&json!({"password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "{:?}",
        res.text().await
    );
    let stored = password_hash(&app, email).await.expect("hash stored");
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    let res = post(
        &app,
        "/api/v1/login/password",
        json!({"email": email, "password": password}),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let fresh = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let wrong = post(
        &app,
        "/api/v1/login/password",
        json!({"email": email, "password": "lantern orbit tangerine seventeeN"}),
        None,
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_credentials"
    );

    // Choosing password-less deletes the hash at once.
    let res = app
        .client
        .delete(app.url("/api/v1/me/password"))
        .header(header::COOKIE, &fresh)
        .header(header::CONTENT_TYPE, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        password_hash(&app, email).await,
        None,
        "the hash is still in the database"
    );
    let res = post(
        &app,
        "/api/v1/login/password",
        json!({"email": email, "password": password}),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Unknown accounts and password-less ones: the same answer.
    let unknown = post(
        &app,
        "/api/v1/login/password",
        json!({"email": "ghost@example.jp", "password": password}),
        None,
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["error"],
        "invalid_credentials"
    );
    app.stop().await;
}

async fn password_hash(app: &TestApp, email: &str) -> Option<String> {
    let q = "SELECT password_hash FROM members WHERE email = $1";
    match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            let (h,): (Option<String>,) = sqlx::query_as(q)
                .bind(email)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            h
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            let (h,): (Option<String>,) = sqlx::query_as(q)
                .bind(email)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            h
        }
    }
}

async fn c10_sessions_end_at_once_on_every_instance(b: Backend) {
    let a = TestApp::spawn_mail(b).await;
    let other = a.sibling().await;
    let email = "two@example.jp";
    // A visitor session first: login must replace it (no fixation).
    let visit = a.client.get(a.url("/login")).send().await.unwrap();
    let visitor = cookie_pair(set_cookie(&visit, SESSION).unwrap());
    let res = post(
        &a,
        "/api/v1/signup",
        json!({"email": email, "display_name": "Two", "accept_terms": true, "altcha": a.solve_challenge().await}),
        Some(&visitor),
    )
    .await;
    let flow: Value = res.json().await.unwrap();
    let code = a.code_for(email, 1).await;
    let res = post(
        &a,
        "/api/v1/signup/verify",
        json!({"flow_id": flow["flow_id"], "code": code}),
        Some(&visitor),
    )
    .await;
    let first = cookie_pair(set_cookie(&res, SESSION).unwrap());
    assert_ne!(first, visitor, "session id did not change at login");
    let c = set_cookie(&res, SESSION).unwrap().to_ascii_lowercase();
    for flag in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(c.contains(flag), "{flag} missing: {c}");
    }
    assert_eq!(
        get(&a, "/api/v1/me", &visitor).await.status(),
        StatusCode::UNAUTHORIZED,
        "old visitor session survived"
    );

    // A second login, on the other instance.
    let (flow, code) = {
        let altcha = other.solve_challenge().await;
        let res = post(
            &other,
            "/api/v1/login/code",
            json!({"email": email, "altcha": altcha}),
            None,
        )
        .await;
        let flow: Value = res.json().await.unwrap();
        (flow["flow_id"].clone(), a.code_for(email, 3).await)
    };
    let res = post(
        &other,
        "/api/v1/login/code/verify",
        json!({"flow_id": flow, "code": code}),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = cookie_pair(set_cookie(&res, SESSION).unwrap());
    // Both sessions work on both instances.
    for app in [&a, &other] {
        assert_eq!(
            get(app, "/api/v1/me", &first).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            get(app, "/api/v1/me", &second).await.status(),
            StatusCode::OK
        );
    }
    // The list marks the current one; end the second from the first, on A.
    let list: Value = get(&a, "/api/v1/me/sessions", &first)
        .await
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let victim = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = a
        .client
        .delete(a.url(&format!("/api/v1/me/sessions/{victim}")))
        .header(header::COOKIE, &first)
        .header(header::CONTENT_TYPE, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // The very next request on the *other* instance is refused.
    assert_eq!(
        get(&other, "/api/v1/me", &second).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Logout on B ends the first session for A too.
    let res = other
        .client
        .post(other.url("/api/v1/logout"))
        .header(header::COOKIE, &first)
        .header(header::CONTENT_TYPE, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get(&a, "/api/v1/me", &first).await.status(),
        StatusCode::UNAUTHORIZED
    );
    other.stop().await;
    a.stop().await;
}

/// C9 for password logins, whose limits look the device cookie up before
/// the login (and the login reuses that answer): the member's own device
/// cookie gives "seen before"; no cookie, or a cookie the member never
/// had, gives "new device".
async fn c09_a_password_login_mail_knows_the_device_only_from_its_own_cookie(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "device@example.jp";
    let password = "lantern orbit tangerine seventeen";
    app.member_with_password(email, password).await;
    app.mails_to(email, 3).await;
    let login = |cookie: Option<String>| {
        let app = &app;
        async move {
            let mut req = app
                .client
                .post(app.url("/api/v1/login/password"))
                .json(&json!({"email": email, "password": password}));
            if let Some(c) = cookie {
                req = req.header(header::COOKIE, c);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            set_cookie(&res, "__Host-anshin_device").map(cookie_pair)
        }
    };
    let new_device = |text: &str| text.contains("初めて") || text.contains("not logged in before");
    let device = login(None)
        .await
        .expect("a new browser gets a device cookie");
    let mails = app.mails_to(email, 4).await;
    assert!(new_device(&mails[3].text), "{}", mails[3].text);
    assert!(
        login(Some(device)).await.is_none(),
        "a known device keeps its cookie"
    );
    let mails = app.mails_to(email, 5).await;
    assert!(!new_device(&mails[4].text), "{}", mails[4].text);
    assert!(
        mails[4].text.contains("以前にも") || mails[4].text.contains("before"),
        "{}",
        mails[4].text
    );
    // A device cookie of nobody's (well formed, never issued) is new.
    let forged = "__Host-anshin_device=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned();
    login(Some(forged)).await;
    let mails = app.mails_to(email, 6).await;
    assert!(new_device(&mails[5].text), "{}", mails[5].text);
}

async fn c09_every_login_sends_one_mail_and_appears_in_history(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "notice@example.jp";
    sign_up(&app, email).await;
    app.mails_to(email, 2).await;
    let (flow, code) = login_code(&app, email, 3).await;
    let res = app
        .client
        .post(app.url("/api/v1/login/code/verify"))
        .header(
            header::USER_AGENT,
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        )
        .json(&json!({"flow_id": flow, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let session = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let device = cookie_pair(set_cookie(&res, "__Host-anshin_device").unwrap());
    let mails = app.mails_to(email, 4).await;
    let notice = &mails[3];
    assert!(
        notice.subject.contains("ログイン") || notice.subject.contains("login"),
        "{}",
        notice.subject
    );
    for want in [
        "UTC",
        "JST",
        "127.0.0.1",
        "Firefox on Linux",
        "/account/sessions",
        "/account/not-me",
        "2026-01-01 00:00:00 UTC",
        "2026-01-01 09:00:00 JST",
    ] {
        assert!(
            notice.text.contains(want),
            "login mail lacks {want}: {}",
            notice.text
        );
    }
    assert!(
        notice.text.contains("初めて") || notice.text.contains("not logged in before"),
        "new device not said"
    );
    // Same device again: the mail says it was seen before; exactly one mail per login.
    let (flow, code) = login_code(&app, email, 5).await;
    let res = app
        .client
        .post(app.url("/api/v1/login/code/verify"))
        .header(header::COOKIE, &device)
        .json(&json!({"flow_id": flow, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mails = app.mails_to(email, 6).await;
    assert!(
        mails[5].text.contains("以前にも") || mails[5].text.contains("before"),
        "{}",
        mails[5].text
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        app.mails_to(email, 6).await.len(),
        6,
        "more than one mail per login"
    );
    // History lists logins (and a failure), newest first.
    let wrong = post(
        &app,
        "/api/v1/login/password",
        json!({"email": email, "password": "x".repeat(20)}),
        None,
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let history: Value = get(&app, "/api/v1/me/logins", &session)
        .await
        .json()
        .await
        .unwrap();
    let h = history.as_array().unwrap();
    assert!(h.len() >= 3, "{history}");
    assert!(h.iter().any(|e| e["outcome"] == "success"
        && e["method"] == "code"
        && e["device"] == "Firefox on Linux"));
    // The HTML page shows it too.
    let page = get(&app, "/account/sessions", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Firefox on Linux") && page.contains("127.0.0.1"));
    app.stop().await;
}

async fn bad_input_gets_a_clear_4xx_and_changes_nothing(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "/api/v1/signup",
            br#"{"email":"not-an-address","display_name":"x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_email",
        ),
        (
            "/api/v1/signup",
            br#"{"email":"a@example.jp","display_name":""}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_display_name",
        ),
        (
            "/api/v1/signup",
            br#"{"email":"a@example.jp"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "/api/v1/signup",
            br#"{"email":"a@example.jp","display_name":"x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "terms_not_accepted",
        ),
        (
            "/api/v1/signup",
            br#"{"email":"a@example.jp","display_name":"x","accept_terms":false}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "terms_not_accepted",
        ),
        (
            "/api/v1/signup",
            br#"{"email":"a@example.jp","display_name":"x","accept_terms":"yes"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "/api/v1/login/code",
            b"{\"email\":\"\xff\xfe@example.jp\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "/api/v1/login/code/verify",
            br#"{"flow_id":"nope","code":"123456"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "/api/v1/login/password",
            format!(
                r#"{{"email":"a@example.jp","password":"{}"}}"#,
                "a".repeat(10 * 1024 * 1024)
            )
            .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "/api/v1/login/password",
            format!(
                r#"{{"email":"a@example.jp","password":"{}"}}"#,
                "a".repeat(2000)
            )
            .into_bytes(),
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ),
    ];
    for (path, body, status, code) in cases {
        let res = app
            .client
            .post(app.url(path))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{path} {code}");
        let json: Value = res.json().await.unwrap();
        assert_eq!(json["error"], code, "{path}");
        assert!(json["message"].as_str().unwrap().len() > 5);
    }
    // Nothing was queued, nobody was created.
    assert_eq!(
        app.store
            .mail()
            .count_by_status(anshin_domain::MailStatus::Pending)
            .await
            .unwrap()
            + app
                .store
                .mail()
                .count_by_status(anshin_domain::MailStatus::Sent)
                .await
                .unwrap(),
        0
    );
    assert!(
        app.store
            .accounts()
            .find_member_by_email(&anshin_domain::EmailAddress::parse("a@example.jp").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    // A new password that breaks the rules: clear 400s.
    let cookie = sign_up(&app, "rules@example.jp").await;
    for (pw, code) in [
        ("short", "password_too_short"),
        ("passwordpassword", "password_too_common"),
    ] {
        let res = app
            .client
            .put(app.url("/api/v1/me/password"))
            .header(header::COOKIE, &cookie)
            .json(&json!({"password": pw}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.json::<Value>().await.unwrap()["error"], code);
    }
    assert_eq!(password_hash(&app, "rules@example.jp").await, None);
    app.stop().await;
}

async fn c12_sensitive_changes_need_recent_authentication(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "recent@example.jp";
    let cookie = sign_up(&app, email).await;
    app.clock.advance(11 * 60 * SECOND);
    let put = |body: Value| {
        app.client
            .put(app.url("/api/v1/me/password"))
            .header(header::COOKIE, &cookie)
            .json(&body)
            .send()
    };
    let res = put(json!({"password": "lantern orbit tangerine seventeen"}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "reauthentication_required"
    );
    // A fresh code re-authenticates this session.
    let res = post(&app, "/api/v1/me/reauth/code", json!({}), Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let flow: Value = res.json().await.unwrap();
    let code = app.code_for(email, 3).await;
    let res = post(
        &app,
        "/api/v1/me/reauth/verify",
        json!({"flow_id": flow["flow_id"], "code": code}),
        Some(&cookie),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = put(json!({"password": "lantern orbit tangerine seventeen"}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Later, the current password also authorises a change.
    app.clock.advance(11 * 60 * SECOND);
    let res = put(json!({"password": "quiet harbor violet engine", "current_password": "wrong wrong wrong wrong"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = put(json!({"password": "quiet harbor violet engine", "current_password": "lantern orbit tangerine seventeen"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

async fn c09_not_me_login_ends_every_other_session(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "notme@example.jp";
    let stolen = sign_up(&app, email).await;
    app.mails_to(email, 2).await;
    // The owner follows "this was not me": a fresh code, all other sessions end.
    let (flow, code) = login_code(&app, email, 3).await;
    let res = post(
        &app,
        "/api/v1/login/code/verify",
        json!({"flow_id": flow, "code": code, "end_other_sessions": true}),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mine = cookie_pair(set_cookie(&res, SESSION).unwrap());
    assert_eq!(
        get(&app, "/api/v1/me", &stolen).await.status(),
        StatusCode::UNAUTHORIZED,
        "the other session survived"
    );
    assert_eq!(
        get(&app, "/api/v1/me", &mine).await.status(),
        StatusCode::OK
    );
    let page = app
        .client
        .get(app.url("/account/not-me"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("end_other_sessions"));
    app.stop().await;
}

/// The HTML journey: sign-up form, code form, account page, sessions page.
async fn c11_account_pages_work_as_forms(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let res = app.client.get(app.url("/account")).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the account page needs a login"
    );
    let res = app.client.get(app.url("/signup")).send().await.unwrap();
    let visitor = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let html = res.text().await.unwrap();
    let token = field(&html, "csrf_token");
    let email = "form@example.jp";
    let res = app
        .client
        .post(app.url("/signup"))
        .header(header::COOKIE, &visitor)
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("display_name", "フォーム"),
            ("accept_terms", "1"),
            ("altcha", app.solve_challenge().await.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let flow = field(&html, "flow_id");
    let code = app.code_for(email, 1).await;
    let res = app
        .client
        .post(app.url("/signup/verify"))
        .header(header::COOKIE, &visitor)
        .form(&[
            ("csrf_token", token.as_str()),
            ("flow_id", flow.as_str()),
            ("code", "000000"),
        ])
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(
        html.contains("class=\"alert\""),
        "a wrong code shows an error on the form"
    );
    let res = app
        .client
        .post(app.url("/signup/verify"))
        .header(header::COOKIE, &visitor)
        .form(&[
            ("csrf_token", token.as_str()),
            ("flow_id", flow.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let member = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let page = get(&app, "/account", &member).await.text().await.unwrap();
    assert!(page.contains(email) && page.contains("フォーム"));
    let page = get(&app, "/account/sessions", &member)
        .await
        .text()
        .await
        .unwrap();
    let ja = anshin_core::i18n::Catalogs::load().unwrap();
    let signup_word = ja
        .get(anshin_core::i18n::Lang::Ja)
        .login_method(anshin_domain::LoginMethod::Signup)
        .to_owned();
    assert!(
        page.contains(&format!(">{signup_word}<")) && page.contains("127.0.0.1"),
        "the history names the sign-up in Japanese"
    );
    app.stop().await;
}

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

async fn c07_signup_and_code_requests_need_a_solved_challenge(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    for (path, body) in [
        (
            "/api/v1/signup",
            json!({"email": "bot@example.jp", "display_name": "Bot", "accept_terms": true}),
        ),
        ("/api/v1/login/code", json!({"email": "bot@example.jp"})),
    ] {
        let res = post(&app, path, body.clone(), None).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "challenge_required"
        );
        let mut forged = body.clone();
        forged["altcha"] = json!("eyJub3QiOiJhIHNvbHV0aW9uIn0=");
        let res = post(&app, path, forged, None).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "challenge_failed"
        );
        // A solution works once.
        let mut solved = body.clone();
        solved["altcha"] = json!(app.solve_challenge().await);
        assert_eq!(
            post(&app, path, solved.clone(), None).await.status(),
            StatusCode::ACCEPTED,
            "{path}"
        );
        let replay = post(&app, path, solved, None).await;
        assert_eq!(
            replay.status(),
            StatusCode::FORBIDDEN,
            "{path}: a solution was accepted twice"
        );
    }
    // Nothing was queued for the refused requests: one mail per accepted one.
    assert_eq!(app.mails_to("bot@example.jp", 2).await.len(), 2);
    // Monitoring counts them.
    let metrics = anshin_testkit::reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "anshin_challenges_missing_total 2",
        "anshin_challenges_passed_total 2",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    assert!(
        !metrics.contains("anshin_challenges_failed_total 0"),
        "failures counted"
    );
    app.stop().await;
}

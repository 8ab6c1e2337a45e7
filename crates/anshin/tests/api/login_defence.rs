//! Logins under attack (C7, C8), end to end over HTTPS on SQLite and
//! PostgreSQL: when a password login needs a bot challenge, how the attack
//! level follows site-wide failures, that failed challenges are security
//! events in the member's history, and a bounded credential-stuffing run
//! (issue 4, acceptance 1) that takes over no account, computes no more
//! Argon2id hashes than the limits allow, and does not keep a member out.
//!
//! Client addresses are chosen with `X-Forwarded-For` through a trusted
//! proxy (the test client on 127.0.0.1 is configured as one), exactly as
//! behind a load balancer.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anshin_testkit::SECOND;
use anshin_testkit::anshin::config::Settings;
use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends};
use serde_json::{Value, json};

backends!(
    c07_password_login_needs_a_challenge_after_account_failures,
    c07_parallel_correct_logins_are_not_asked_for_a_challenge,
    c07_password_login_needs_a_challenge_after_address_failures,
    c07_attack_level_follows_site_wide_failures,
    c07_failed_challenges_are_security_events_in_the_history,
    c08_credential_stuffing_run_takes_over_no_account,
);

const PASSWORD: &str = "lantern orbit tangerine seventeen";

fn behind_proxy(s: &mut Settings) {
    s.limits.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

/// Signs up `email` and sets `password`; returns the session and device
/// cookies of that browser.
async fn member(
    app: &TestApp,
    email: &str,
    password: &str,
    mails_before: usize,
) -> (String, String) {
    let m = app.sign_up(email, "Member", mails_before).await;
    m.set_password(app, password).await;
    (m.session, m.device)
}

/// A password login from `ip`, with an optional challenge solution and
/// cookie header; returns the status and the error code, if any.
async fn login_from(
    app: &TestApp,
    ip: &str,
    email: &str,
    password: &str,
    altcha: Option<String>,
    cookie: Option<&str>,
) -> (StatusCode, String) {
    let mut body = json!({"email": email, "password": password});
    if let Some(a) = altcha {
        body["altcha"] = json!(a);
    }
    let mut req = app
        .client
        .post(app.url("/api/v1/login/password"))
        .header("x-forwarded-for", ip)
        .json(&body);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    (status, v["error"].as_str().unwrap_or("").to_owned())
}

async fn history(app: &TestApp, session: &str) -> Vec<Value> {
    app.client
        .get(app.url("/api/v1/me/logins"))
        .header(header::COOKIE, session)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

async fn c07_password_login_needs_a_challenge_after_account_failures(b: Backend) {
    let app = TestApp::spawn_mail_with(b, behind_proxy).await;
    let email = "target@example.jp";
    member(&app, email, PASSWORD, 0).await;
    // Calm: no challenge needed for a first wrong guess.
    for i in 0..3 {
        let ip = format!("198.51.100.{}", 10 + i);
        let (status, error) =
            login_from(&app, &ip, email, "a wrong guess of mine", None, None).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_credentials")
        );
    }
    // Three failures in a row on the account: from a fresh address, the
    // account now needs a challenge, even with the right password.
    let (status, error) = login_from(&app, "203.0.113.50", email, PASSWORD, None, None).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::FORBIDDEN, "challenge_required")
    );
    // An unknown address with the same failures answers the same way, so
    // the challenge reveals nothing about which accounts exist.
    for i in 0..3 {
        let ip = format!("198.51.100.{}", 20 + i);
        login_from(
            &app,
            &ip,
            "ghost@example.jp",
            "a wrong guess of mine",
            None,
            None,
        )
        .await;
    }
    let (status, error) = login_from(
        &app,
        "203.0.113.51",
        "ghost@example.jp",
        PASSWORD,
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::FORBIDDEN, "challenge_required")
    );
    // Asking for the challenge computed no hash.
    let hashes = app.metric("anshin_password_hashes_total").await;
    let (status, _) = login_from(&app, "203.0.113.52", email, PASSWORD, None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.metric("anshin_password_hashes_total").await, hashes);
    // Solved, the owner gets in, and the success clears the account.
    let (status, _) = login_from(
        &app,
        "203.0.113.50",
        email,
        PASSWORD,
        Some(app.solve_challenge().await),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = login_from(&app, "203.0.113.53", email, PASSWORD, None, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a success resets the account's count"
    );
    app.stop().await;
}

/// Issue 19 item 8: the login benchmark's four clients, each logging in
/// correctly, were sometimes refused. The account's lock counter counts
/// every attempt before its comparison (so parallel guesses cannot pass
/// the lock), and the challenge rule read that counter: three correct
/// logins still hashing looked like three failures to a fourth. The
/// challenge now follows settled failures only.
async fn c07_parallel_correct_logins_are_not_asked_for_a_challenge(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| {
        behind_proxy(s);
        s.auth.max_concurrent_hashes = 1;
    })
    .await;
    let email = "devices@example.jp";
    member(&app, email, PASSWORD, 0).await;
    // Three attempts in flight on the account: counted, not yet compared.
    for _ in 0..3 {
        let gate = anshin_core::accounts::limits::reserve(&app.services, email)
            .await
            .unwrap();
        assert!(matches!(
            gate,
            anshin_core::accounts::limits::Gate::Open { .. }
        ));
    }
    let (status, error) = login_from(&app, "203.0.113.60", email, PASSWORD, None, None).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::OK, ""),
        "a correct login while others are in flight needs no challenge"
    );
    // And for real: rounds of four parallel correct logins from one
    // address, hashing one at a time, all get in.
    for _ in 0..5 {
        let logins = (0..4).map(|_| login_from(&app, "203.0.113.61", email, PASSWORD, None, None));
        for (status, error) in futures_util::future::join_all(logins).await {
            assert_eq!((status, error.as_str()), (StatusCode::OK, ""));
        }
    }
    app.stop().await;
}

async fn c07_password_login_needs_a_challenge_after_address_failures(b: Backend) {
    let app = TestApp::spawn_mail_with(b, behind_proxy).await;
    let email = "quiet@example.jp";
    member(&app, email, PASSWORD, 0).await;
    // One address sprays three different accounts.
    for i in 0..3 {
        let (status, _) = login_from(
            &app,
            "192.0.2.66",
            &format!("spray{i}@example.jp"),
            PASSWORD,
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // That address now needs a challenge for any account…
    let (status, error) = login_from(&app, "192.0.2.66", email, PASSWORD, None, None).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::FORBIDDEN, "challenge_required")
    );
    // …another address does not.
    let (status, _) = login_from(&app, "192.0.2.67", email, PASSWORD, None, None).await;
    assert_eq!(status, StatusCode::OK);
    // A solution works once: replayed, it fails.
    let solution = app.solve_challenge().await;
    let (status, _) = login_from(
        &app,
        "192.0.2.66",
        email,
        PASSWORD,
        Some(solution.clone()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) =
        login_from(&app, "192.0.2.66", email, PASSWORD, Some(solution), None).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::FORBIDDEN, "challenge_failed")
    );
    app.stop().await;
}

async fn c07_attack_level_follows_site_wide_failures(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| {
        behind_proxy(s);
        s.limits.attack_level_step = 6;
    })
    .await;
    let email = "calm@example.jp";
    let (_, device) = member(&app, email, PASSWORD, 0).await;
    let maxnumber = |app: &TestApp| {
        let (client, url) = (app.client.clone(), app.url("/api/v1/challenge"));
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["maxnumber"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(maxnumber(&app).await, 1_000);
    assert_eq!(app.metric("anshin_attack_level").await, 0);
    // Six failures from six addresses on six accounts: no address or
    // account alone is suspicious, but the site is under attack.
    for i in 0..6 {
        let (status, _) = login_from(
            &app,
            &format!("203.0.{i}.9"),
            &format!("victim{i}@example.jp"),
            "123456789012345",
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The next login sees level 1: every password login needs a
    // challenge, and challenges are twice as hard.
    let (status, error) = login_from(&app, "192.0.2.200", email, PASSWORD, None, None).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::FORBIDDEN, "challenge_required")
    );
    assert_eq!(app.metric("anshin_attack_level").await, 1);
    assert_eq!(maxnumber(&app).await, 2_000);
    // Six more make twelve: level 2.
    for i in 6..12 {
        login_from(
            &app,
            &format!("203.0.{i}.9"),
            &format!("victim{i}@example.jp"),
            "123456789012345",
            Some(app.solve_challenge().await),
            None,
        )
        .await;
    }
    login_from(&app, "192.0.2.201", email, PASSWORD, None, None).await;
    assert_eq!(app.metric("anshin_attack_level").await, 2);
    assert_eq!(maxnumber(&app).await, 4_000);
    // The member's own browser (device cookie) is not held up by the attack.
    let (status, _) = login_from(&app, "192.0.2.202", email, PASSWORD, None, Some(&device)).await;
    assert_eq!(status, StatusCode::OK);
    // The window passes (controlled clock): calm again.
    app.clock.advance(901 * SECOND);
    let (status, _) = login_from(&app, "192.0.2.203", email, PASSWORD, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.metric("anshin_attack_level").await, 0);
    assert_eq!(maxnumber(&app).await, 1_000);
    app.stop().await;
}

async fn c07_failed_challenges_are_security_events_in_the_history(b: Backend) {
    let app = TestApp::spawn_mail_with(b, behind_proxy).await;
    let email = "watched@example.jp";
    let (session, _) = member(&app, email, PASSWORD, 0).await;
    let failed_before = app.metric("anshin_challenges_failed_total").await;
    // A forged solution on a password login and on a code request.
    let forged = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        r#"{"algorithm":"SHA-256","challenge":"00","number":1,"salt":"x?expires=9999999999","signature":"00"}"#,
    );
    for i in 0..3 {
        login_from(
            &app,
            "198.51.100.77",
            email,
            &format!("wrong password number {i}"),
            None,
            None,
        )
        .await;
    }
    let (status, error) = login_from(
        &app,
        "198.51.100.77",
        email,
        PASSWORD,
        Some(forged.clone()),
        None,
    )
    .await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::FORBIDDEN, "challenge_failed")
    );
    let res = app
        .client
        .post(app.url("/api/v1/login/code"))
        .json(&json!({"email": email, "altcha": forged}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.metric("anshin_challenges_failed_total").await,
        failed_before + 2
    );
    let h = history(&app, &session).await;
    let challenge_events: Vec<_> = h
        .iter()
        .filter(|e| e["outcome"] == "challenge_failed")
        .collect();
    assert_eq!(challenge_events.len(), 2, "{h:?}");
    assert!(
        challenge_events
            .iter()
            .any(|e| e["method"] == "password" && e["ip"] == "198.51.100.77")
    );
    assert!(challenge_events.iter().any(|e| e["method"] == "code"));
    // A missing challenge is not a failure (the client just asks for one).
    login_from(&app, "198.51.100.77", email, PASSWORD, None, None).await;
    assert_eq!(
        history(&app, &session)
            .await
            .iter()
            .filter(|e| e["outcome"] == "challenge_failed")
            .count(),
        2
    );
    app.stop().await;
}

/// Issue 4, acceptance 1: 5,000 password attempts from 50 addresses (in 5
/// networks) against 100 accounts, half of which have a weak password that
/// is in the attacker's dictionary. The attacker solves every challenge it
/// is given (a bot farm with a solver), runs 8 requests in parallel and
/// never waits for Retry-After. Limits for the run: lock after 10, 30 per
/// address, 100 per network, 200 site-wide per window.
async fn c08_credential_stuffing_run_takes_over_no_account(b: Backend) {
    const ACCOUNTS: usize = 100;
    const ATTEMPTS: usize = 5_000;
    const PARALLEL: usize = 8;
    const GLOBAL: i64 = 200;
    let app = TestApp::spawn_mail_with(b, |s| {
        behind_proxy(s);
        s.limits.max_failures_global = GLOBAL;
        // Each 429 held 1 s would make the run take ten minutes; the
        // delay slows a flood but decides nothing (tested in lockout.rs).
        s.limits.throttled_delay_ms = 0;
    })
    .await;
    // The attacker's dictionary: 50 guesses, tried in this order on every
    // account. Weak account j has dictionary[5 + j % 45] as its password
    // (a common password is rarely the very first guess; what the limits
    // promise is a bound on guesses per account and site-wide).
    let dictionary: Vec<String> = (0..50)
        .map(|i| format!("summer{:04}sakura!{i}", 1990 + i))
        .collect();
    let email = |j: usize| format!("stuffed{j:03}@example.jp");
    let password_of = |j: usize| {
        if j.is_multiple_of(2) {
            dictionary[5 + (j / 2) % 45].clone()
        } else {
            format!("{PASSWORD} {j} unguessable")
        }
    };
    // 100 members through the real sign-up, 10 at a time.
    let mut created = 0;
    while created < ACCOUNTS {
        let batch: Vec<_> = (created..(created + 10).min(ACCOUNTS))
            .map(|j| {
                let (e, p) = (email(j), password_of(j));
                let app = &app;
                async move { member(app, &e, &p, 0).await }
            })
            .collect();
        futures_util::future::join_all(batch).await;
        created += 10;
    }
    // A real member, logged in once before the attack from their browser.
    let owner = "real-member@example.jp";
    let (_, device) = member(&app, owner, PASSWORD, 0).await;

    let hashes_before = app.metric("anshin_password_hashes_total").await;
    let next = Arc::new(AtomicU64::new(0));
    let taken = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let statuses = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
    let attackers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let (next, taken, statuses) = (next.clone(), taken.clone(), statuses.clone());
            let (dictionary, app) = (dictionary.clone(), &app);
            async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if k >= ATTEMPTS {
                        return;
                    }
                    let (account, guess) = (k % ACCOUNTS, k / ACCOUNTS);
                    let ip = format!("198.51.{}.{}", 100 + k % 5, 10 + (k / 5) % 10);
                    let mut altcha = None;
                    let (status, error) = loop {
                        let r = login_from(
                            app,
                            &ip,
                            &email(account),
                            &dictionary[guess],
                            altcha.take(),
                            None,
                        )
                        .await;
                        if r.1 == "challenge_required" {
                            altcha = Some(app.solve_challenge().await);
                            continue;
                        }
                        break r;
                    };
                    if status == StatusCode::OK {
                        taken.lock().unwrap().insert(account);
                    }
                    *statuses
                        .lock()
                        .unwrap()
                        .entry((status.as_u16(), error))
                        .or_insert(0u32) += 1;
                }
            }
        })
        .collect();
    // The real member logs in from their browser while the attack runs,
    // once the site-wide ceiling is exhausted (everyone else gets 429).
    let owner_login = async {
        while !statuses
            .lock()
            .unwrap()
            .contains_key(&(429, "rate_limited".to_owned()))
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let stranger = login_from(&app, "192.0.2.11", owner, PASSWORD, None, None).await;
        let own_browser =
            login_from(&app, "192.0.2.10", owner, PASSWORD, None, Some(&device)).await;
        (stranger, own_browser)
    };
    let (_, during) = tokio::join!(futures_util::future::join_all(attackers), owner_login);
    let statuses = statuses.lock().unwrap().clone();
    eprintln!("attack outcomes (status, error) → count: {statuses:?}");

    // 1. No account was taken over, although 50 passwords were in the
    //    dictionary.
    assert!(
        taken.lock().unwrap().is_empty(),
        "accounts taken over: {:?}",
        taken.lock().unwrap()
    );
    assert!(
        (0..ACCOUNTS)
            .step_by(2)
            .all(|j| dictionary.contains(&password_of(j)))
    );
    assert_eq!(
        statuses.values().map(|n| *n as usize).sum::<usize>(),
        ATTEMPTS
    );
    // 2. Argon2id computations stayed within the site-wide ceiling; the
    //    checks come before the hash, so parallel requests can overshoot
    //    it only by the number in flight.
    let computed = app.metric("anshin_password_hashes_total").await - hashes_before;
    let bound = GLOBAL as u64 + PARALLEL as u64 + 1; // + the member's own login
    assert!(
        computed <= bound,
        "{computed} Argon2id computations; the limits allow {bound}"
    );
    assert!(
        statuses
            .get(&(429, "rate_limited".to_owned()))
            .copied()
            .unwrap_or(0) as usize
            > ATTEMPTS / 2,
        "most attempts should be refused by the ceilings: {statuses:?}"
    );
    // 3. The real member got in during the attack, by password from their
    //    own browser, and by mailed code.
    let (stranger, own_browser) = during;
    assert_eq!(
        stranger.0,
        StatusCode::TOO_MANY_REQUESTS,
        "the ceiling was not reached"
    );
    assert_eq!(
        own_browser.0,
        StatusCode::OK,
        "the member was kept out: {own_browser:?}"
    );
    let res = app
        .client
        .post(app.url("/api/v1/login/code"))
        .header("x-forwarded-for", "192.0.2.10")
        .json(&json!({"email": owner, "altcha": app.solve_challenge().await}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let flow: Value = res.json().await.unwrap();
    let code = app.code_for(owner, 5).await; // code, welcome, password, login notice, code
    let res = app
        .client
        .post(app.url("/api/v1/login/code/verify"))
        .header("x-forwarded-for", "192.0.2.10")
        .json(&json!({"flow_id": flow["flow_id"], "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "code login during the attack");
    app.stop().await;
}

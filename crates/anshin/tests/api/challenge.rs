//! Bots are stopped by a CAPTCHA (C7), end to end on SQLite and
//! PostgreSQL: the self-hosted ALTCHA challenge served over HTTPS, solved
//! here by brute force with sha2, and checked through the core's entry
//! point `anshin_core::challenge::check` against the server's own
//! database and key ring; and the third-party providers against a local HTTP server
//! that speaks the siteverify protocol, failing closed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anshin_core::Services;
use anshin_core::challenge::altcha::{self, Challenge, ChallengeKey};
use anshin_core::challenge::{CaptchaSettings, ChallengeError, Provider, check};
use anshin_core::clock::Clock;
use anshin_core::random::Random;
use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, SECOND, TestApp, backends};
use base64::Engine as _;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

backends!(
    c07_challenge_endpoint_serves_a_signed_altcha_challenge,
    c07_solution_passes_once_and_a_replay_fails,
    c07_replay_on_another_instance_fails,
    c07_expired_solution_fails,
    c07_forged_and_tampered_solutions_fail,
    c07_missing_solution_is_required,
    c07_solution_for_an_easier_level_fails_when_the_level_rises,
    c07_signup_and_login_pages_carry_the_widget,
);

const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A core on the running server's database, key ring and clock: a second
/// instance of the application, as behind a load balancer.
fn state_for(app: &TestApp, captcha: CaptchaSettings) -> Services {
    app.core_with_captcha(captcha)
}

async fn fetch_challenge(app: &TestApp) -> Challenge {
    let res = app
        .client
        .get(app.url("/api/v1/challenge"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// Brute force, as a browser does: the number whose SHA-256(salt||n) is
/// the challenge.
fn brute_force(c: &Challenge) -> u64 {
    (0..=c.maxnumber)
        .find(|n| hex::encode(Sha256::digest(format!("{}{n}", c.salt))) == c.challenge)
        .expect("challenge has a solution up to maxnumber")
}

fn payload(c: &Challenge, number: u64) -> String {
    let json = serde_json::json!({
        "algorithm": c.algorithm,
        "challenge": c.challenge,
        "number": number,
        "salt": c.salt,
        "signature": c.signature,
    });
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

async fn solved(app: &TestApp) -> String {
    let c = fetch_challenge(app).await;
    payload(&c, brute_force(&c))
}

async fn c07_challenge_endpoint_serves_a_signed_altcha_challenge(b: Backend) {
    // The shipped default difficulty (the test kit lowers it for speed).
    let app = TestApp::spawn_with(b, |s| s.captcha.difficulty = 50_000).await;
    let res = app
        .client
        .get(app.url("/api/v1/challenge"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let v: serde_json::Value = res.json().await.unwrap();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["algorithm", "challenge", "maxnumber", "salt", "signature"],
        "exactly the ALTCHA fields"
    );
    assert_eq!(v["algorithm"], "SHA-256");
    assert_eq!(v["maxnumber"], 50_000, "default difficulty");
    let expires = app.clock.now().secs() + 600;
    let salt = v["salt"].as_str().unwrap();
    assert!(salt.contains(&format!("?expires={expires}&")), "{salt}");
    assert_eq!(v["challenge"].as_str().unwrap().len(), 64);
    assert_eq!(v["signature"].as_str().unwrap().len(), 64);
    // Two requests, two different challenges.
    let other = fetch_challenge(&app).await;
    assert_ne!(other.challenge, v["challenge"].as_str().unwrap());
    // The document lists the route.
    let doc: serde_json::Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/challenge"]["get"].is_object());
    app.stop().await;
}

async fn c07_solution_passes_once_and_a_replay_fails(b: Backend) {
    // The shipped default difficulty (the test kit lowers it for speed).
    let app = TestApp::spawn_with(b, |s| s.captcha.difficulty = 50_000).await;
    let state = state_for(&app, CaptchaSettings::default());
    let p = solved(&app).await;
    assert_eq!(check(&state, Some(&p), IP, 0).await, Ok(()));
    assert_eq!(
        check(&state, Some(&p), IP, 0).await,
        Err(ChallengeError::Invalid),
        "the same solution twice"
    );
    let counts = state.challenges.counts();
    assert_eq!((counts.passed, counts.failed), (1, 1));
    app.stop().await;
}

async fn c07_replay_on_another_instance_fails(b: Backend) {
    // The shipped default difficulty (the test kit lowers it for speed).
    let app = TestApp::spawn_with(b, |s| s.captcha.difficulty = 50_000).await;
    let one = state_for(&app, CaptchaSettings::default());
    let two = state_for(&app, CaptchaSettings::default());
    let p = solved(&app).await;
    // Both instances at once: exactly one accepts.
    let (a, b2) = tokio::join!(check(&one, Some(&p), IP, 0), check(&two, Some(&p), IP, 0));
    let accepted = [a, b2].iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 1, "{a:?} {b2:?}");
    assert_eq!(
        check(&two, Some(&p), IP, 0).await,
        Err(ChallengeError::Invalid)
    );
    app.stop().await;
}

async fn c07_expired_solution_fails(b: Backend) {
    // The shipped default difficulty (the test kit lowers it for speed).
    let app = TestApp::spawn_with(b, |s| s.captcha.difficulty = 50_000).await;
    let state = state_for(&app, CaptchaSettings::default());
    let fresh = solved(&app).await;
    let late = solved(&app).await;
    app.clock.advance(599 * SECOND);
    assert_eq!(check(&state, Some(&fresh), IP, 0).await, Ok(()));
    app.clock.advance(SECOND);
    assert_eq!(
        check(&state, Some(&late), IP, 0).await,
        Err(ChallengeError::Invalid),
        "600 s after issue"
    );
    // Its single-use record is purged once expired.
    let purged = app
        .store
        .challenges()
        .purge_expired(app.clock.now())
        .await
        .unwrap();
    assert_eq!(purged, 1);
    app.stop().await;
}

async fn c07_forged_and_tampered_solutions_fail(b: Backend) {
    // The shipped default difficulty (the test kit lowers it for speed).
    let app = TestApp::spawn_with(b, |s| s.captcha.difficulty = 50_000).await;
    let state = state_for(&app, CaptchaSettings::default());
    // Signed with a key that is not the server's.
    let expires = app.clock.now().secs() + 600;
    let forged = altcha::create(
        &ChallengeKey::from_bytes([7; 32]),
        1000,
        expires,
        &mut Random::os().rng(),
    );
    let p = payload(&forged, brute_force(&forged));
    assert_eq!(
        check(&state, Some(&p), IP, 0).await,
        Err(ChallengeError::Invalid)
    );
    // A real challenge with a wrong number.
    let c = fetch_challenge(&app).await;
    let n = brute_force(&c);
    let wrong = payload(&c, if n == 0 { 1 } else { n - 1 });
    assert_eq!(
        check(&state, Some(&wrong), IP, 0).await,
        Err(ChallengeError::Invalid)
    );
    // A wrong number does not use the challenge up: the right one passes.
    assert_eq!(check(&state, Some(&payload(&c, n)), IP, 0).await, Ok(()));
    for garbage in ["x", "not base64 at all", "e30="] {
        assert_eq!(
            check(&state, Some(garbage), IP, 0).await,
            Err(ChallengeError::Invalid),
            "{garbage}"
        );
    }
    app.stop().await;
}

async fn c07_missing_solution_is_required(b: Backend) {
    // The shipped default difficulty (the test kit lowers it for speed).
    let app = TestApp::spawn_with(b, |s| s.captcha.difficulty = 50_000).await;
    let state = state_for(&app, CaptchaSettings::default());
    assert_eq!(
        check(&state, None, IP, 0).await,
        Err(ChallengeError::Required)
    );
    assert_eq!(
        check(&state, Some("  "), IP, 0).await,
        Err(ChallengeError::Required)
    );
    assert_eq!(state.challenges.counts().missing, 2);
    app.stop().await;
}

async fn c07_solution_for_an_easier_level_fails_when_the_level_rises(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.captcha.difficulty = 1_000).await;
    let state = state_for(
        &app,
        CaptchaSettings {
            difficulty: 1_000,
            ..CaptchaSettings::default()
        },
    );
    let easy = solved(&app).await;
    assert_eq!(
        check(&state, Some(&easy), IP, 2).await,
        Err(ChallengeError::Invalid)
    );
    assert_eq!(check(&state, Some(&easy), IP, 0).await, Ok(()));
    app.stop().await;
}

async fn c07_signup_and_login_pages_carry_the_widget(b: Backend) {
    // The shipped default difficulty (the test kit lowers it for speed).
    let app = TestApp::spawn_with(b, |s| s.captcha.difficulty = 50_000).await;
    for (path, forms) in [("/signup", 1), ("/login", 2)] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let html = res.text().await.unwrap();
        assert_eq!(
            html.matches("data-altcha ").count(),
            forms,
            "{path}: one widget per form"
        );
        assert!(
            html.contains("data-label=\"ロボットではありません\""),
            "{path}"
        );
        assert!(
            html.contains("data-challenge-url=\"/api/v1/challenge\""),
            "{path}"
        );
        // External, content-hashed, deferred: no inline script.
        let script = html
            .split("<script src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a script tag");
        assert!(html.contains(&format!("<script src=\"{script}\" defer></script>")));
        assert_eq!(
            html.matches("<script").count(),
            1,
            "{path}: no other script"
        );
        let worker = html
            .split("data-worker=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("worker URL");
        for url in [script, worker] {
            assert!(
                url.starts_with("/static/altcha") && url.ends_with(".js"),
                "{url}"
            );
            let res = app.client.get(app.url(url)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{url}");
            assert_eq!(
                res.headers()[header::CONTENT_TYPE],
                "text/javascript; charset=utf-8"
            );
            assert!(
                res.headers()[header::CACHE_CONTROL]
                    .to_str()
                    .unwrap()
                    .contains("immutable")
            );
        }
    }
    app.stop().await;
}

// --- Third-party providers, against a local siteverify server ---------

#[derive(Debug, Default)]
struct Seen {
    secret: Option<String>,
    remoteip: Option<String>,
}

/// Answers per posted token, like the providers' siteverify endpoints.
async fn siteverify_server() -> (SocketAddr, Arc<Mutex<Seen>>) {
    use axum::routing::post;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/siteverify",
        post(
            move |axum::Form(f): axum::Form<std::collections::HashMap<String, String>>| {
                let s = s.clone();
                async move {
                    {
                        let mut seen = s.lock().unwrap();
                        seen.secret = f.get("secret").cloned();
                        seen.remoteip = f.get("remoteip").cloned();
                    }
                    let secret_ok = f.get("secret").map(String::as_str) == Some("test-secret");
                    let ok = |json: &str| (StatusCode::OK, json.to_owned());
                    match f.get("response").map(String::as_str) {
                        _ if !secret_ok => ok(r#"{"success":false,"error-codes":["invalid-input-secret"]}"#),
                        Some("good") => ok(r#"{"success":true,"hostname":"localhost","challenge_ts":"2026-11-25T00:00:00Z"}"#),
                        Some("v3-high") => ok(r#"{"success":true,"score":0.9,"action":"login","hostname":"localhost"}"#),
                        Some("v3-low") => ok(r#"{"success":true,"score":0.2,"action":"login","hostname":"localhost"}"#),
                        Some("v3-wrong-action") => ok(r#"{"success":true,"score":0.9,"action":"signup"}"#),
                        Some("malformed") => ok("<html>not json</html>"),
                        Some("error500") => (StatusCode::INTERNAL_SERVER_ERROR, r#"{"success":true}"#.to_owned()),
                        Some("slow") => {
                            tokio::time::sleep(Duration::from_secs(4)).await;
                            ok(r#"{"success":true}"#)
                        }
                        _ => ok(r#"{"success":false,"error-codes":["invalid-input-response"]}"#),
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn provider_settings(provider: Provider, addr: SocketAddr) -> CaptchaSettings {
    CaptchaSettings {
        provider,
        site_key: Some("test-site-key".into()),
        secret: Some(SecretString::from("test-secret".to_owned())),
        verify_url: Some(format!("http://{addr}/siteverify").parse().unwrap()),
        timeout_secs: 1,
        ..CaptchaSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c07_providers_accept_only_what_siteverify_confirms() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (addr, seen) = siteverify_server().await;
    for p in [
        Provider::RecaptchaV2,
        Provider::Hcaptcha,
        Provider::Turnstile,
    ] {
        let state = state_for(&app, provider_settings(p, addr));
        assert_eq!(check(&state, Some("good"), IP, 0).await, Ok(()), "{p:?}");
        assert_eq!(
            check(&state, Some("bad"), IP, 0).await,
            Err(ChallengeError::Invalid),
            "{p:?}"
        );
        assert_eq!(
            check(&state, None, IP, 0).await,
            Err(ChallengeError::Required),
            "{p:?}"
        );
    }
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.secret.as_deref(), Some("test-secret"));
        assert_eq!(
            seen.remoteip.as_deref(),
            Some("127.0.0.1"),
            "remoteip is forwarded"
        );
    }
    // A wrong secret is refused by the service, so by us.
    let mut wrong = provider_settings(Provider::Turnstile, addr);
    wrong.secret = Some(SecretString::from("not-the-secret".to_owned()));
    let state = state_for(&app, wrong);
    assert_eq!(
        check(&state, Some("good"), IP, 0).await,
        Err(ChallengeError::Invalid)
    );
    // The self-hosted endpoint is off when a provider is configured.
    let app2 = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.captcha = provider_settings(Provider::Hcaptcha, addr)
    })
    .await;
    let res = app2
        .client
        .get(app2.url("/api/v1/challenge"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app2.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c07_recaptcha_v3_needs_score_and_action() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (addr, _) = siteverify_server().await;
    let mut s = provider_settings(Provider::RecaptchaV3, addr);
    s.min_score = 0.5;
    s.expected_action = Some("login".into());
    let state = state_for(&app, s);
    assert_eq!(check(&state, Some("v3-high"), IP, 0).await, Ok(()));
    assert_eq!(
        check(&state, Some("v3-low"), IP, 0).await,
        Err(ChallengeError::Invalid)
    );
    assert_eq!(
        check(&state, Some("v3-wrong-action"), IP, 0).await,
        Err(ChallengeError::Invalid)
    );
    // v2's plain success has no score: not enough for v3.
    assert_eq!(
        check(&state, Some("good"), IP, 0).await,
        Err(ChallengeError::Invalid)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c07_providers_fail_closed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (addr, _) = siteverify_server().await;
    let state = state_for(&app, provider_settings(Provider::Hcaptcha, addr));
    for token in ["malformed", "error500"] {
        assert_eq!(
            check(&state, Some(token), IP, 0).await,
            Err(ChallengeError::Unavailable),
            "{token}"
        );
    }
    let started = std::time::Instant::now();
    assert_eq!(
        check(&state, Some("slow"), IP, 0).await,
        Err(ChallengeError::Unavailable)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "timeout_secs = 1 is enforced"
    );
    // A closed port: nothing listens there any more.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let state = state_for(&app, provider_settings(Provider::Turnstile, closed));
    assert_eq!(
        check(&state, Some("good"), IP, 0).await,
        Err(ChallengeError::Unavailable)
    );
    assert_eq!(state.challenges.counts().failed, 1);
    app.stop().await;
}

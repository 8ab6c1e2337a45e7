//! A real member's login latency with and without a credential-stuffing
//! run going on (issue 4, acceptance 2; C7, C8). Not a test: it prints the
//! figures recorded in `bench/README.md`.
//!
//! `cargo bench -p anshin --bench login_under_attack`
//! (`ANSHIN_BENCH_BACKEND=postgres` for PostgreSQL; needs aiosmtpd for the
//! mailed codes).
//!
//! Set-up: the production limits (lock after 10, 30 failures per address,
//! 100 per network, 2000 site-wide per 15 min, challenge after 3, attack
//! level step 100), `auth.max_concurrent_hashes = 2`, Argon2id at the OWASP
//! minimum; 100 accounts, half with a password in the attacker's
//! dictionary; 20 real members who logged in once before from their own
//! browser (device cookie). The attacker: 8 parallel clients on 50
//! addresses (5 networks, through a trusted proxy's `X-Forwarded-For`),
//! solving every challenge it gets, never waiting for Retry-After.
//!
//! Measured per member login, client-side over HTTPS on loopback: by
//! password, the `POST /api/v1/login/password`; by code, `POST
//! /api/v1/login/code` plus `POST /api/v1/login/code/verify` (the mail's
//! delivery and the browser's proof of work are not server latency and
//! are left out).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, cookie_pair, set_cookie};
use serde_json::{Value, json};

const MEMBERS: usize = 20;
const PASSWORD_ROUNDS: usize = 5;
const ACCOUNTS: usize = 100;
const ATTACKERS: usize = 8;
const MAX_ATTEMPTS: u64 = 50_000;

struct Member {
    email: String,
    password: String,
    device: String,
}

async fn sign_up(app: &TestApp, email: &str, password: &str) -> String {
    let res = app
        .client
        .post(app.url("/api/v1/signup"))
        .json(&json!({"email": email, "display_name": "Bench", "altcha": app.solve_challenge().await}))
        .send()
        .await
        .unwrap();
    let flow: Value = res.json().await.unwrap();
    let code = app.code_for(email, 1).await;
    let res = app
        .client
        .post(app.url("/api/v1/signup/verify"))
        .json(&json!({"flow_id": flow["flow_id"], "code": code}))
        .send()
        .await
        .unwrap();
    let session = cookie_pair(set_cookie(&res, "__Host-anshin_session").unwrap());
    let device = cookie_pair(set_cookie(&res, "__Host-anshin_device").unwrap());
    let res = app
        .client
        .put(app.url("/api/v1/me/password"))
        .header(header::COOKIE, &session)
        .json(&json!({"password": password}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    device
}

/// One password login of a member; its latency.
async fn password_login(app: &TestApp, m: &Member) -> Duration {
    let t = Instant::now();
    let res = app
        .client
        .post(app.url("/api/v1/login/password"))
        .header("x-forwarded-for", "192.0.2.10")
        .header(header::COOKIE, &m.device)
        .json(&json!({"email": m.email, "password": m.password}))
        .send()
        .await
        .unwrap();
    let took = t.elapsed();
    assert_eq!(res.status(), StatusCode::OK, "member password login");
    took
}

/// One code login of a member (the `n`th mail to them); its latency
/// without the mail's delivery and the proof of work.
async fn code_login(app: &TestApp, m: &Member, n: usize) -> Duration {
    let altcha = app.solve_challenge().await;
    let t = Instant::now();
    let res = app
        .client
        .post(app.url("/api/v1/login/code"))
        .header("x-forwarded-for", "192.0.2.10")
        .json(&json!({"email": m.email, "altcha": altcha}))
        .send()
        .await
        .unwrap();
    let mut took = t.elapsed();
    assert_eq!(res.status(), StatusCode::ACCEPTED, "code request");
    let flow: Value = res.json().await.unwrap();
    let code = app.code_for(&m.email, n).await;
    let t = Instant::now();
    let res = app
        .client
        .post(app.url("/api/v1/login/code/verify"))
        .header("x-forwarded-for", "192.0.2.10")
        .header(header::COOKIE, &m.device)
        .json(&json!({"flow_id": flow["flow_id"], "code": code}))
        .send()
        .await
        .unwrap();
    took += t.elapsed();
    assert_eq!(res.status(), StatusCode::OK, "code verify");
    took
}

/// Password then code logins of every member; the latencies, and the
/// number of mails each member has after it.
async fn sample(app: &TestApp, members: &[Member], mails: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut pw = Vec::new();
    for _ in 0..PASSWORD_ROUNDS {
        for m in members {
            pw.push(password_login(app, m).await);
        }
    }
    // Each password login sent a login mail; the code comes after them.
    let mut code = Vec::new();
    for m in members {
        code.push(code_login(app, m, mails + PASSWORD_ROUNDS + 1).await);
    }
    (pw, code)
}

fn pct(v: &mut [Duration]) -> (Duration, Duration) {
    v.sort();
    let n = v.len();
    (v[n / 2], v[(n * 99 / 100).min(n - 1)])
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = anshin_testkit::reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = match std::env::var("ANSHIN_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    println!(
        "machine: {} cores; backend {backend:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let app = Arc::new(
        TestApp::spawn_mail_with(backend, |s| {
            s.log.level = "warn".into();
            s.auth.max_concurrent_hashes = 2;
            s.limits.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        })
        .await,
    );
    let dictionary: Arc<Vec<String>> = Arc::new(
        (0..50)
            .map(|i| format!("summer{:04}sakura!{i}", 1990 + i))
            .collect(),
    );
    let victim = |j: usize| format!("victim{j:03}@example.jp");
    println!("creating {ACCOUNTS} accounts and {MEMBERS} members…");
    for j in 0..ACCOUNTS {
        let password = if j.is_multiple_of(2) {
            dictionary[5 + (j / 2) % 45].clone()
        } else {
            format!("lantern orbit tangerine {j} unguessable")
        };
        sign_up(&app, &victim(j), &password).await;
    }
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let email = format!("member{i:02}@example.jp");
        let password = format!("quiet harbor violet engine {i}");
        let device = sign_up(&app, &email, &password).await;
        members.push(Member {
            email,
            password,
            device,
        });
    }
    // Code, welcome, password notice: three mails each so far.
    let (mut idle_pw, mut idle_code) = sample(&app, &members, 3).await;
    let mails_after_idle = 3 + PASSWORD_ROUNDS + 2; // + code and its login notice

    let hashes_before = metric(&app, "anshin_password_hashes_total").await;
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let taken = Arc::new(AtomicU64::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let attack_started = Instant::now();
    // The attacker runs on its own OS thread and runtime with its own
    // HTTPS client, as a separate process would: it does not share the
    // server's runtime workers, only the machine's two cores.
    let attacker = {
        let (stop, next, taken, throttled) =
            (stop.clone(), next.clone(), taken.clone(), throttled.clone());
        let (dictionary, cert, login_url, challenge_url) = (
            dictionary.clone(),
            app.cert_pem.clone(),
            app.url("/api/v1/login/password"),
            app.url("/api/v1/challenge"),
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let client = anshin_testkit::client_for(&cert);
                let tasks = (0..ATTACKERS).map(|_| {
                    let (stop, next, taken, throttled) = (&stop, &next, &taken, &throttled);
                    let (dictionary, client, login_url, challenge_url) =
                        (&dictionary, &client, &login_url, &challenge_url);
                    async move {
                        while !stop.load(Ordering::Relaxed) {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            if k >= MAX_ATTEMPTS {
                                return;
                            }
                            let k = k as usize;
                            let (account, guess) = (k % ACCOUNTS, (k / ACCOUNTS) % dictionary.len());
                            let ip = format!("198.51.{}.{}", 100 + k % 5, 10 + (k / 5) % 10);
                            let mut body = json!({"email": format!("victim{account:03}@example.jp"), "password": dictionary[guess]});
                            loop {
                                let res = client
                                    .post(login_url)
                                    .header("x-forwarded-for", &ip)
                                    .json(&body)
                                    .send()
                                    .await
                                    .unwrap();
                                let status = res.status();
                                let v: Value = res.json().await.unwrap_or(Value::Null);
                                if status == StatusCode::FORBIDDEN && v["error"] == "challenge_required" {
                                    body["altcha"] = json!(anshin_testkit::solve_challenge_at(client, challenge_url).await);
                                    continue;
                                }
                                if status == StatusCode::OK {
                                    taken.fetch_add(1, Ordering::Relaxed);
                                }
                                if status == StatusCode::TOO_MANY_REQUESTS {
                                    throttled.fetch_add(1, Ordering::Relaxed);
                                }
                                break;
                            }
                        }
                    }
                });
                futures_util::future::join_all(tasks).await;
            });
        })
    };
    // Let the attack build up (hashing at full speed) before sampling.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (mut attack_pw, mut attack_code) = sample(&app, &members, mails_after_idle).await;
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || attacker.join().unwrap())
        .await
        .unwrap();
    let attempts = next.load(Ordering::Relaxed).min(MAX_ATTEMPTS);
    let secs = attack_started.elapsed().as_secs_f64();
    let hashes = metric(&app, "anshin_password_hashes_total").await - hashes_before;
    println!(
        "attack: {attempts} attempts in {secs:.1} s ({:.0}/s), {} refused with 429, {} accounts taken over, {hashes} Argon2id computations (members' logins included: {})",
        attempts as f64 / secs,
        throttled.load(Ordering::Relaxed),
        taken.load(Ordering::Relaxed),
        MEMBERS * PASSWORD_ROUNDS
    );
    let rows = [
        ("password", &mut idle_pw, &mut attack_pw),
        ("code", &mut idle_code, &mut attack_code),
    ];
    println!("| login | samples | idle p50 | idle p99 | attack p50 | attack p99 | p99 ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, idle, attack) in rows {
        let (i50, i99) = pct(idle);
        let (a50, a99) = pct(attack);
        println!(
            "| {name} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} |",
            idle.len(),
            i50.as_secs_f64() * 1e3,
            i99.as_secs_f64() * 1e3,
            a50.as_secs_f64() * 1e3,
            a99.as_secs_f64() * 1e3,
            a99.as_secs_f64() / i99.as_secs_f64()
        );
    }
}

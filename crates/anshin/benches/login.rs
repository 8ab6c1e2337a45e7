//! Login throughput next to raw Argon2id, and the cost of an authenticated
//! request (issue 3, acceptance 8; issue 19, item 8). Not a test: it
//! prints figures for `bench/README.md`. Raw hashes and logins alternate
//! in rounds, so a drift of the machine's speed hits both sides alike.
//!
//! `cargo bench -p anshin --bench login` (needs PostgreSQL only if
//! `ANSHIN_BENCH_BACKEND=postgres`; needs aiosmtpd for the sign-up codes;
//! `ANSHIN_BENCH_CLIENTS=8` for more concurrent clients than 4).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anshin_testkit::reqwest::header;
use anshin_testkit::{Backend, TestApp};
use serde_json::json;

const SECS: u64 = 5;
/// Alternating rounds of raw hashes and logins, each this long.
const ROUNDS: u32 = 10;
const SLICE: Duration = Duration::from_millis(1500);
/// Concurrent HTTPS clients: 4, or `ANSHIN_BENCH_CLIENTS`.
fn clients() -> usize {
    std::env::var("ANSHIN_BENCH_CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(4)
}

/// Raw Argon2id verifications on 2 threads for `slice`: how many, and
/// how long it really took.
fn argon2_verifies(phc: &anshin_vault::PhcString, slice: Duration) -> (u64, Duration) {
    let params = anshin_vault::PasswordParams::owasp_minimum();
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (phc, done) = (phc.clone(), done.clone());
            std::thread::spawn(move || {
                // The same memory reuse as the server's hashing threads,
                // so the baseline is Argon2id at its fastest here.
                anshin_vault::keep_hash_memory_on_this_thread();
                while started.elapsed() < slice {
                    anshin_vault::verify_password(
                        b"lantern orbit tangerine seventeen",
                        &phc,
                        &params,
                    )
                    .unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    (done.load(Ordering::Relaxed), started.elapsed())
}

/// Requests from `clients()` concurrent clients for `slice`: how many
/// answered, how long it really took (in-flight requests finish), and
/// each one's latency.
async fn requests<F, Fut>(slice: Duration, make: F) -> (u64, Duration, Vec<Duration>)
where
    F: Fn() -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients() {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while started.elapsed() < slice {
                let t = Instant::now();
                if let Err(why) = make().await {
                    panic!("a request was refused: {why}");
                }
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all.len() as u64, started.elapsed(), all)
}

/// Rate, p50 and p99 of one run of `requests`.
async fn rate<F, Fut>(make: F) -> (f64, Duration, Duration)
where
    F: Fn() -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let (n, took, mut lat) = requests(Duration::from_secs(SECS), make).await;
    lat.sort();
    (
        n as f64 / took.as_secs_f64(),
        percentile(&lat, 50),
        percentile(&lat, 99),
    )
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = match std::env::var("ANSHIN_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    println!(
        "backend: {backend:?}; {} concurrent clients; logins and raw hashes in {ROUNDS} alternating rounds of {SLICE:?} each; {SECS} s per request figure",
        clients()
    );
    let app = Arc::new(
        TestApp::spawn_mail_with(backend, |s| {
            s.log.level = "warn".into();
            s.auth.max_concurrent_hashes = 2;
        })
        .await,
    );
    let email = "bench@example.jp";
    let password = "lantern orbit tangerine seventeen";
    app.member_with_password(email, password).await;
    let phc = anshin_vault::hash_password(
        password.as_bytes(),
        &anshin_vault::PasswordParams::owasp_minimum(),
        &mut anshin_core::random::Random::os().rng(),
    )
    .unwrap();

    // Raw hashes and logins alternate in short rounds: this machine's
    // speed drifts by up to a third over a minute (other tenants of the
    // host), so a raw figure taken before the logins would compare two
    // different machines. Each side sums its own rounds.
    let (mut raw_n, mut raw_t, mut login_n, mut login_t) = (0, Duration::ZERO, 0, Duration::ZERO);
    let mut latencies = Vec::new();
    for round in 1..=ROUNDS {
        let p = phc.clone();
        let (n, t) = tokio::task::spawn_blocking(move || argon2_verifies(&p, SLICE))
            .await
            .unwrap();
        raw_n += n;
        raw_t += t;
        let a = app.clone();
        let (m, u, lat) = requests(SLICE, move || {
            let a = a.clone();
            async move {
                outcome(
                    a.client
                        .post(a.url("/api/v1/login/password"))
                        .json(&json!({"email": email, "password": password}))
                        .send()
                        .await,
                )
                .await
            }
        })
        .await;
        login_n += m;
        login_t += u;
        latencies.extend(lat);
        let (r, l) = (n as f64 / t.as_secs_f64(), m as f64 / u.as_secs_f64());
        println!(
            "  round {round}: raw {r:.1}/s, logins {l:.1}/s, ratio {:.2}",
            l / r
        );
    }
    latencies.sort();
    let raw = raw_n as f64 / raw_t.as_secs_f64();
    let logins = login_n as f64 / login_t.as_secs_f64();
    println!("raw Argon2id verify (19 MiB, t=2, p=1), 2 threads: {raw:.1}/s");
    println!(
        "password logins through the server: {logins:.1}/s (p50 {:?}, p99 {:?}); ratio to raw Argon2id: {:.2}",
        percentile(&latencies, 50),
        percentile(&latencies, 99),
        logins / raw
    );

    // A session of one's own for the authenticated figure: the sign-up's
    // ended long ago (each login above made a session, and at
    // `limits.max_sessions` the least recently used end).
    let res = app
        .client
        .post(app.url("/api/v1/login/password"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let cookie = anshin_testkit::cookie_pair(
        anshin_testkit::set_cookie(&res, "__Host-anshin_session").expect("a session cookie"),
    );

    let a = app.clone();
    let (home, hp50, _) = rate(move || {
        let a = a.clone();
        async move { outcome(a.client.get(a.url("/")).send().await).await }
    })
    .await;
    let a = app.clone();
    let c = cookie.clone();
    let (me, mp50, _) = rate(move || {
        let (a, c) = (a.clone(), c.clone());
        async move {
            outcome(
                a.client
                    .get(a.url("/api/v1/me"))
                    .header(header::COOKIE, c)
                    .send()
                    .await,
            )
            .await
        }
    })
    .await;
    println!("GET / (no session): {home:.0}/s (p50 {hp50:?})");
    println!(
        "GET /api/v1/me (authenticated: session + member lookups): {me:.0}/s (p50 {mp50:?}); overhead per request: {:?}",
        mp50.saturating_sub(hp50)
    );
}

/// `Ok` for a 2xx answer; otherwise the status, the error code, the
/// `Retry-After` and the request id, so a refused login says why.
async fn outcome(
    sent: Result<anshin_testkit::reqwest::Response, anshin_testkit::reqwest::Error>,
) -> Result<(), String> {
    let res = sent.map_err(|e| format!("no answer: {e}"))?;
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let header = |name: header::HeaderName| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned()
    };
    let (retry, id) = (
        header(header::RETRY_AFTER),
        header(header::HeaderName::from_static("x-request-id")),
    );
    let path = res.url().path().to_owned();
    let body = res.text().await.unwrap_or_default();
    let code = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "-".into());
    Err(format!(
        "{status} {path}: {code} (Retry-After {retry}, request id {id})"
    ))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default()
}

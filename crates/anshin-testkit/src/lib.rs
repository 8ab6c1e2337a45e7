//! Test kit: boots a real anshin server on free ports (port 0) with a fresh
//! data directory and a fresh database, SQLite or PostgreSQL, and gives
//! tests an HTTPS client that trusts its self-signed certificate.
//!
//! Every integration test runs once per backend through [`backends!`], so
//! the same suite proves the same behaviour on both databases.

// Test support: a panic with a message is how it reports a broken setup.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod images;
pub mod localstripe;
pub mod process;
pub mod proxy;
pub mod smtp;
pub mod webauthn;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anshin::config::{DatabaseUrl, LogFormat, Settings};
use anshin::server::{Application, Shutdown};
use anshin_core::Services;
use anshin_core::clock::{Clock, ManualClock};
use anshin_domain::{Duration, Timestamp};
use anshin_store::Store;
use anshin_store_postgres::scratch::ScratchDatabase;

pub use anshin;
pub use anshin_core;
pub use reqwest;

/// One second, for moving the test clock (`app.clock.advance(61 * SECOND)`).
pub const SECOND: Duration = Duration::SECOND;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Writes one test function per backend:
/// `backends!(name, |app_backend| async body)` becomes `name::sqlite` and
/// `name::postgres`, each calling `name(Backend)`.
#[macro_export]
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                // Boxed: a journey's future is large in a debug build, and
                // on the test thread's 2 MiB stack it once overflowed.
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    Box::pin(super::$name($crate::Backend::Sqlite)).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    Box::pin(super::$name($crate::Backend::Postgres)).await;
                }
            }
        )*
    };
}

/// A running server and what a test needs to talk to it.
#[derive(Debug)]
pub struct TestApp {
    pub backend: Backend,
    /// `https://127.0.0.1:<port>`
    pub origin: String,
    pub public_addr: SocketAddr,
    pub redirect_addr: SocketAddr,
    pub ops_addr: SocketAddr,
    /// The staff console listener (`listen.staff`, port 0).
    pub staff_addr: SocketAddr,
    /// `https://127.0.0.1:<port>` of the staff console.
    pub staff_origin: String,
    /// HTTPS client trusting the server's certificate; follows no redirects
    /// and keeps no cookies (tests handle cookies explicitly).
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub store: Arc<dyn Store>,
    /// The running server's use cases (same store, keys and clock), for
    /// tests that call one directly, as a second door would.
    pub services: Services,
    /// The server's instance id (its name in job leases).
    pub instance: String,
    pub data_dir: PathBuf,
    /// The database the server uses (with password, if any): for tests
    /// that inspect raw rows.
    pub database_url: String,
    pub cert_pem: Vec<u8>,
    /// The key ring file, shared with siblings.
    pub keys_file: PathBuf,
    /// The SMTP server this app delivers to, if started with one.
    pub sink: Option<Arc<smtp::SmtpSink>>,
    shutdown: Shutdown,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: Arc<tempfile::TempDir>,
    /// The data directories of the instances this one is a sibling of:
    /// on SQLite the database file lives in the first one's, and must
    /// outlive it (a sibling's pool that opens a connection after the
    /// first stopped would find an empty file).
    _siblings_of: Vec<Arc<tempfile::TempDir>>,
    _db: Option<Arc<ScratchDatabase>>,
}

/// A mail as a test reads it back from the SMTP server.
#[derive(Debug, Clone)]
pub struct Mail {
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Parses a raw RFC 5322 message with an independent parser.
pub fn parse_mail(raw: &[u8]) -> Mail {
    let m = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a parseable mail");
    let to = m
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_owned();
    Mail {
        message_id: m.message_id().unwrap_or_default().to_owned(),
        to,
        subject: m.subject().unwrap_or_default().to_owned(),
        text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        html: m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
    }
}

/// The first run of 6 to 10 digits in a text (the one-time code).
pub fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| (6..=10).contains(&w.len()))
        .map(str::to_owned)
}

/// A fixed, recognisable start time for the manual clock (2026-01-01 UTC).
pub const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

async fn scratch_for(backend: Backend) -> Option<Arc<ScratchDatabase>> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            Some(Arc::new(ScratchDatabase::migrated().await.expect(
                "PostgreSQL for tests (start it, or set ANSHIN_TEST_POSTGRES_URL)",
            )))
        }
    }
}

/// Settings for a test server: everything on 127.0.0.1 port 0.
pub fn test_settings(data_dir: PathBuf) -> Settings {
    let mut s = Settings {
        data_dir,
        ..Settings::default()
    };
    s.listen.public = "127.0.0.1:0".parse().unwrap();
    s.listen.redirect = "127.0.0.1:0".parse().unwrap();
    s.listen.ops = "127.0.0.1:0".parse().unwrap();
    s.listen.staff = "127.0.0.1:0".parse().unwrap();
    s.log.format = LogFormat::Pretty;
    s.database.max_connections = 5;
    // A loaded CI machine can keep all five busy for a few seconds; a
    // test is about behaviour, not about the production fail-fast wait.
    s.database.acquire_timeout_secs = 30;
    // The lowest difficulty the configuration allows: tests solve many
    // challenges; the browser test solves the default one.
    s.captcha.difficulty = 1_000;
    // The weekly self-scan reads the (large) test executable and mails the
    // team: only the tests that are about it switch it on.
    s.selfscan.enabled = false;
    s
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with settings adjusted by `configure` (after the kit's own).
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let db = scratch_for(backend).await;
        Self::spawn_inner(backend, db, None, Vec::new(), configure).await
    }

    /// Spawns with mail delivered over real SMTP to a fresh local server.
    pub async fn spawn_mail(backend: Backend) -> Self {
        Self::spawn_mail_with(backend, |_| {}).await
    }

    pub async fn spawn_mail_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let sink = Arc::new(smtp::SmtpSink::start());
        let db = scratch_for(backend).await;
        Self::spawn_inner(backend, db, Some(sink), Vec::new(), configure).await
    }

    /// A second instance on the same database, key ring and mail server,
    /// as behind a load balancer.
    pub async fn sibling(&self) -> Self {
        self.sibling_with(|_| {}).await
    }

    /// A sibling whose settings `configure` adjusts after the shared ones
    /// (for example its own copy of the key ring file).
    pub async fn sibling_with(&self, configure: impl FnOnce(&mut Settings)) -> Self {
        let url = self.database_url.clone();
        let keys = self.keys_file.clone();
        Self::spawn_inner(
            self.backend,
            self._db.clone(),
            self.sink.clone(),
            self._siblings_of
                .iter()
                .cloned()
                .chain([self._dir.clone()])
                .collect(),
            move |s| {
                s.database.url = Some(DatabaseUrl::parse(&url).unwrap());
                s.keys.file = Some(keys);
                configure(s);
            },
        )
        .await
    }

    async fn spawn_inner(
        backend: Backend,
        db: Option<Arc<ScratchDatabase>>,
        sink: Option<Arc<smtp::SmtpSink>>,
        siblings_of: Vec<Arc<tempfile::TempDir>>,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = test_settings(dir.path().to_owned());
        if let Some(db) = &db {
            settings.database.url = Some(DatabaseUrl::parse(db.url()).unwrap());
        }
        if let Some(sink) = &sink {
            settings.mail.transport = anshin_core::mail::TransportKind::Smtp;
            settings.mail.smtp.host = "127.0.0.1".into();
            settings.mail.smtp.port = sink.port;
            settings.mail.smtp.tls = anshin_core::mail::SmtpTls::None;
            // A transient failure is retried after a backoff measured on
            // the test's clock, which stands still: on a machine busy with
            // builds a 10 s timeout once left a mail undelivered for good.
            settings.mail.smtp.timeout_secs = 30;
        }
        configure(&mut settings);
        let keys_file = settings.keys_file();
        let database_url = settings.database_url().expose().to_owned();
        let clock = ManualClock::new(T0);
        let app = Application::build(settings, Arc::new(clock.clone()) as Arc<dyn Clock>)
            .await
            .expect("server builds");
        let origin = app.origin().to_owned();
        let (public_addr, redirect_addr, ops_addr) =
            (app.public_addr(), app.redirect_addr(), app.ops_addr());
        let staff_addr = app.staff_addr();
        let staff_origin = app.staff_origin().to_owned();
        let store = app.store();
        let services = app.services();
        let instance = app.instance().to_owned();
        let cert_pem = std::fs::read(&app.cert_resolver().files().cert).unwrap();
        let shutdown = Shutdown::new();
        let handle = tokio::spawn(app.run(shutdown.clone()));
        Self {
            backend,
            client: client_for(&cert_pem),
            origin,
            public_addr,
            redirect_addr,
            ops_addr,
            staff_addr,
            staff_origin,
            clock,
            store,
            services,
            instance,
            data_dir: dir.path().to_owned(),
            database_url,
            cert_pem,
            keys_file,
            sink,
            shutdown,
            handle: Some(handle),
            _dir: Arc::new(dir),
            _siblings_of: siblings_of,
            _db: db,
        }
    }

    /// The PostgreSQL schema this app's tables live in (the test kit gives
    /// each app a schema of its own in a shared database): what
    /// `pg_dump --schema` wants. `None` on SQLite.
    pub fn database_schema(&self) -> Option<&str> {
        self._db.as_deref().map(ScratchDatabase::schema)
    }

    /// Absolute URL of a path on the HTTPS site.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Follows a form's `303 See Other` as a browser does: asserts the
    /// redirect goes to `to`, then GETs it with `cookie` plus the flash
    /// cookie the redirect set (if any). Returns the page's status and
    /// HTML; the page shows the flash (tests compare it to the catalog).
    pub async fn follow(
        &self,
        res: reqwest::Response,
        to: &str,
        cookie: &str,
    ) -> (reqwest::StatusCode, String) {
        assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER, "a redirect");
        assert_eq!(res.headers()[reqwest::header::LOCATION], to);
        let mut cookies = vec![cookie.to_owned()];
        if let Some(f) = set_cookie(&res, "__Host-anshin_flash") {
            cookies.push(cookie_pair(f));
        }
        let page = self
            .client
            .get(self.url(to))
            .header(reqwest::header::COOKIE, cookies.join("; "))
            .send()
            .await
            .expect("GET after redirect");
        let status = page.status();
        (status, page.text().await.unwrap_or_default())
    }

    /// Absolute URL of a path on the staff console.
    pub fn staff_url(&self, path: &str) -> String {
        format!("{}{path}", self.staff_origin)
    }

    /// The staff console's origin at a domain name, where passkeys work
    /// (browsers refuse WebAuthn on an IP address): `https://localhost:<port>`.
    pub fn staff_passkey_origin(&self) -> String {
        format!("https://localhost:{}", self.staff_addr.port())
    }

    /// Absolute URL on the ops listener.
    pub fn ops_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.ops_addr)
    }

    /// Waits (up to 30 s: a CI machine running four suites at once on two
    /// cores once needed more than 15 for a delivery to a busy SMTP server)
    /// until `n` mails to `to` arrived; returns all mails to `to`, oldest
    /// first.
    /// Without an SMTP server ([`TestApp::spawn`]) the mails are read from
    /// this instance's outbox files (the site's default delivery).
    pub async fn mails_to(&self, to: &str, n: usize) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let mut mails: Vec<Mail> = self
                .raw_mails()
                .iter()
                .map(|m| parse_mail(m))
                .filter(|m| m.to == to)
                .collect();
            if mails.len() >= n {
                mails.sort_by(|a, b| a.message_id.cmp(&b.message_id));
                return mails;
            }
            if tokio::time::Instant::now() >= deadline {
                // What this instance's outbox holds tells a mail still
                // queued (e.g. a retry waiting on the test's clock, which
                // stands still) from one sent but not received.
                let mut outbox = Vec::new();
                for status in [
                    anshin_domain::MailStatus::Pending,
                    anshin_domain::MailStatus::Sent,
                    anshin_domain::MailStatus::Failed,
                ] {
                    match self.store.mail().count_by_status(status).await {
                        Ok(count) => outbox.push(format!("{count} {status:?}")),
                        Err(e) => outbox.push(format!("{status:?} unknown ({e})")),
                    }
                }
                // And what the SMTP sink holds: every message's
                // recipient (test addresses only), and whether it runs.
                let sink = self.sink.as_ref().map_or_else(String::new, |sink| {
                    let to: Vec<String> =
                        sink.messages().iter().map(|m| parse_mail(m).to).collect();
                    format!("; the SMTP sink: {}, holding {to:?}", sink.state())
                });
                panic!(
                    "expected {n} mails to {to}, got {}; this server's outbox: {}{sink}",
                    mails.len(),
                    outbox.join(", ")
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Every mail delivered so far: the SMTP server's, or the outbox
    /// directory's finished files (written under a temporary name and
    /// renamed, so a file is never read half-written).
    fn raw_mails(&self) -> Vec<Vec<u8>> {
        if let Some(sink) = &self.sink {
            return sink.messages();
        }
        std::fs::read_dir(self.data_dir.join("mail").join("outbox"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .filter_map(|p| std::fs::read(p).ok())
            .collect()
    }

    /// The code in the newest mail to `to`, waiting for the `n`th mail.
    pub async fn code_for(&self, to: &str, n: usize) -> String {
        let mails = self.mails_to(to, n).await;
        let last = mails.last().expect("a mail");
        code_in(&last.text).expect("a code in the mail")
    }

    /// Logs an existing member in once more, by e-mailed code through the
    /// API (another browser); returns that session's cookie. Uses one of
    /// the address's code requests (5 per window).
    pub async fn log_in_again(&self, email: &str) -> String {
        let before = self.mails_to(email, 0).await.len();
        let res = self
            .client
            .post(self.url("/api/v1/login/code"))
            .json(&serde_json::json!({"email": email, "altcha": self.solve_challenge().await}))
            .send()
            .await
            .expect("code request");
        let flow = expect_status(res, reqwest::StatusCode::ACCEPTED, "code request").await;
        // The newest mail after `before` that holds a code (a login notice
        // of an earlier login may arrive in between).
        let mut n = before + 1;
        let code = loop {
            let mails = self.mails_to(email, n).await;
            if let Some(code) = mails[before..].iter().rev().find_map(|m| code_in(&m.text)) {
                break code;
            }
            n += 1;
        };
        let res = self
            .client
            .post(self.url("/api/v1/login/code/verify"))
            .json(&serde_json::json!({"flow_id": flow["flow_id"], "code": code}))
            .send()
            .await
            .expect("code verify");
        let session = set_cookie(&res, "__Host-anshin_session").map(cookie_pair);
        expect_status(res, reqwest::StatusCode::OK, "code verify").await;
        session.expect("a session cookie")
    }

    /// Fetches a bot challenge and solves it as the widget does (SHA-256
    /// brute force); returns the `altcha` field value.
    pub async fn solve_challenge(&self) -> String {
        solve_challenge_at(&self.client, &self.url("/api/v1/challenge")).await
    }

    /// Signs `email` up through the API (accepting the terms of use):
    /// `POST /api/v1/signup`, the code
    /// in the address's mail number `mails_before + 1`, then
    /// `POST /api/v1/signup/verify`. Leaves 2 more mails (code, welcome).
    pub async fn sign_up(&self, email: &str, display_name: &str, mails_before: usize) -> SignedUp {
        let res = self
            .client
            .post(self.url("/api/v1/signup"))
            .json(&serde_json::json!({"email": email, "display_name": display_name, "accept_terms": true, "altcha": self.solve_challenge().await}))
            .send()
            .await
            .expect("sign-up request");
        let flow = expect_status(res, reqwest::StatusCode::ACCEPTED, "sign-up request").await;
        let code = self.code_for(email, mails_before + 1).await;
        let res = self
            .client
            .post(self.url("/api/v1/signup/verify"))
            .json(&serde_json::json!({"flow_id": flow["flow_id"], "code": code}))
            .send()
            .await
            .expect("sign-up verify");
        let session = set_cookie(&res, "__Host-anshin_session").map(cookie_pair);
        let device = set_cookie(&res, "__Host-anshin_device").map(cookie_pair);
        expect_status(res, reqwest::StatusCode::CREATED, "sign-up verify").await;
        SignedUp {
            session: session.expect("a session cookie"),
            device: device.expect("a device cookie"),
        }
    }

    /// [`TestApp::sign_up`] (as the first mails to `email`), then sets
    /// `password`. Leaves 3 mails: code, welcome, password notice.
    pub async fn member_with_password(&self, email: &str, password: &str) -> SignedUp {
        let member = self.sign_up(email, "Member", 0).await;
        member.set_password(self, password).await;
        member
    }

    /// A counter or gauge without labels from the ops listener's
    /// `/metrics` (for example `anshin_password_hashes_total`).
    pub async fn metric(&self, name: &str) -> u64 {
        let text = reqwest::get(self.ops_url("/metrics"))
            .await
            .expect("/metrics")
            .text()
            .await
            .expect("/metrics body");
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not in /metrics"))
            .parse()
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// A second core on this server's database, key ring and clock, with
    /// its own challenge settings and counters (as another instance would
    /// have): for calling the bot-challenge use case directly.
    pub fn core_with_captcha(&self, captcha: anshin_core::challenge::CaptchaSettings) -> Services {
        use anshin_core::Parts;
        anshin::tls::install_default_provider();
        let random = anshin_core::random::Random::os();
        let keys = anshin_core::keys::Keys::load_or_create(&self.keys_file, &random).unwrap();
        let mut settings = self.services.settings.clone();
        let verifier = Arc::new(anshin::siteverify::HttpSiteVerifier::new(&captcha).unwrap());
        settings.captcha = captcha;
        let passwords =
            anshin_core::accounts::password::Passwords::new(vault_minimum(), 1, &random).unwrap();
        Services::new(Parts {
            store: self.store.clone(),
            keys: Arc::new(keys),
            clock: Arc::new(self.clock.clone()) as Arc<dyn Clock>,
            random,
            passwords,
            letters: self.services.letters.clone(),
            metrics: Default::default(),
            challenges: anshin_core::challenge::Challenges::new(verifier),
            media: self.services.media.clone(),
            processor: self.services.processor.clone(),
            settings,
        })
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            h.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn vault_minimum() -> anshin_vault::PasswordParams {
    anshin_vault::PasswordParams::owasp_minimum()
}

/// Fetches a bot challenge from `url` with `client` and solves it as the
/// widget does (SHA-256 brute force); returns the `altcha` field value.
pub async fn solve_challenge_at(client: &reqwest::Client, url: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let c: serde_json::Value = client.get(url).send().await.unwrap().json().await.unwrap();
    let salt = c["salt"].as_str().unwrap();
    let target = c["challenge"].as_str().unwrap();
    let max = c["maxnumber"].as_u64().unwrap();
    let number = (0..=max)
        .find(|n| hex::encode(sha2::Sha256::digest(format!("{salt}{n}"))) == target)
        .expect("a solution up to maxnumber");
    let json = serde_json::json!({
        "algorithm": c["algorithm"], "challenge": target, "number": number,
        "salt": salt, "signature": c["signature"],
    });
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

/// An HTTPS client that trusts exactly this certificate.
pub fn client_for(cert_pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// Collects every log line of this test process (all servers it runs), so
/// tests can prove that secrets and personal data never reach the logs.
#[derive(Debug, Clone, Copy)]
struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = LOGS.lock() {
            logs.extend_from_slice(buf);
        }
        if std::env::var_os("ANSHIN_TEST_LOG").is_some() {
            eprint!("{}", String::from_utf8_lossy(buf));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged so far by servers in this test process.
pub fn captured_logs() -> String {
    LOGS.lock()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default()
}

/// Installs the capturing subscriber once: JSON lines at debug level for
/// anshin, as production would write them (but more verbose).
fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info,anshin=debug")
        .json()
        .with_writer(|| Capture)
        .try_init();
}

/// A browser that has just signed up: its cookies as `name=value`.
#[derive(Debug, Clone)]
pub struct SignedUp {
    pub session: String,
    pub device: String,
}

impl SignedUp {
    /// Sets the member's password (`PUT /api/v1/me/password`).
    pub async fn set_password(&self, app: &TestApp, password: &str) {
        let res = app
            .client
            .put(app.url("/api/v1/me/password"))
            .header(reqwest::header::COOKIE, &self.session)
            .json(&serde_json::json!({"password": password}))
            .send()
            .await
            .expect("password request");
        expect_status(res, reqwest::StatusCode::NO_CONTENT, "set password").await;
    }
}

/// The response's JSON body (`Null` if none), after asserting its status;
/// a wrong status fails with the body, which says why.
async fn expect_status(
    res: reqwest::Response,
    want: reqwest::StatusCode,
    what: &str,
) -> serde_json::Value {
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert_eq!(status, want, "{what}: {body}");
    serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
}

/// The value of the cookie `name` among a response's `Set-Cookie` headers.
pub fn set_cookie<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// `name=value` of a `Set-Cookie` header, ready for a `Cookie` header.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or("").to_owned()
}

//! Test kit: boots a real anshin server on free ports (port 0) with a fresh
//! data directory and a fresh database, SQLite or PostgreSQL, and gives
//! tests an HTTPS client that trusts its self-signed certificate.
//!
//! Every integration test runs once per backend through [`backends!`], so
//! the same suite proves the same behaviour on both databases.

// Test support: a panic with a message is how it reports a broken setup.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod process;
pub mod proxy;
pub mod smtp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anshin::clock::{Clock, ManualClock};
use anshin::config::{DatabaseUrl, LogFormat, Settings};
use anshin::server::{Application, Shutdown};
use anshin_store::Store;
use anshin_store_postgres::scratch::ScratchDatabase;

pub use anshin;
pub use reqwest;

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
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await;
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
    /// HTTPS client trusting the server's certificate; follows no redirects
    /// and keeps no cookies (tests handle cookies explicitly).
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub store: Arc<dyn Store>,
    pub data_dir: PathBuf,
    /// The database the server uses (with password, if any): for tests
    /// that inspect raw rows.
    pub database_url: String,
    pub cert_pem: Vec<u8>,
    shutdown: Shutdown,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
    _db: Option<ScratchDatabase>,
}

/// A fixed, recognisable start time for the manual clock (2026-01-01 UTC).
pub const T0: i64 = 1_767_225_600_000_000;

/// Settings for a test server: everything on 127.0.0.1 port 0.
pub fn test_settings(data_dir: PathBuf) -> Settings {
    let mut s = Settings {
        data_dir,
        ..Settings::default()
    };
    s.listen.public = "127.0.0.1:0".parse().unwrap();
    s.listen.redirect = "127.0.0.1:0".parse().unwrap();
    s.listen.ops = "127.0.0.1:0".parse().unwrap();
    s.log.format = LogFormat::Pretty;
    s.database.max_connections = 5;
    s
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with settings adjusted by `configure` (after the kit's own).
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = test_settings(dir.path().to_owned());
        let db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let db = ScratchDatabase::create()
                    .await
                    .expect("PostgreSQL for tests (start it, or set ANSHIN_TEST_POSTGRES_URL)");
                settings.database.url = Some(DatabaseUrl::parse(db.url()).unwrap());
                Some(db)
            }
        };
        configure(&mut settings);
        let database_url = settings.database_url().expose().to_owned();
        let clock = ManualClock::new(T0);
        let app = Application::build(settings, Arc::new(clock.clone()) as Arc<dyn Clock>)
            .await
            .expect("server builds");
        let origin = app.origin().to_owned();
        let (public_addr, redirect_addr, ops_addr) =
            (app.public_addr(), app.redirect_addr(), app.ops_addr());
        let store = app.store();
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
            clock,
            store,
            data_dir: dir.path().to_owned(),
            database_url,
            cert_pem,
            shutdown,
            handle: Some(handle),
            _dir: dir,
            _db: db,
        }
    }

    /// Absolute URL of a path on the HTTPS site.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Absolute URL on the ops listener.
    pub fn ops_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.ops_addr)
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

/// An HTTPS client that trusts exactly this certificate.
pub fn client_for(cert_pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs go to the test's captured output when `ANSHIN_TEST_LOG` is set.
fn init_logging() {
    if let Ok(filter) = std::env::var("ANSHIN_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
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

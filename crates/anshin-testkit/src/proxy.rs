//! A TCP proxy the test can cut and restore, to make a real database
//! unreachable without stopping the shared server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct CuttableProxy {
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    /// Cancelling ends every proxied connection (and is renewed on cut).
    generation: Arc<std::sync::Mutex<CancellationToken>>,
}

impl CuttableProxy {
    /// Listens on 127.0.0.1:0 and forwards to `target` while open.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            addr: listener.local_addr().unwrap(),
            open: Arc::new(AtomicBool::new(true)),
            generation: Arc::new(std::sync::Mutex::new(CancellationToken::new())),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !p.open.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let cancel = p.generation.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cancel.cancelled() => {}
                    }
                });
            }
        });
        proxy
    }

    /// Refuses new connections and kills the existing ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        let mut g = self.generation.lock().unwrap();
        g.cancel();
        *g = CancellationToken::new();
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// A proxy to the tests' PostgreSQL server (`ANSHIN_TEST_POSTGRES_URL`,
    /// or the scratch default), for a test that takes it out of reach.
    pub async fn to_test_postgres() -> Self {
        let admin = std::env::var("ANSHIN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| anshin_store_postgres::scratch::DEFAULT_ADMIN_URL.to_owned());
        let server = url::Url::parse(&admin)
            .unwrap_or_else(|e| panic!("ANSHIN_TEST_POSTGRES_URL is not a URL: {e}"));
        let target = format!(
            "{}:{}",
            server
                .host_str()
                .expect("ANSHIN_TEST_POSTGRES_URL names a host (a TCP server, not a socket)"),
            server.port().unwrap_or(5432)
        );
        let addr = tokio::net::lookup_host(&target)
            .await
            .ok()
            .and_then(|mut found| found.next())
            .unwrap_or_else(|| panic!("the PostgreSQL host {target} does not resolve"));
        Self::start(addr).await
    }

    /// Sends the server's database connections (as `settings` name them)
    /// through this proxy: for [`crate::TestApp::spawn_with`].
    pub fn carry(&self, settings: &mut anshin::config::Settings) {
        let direct = settings
            .database
            .url
            .as_ref()
            .expect("a PostgreSQL test app has a database URL")
            .expose()
            .to_owned();
        let mut url = url::Url::parse(&direct).expect("the test database URL parses");
        url.set_port(Some(self.addr.port()))
            .and_then(|()| url.set_host(Some("127.0.0.1")).map_err(|_| ()))
            .expect("the test database URL takes a host and port");
        settings.database.url = Some(
            anshin::config::DatabaseUrl::parse(url.as_str())
                .expect("the proxied database URL is valid"),
        );
    }
}

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
}

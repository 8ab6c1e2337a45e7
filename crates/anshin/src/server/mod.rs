//! The running server: three listeners (HTTPS site, HTTP redirect, ops),
//! slow-client limits, certificate reload and graceful shutdown.
//!
//! `Application::build` does everything that can fail (configuration,
//! certificate, database, binding ports) before `run` serves, so a
//! misconfigured instance exits at once with a clear message. Port 0 binds
//! a free port, which is how tests run many servers side by side.
//!
//! Slow clients (slowloris and friends): the TLS handshake, the request
//! head and each idle keep-alive period are bounded by timeouts, a whole
//! request by `http.request_timeout_secs`, and bodies by the body limit.
//! A body refused before it was read is drained for a bounded while
//! ([`drain`]), so the refusal reaches the client on HTTP/1.1 and HTTP/2.

mod drain;
pub mod protocol_errors;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anshin_core::accounts::password::Passwords;
use anshin_core::challenge::Challenges;
use anshin_core::clock::{Clock, SystemClock};
use anshin_core::i18n::Catalogs;
use anshin_core::jobs::{JobStats, Runner};
use anshin_core::keys::Keys;
use anshin_core::mail::compose::Letters;
use anshin_core::random::Random;
use anshin_core::{Parts, Services};
use anshin_store::{Store, StoreError};
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::config::Settings;
use crate::tls::{self, CertFiles, CertResolver, CertSource};
use crate::web::{self, AppState};

/// A server ready to run: configuration checked, ports bound, database open.
#[derive(Debug)]
pub struct Application {
    state: AppState,
    public: TcpListener,
    redirect: TcpListener,
    ops: TcpListener,
    staff: TcpListener,
    public_addr: SocketAddr,
    staff_addr: SocketAddr,
    /// The staff console's origin (`https://host:port`).
    staff_origins: (String, Vec<String>),
    redirect_addr: SocketAddr,
    ops_addr: SocketAddr,
    resolver: Arc<CertResolver>,
    tls_config: Arc<rustls::ServerConfig>,
    /// Background work of this instance (mail, purges, attack level).
    runner: Runner,
    /// Signs audit checkpoints on a schedule (a job of `runner`) and once
    /// more at shutdown.
    checkpointer: Arc<anshin_core::audit::checkpoint::Checkpointer>,
    jobs: Arc<JobStats>,
    instance: String,
}

/// Starts a shutdown: cancel it (SIGTERM does) and the server stops
/// accepting, lets in-flight requests finish within the grace period, and
/// `run` returns.
pub type Shutdown = CancellationToken;

/// The legal notice and the contact form need the operator's real
/// details: say which keys still hold the embedded default's placeholders
/// (the keys only; the values are never logged).
fn warn_of_placeholders(settings: &Settings) {
    let unset = settings.operator.placeholders();
    if !unset.is_empty() {
        tracing::warn!(
            keys = %unset.join(", "),
            "operator details are placeholders: the legal notice (/legal/tokushoho) shows them and \
             contact messages go to operator.support_email; set them in [operator] \
             (env ANSHIN_OPERATOR__<KEY>) before opening the site"
        );
    }
}

impl Application {
    /// Builds with the operating system's randomness.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::build_with(settings, clock, Random::os()).await
    }

    /// Builds with the given clock and randomness (tests inject both).
    pub async fn build_with(
        settings: Settings,
        clock: Arc<dyn Clock>,
        random: Random,
    ) -> anyhow::Result<Self> {
        tls::install_default_provider();
        std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create data dir {}: {e}",
                settings.data_dir.display()
            )
        })?;

        let source = match (&settings.tls.cert, &settings.tls.key) {
            (Some(cert), Some(key)) => CertSource::Configured(CertFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => CertSource::Generated {
                data_dir: settings.data_dir.clone(),
            },
        };
        // A certificate's validity is judged by browsers against their own
        // clocks, so it is dated by the real clock, never the injected one
        // (a test's clock stands in the past: a certificate dated by it
        // would have run out for every client).
        let resolver = Arc::new(CertResolver::new(
            source,
            SystemClock.now(),
            Arc::new(tls::provider()),
        )?);
        let tls_config = Arc::new(tls::server_config(resolver.clone())?);

        // Before the database: a missing rule set stops the start at once.
        let waf = web::common::waf::load(&settings)?;

        let store = crate::db::open(&settings).await?;
        let keys = Arc::new(Keys::load(&settings.keys, &settings.data_dir, &random)?);
        migrate_or_wait(store.clone(), keys.clone()).await?;
        let passwords = Passwords::new(
            settings.auth.password_params()?,
            settings.auth.max_concurrent_hashes,
            &random,
        )?;

        let bind = |addr: SocketAddr, what: &'static str| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} ({what}): {e}"))
        };
        let public = bind(settings.listen.public, "listen.public").await?;
        let redirect = bind(settings.listen.redirect, "listen.redirect").await?;
        let ops = bind(settings.listen.ops, "listen.ops").await?;
        let staff = bind(settings.listen.staff, "listen.staff").await?;
        let staff_addr = staff.local_addr()?;
        let staff_origins = match &settings.staff.base_url {
            Some(url) => {
                let o = url.origin().ascii_serialization();
                (o.clone(), vec![o])
            }
            None => derived_origins(staff_addr),
        };
        let public_addr = public.local_addr()?;
        let redirect_addr = redirect.local_addr()?;
        let ops_addr = ops.local_addr()?;

        let (origin, accepted_origins) = match &settings.site.base_url {
            Some(url) => {
                let o = url.origin().ascii_serialization();
                (o.clone(), vec![o])
            }
            None => derived_origins(public_addr),
        };
        let transport =
            anshin_core::mail::transport_from_settings(&settings.mail, &settings.data_dir)
                .map_err(|e| anyhow::anyhow!("mail: {e}"))?;
        let from = settings
            .mail
            .from_mailbox()
            .map_err(|e| anyhow::anyhow!("mail.from_address: {e}"))?;
        let outbox = anshin_core::mail::outbox::Outbox {
            store: store.clone(),
            keys: keys.clone(),
            transport,
            from,
            clock: clock.clone(),
        };
        let verifier = Arc::new(crate::siteverify::HttpSiteVerifier::new(&settings.captcha)?);
        let catalogs = Arc::new(Catalogs::load()?);
        let media = crate::media::store_from_settings(&settings.media, &settings.data_dir)
            .map_err(|e| anyhow::anyhow!("media: {e}"))?;
        let processor: Arc<dyn anshin_core::payments::PaymentProcessor> =
            match crate::stripe::StripeProcessor::from_settings(&settings.payments)? {
                Some(p) => Arc::new(p),
                None => Arc::new(anshin_core::payments::NoProcessor),
            };
        let core = Services::new(Parts {
            store,
            keys,
            clock,
            random,
            passwords,
            letters: Letters {
                catalogs: catalogs.clone(),
                origin: origin.clone(),
            },
            metrics: Arc::new(anshin_core::metrics::Metrics::default()),
            challenges: Challenges::new(verifier),
            media,
            processor,
            settings: settings.core(),
        });
        let instance = instance_id(&core);
        anshin_core::audit::record_start(
            &core,
            &instance,
            env!("CARGO_PKG_VERSION"),
            &settings.effective_toml()?,
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot record the start in the audit log: {e}"))?;
        let checkpointer = Arc::new(anshin_core::audit::checkpoint::Checkpointer::new(
            core.clone(),
            Arc::new(settings.audit_signer(&core.random)?),
            settings.audit.witness_dir(&settings.data_dir),
            settings
                .audit
                .security_email
                .as_deref()
                .and_then(anshin_domain::EmailAddress::parse),
            Duration::from_secs(settings.audit.checkpoint_every_secs),
            anshin_domain::Duration::from_secs(settings.jobs.lease_secs),
        ));
        let runner = anshin_core::background::marketplace_runner(
            &core,
            outbox,
            &settings.jobs,
            instance.clone(),
        )
        .with(checkpointer.clone())
        .with(Arc::new(anshin_core::retention::RetentionJob {
            svc: core.clone(),
            settings: settings.retention.clone(),
            lease: anshin_domain::Duration::from_secs(settings.jobs.lease_secs),
        }));
        let jobs = runner.stats();
        let runner = if settings.alerts.enabled {
            let hook: Option<Arc<dyn anshin_core::monitoring::AlertHook>> =
                match &settings.alerts.webhook_url {
                    Some(url) => Some(Arc::new(crate::alerting::WebhookSender::new(url)?)),
                    None => None,
                };
            if settings.alerts.security_team.is_empty() {
                tracing::warn!(
                    "alerts.security_team is empty: alerts are kept, audited and shown in the \
                     console, but mailed to nobody"
                );
            }
            let probe: Arc<dyn anshin_core::monitoring::Probe> =
                Arc::new(crate::alerting::ServerProbe {
                    waf: waf.clone(),
                    certs: resolver.clone(),
                });
            // Every instance adds its counts to the shared tallies; the
            // alert job (one instance at a time) reads every instance's.
            let tally = Arc::new(anshin_core::monitoring::Tally::new(
                core.clone(),
                probe.clone(),
                jobs.clone(),
            ));
            let runner = match (&hook, &settings.alerts.webhook_secret) {
                (Some(hook), Some(secret)) => {
                    runner.with(Arc::new(anshin_core::monitoring::WebhookJob {
                        svc: core.clone(),
                        hook: hook.clone(),
                        secret: secret.clone(),
                        every: Duration::from_secs(settings.alerts.every_secs),
                    }))
                }
                _ => runner,
            };
            runner
                .with(Arc::new(anshin_core::monitoring::TallyJob {
                    tally: tally.clone(),
                    every: Duration::from_secs(settings.alerts.every_secs),
                }))
                .with(Arc::new(anshin_core::monitoring::AlertJob::new(
                    core.clone(),
                    settings.alerts.clone(),
                    probe,
                    hook,
                    tally,
                    anshin_domain::Duration::from_secs(settings.jobs.lease_secs),
                )))
        } else {
            runner
        };
        // The witness directory exists from the start, so the self-scan
        // reports it missing only when it was removed or cannot be made.
        let witness = settings.audit.witness_dir(&settings.data_dir);
        if let Err(e) = std::fs::create_dir_all(&witness) {
            tracing::warn!(error = %e, "cannot create the audit witness directory");
        }
        let runner = if settings.selfscan.enabled {
            if settings.selfscan.advisory_db.is_none() {
                tracing::warn!(
                    "selfscan.advisory_db is unset: the weekly self-scan reports that it has \
                     no advisory database"
                );
            }
            runner.with(Arc::new(anshin_core::selfscan::SelfScanJob {
                svc: core.clone(),
                settings: settings.selfscan.clone(),
                scanner: Arc::new(crate::selfscan::ServerScan {
                    settings: settings.clone(),
                    binary: None,
                }),
                team: settings.alerts.team(),
                lang: settings.alerts.language,
                lease: anshin_domain::Duration::from_secs(settings.jobs.lease_secs),
            }))
        } else {
            runner
        };
        tracing::info!(instance = %instance, "instance id (job lease holder)");
        warn_of_placeholders(&settings);
        let state = AppState::new(web::Inner {
            settings: Arc::new(settings),
            core,
            catalogs,
            assets: web::common::assets::Assets::new(),
            origin,
            accepted_hosts: web::common::head::Hosts::from_origins(&accepted_origins),
            accepted_origins,
            waf,
        });
        Ok(Self {
            state,
            public,
            redirect,
            ops,
            staff,
            public_addr,
            staff_addr,
            staff_origins,
            redirect_addr,
            ops_addr,
            resolver,
            tls_config,
            runner,
            checkpointer,
            jobs,
            instance,
        })
    }

    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    pub fn redirect_addr(&self) -> SocketAddr {
        self.redirect_addr
    }

    pub fn ops_addr(&self) -> SocketAddr {
        self.ops_addr
    }

    pub fn staff_addr(&self) -> SocketAddr {
        self.staff_addr
    }

    /// `https://host:port` of the staff console (enrolment links).
    pub fn staff_origin(&self) -> &str {
        &self.staff_origins.0
    }

    /// `https://host:port` of the site.
    pub fn origin(&self) -> &str {
        &self.state.origin
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.state.core.store.clone()
    }

    /// This instance's id: its name in job leases and on `/healthz`.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The use cases, as the site's handlers call them (for tests that
    /// drive a use case directly).
    pub fn services(&self) -> Services {
        self.state.core.clone()
    }

    pub fn cert_resolver(&self) -> Arc<CertResolver> {
        self.resolver.clone()
    }

    /// Serves until `shutdown` is cancelled, then drains and returns.
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let settings = self.state.settings.clone();
        let grace = Duration::from_secs(settings.http.shutdown_grace_secs);
        let limits = Limits {
            handshake: Duration::from_secs(settings.http.tls_handshake_timeout_secs),
            header: Duration::from_secs(settings.http.header_timeout_secs),
        };
        let tracker = TaskTracker::new();
        let site = web::router(self.state.clone());
        let redirect = redirect_router(self.state.origin.clone());
        let console = web::console::router(web::console::ConsoleState::new(
            self.state.clone(),
            self.staff_origins.0.clone(),
            self.staff_origins.1.clone(),
        ));
        let ops = crate::ops::router(crate::ops::OpsState {
            site: self.state.clone(),
            jobs: self.jobs.clone(),
            instance: self.instance.clone(),
            certs: self.resolver.clone(),
        });

        tracing::info!("listening on https://{}", self.public_addr);
        tracing::info!(
            "listening on http://{} (redirects to HTTPS)",
            self.redirect_addr
        );
        tracing::info!(
            "listening on http://{} (ops: /healthz, /readyz)",
            self.ops_addr
        );
        tracing::info!(
            "listening on https://{} (staff console; networks {:?})",
            self.staff_addr,
            settings.staff.allowed_networks
        );

        let acceptor = TlsAcceptor::from(self.tls_config.clone());
        let jobs = tracker.spawn(self.runner.run(shutdown.clone()));
        let certificates = tracker.spawn(check_certificate_daily(
            self.resolver.clone(),
            shutdown.clone(),
        ));
        // hyper's own answers on the site are sent as the site's (with
        // HSTS, a request id and the generic page); the plain-HTTP
        // listeners keep them as they are.
        let state = self.state.clone();
        let dress: protocol_errors::Render =
            Arc::new(move |status| web::common::errors::protocol_error(&state, status));
        tokio::join!(
            serve(
                self.public,
                Some(acceptor),
                Some(dress),
                site,
                limits,
                shutdown.clone(),
                tracker.clone()
            ),
            serve(
                self.redirect,
                None,
                None,
                redirect,
                limits,
                shutdown.clone(),
                tracker.clone()
            ),
            serve(
                self.ops,
                None,
                None,
                ops,
                limits,
                shutdown.clone(),
                tracker.clone()
            ),
            serve(
                self.staff,
                Some(TlsAcceptor::from(self.tls_config.clone())),
                None,
                console,
                limits,
                shutdown.clone(),
                tracker.clone()
            ),
        );
        drop(jobs);
        drop(certificates);
        tracker.close();
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: finishing in-flight requests"
        );
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!("grace period over; closing remaining connections");
        }
        // The last checkpoint: what this instance recorded leaves the box
        // before it stops.
        if let Err(e) = self.checkpointer.checkpoint().await {
            tracing::error!(error = %e, "audit checkpoint at shutdown failed");
        }
        self.state.core.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Applies migrations. If the database is down (PostgreSQL restarting),
/// the server still starts, reports not-ready, and keeps trying in the
/// background; any other migration failure stops the start.
async fn migrate_or_wait(store: Arc<dyn Store>, keys: Arc<Keys>) -> anyhow::Result<()> {
    match store.migrate().await {
        Ok(()) => Ok(keys.check_against(store.as_ref()).await?),
        Err(StoreError::Unavailable(e)) => {
            tracing::warn!(error = %e, "database unavailable at start; will retry migrations");
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    match store.migrate().await {
                        Ok(()) => {
                            tracing::info!("database reachable; migrations applied");
                            if let Err(e) = keys.check_against(store.as_ref()).await {
                                // Writing with the wrong ring would make data
                                // unreadable: stop rather than serve.
                                tracing::error!(error = %e, "key ring check failed; exiting");
                                std::process::exit(1);
                            }
                            break;
                        }
                        Err(e) => tracing::warn!(error = %e, "migrations still pending"),
                    }
                }
            });
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

/// The origin when `site.base_url` is unset: the public listener's address,
/// with both loopback spellings accepted for a local listener.
pub(crate) fn derived_origins(public: SocketAddr) -> (String, Vec<String>) {
    let port = match public.port() {
        443 => String::new(),
        p => format!(":{p}"),
    };
    let ip = public.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        let primary = if ip.is_ipv4() && !ip.is_unspecified() {
            format!("https://127.0.0.1{port}")
        } else {
            format!("https://localhost{port}")
        };
        let all = vec![
            primary.clone(),
            format!("https://localhost{port}"),
            format!("https://127.0.0.1{port}"),
            format!("https://[::1]{port}"),
        ];
        (primary, dedup(all))
    } else {
        let host = match ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        let o = format!("https://{host}{port}");
        (o.clone(), vec![o])
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = Vec::new();
    v.retain(|o| {
        let new = !seen.contains(o);
        seen.push(o.clone());
        new
    });
    v
}

/// Plain HTTP answers every request with a 301 to the same path and query
/// on the HTTPS origin. The target host comes from configuration, never
/// from the request's Host header, so it cannot be turned into an open
/// redirect.
fn redirect_router(origin: String) -> Router {
    Router::new().fallback(move |req: Request| {
        let origin = origin.clone();
        async move {
            let pq = req
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned();
            // 301 as the contract says (not 308): browsers turn a redirected
            // POST into a GET, so no form data is re-sent in clear.
            match http::HeaderValue::from_str(&format!("{origin}{pq}")) {
                Ok(location) => (
                    http::StatusCode::MOVED_PERMANENTLY,
                    [(http::header::LOCATION, location)],
                )
                    .into_response(),
                Err(_) => http::StatusCode::BAD_REQUEST.into_response(),
            }
        }
    })
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    handshake: Duration,
    header: Duration,
}

/// Accepts connections until shutdown; each connection is a task in
/// `tracker`, told to finish gracefully when shutdown starts.
async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    dress: Option<protocol_errors::Render>,
    app: Router,
    limits: Limits,
    shutdown: Shutdown,
    tracker: TaskTracker,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let dress = dress.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            match tls {
                Some(acceptor) => {
                    let handshake = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        r = tokio::time::timeout(limits.handshake, acceptor.accept(tcp)) => r,
                    };
                    match handshake {
                        Ok(Ok(stream)) => {
                            let stream = protocol_errors::Dressed::new(stream, dress);
                            serve_connection(stream, peer, app, limits, shutdown).await
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
                None => serve_connection(tcp, peer, app, limits, shutdown).await,
            }
        });
    }
}

async fn serve_connection<IO>(
    io: IO,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    shutdown: Shutdown,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        // An early answer must reach the client: the unread rest of
        // the body is drained, not dropped (see `drain`).
        let expect_continue = drain::expects_continue(req.headers());
        let mut req = req.map(|b| axum::body::Body::new(drain::Drained::new(b, expect_continue)));
        req.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move { app.oneshot(req).await }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header)
        // Heads beyond this get hyper's 431, dressed as ours.
        .max_buf_size(web::common::head::MAX_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header))
        .keep_alive_timeout(limits.header)
        .max_concurrent_streams(64)
        // h2's own refusal is a bare 431 (see `protocol_errors`): keep it
        // above ours, which `web::common::head` answers in full.
        .max_header_list_size(2 * web::common::head::MAX_BYTES as u32);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// This instance's id: the process id and 32 random bits (unique among
/// instances sharing a database, readable in logs).
fn instance_id(core: &Services) -> String {
    let mut bytes = [0u8; 4];
    core.random.fill(&mut bytes);
    format!("{}-{}", std::process::id(), hex::encode(bytes))
}

/// How often a running server looks at its certificate's validity.
const CERTIFICATE_CHECK: Duration = Duration::from_secs(12 * 3600);

/// Renews the generated certificate when fewer than 30 days are left (a
/// server may run longer than a certificate lives), and warns about an
/// operator's that runs out soon; until shutdown.
async fn check_certificate_daily(resolver: Arc<CertResolver>, shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(CERTIFICATE_CHECK) => {}
        }
        if let Err(e) = resolver.renew_if_due(SystemClock.now()) {
            tracing::error!(error = %e, "certificate renewal failed; keeping the old one");
        }
    }
}

/// Installs the signal handlers at once, and returns what waits on them:
/// it resolves when the process should stop (SIGTERM or Ctrl-C), and
/// reloads the certificate on every SIGHUP meanwhile (renewing the
/// generated one first if it is due). Installed before the listeners say
/// they listen: a SIGHUP that came before would end the process (its
/// default action), which a spawned task polled late allowed under load.
pub fn handle_signals(
    resolver: Arc<CertResolver>,
    shutdown: Shutdown,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
    );
    async move { wait_for_signals(handlers, resolver, shutdown).await }
}

type Handlers = (
    std::io::Result<tokio::signal::unix::Signal>,
    std::io::Result<tokio::signal::unix::Signal>,
    std::io::Result<tokio::signal::unix::Signal>,
);

async fn wait_for_signals(handlers: Handlers, resolver: Arc<CertResolver>, shutdown: Shutdown) {
    let (Ok(mut term), Ok(mut hup), Ok(mut int)) = handlers else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM received"); break; }
            _ = int.recv() => { tracing::info!("SIGINT received"); break; }
            _ = hup.recv() => match resolver.refresh(SystemClock.now()) {
                Ok(()) => tracing::info!(
                    cert = %resolver.files().cert.display(),
                    "SIGHUP: certificate reloaded"
                ),
                Err(e) => tracing::error!(error = %e, "SIGHUP: certificate reload failed; keeping the old one"),
            },
        }
    }
    shutdown.cancel();
}

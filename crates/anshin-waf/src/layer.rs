//! The tower layer: puts a [`RuleSet`] in front of any HTTP service.
//!
//! It buffers the request body (never more than its configured limit),
//! turns the request into an engine [`Request`], evaluates it, and then, by
//! [`Mode`], answers with the caller's refusal response (`Block`), or hands
//! the *same* bytes on to the inner service (`Detect`, or `Block` when
//! nothing decided to block). `Off` does nothing at all, not even buffering.
//!
//! It knows nothing of the application: the client address comes from a
//! caller-supplied function over the request's extensions, and the refusal
//! response from another (so the application renders its own error page).
//!
//! Logging: every match is one `tracing` event with the rule id, the
//! variable *name*, the phase and the request's anomaly score. Matched
//! values are never logged (they may be personal data: a name, an address,
//! a password typed into the wrong field).
//!
//! Where evaluation runs: requests without a body, or with a body of at most
//! [`WafConfig::inline_body_bytes`] (default 2 KiB), are evaluated inline on
//! the async worker: measured at PL1 they take well under 1 ms (a GET with a
//! query is ~0.1–0.3 ms, a 1 KB form ~0.5 ms). Larger bodies can take
//! several milliseconds (rules × values: a 100-field 7.5 kB form takes about
//! 3–4 ms), which would stall other connections on the same worker, so they
//! go to tokio's blocking pool.
//!
//! Time per request is bounded: the body is capped here, the regex engine
//! runs in linear time, and the few backtracking patterns have a step limit
//! (see `pcre.rs`); `tests/redos.rs` checks pathological inputs.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Version};
use http_body::Body as HttpBody;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use crate::{EngineMode, Request, RuleSet, Verdict};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the layer does with a request the rules would block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Refuse it with the caller's response.
    #[default]
    Block,
    /// Log and count, then let it through.
    Detect,
    /// Do not inspect at all.
    Off,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Block => "block",
            Mode::Detect => "detect",
            Mode::Off => "off",
        }
    }
}

/// Why the layer refused a request; passed to the caller's response
/// function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The rules decided to block (usually CRS rule 949110, anomaly score
    /// over the threshold), with the status the rule asked for.
    Blocked {
        /// Status the rule set asked for (403 for the CRS).
        status: u16,
        /// The rule that decided.
        rule_id: u64,
    },
    /// The body is larger than [`WafConfig::body_limit_bytes`].
    BodyTooLarge,
    /// The body could not be read (client went away, or a transport error).
    BodyUnreadable,
}

/// Settings of the layer.
#[derive(Clone, Debug)]
pub struct WafConfig {
    /// See [`Mode`].
    pub mode: Mode,
    /// Most body bytes read and inspected; a larger body is refused with
    /// [`Refusal::BodyTooLarge`] in every mode but `Off`. Keep it equal to
    /// (or below) the application's own body limit.
    pub body_limit_bytes: usize,
    /// Bodies up to this size are evaluated on the async worker; larger
    /// ones on the blocking pool (see the module documentation).
    pub inline_body_bytes: usize,
}

impl Default for WafConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Block,
            body_limit_bytes: 1024 * 1024,
            inline_body_bytes: 2 * 1024,
        }
    }
}

/// Counts for monitoring: requests inspected, refused, and matches per rule
/// id. Lock-free on the hot path once a rule id has been seen.
#[derive(Debug, Default)]
pub struct Counters {
    inspected: AtomicU64,
    blocked: AtomicU64,
    would_block: AtomicU64,
    body_refused: AtomicU64,
    per_rule: RwLock<HashMap<u64, AtomicU64>>,
}

/// A copy of the [`Counters`] at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// Requests evaluated.
    pub inspected: u64,
    /// Requests refused by the rules (mode `Block`).
    pub blocked: u64,
    /// Requests the rules would have refused but were let through (mode
    /// `Detect`).
    pub would_block: u64,
    /// Requests refused because the body was too large or unreadable.
    pub body_refused: u64,
    /// Matches per rule id (a rule counts once per request it matched).
    pub per_rule: BTreeMap<u64, u64>,
}

impl Counters {
    /// A consistent-enough copy for a metrics endpoint or a log line.
    pub fn snapshot(&self) -> CountersSnapshot {
        let per_rule = self
            .per_rule
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, n)| (*id, n.load(Ordering::Relaxed)))
            .collect();
        CountersSnapshot {
            inspected: self.inspected.load(Ordering::Relaxed),
            blocked: self.blocked.load(Ordering::Relaxed),
            would_block: self.would_block.load(Ordering::Relaxed),
            body_refused: self.body_refused.load(Ordering::Relaxed),
            per_rule,
        }
    }

    fn count_rule(&self, id: u64) {
        {
            let map = self.per_rule.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = map.get(&id) {
                n.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut map = self
            .per_rule
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.entry(id)
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// Finds the client address of a request in its extensions (e.g. axum's
/// `ConnectInfo<SocketAddr>`).
pub type RemoteAddrFn = Arc<dyn Fn(&http::Extensions) -> Option<IpAddr> + Send + Sync>;

/// The shared part of every [`WafService`]: rules, settings, counters.
pub struct Waf {
    rules: Arc<RuleSet>,
    config: WafConfig,
    counters: Arc<Counters>,
    remote_addr: RemoteAddrFn,
}

impl fmt::Debug for Waf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waf")
            .field("rules", &self.rules.rule_count())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Waf {
    /// A WAF over `rules`. The client address is unknown (`0.0.0.0`) until
    /// [`Waf::with_remote_addr`] says where to find it.
    /// In `Detect` mode the rule set runs in DetectionOnly, so that a rule
    /// that would deny early does not hide the later matches from the log.
    pub fn new(rules: Arc<RuleSet>, config: WafConfig) -> Self {
        let rules = if config.mode == Mode::Detect && rules.mode() == EngineMode::On {
            let mut r = (*rules).clone();
            r.set_mode(EngineMode::DetectionOnly);
            Arc::new(r)
        } else {
            rules
        };
        Self {
            rules,
            config,
            counters: Arc::new(Counters::default()),
            remote_addr: Arc::new(|_| None),
        }
    }

    /// How to find the client address in a request's extensions.
    pub fn with_remote_addr(
        mut self,
        f: impl Fn(&http::Extensions) -> Option<IpAddr> + Send + Sync + 'static,
    ) -> Self {
        self.remote_addr = Arc::new(f);
        self
    }

    /// The counters, to share with a monitoring endpoint.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// The mode in effect.
    pub fn mode(&self) -> Mode {
        self.config.mode
    }

    /// Evaluates one engine request, logs and counts its matches, and says
    /// whether to refuse it. Exposed so that callers without tower (and
    /// tests) get the same logging and counting.
    pub fn inspect(&self, req: &Request) -> Option<Refusal> {
        let verdict = self.rules.evaluate(req);
        self.record(&verdict)
    }

    fn record(&self, v: &Verdict) -> Option<Refusal> {
        let c = &self.counters;
        c.inspected.fetch_add(1, Ordering::Relaxed);
        let mode = self.config.mode.as_str();
        let mut seen = Vec::with_capacity(v.matches.len());
        for m in &v.matches {
            // The variable name is the client's choice (an argument name):
            // keep it short in the log. The value is never logged.
            let variable: String = m.variable_name.chars().take(120).collect();
            tracing::warn!(
                target: "anshin_waf",
                rule_id = m.rule_id,
                variable = %variable,
                phase = m.phase,
                anomaly_score = v.anomaly_score,
                mode,
                "waf rule matched"
            );
            if !seen.contains(&m.rule_id) {
                seen.push(m.rule_id);
                c.count_rule(m.rule_id);
            }
        }
        let decided = v.disruptive.clone().or_else(|| v.would_interrupt.clone())?;
        match self.config.mode {
            Mode::Block => {
                c.blocked.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    target: "anshin_waf",
                    rule_id = decided.rule_id,
                    status = decided.status,
                    anomaly_score = v.anomaly_score,
                    "waf blocked request"
                );
                Some(Refusal::Blocked {
                    status: decided.status,
                    rule_id: decided.rule_id,
                })
            }
            Mode::Detect | Mode::Off => {
                c.would_block.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    target: "anshin_waf",
                    rule_id = decided.rule_id,
                    status = decided.status,
                    anomaly_score = v.anomaly_score,
                    "waf would block request (detect mode)"
                );
                None
            }
        }
    }
}

/// Adds a [`WafService`] around a service. `respond` builds the response
/// for a refused request from the [`Refusal`] and the request's head (so
/// it can choose HTML or JSON, a language, and find a request id).
pub struct WafLayer<F> {
    waf: Arc<Waf>,
    respond: F,
}

impl<F: Clone> Clone for WafLayer<F> {
    fn clone(&self) -> Self {
        Self {
            waf: self.waf.clone(),
            respond: self.respond.clone(),
        }
    }
}

impl<F> fmt::Debug for WafLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WafLayer").field("waf", &self.waf).finish()
    }
}

impl<F> WafLayer<F> {
    /// A layer for `waf`; `respond` turns a [`Refusal`] (and the request
    /// head) into the response.
    pub fn new(waf: Arc<Waf>, respond: F) -> Self {
        Self { waf, respond }
    }
}

impl<S, F: Clone> tower::Layer<S> for WafLayer<F> {
    type Service = WafService<S, F>;
    fn layer(&self, inner: S) -> Self::Service {
        WafService {
            inner,
            waf: self.waf.clone(),
            respond: self.respond.clone(),
        }
    }
}

/// See [`WafLayer`].
pub struct WafService<S, F> {
    inner: S,
    waf: Arc<Waf>,
    respond: F,
}

impl<S: Clone, F: Clone> Clone for WafService<S, F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            waf: self.waf.clone(),
            respond: self.respond.clone(),
        }
    }
}

impl<S, F> fmt::Debug for WafService<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WafService")
            .field("waf", &self.waf)
            .finish_non_exhaustive()
    }
}

impl<S, F, B, R> tower::Service<http::Request<B>> for WafService<S, F>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    F: Fn(Refusal, &http::request::Parts) -> http::Response<R> + Clone + Send + Sync + 'static,
    B: HttpBody<Data = Bytes> + From<Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    R: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // The clone is the one that was polled ready; `self` keeps a fresh
        // one (the usual tower pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let waf = self.waf.clone();
        let respond = self.respond.clone();
        Box::pin(async move {
            if waf.config.mode == Mode::Off {
                return inner.call(req).await;
            }
            let (parts, body) = req.into_parts();
            let bytes = match read_body(body, &parts.headers, waf.config.body_limit_bytes).await {
                Ok(b) => b,
                Err(refusal) => {
                    waf.counters.body_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(target: "anshin_waf", ?refusal, "waf refused request body");
                    return Ok(respond(refusal, &parts));
                }
            };
            let engine_req = engine_request(&parts, &bytes, &waf.remote_addr);
            let refusal = if bytes.len() <= waf.config.inline_body_bytes {
                waf.inspect(&engine_req)
            } else {
                let w = waf.clone();
                // Keep the caller's span (request id) on the log lines.
                let span = tracing::Span::current();
                match tokio::task::spawn_blocking(move || span.in_scope(|| w.inspect(&engine_req)))
                    .await
                {
                    Ok(r) => r,
                    // The evaluation panicked (it must not): fail closed.
                    Err(e) => {
                        tracing::error!(target: "anshin_waf", error = %e, "waf evaluation failed");
                        Some(Refusal::Blocked {
                            status: 403,
                            rule_id: 0,
                        })
                    }
                }
            };
            match refusal {
                Some(r) => Ok(respond(r, &parts)),
                None => {
                    inner
                        .call(http::Request::from_parts(parts, B::from(bytes)))
                        .await
                }
            }
        })
    }
}

/// Reads at most `limit` bytes of body.
async fn read_body<B>(body: B, headers: &http::HeaderMap, limit: usize) -> Result<Bytes, Refusal>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Refusal::BodyTooLarge);
    }
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            // An outer limit layer reports its own LengthLimitError through
            // the body: the same answer.
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e.as_ref());
            while let Some(c) = cause {
                if c.is::<LengthLimitError>() {
                    return Err(Refusal::BodyTooLarge);
                }
                cause = c.source();
            }
            Err(Refusal::BodyUnreadable)
        }
    }
}

/// The engine's view of a request. HTTP/2 has no `Host` header (only the
/// `:authority` pseudo-header): it is added from the URI, as a proxy in
/// front of ModSecurity would, so CRS rule 920280 does not misfire.
fn engine_request(parts: &http::request::Parts, body: &Bytes, remote: &RemoteAddrFn) -> Request {
    let uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let protocol = match parts.version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    };
    let mut headers: Vec<(String, Vec<u8>)> = Vec::with_capacity(parts.headers.len() + 1);
    if !parts.headers.contains_key(http::header::HOST)
        && let Some(auth) = parts.uri.authority()
    {
        headers.push(("Host".into(), auth.as_str().as_bytes().to_vec()));
    }
    for (name, value) in &parts.headers {
        headers.push((
            name.as_str().to_owned(),
            HeaderValue::as_bytes(value).to_vec(),
        ));
    }
    let remote_addr = remote(&parts.extensions)
        .map_or_else(|| "0.0.0.0".to_owned(), |ip| ip.to_canonical().to_string());
    Request {
        method: parts.method.as_str().to_owned(),
        uri,
        protocol: protocol.to_owned(),
        headers,
        remote_addr,
        body: body.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use http_body_util::Full;
    use std::path::Path;
    use std::sync::Mutex;
    use tower::{Layer as _, ServiceExt as _};

    const RULES: &str = r#"
SecRuleEngine On
SecRequestBodyAccess On
SecRule ARGS "@rx attack" "id:10,phase:2,deny,status:403,msg:'attack'"
SecRule ARGS "@rx notice" "id:11,phase:2,pass,log,msg:'just log'"
SecRule REMOTE_ADDR "@ipMatch 192.0.2.7" "id:12,phase:1,deny,status:403"
SecRule &REQUEST_HEADERS:Host "@eq 0" "id:13,phase:1,deny,status:400"
"#;

    fn waf(mode: Mode, limit: usize) -> Arc<Waf> {
        let rs = RuleSet::from_str(RULES, Path::new(".")).unwrap();
        Arc::new(
            Waf::new(
                Arc::new(rs),
                WafConfig {
                    mode,
                    body_limit_bytes: limit,
                    inline_body_bytes: 16,
                },
            )
            .with_remote_addr(|ext| ext.get::<IpAddr>().copied()),
        )
    }

    type Seen = Arc<Mutex<Vec<Bytes>>>;

    /// An inner service that records the bodies it receives and answers 200.
    fn echo(
        seen: Seen,
    ) -> impl tower::Service<
        http::Request<Full<Bytes>>,
        Response = http::Response<String>,
        Error = Infallible,
        Future = impl Send,
    > + Clone {
        tower::service_fn(move |req: http::Request<Full<Bytes>>| {
            let seen = seen.clone();
            async move {
                let b = req.into_body().collect().await.unwrap().to_bytes();
                seen.lock().unwrap().push(b);
                Ok::<_, Infallible>(http::Response::new("inner".to_owned()))
            }
        })
    }

    fn refuse(r: Refusal, _parts: &http::request::Parts) -> http::Response<String> {
        let status = match r {
            Refusal::Blocked { status, .. } => status,
            Refusal::BodyTooLarge => 413,
            Refusal::BodyUnreadable => 400,
        };
        let mut res = http::Response::new(format!("refused {r:?}"));
        *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
        res
    }

    fn post(body: &'static str) -> http::Request<Full<Bytes>> {
        http::Request::post("/form")
            .header("host", "shop.example")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    }

    async fn call(w: Arc<Waf>, seen: Seen, req: http::Request<Full<Bytes>>) -> (u16, String) {
        let svc = WafLayer::new(w, refuse).layer(echo(seen));
        let res = svc.oneshot(req).await.unwrap();
        (res.status().as_u16(), res.into_body())
    }

    #[tokio::test]
    async fn block_mode_refuses_with_callers_response_and_skips_inner() {
        let w = waf(Mode::Block, 1024);
        let seen = Seen::default();
        let (status, body) = call(w.clone(), seen.clone(), post("q=attack")).await;
        assert_eq!(status, 403);
        assert!(body.starts_with("refused Blocked"), "{body}");
        assert!(seen.lock().unwrap().is_empty(), "inner service never ran");
        let snap = w.counters().snapshot();
        assert_eq!((snap.inspected, snap.blocked, snap.would_block), (1, 1, 0));
        assert_eq!(snap.per_rule.get(&10), Some(&1));
    }

    #[tokio::test]
    async fn benign_request_reaches_inner_with_body_unchanged() {
        let w = waf(Mode::Block, 1024);
        let seen = Seen::default();
        // Longer than inline_body_bytes (16): evaluated on the blocking pool.
        let body = "name=O%27Reilly&note=%E3%81%93%E3%82%93%E3%81%AB%E3%81%A1%E3%81%AF";
        let (status, _) = call(w.clone(), seen.clone(), post(body)).await;
        assert_eq!(status, 200);
        assert_eq!(seen.lock().unwrap().as_slice(), &[Bytes::from(body)]);
        // A short one, evaluated inline.
        let (status, _) = call(w.clone(), seen.clone(), post("a=b")).await;
        assert_eq!(status, 200);
        assert_eq!(seen.lock().unwrap()[1], Bytes::from("a=b"));
        assert_eq!(w.counters().snapshot().inspected, 2);
    }

    #[tokio::test]
    async fn detect_mode_passes_and_counts() {
        let w = waf(Mode::Detect, 1024);
        let seen = Seen::default();
        let (status, _) = call(w.clone(), seen.clone(), post("q=attack")).await;
        assert_eq!(status, 200);
        assert_eq!(seen.lock().unwrap().as_slice(), &[Bytes::from("q=attack")]);
        let snap = w.counters().snapshot();
        assert_eq!((snap.blocked, snap.would_block), (0, 1));
        assert_eq!(snap.per_rule.get(&10), Some(&1));
        // A logging-only rule counts without a would-block.
        let (status, _) = call(w.clone(), seen.clone(), post("q=notice")).await;
        assert_eq!(status, 200);
        let snap = w.counters().snapshot();
        assert_eq!((snap.would_block, snap.per_rule.get(&11)), (1, Some(&1)));
    }

    #[tokio::test]
    async fn off_mode_does_not_inspect() {
        let w = waf(Mode::Off, 4);
        let seen = Seen::default();
        // Over the body limit too: Off does not even buffer.
        let (status, _) = call(w.clone(), seen.clone(), post("q=attack")).await;
        assert_eq!(status, 200);
        assert_eq!(w.counters().snapshot(), CountersSnapshot::default());
    }

    #[tokio::test]
    async fn body_over_the_limit_is_refused_without_reading_more() {
        let w = waf(Mode::Block, 8);
        let seen = Seen::default();
        // Declared length over the limit.
        let (status, body) = call(w.clone(), seen.clone(), post("q=0123456789")).await;
        assert_eq!((status, body.as_str()), (413, "refused BodyTooLarge"));
        // No declared length (a stream): the limit stops the reading. The
        // stream below would yield more chunks forever if read on.
        let chunks = futures_util::stream::iter(std::iter::repeat_with(|| {
            Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(b"aaaa")))
        }));
        let endless = http_body_util::StreamBody::new(chunks);
        let svc = WafLayer::new(w.clone(), refuse).layer(tower::service_fn(
            |_req: http::Request<EndlessBody>| async {
                Ok::<_, Infallible>(http::Response::new("inner".to_owned()))
            },
        ));
        let req = http::Request::post("/")
            .header("host", "x")
            .body(EndlessBody(Box::pin(endless)))
            .unwrap();
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), 413);
        assert!(seen.lock().unwrap().is_empty());
        assert_eq!(w.counters().snapshot().body_refused, 2);
    }

    /// A body type for the endless stream, with the `From<Bytes>` the layer
    /// needs to hand a buffered body on.
    struct EndlessBody(Pin<Box<dyn HttpBody<Data = Bytes, Error = Infallible> + Send + 'static>>);
    impl From<Bytes> for EndlessBody {
        fn from(b: Bytes) -> Self {
            EndlessBody(Box::pin(Full::new(b)))
        }
    }
    impl HttpBody for EndlessBody {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            self.0.as_mut().poll_frame(cx)
        }
    }

    #[tokio::test]
    async fn remote_address_comes_from_the_callers_function() {
        let w = waf(Mode::Block, 1024);
        let seen = Seen::default();
        let mut req = post("a=b");
        req.extensions_mut()
            .insert("192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(call(w.clone(), seen.clone(), req).await.0, 403);
        let mut req = post("a=b");
        req.extensions_mut()
            .insert("192.0.2.8".parse::<IpAddr>().unwrap());
        assert_eq!(call(w, seen, req).await.0, 200);
    }

    #[tokio::test]
    async fn http2_authority_becomes_the_host_header() {
        let w = waf(Mode::Block, 1024);
        let seen = Seen::default();
        let req = http::Request::get("https://shop.example/?a=b")
            .version(Version::HTTP_2)
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(call(w.clone(), seen.clone(), req).await.0, 200);
        // Without authority or Host, rule 13 sees no Host.
        let req = http::Request::get("/?a=b")
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(call(w, seen, req).await.0, 400);
    }
}

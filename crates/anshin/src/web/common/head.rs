//! What a request head must be before anything reads it: at most
//! [`MAX_BYTES`], counted as HTTP/2 counts a header list (RFC 7541 §4.1:
//! name, value and 32 bytes per field, the request line included), and
//! naming this site as its host.
//!
//! The host: a request names its target host once, in the one `Host`
//! field (HTTP/1.1), in the request target (absolute form) or in
//! `:authority` (HTTP/2). It must name one of [`Hosts`], the configured
//! `site.base_url` or, without one, the loopback spellings of the local
//! listener (the origins the CSRF check accepts). Links and redirects are
//! made from the configuration only; this check keeps a request for
//! another name (DNS rebinding, a shared certificate, a misrouted proxy)
//! from being served at all. The statuses, and why (docs/adr/0002):
//! - 400 `invalid_host`: no host at all, two `Host` fields, a value that
//!   is not a host[:port] (userinfo included), or a `Host` that differs
//!   from the request target's or `:authority`'s: a malformed request
//!   (RFC 9112 §3.2, RFC 9113 §8.3.1);
//! - 421 `misdirected_request`: a well-formed request for a host (or
//!   scheme) this server does not serve (RFC 9110 §7.4, §15.5.20); a
//!   browser that coalesced connections retries on a fresh one.
//!
//! hyper enforces the same limit itself on HTTP/1.1 (its read buffer), and
//! its answer is dressed as ours by `server::protocol_errors`. On HTTP/2
//! the h2 crate's own limit is set to twice this one, because its refusal
//! is a bare 431 we cannot rewrite: a head between the two is refused here
//! with the generic 431, request id and security headers.
//!
//! What an attacker tries (tests in `tests/api/http_edges.rs`): a huge
//! cookie or header over HTTP/2 → 431 with the generic body; two `Host`
//! fields, none, one with userinfo, or one that contradicts the target →
//! 400; another host in `Host`, in an absolute-form target or in
//! `:authority`, our host on another port, or `http:` → 421.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header;
use http::uri::Authority;

use super::errors::{ErrorCode, WebError};
use crate::web::AppState;

/// The largest request head, in bytes: 64 KiB.
pub const MAX_BYTES: usize = 64 * 1024;

/// RFC 7541's per-field overhead.
const FIELD_OVERHEAD: usize = 32;

pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check_head(&state.accepted_hosts, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check_head(hosts: &Hosts, req: &Request) -> Result<(), WebError> {
    if size(req) > MAX_BYTES {
        return Err(WebError::HeadersTooLarge);
    }
    if req.uri().scheme_str().is_some_and(|s| s != "https") {
        return Err(WebError::Misdirected);
    }
    let target = target_host(req)?;
    if !hosts.0.contains(&target) {
        return Err(WebError::Misdirected);
    }
    Ok(())
}

/// The hosts this site answers for, as (lowercase host, port).
#[derive(Debug, Clone, Default)]
pub struct Hosts(Vec<(String, u16)>);

impl Hosts {
    /// The hosts of `origins` (`https://host[:port]`, as the CSRF check
    /// accepts them).
    pub fn from_origins(origins: &[String]) -> Self {
        Self(
            origins
                .iter()
                .filter_map(|o| url::Url::parse(o).ok())
                .filter_map(|u| {
                    let host = u.host_str()?.to_ascii_lowercase();
                    Some((host, u.port_or_known_default()?))
                })
                .collect(),
        )
    }
}

/// The one host the request names (see the module docs for the rules).
fn target_host(req: &Request) -> Result<(String, u16), WebError> {
    let invalid = || WebError::BadRequest(ErrorCode::InvalidHost);
    let mut fields = req.headers().get_all(header::HOST).iter();
    let field = fields.next();
    if fields.next().is_some() {
        return Err(invalid());
    }
    let field = field
        .map(|v| parse_host(v.as_bytes()).ok_or_else(invalid))
        .transpose()?;
    let target = req
        .uri()
        .authority()
        .map(|a| parse_host(a.as_str().as_bytes()).ok_or_else(invalid))
        .transpose()?;
    match (target, field) {
        (Some(t), Some(f)) if t != f => Err(invalid()),
        (Some(h), _) | (None, Some(h)) => Ok(h),
        (None, None) => Err(invalid()),
    }
}

/// `host[:port]` as (lowercase host, port; 443 when absent or empty).
fn parse_host(raw: &[u8]) -> Option<(String, u16)> {
    if raw.contains(&b'@') {
        return None;
    }
    let a = Authority::try_from(raw).ok()?;
    if a.host().is_empty() {
        return None;
    }
    Some((a.host().to_ascii_lowercase(), a.port_u16().unwrap_or(443)))
}

/// The head's size as an HTTP/2 header list: the pseudo-fields (method,
/// scheme, authority, path) and every field.
fn size(req: &Request) -> usize {
    let uri = req.uri();
    let pseudo = [
        req.method().as_str().len(),
        uri.scheme_str().map_or(0, str::len),
        uri.authority().map_or(0, |a| a.as_str().len()),
        uri.path_and_query().map_or(0, |pq| pq.as_str().len()),
    ];
    let fields = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + FIELD_OVERHEAD);
    pseudo
        .iter()
        .map(|n| n + FIELD_OVERHEAD)
        .chain(fields)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> Hosts {
        Hosts::from_origins(&[
            "https://127.0.0.1:8443".to_owned(),
            "https://localhost:8443".to_owned(),
            "https://[::1]:8443".to_owned(),
            "https://shop.example".to_owned(),
        ])
    }

    fn head(uri: &str, hosts: &[&str]) -> Result<(), WebError> {
        let mut b = Request::builder().uri(uri);
        for h in hosts {
            b = b.header(header::HOST, *h);
        }
        check_head(&ours(), &b.body(axum::body::Body::empty()).unwrap())
    }

    fn verdict(r: Result<(), WebError>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(WebError::BadRequest(ErrorCode::InvalidHost)) => "400",
            Err(WebError::Misdirected) => "421",
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_our_hosts_are_served() {
        for (uri, hosts, want) in [
            ("/", &["127.0.0.1:8443"][..], "ok"),
            ("/", &["LocalHost:8443"], "ok"),
            ("/", &["[::1]:8443"], "ok"),
            ("/", &["shop.example"], "ok"),
            ("/", &["shop.example:443"], "ok"),
            ("/", &["shop.example:"], "ok"),
            ("https://shop.example/a", &[], "ok"),
            ("https://shop.example/a", &["shop.example"], "ok"),
            ("/", &[], "400"),
            ("/", &["shop.example", "shop.example"], "400"),
            ("/", &["user@shop.example"], "400"),
            ("/", &["shop.example/x"], "400"),
            ("/", &[""], "400"),
            ("https://shop.example/", &["evil.example"], "400"),
            ("https://evil.example/", &["shop.example"], "400"),
            ("/", &["evil.example"], "421"),
            ("/", &["shop.example.evil.example"], "421"),
            ("/", &["shop.example:8443"], "421"),
            ("/", &["127.0.0.1"], "421"),
            ("/", &["shop.example."], "421"),
            ("https://evil.example/", &[], "421"),
            ("https://evil.example/", &["evil.example"], "421"),
            ("http://shop.example/", &["shop.example"], "421"),
        ] {
            assert_eq!(verdict(head(uri, hosts)), want, "{uri} {hosts:?}");
        }
    }

    #[test]
    fn counts_like_an_http2_header_list() {
        let req = Request::builder()
            .uri("https://shop.example/a?b=c")
            .header("x-a", "12345")
            .body(axum::body::Body::empty())
            .unwrap();
        // GET, https, shop.example, /a?b=c, then x-a: 12345.
        assert_eq!(size(&req), (3 + 5 + 12 + 6 + 4 * 32) + (3 + 5 + 32));
    }
}

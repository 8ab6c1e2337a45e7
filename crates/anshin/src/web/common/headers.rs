//! Security headers on every response of the public site, set in one
//! place (the responses hyper would write itself get them too, through
//! `server::protocol_errors`). Each one, and why:
//! - `Strict-Transport-Security` (RFC 6797): browsers use HTTPS only, for
//!   two years, subdomains included (C1).
//! - `Content-Security-Policy` (CSP Level 3): scripts, styles and
//!   everything else only from this origin, no inline code, no framing, no
//!   plugins, forms post only here; an injected `<script>` cannot run.
//! - `X-Content-Type-Options: nosniff`: no MIME sniffing of responses.
//! - `Referrer-Policy: strict-origin-when-cross-origin`: other sites see at
//!   most our origin, never a path. (`no-referrer` would make browsers send
//!   `Origin: null` on our own form posts, which the CSRF check refuses.)
//! - `Permissions-Policy`: no camera, microphone, location, sensors.
//! - `Cross-Origin-Opener-Policy` / `Cross-Origin-Resource-Policy`:
//!   same-origin, against cross-window and Spectre-style leaks.
//! - `Cache-Control: no-store` unless a route set its own: pages may hold
//!   personal data and must not stay in shared or browser caches. Only
//!   content-hashed static assets are cacheable.
//!
//! See <https://owasp.org/www-project-secure-headers/>.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self'; \
manifest-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; \
object-src 'none'; upgrade-insecure-requests";

pub const HSTS: &str = "max-age=63072000; includeSubDomains";

const PERMISSIONS: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
magnetometer=(), microphone=(), payment=(), usb=()";

const FIXED: &[(HeaderName, &str)] = &[
    (header::STRICT_TRANSPORT_SECURITY, HSTS),
    (header::CONTENT_SECURITY_POLICY, CSP),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    set(res.headers_mut());
    res
}

/// Puts the headers above on a response; also used for the responses
/// made below the router (`server::protocol_errors`).
pub fn set(h: &mut HeaderMap) {
    for (name, value) in FIXED {
        // A route that set a stricter CSP keeps it (the media route's
        // `default-src 'none'; sandbox`); every other response gets ours.
        if *name == header::CONTENT_SECURITY_POLICY && h.contains_key(name) {
            continue;
        }
        h.insert(name.clone(), HeaderValue::from_static(value));
    }
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    // No version or software name: nothing for an attacker to match
    // against vulnerability lists.
    h.remove(header::SERVER);
    h.remove(HeaderName::from_static("x-powered-by"));
}

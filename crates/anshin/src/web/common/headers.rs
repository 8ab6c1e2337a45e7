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
//! One page widens the CSP, and only it: the card payment page, which
//! loads the processor's script and lets it frame and connect to the
//! processor (C15). Its handler puts [`ProcessorOrigins`] on the response;
//! [`security_headers`] then adds those origins, and nothing else, to
//! `script-src`, `frame-src` and `connect-src` (the origins come from
//! `payments.js_url`, `payments.api_base` and `payments.extra_origins`,
//! checked at start; never from a request). Every other page keeps
//! [`CSP`] as it is.
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

/// The origins (`scheme://host[:port]`) of the card processor, for the
/// one page that shows its card element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorOrigins(pub Vec<String>);

/// [`CSP`] with `origins` added to `script-src`, `frame-src` and
/// `connect-src` only. An origin that is not plain `scheme://host[:port]`
/// is left out. A plain-HTTP origin (localstripe on loopback, tests only:
/// the configuration refuses any other) drops `upgrade-insecure-requests`
/// on this page, which would otherwise rewrite it to HTTPS.
pub fn csp_with(origins: &[String]) -> String {
    let ok: Vec<&str> = origins
        .iter()
        .map(String::as_str)
        .filter(|o| {
            let rest = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            rest.is_some_and(|r| {
                !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
        })
        .collect();
    let list = ok.join(" ");
    let plain_http = ok.iter().any(|o| o.starts_with("http://"));
    let mut csp = format!(
        "default-src 'self'; script-src 'self' {list}; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self' {list}; frame-src 'self' {list}; \
worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; form-action 'self'; \
base-uri 'none'; object-src 'none'"
    );
    if !plain_http {
        csp.push_str("; upgrade-insecure-requests");
    }
    csp
}

pub const HSTS: &str = "max-age=63072000; includeSubDomains";

const PERMISSIONS: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
magnetometer=(), microphone=(), payment=(), usb=()";

const FIXED: &[(HeaderName, &str)] = &[
    (header::STRICT_TRANSPORT_SECURITY, HSTS),
    (header::CONTENT_SECURITY_POLICY, CSP),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    (header::X_FRAME_OPTIONS, "DENY"),
    // The old browsers' XSS auditor off, as OWASP advises: it could be
    // abused to blank parts of a page, and the CSP above is the defence.
    // Sent rather than left out because scanners (wapiti) report a
    // missing header.
    (header::X_XSS_PROTECTION, "0"),
];

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let widened = res.extensions().get::<ProcessorOrigins>().cloned();
    set(res.headers_mut());
    if let Some(ProcessorOrigins(origins)) = widened
        && let Ok(v) = HeaderValue::from_str(&csp_with(&origins))
    {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c15_the_widened_csp_adds_only_the_processor_to_script_frame_and_connect() {
        let csp = csp_with(&[
            "https://js.stripe.com".into(),
            "https://api.stripe.com".into(),
        ]);
        assert!(csp.contains("script-src 'self' https://js.stripe.com https://api.stripe.com;"));
        assert!(csp.contains("frame-src 'self' https://js.stripe.com https://api.stripe.com;"));
        assert!(csp.contains("connect-src 'self' https://js.stripe.com https://api.stripe.com;"));
        assert!(csp.contains("style-src 'self';") && csp.contains("form-action 'self'"));
        assert!(csp.ends_with("upgrade-insecure-requests"));
        assert!(!csp.contains("unsafe"));
        // Anything but a plain origin is dropped.
        let csp = csp_with(&[
            "https://x.example; script-src *".into(),
            "'unsafe-inline'".into(),
        ]);
        assert!(!csp.contains('*') && !csp.contains("unsafe"), "{csp}");
        let local = csp_with(&["http://127.0.0.1:8420".into()]);
        assert!(!local.contains("upgrade-insecure-requests"));
    }
}

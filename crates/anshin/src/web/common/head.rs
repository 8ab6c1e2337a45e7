//! What a request head must be before anything reads it: at most
//! [`MAX_BYTES`], counted as HTTP/2 counts a header list (RFC 7541 §4.1:
//! name, value and 32 bytes per field, the request line included).
//!
//! hyper enforces the same limit itself on HTTP/1.1 (its read buffer), and
//! its answer is dressed as ours by `server::protocol_errors`. On HTTP/2
//! the h2 crate's own limit is set to twice this one, because its refusal
//! is a bare 431 we cannot rewrite: a head between the two is refused here
//! with the generic 431, request id and security headers.
//!
//! What an attacker tries (tests in `tests/api/http_edges.rs`): a huge
//! cookie or header over HTTP/2 → 431 with the generic body.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::WebError;

/// The largest request head, in bytes: 64 KiB.
pub const MAX_BYTES: usize = 64 * 1024;

/// RFC 7541's per-field overhead.
const FIELD_OVERHEAD: usize = 32;

pub async fn check(req: Request, next: Next) -> Response {
    if size(&req) > MAX_BYTES {
        return WebError::HeadersTooLarge.into_response();
    }
    next.run(req).await
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

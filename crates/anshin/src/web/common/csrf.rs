//! CSRF protection for every state-changing request (design:
//! `docs/adr/0003-csrf.md`, after OWASP's CSRF Prevention Cheat Sheet).
//!
//! Layer 1, every unsafe method: the browser's own word on where the
//! request comes from. `Sec-Fetch-Site` other than `same-origin` (or `none`,
//! a user typing a URL) is refused; an `Origin` other than ours (including
//! `null`) is refused.
//!
//! Layer 2, HTML forms: a synchronizer token. The form must carry
//! `csrf_token`, which must match the token of the visitor's server-side
//! session. Without a live session there is no valid token.
//!
//! Layer 2, JSON API (`/api/`): every unsafe request must say
//! `Content-Type: application/json`, with a body or without one (a
//! logout, a DELETE). A cross-origin page cannot send that content type
//! without a CORS preflight, which this server never answers, and a form
//! cannot send it at all, so a forged request cannot reach a handler even
//! from a browser that sends neither `Origin` nor `Sec-Fetch-Site`.
//!
//! Uploads (`uploads::is_upload` routes only): a page's upload form is
//! `multipart/form-data` and carries the same synchronizer token as a
//! field; the API's upload body is the image itself, typed `image/jpeg`,
//! `image/png` or `image/webp`, which (like JSON) no cross-origin form can
//! send without a preflight. Anywhere else those types are refused.
//!
//! Exempt, deliberately: `POST /hooks/…`, the card processor's webhooks
//! (`web::hooks`). The processor is a server, not a browser: it sends no
//! session cookie, no CSRF token and no `Origin`, and a CSRF attack needs
//! a victim's ambient credential, which these requests never carry or
//! use. What authenticates a webhook is its `Stripe-Signature` (HMAC over
//! the raw body under a secret only we and the processor hold), checked
//! by `anshin_core::payments::signature` before anything is read; a
//! forged or replayed request changes nothing
//! (`tests/api/payments.rs`, `c15_webhook_*`).
//!
//! What an attacker tries, each refused with 403/415 before any handler
//! runs (tests `csrf_*` in `tests/api/site.rs`): a form post from another
//! site (Origin and Sec-Fetch-Site), a post with no token, a token from
//! another session, a replayed token after the session ended, `text/plain`
//! or `application/x-www-form-urlencoded` bodies to the API, and an empty
//! `text/plain` (or untyped) POST or DELETE to the API, such as a logout.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, header};
use http_body_util::BodyExt as _;

use super::errors::{ErrorCode, WebError};
use super::session::CurrentSession;
use crate::web::AppState;

/// Name of the hidden form field.
pub const FIELD: &str = "csrf_token";

pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Machine endpoints authenticated by a signature instead of a session
/// (see the module doc).
pub const SIGNED_PREFIX: &str = "/hooks/";

async fn check(state: &AppState, req: Request) -> Result<Request, WebError> {
    if is_safe(req.method()) || req.uri().path().starts_with(SIGNED_PREFIX) {
        return Ok(req);
    }
    check_origin(req.headers(), &state.accepted_origins)?;
    let upload = super::uploads::is_upload(req.method(), req.uri().path());
    if req.uri().path().starts_with("/api/") {
        // Body or not: the type is the proof that no form sent it.
        let image = upload
            && ["image/jpeg", "image/png", "image/webp"]
                .iter()
                .any(|t| essence(req.headers()).as_deref() == Some(*t));
        if !is_content_type(req.headers(), mime::APPLICATION_JSON) && !image {
            return Err(WebError::UnsupportedMediaType);
        }
        return Ok(req);
    }
    let multipart = upload && is_content_type(req.headers(), mime::MULTIPART_FORM_DATA);
    if !is_content_type(req.headers(), mime::APPLICATION_WWW_FORM_URLENCODED) && !multipart {
        return Err(WebError::UnsupportedMediaType);
    }
    let session = req.extensions().get::<CurrentSession>().cloned();
    let (parts, body) = req.into_parts();
    let bytes = read_body(body).await?;
    let presented = if multipart {
        multipart_field(&parts.headers, &bytes, FIELD).await?
    } else {
        form_field(&bytes, FIELD)?
    };
    let valid = match (&session, presented) {
        (Some(s), Some(p)) => s.token.csrf_token().verify(&p),
        _ => false,
    };
    if !valid {
        return Err(WebError::CsrfToken);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

pub(crate) fn check_origin(headers: &HeaderMap, origins: &[String]) -> Result<(), WebError> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if site != "same-origin" && site != "none" {
            return Err(WebError::CrossSite);
        }
    }
    if let Some(sent) = headers.get(header::ORIGIN)
        && !origins.iter().any(|o| o.as_bytes() == sent.as_bytes())
    {
        return Err(WebError::CrossSite);
    }
    Ok(())
}

/// The content type without parameters, lower-cased.
fn essence(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .map(|m| m.essence_str().to_ascii_lowercase())
}

/// The value of one text field of a `multipart/form-data` body (the
/// first with that name), read with `multer` (axum's own multipart
/// parser) from the buffered body, whose size the body limit already
/// capped. A body that does not parse is a malformed form (400).
pub(crate) async fn multipart_field(
    headers: &HeaderMap,
    body: &Bytes,
    name: &str,
) -> Result<Option<String>, WebError> {
    let malformed = || WebError::BadRequest(ErrorCode::MalformedForm);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(malformed)?;
    let boundary = multer::parse_boundary(content_type).map_err(|_| malformed())?;
    let chunk = body.clone();
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(chunk) });
    let mut form = multer::Multipart::new(stream, boundary);
    while let Some(field) = form.next_field().await.map_err(|_| malformed())? {
        if field.name() == Some(name) && field.file_name().is_none() {
            return Ok(Some(field.text().await.map_err(|_| malformed())?));
        }
    }
    Ok(None)
}

fn is_content_type(headers: &HeaderMap, want: mime::Mime) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.essence_str() == want.essence_str())
}

/// Reads the body; the body-limit layer below has already capped its size,
/// so an oversized body surfaces here as a length error → 413.
async fn read_body(body: Body) -> Result<Bytes, WebError> {
    match body.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if too_large {
                Err(WebError::PayloadTooLarge)
            } else {
                Err(WebError::BadRequest(ErrorCode::UnreadableBody))
            }
        }
    }
}

/// The value of one field of a urlencoded form. A body that does not
/// decode to UTF-8 is a malformed request (400), not a CSRF failure; the
/// usual parsers would silently replace the bad bytes instead.
fn form_field(body: &[u8], name: &str) -> Result<Option<String>, WebError> {
    let mut found = None;
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        let key = decode(kv.next().unwrap_or_default())
            .ok_or(WebError::BadRequest(ErrorCode::MalformedForm))?;
        let value = decode(kv.next().unwrap_or_default());
        if key == name && found.is_none() {
            found = Some(value.ok_or(WebError::BadRequest(ErrorCode::MalformedForm))?);
        } else if value.is_none() {
            return Err(WebError::BadRequest(ErrorCode::MalformedForm));
        }
    }
    Ok(found)
}

fn decode(raw: &[u8]) -> Option<String> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_checks() {
        let ours = &["https://shop.example".to_owned()][..];
        let mut h = HeaderMap::new();
        assert!(
            check_origin(&h, ours).is_ok(),
            "non-browser clients send neither"
        );
        h.insert(header::ORIGIN, "https://shop.example".parse().unwrap());
        assert!(check_origin(&h, ours).is_ok());
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(check_origin(&h, ours).is_err());
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(check_origin(&h, ours).is_err());
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(check_origin(&h, ours).is_err());
        h.insert("sec-fetch-site", "same-site".parse().unwrap());
        assert!(check_origin(&h, ours).is_err());
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(check_origin(&h, ours).is_ok());
    }

    #[test]
    fn form_field_rejects_invalid_utf8() {
        assert!(form_field(b"a=%FF%FE", "a").is_err());
        assert_eq!(
            form_field(b"a=1&csrf_token=x%2By", FIELD)
                .unwrap()
                .as_deref(),
            Some("x+y")
        );
        assert_eq!(form_field(b"a=1", FIELD).unwrap(), None);
    }

    #[test]
    fn content_type_essence() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_content_type(&h, mime::APPLICATION_JSON));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_content_type(&h, mime::APPLICATION_JSON));
    }
}

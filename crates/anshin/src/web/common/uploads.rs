//! The few routes that take a file, and the body limit of every request.
//!
//! Every request body is capped at `http.body_limit_bytes` (1 MiB by
//! default); the upload routes alone at `media.max_upload_bytes` plus
//! 64 KiB for the form's other fields. A declared `Content-Length` over
//! the cap is refused at once (413); a body that grows past it while
//! being read fails the read, which every reader (CSRF check, WAF,
//! extractors) turns into 413.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, header};

use super::errors::WebError;
use crate::web::AppState;

/// Room for the form fields beside the file (CSRF token, boundaries).
pub const FORM_OVERHEAD: usize = 64 * 1024;

/// Whether `method path` is one of the upload routes: an item's images
/// and the shop's icon, as a page form (multipart) or through the API
/// (the body is the image).
pub fn is_upload(method: &Method, path: &str) -> bool {
    let item_images = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix("/images"))
            .is_some_and(|id| uuid::Uuid::try_parse(id).is_ok())
    };
    match *method {
        Method::POST => {
            item_images("/shop/manage/items/")
                || item_images("/api/v1/me/shop/items/")
                || path == "/shop/manage/icon"
        }
        Method::PUT => path == "/api/v1/me/shop/icon",
        _ => false,
    }
}

/// The largest body any route takes (what the WAF must be able to read).
pub fn largest_body(state_settings: &crate::config::Settings) -> usize {
    state_settings
        .http
        .body_limit_bytes
        .max(state_settings.media.max_upload_bytes + FORM_OVERHEAD)
}

/// Caps the request body by route (see the module documentation).
pub async fn limit_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = if is_upload(req.method(), req.uri().path()) {
        state.settings.media.max_upload_bytes + FORM_OVERHEAD
    } else {
        state.settings.http.body_limit_bytes
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return WebError::PayloadTooLarge.into_response();
    }
    let req = req.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_upload_routes_take_files() {
        let id = "0190a8c4-0000-7000-8000-000000007b2e";
        assert!(is_upload(
            &Method::POST,
            &format!("/shop/manage/items/{id}/images")
        ));
        assert!(is_upload(
            &Method::POST,
            &format!("/api/v1/me/shop/items/{id}/images")
        ));
        assert!(is_upload(&Method::POST, "/shop/manage/icon"));
        assert!(is_upload(&Method::PUT, "/api/v1/me/shop/icon"));
        for (m, p) in [
            (Method::GET, format!("/shop/manage/items/{id}/images")),
            (Method::POST, "/shop/manage/items/x/images".to_owned()),
            (
                Method::POST,
                format!("/shop/manage/items/{id}/images/extra"),
            ),
            (Method::POST, format!("/shop/manage/items/{id}/../images")),
            (Method::POST, "/account/phone".to_owned()),
            (Method::PUT, "/shop/manage/icon".to_owned()),
        ] {
            assert!(!is_upload(&m, &p), "{m} {p}");
        }
    }
}

//! `/media/{key}`: the images the catalog stores, served as what they are.
//!
//! The key must parse as a [`MediaKey`] (`img/<uuid>.jpg`…) before
//! anything else happens, so `../`, `%2e%2e%2f`, backslashes and NUL
//! bytes answer 404 without touching storage. The database then says
//! whose file it is and whether it is public (an image of a draft or a
//! hidden item is served to its owner only, 404 to everyone else).
//!
//! Every answer carries the file's real type (anshin re-encoded it; the
//! type comes from the key, never from the upload), `nosniff`, and
//! `Content-Security-Policy: default-src 'none'; sandbox`, so even a file
//! a browser were tricked into rendering as a document could run nothing
//! and load nothing. Public files may be cached (their key never names
//! other bytes); an owner's private preview may not.

use anshin_core::shops;
use anshin_domain::MediaKey;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, header};

use crate::web::AppState;
use crate::web::common::errors::{ErrorCode, WebError};
use crate::web::common::member::Viewer;

/// The CSP of a served file: nothing may run or load.
pub const MEDIA_CSP: &str = "default-src 'none'; sandbox";

pub fn router() -> Router<AppState> {
    Router::new().route("/media/{*key}", get(serve))
}

async fn serve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
) -> Result<Response, WebError> {
    let key = MediaKey::parse(&key).ok_or(WebError::NotFound(ErrorCode::NotFound))?;
    let file = shops::media_file(&state.core, viewer.member, &key).await?;
    let mut res = file.bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.format.content_type()),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(MEDIA_CSP),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if file.public {
            "public, max-age=86400"
        } else {
            "private, no-store"
        }),
    );
    Ok(res)
}

//! Static assets, embedded in the binary (nothing to deploy beside it) and
//! served under content-hashed names, so browsers may cache them for a
//! year: a changed file gets a new name.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, header};
use sha2::{Digest, Sha256};

use super::errors::{ErrorCode, WebError};
use crate::web::AppState;

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../static/app.css"),
    ),
    (
        "altcha.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/altcha.js"),
    ),
    (
        "altcha-worker.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/altcha-worker.js"),
    ),
    (
        "postcode.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/postcode.js"),
    ),
    (
        "checkout.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/checkout.js"),
    ),
    (
        "console-passkeys.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/console-passkeys.js"),
    ),
    (
        "console-nocopy.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/console-nocopy.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../../static/icon.svg"),
    ),
];

#[derive(Debug)]
struct Asset {
    name: &'static str,
    url: String,
    hashed: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// The embedded files with their hashed URLs, computed once at start.
#[derive(Debug)]
pub struct Assets(Vec<Asset>);

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}

impl Assets {
    pub fn new() -> Self {
        Self(
            FILES
                .iter()
                .map(|(name, content_type, bytes)| {
                    let digest = Sha256::digest(bytes);
                    let short = hex::encode(digest.get(..8).unwrap_or_default());
                    let hashed = match name.rsplit_once('.') {
                        Some((stem, ext)) => format!("{stem}.{short}.{ext}"),
                        None => format!("{name}.{short}"),
                    };
                    Asset {
                        name,
                        url: format!("/static/{hashed}"),
                        hashed,
                        content_type,
                        bytes,
                    }
                })
                .collect(),
        )
    }

    /// The URL of an embedded file by its plain name; `""` if unknown (a
    /// missing asset is a programming error caught by the page tests).
    pub fn url(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|a| a.name == name)
            .map_or("", |a| a.url.as_str())
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/static/{file}", get(serve))
}

async fn serve(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, WebError> {
    state
        .assets
        .response(&file)
        .ok_or(WebError::NotFound(ErrorCode::NotFound))
}

impl Assets {
    /// The response for a hashed file name, if it is one of ours (the
    /// staff console serves the same files).
    pub fn response(&self, file: &str) -> Option<Response> {
        let asset = self.0.iter().find(|a| a.hashed == file)?;
        let mut res = asset.bytes.into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        Some(res)
    }
}

//! The doors of HTTP. `common` holds what every listener's pages and APIs
//! share (errors, headers, request ids, CSRF, cookies, the session layer,
//! the one extractor for the logged-in member, layout, assets, the WAF
//! layer); `site` is the public site and its JSON API; `hooks` the card
//! processor's signed webhooks; `console` the staff console, on its own
//! listener (`listen.staff`) behind its network allowlist and access
//! guard, with the same `common` and the same core.
//!
//! A handler parses the request, calls one use case of `anshin_core`, and
//! renders the outcome. Web code never calls the store and never writes
//! SQL (`scripts/check-layers` fails CI if a file under `web/` does).

pub mod common;
pub mod console;
pub mod hooks;
pub mod site;

use std::sync::Arc;
use std::time::Duration;

use anshin_core::Services;
use anshin_core::i18n::Catalogs;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use http::StatusCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Settings;
use common::{assets, csrf, errors, head, headers, page, request_id, session, uploads, waf};

/// Everything a request handler may use. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub settings: Arc<Settings>,
    /// The use cases and their dependencies.
    pub core: Services,
    pub catalogs: Arc<Catalogs>,
    pub assets: assets::Assets,
    /// `https://host[:port]` of the public site: redirects and links.
    pub origin: String,
    /// Every origin the CSRF check accepts: `origin`, plus the other
    /// loopback spellings when the origin is derived for a local default
    /// (`https://127.0.0.1:8443` and `https://localhost:8443` are both in
    /// the self-signed certificate).
    pub accepted_origins: Vec<String>,
    /// The hosts of `accepted_origins`: the only ones the site answers
    /// for (`common::head`).
    pub accepted_hosts: common::head::Hosts,
    /// The web application firewall (C6) and its counters.
    pub waf: Arc<anshin_waf::Waf>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

/// The public site's router with its middleware, outermost first:
/// request id → security headers → error pages → head (size, host) → panic
/// guard → timeout → body limit → WAF → session → page scope (menu state,
/// flash) → CSRF → routes. The WAF is inside the
/// error pages (a blocked request gets the generic 403 with its request id)
/// and outside sessions and CSRF (no handler or database work for it).
pub fn router(state: AppState) -> Router {
    let limit = state.settings.http.body_limit_bytes;
    let timeout = Duration::from_secs(state.settings.http.request_timeout_secs);
    site::router(state.settings.media.max_upload_bytes + uploads::FORM_OVERHEAD)
        .merge(hooks::router())
        .merge(assets::router())
        .fallback(errors::not_found)
        .layer(from_fn_with_state(state.clone(), csrf::protect))
        .layer(from_fn(page::scope))
        .layer(from_fn_with_state(state.clone(), session::load))
        .layer(waf::layer(state.waf.clone()))
        .layer(DefaultBodyLimit::max(limit))
        .layer(from_fn_with_state(state.clone(), uploads::limit_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(errors::panic_response))
        .layer(from_fn_with_state(state.clone(), head::check))
        .layer(from_fn_with_state(
            state.clone(),
            errors::render_error_pages,
        ))
        .layer(from_fn(headers::security_headers))
        .layer(from_fn_with_state(
            (state.core.metrics.clone(), "site"),
            common::http_metrics::observe,
        ))
        .layer(from_fn_with_state(state.clone(), request_id::assign))
        .with_state(state)
}

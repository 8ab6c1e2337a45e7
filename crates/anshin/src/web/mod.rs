//! The public HTTPS site and the JSON API: routes, pages and the middleware
//! every request passes (request id, security headers, error pages, body
//! limit, timeout, sessions, CSRF). Web code never writes SQL: it calls the
//! store's repositories through the feature modules.

pub mod account;
pub mod account_pages;
pub mod api;
pub mod assets;
pub mod challenge;
pub mod csrf;
pub mod errors;
pub mod forms;
pub mod headers;
pub mod language;
pub mod member_data;
pub mod member_pages;
pub mod pages;
pub mod request_id;
pub mod sessions;
pub mod waf;

use std::sync::Arc;
use std::time::Duration;

use anshin_store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use http::StatusCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::clock::Clock;
use crate::config::Settings;
use crate::i18n::Catalogs;

/// Everything a request handler may use. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub catalogs: Catalogs,
    pub assets: assets::Assets,
    /// `https://host[:port]` of the public site: redirects and links.
    pub origin: String,
    /// Every origin the CSRF check accepts: `origin`, plus the other
    /// loopback spelling when the origin is derived for a local default
    /// (`https://127.0.0.1:8443` and `https://localhost:8443` are both in
    /// the self-signed certificate).
    pub accepted_origins: Vec<String>,
    pub keys: Arc<crate::keys::Keys>,
    pub passwords: crate::accounts::password::Passwords,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Bot challenges: siteverify client, attack level, counters (C7).
    pub challenges: crate::challenge::Challenges,
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
/// request id → security headers → error pages → panic guard → timeout →
/// body limit → WAF → session → CSRF → routes. The WAF is inside the
/// error pages (a blocked request gets the generic 403 with its request id)
/// and outside sessions and CSRF (no handler or database work for it).
pub fn router(state: AppState) -> Router {
    let limit = state.settings.http.body_limit_bytes;
    let timeout = Duration::from_secs(state.settings.http.request_timeout_secs);
    Router::new()
        .merge(pages::router())
        .merge(language::router())
        .merge(api::router())
        .merge(account::router())
        .merge(account_pages::router())
        .merge(member_data::router())
        .merge(member_pages::router())
        .merge(assets::router())
        .merge(challenge::router())
        .fallback(errors::not_found)
        .layer(from_fn_with_state(state.clone(), csrf::protect))
        .layer(from_fn_with_state(state.clone(), sessions::load))
        .layer(waf::layer(state.waf.clone()))
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(errors::panic_response))
        .layer(from_fn_with_state(
            state.clone(),
            errors::render_error_pages,
        ))
        .layer(from_fn(headers::security_headers))
        .layer(from_fn(request_id::assign))
        .with_state(state)
}

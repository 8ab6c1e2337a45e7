//! Pages for people, and the layout every page shares.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::HeaderMap;

use crate::i18n::{Catalog, Lang};
use crate::web::AppState;
use crate::web::language::request_lang;

/// What the base template needs: the catalog, the language and the
/// content-hashed asset URLs.
#[derive(Debug)]
pub struct Layout<'a> {
    pub t: &'a Catalog,
    pub lang: &'static str,
    pub title: &'a str,
    pub css: &'a str,
    pub icon: &'a str,
    /// The self-hosted bot challenge widget (C7), when it is the
    /// configured provider: its script and its worker's hashed URLs.
    pub altcha: bool,
    pub altcha_js: &'a str,
    pub altcha_worker: &'a str,
    /// `auth.recent_auth_secs` and `auth.code_ttl_secs` in minutes, for
    /// the `{minutes}` in the texts that state them.
    pub reauth_minutes: String,
    pub code_minutes: String,
}

impl<'a> Layout<'a> {
    pub fn new(state: &'a AppState, lang: Lang, title: &'a str) -> Self {
        Self {
            t: state.catalogs.get(lang),
            lang: lang.code(),
            title,
            css: state.assets.url("app.css"),
            icon: state.assets.url("icon.svg"),
            altcha: state.settings.captcha.provider == crate::challenge::Provider::Altcha,
            altcha_js: state.assets.url("altcha.js"),
            altcha_worker: state.assets.url("altcha-worker.js"),
            reauth_minutes: (state.settings.auth.recent_auth_secs / 60).to_string(),
            code_minutes: (state.settings.auth.code_ttl_secs / 60).to_string(),
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage<'a> {
    layout: Layout<'a>,
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let lang = request_lang(&headers, state.settings.site.default_language);
    HomePage {
        layout: Layout::new(&state, lang, &state.catalogs.get(lang).home_title),
    }
    .into_response()
}

//! The home page.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::HeaderMap;

use crate::web::AppState;
use crate::web::common::language::request_lang;
use crate::web::common::layout::Layout;

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

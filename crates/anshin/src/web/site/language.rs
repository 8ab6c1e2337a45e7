//! Choosing the site's language: a form page for people and a JSON
//! endpoint for the API. The choice is kept in a cookie, not in the
//! session, so it survives logout and costs no database write.

use anshin_core::i18n::Lang;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Form, Json, Router};
use http::{StatusCode, header};
use serde::Deserialize;

use crate::web::AppState;
use crate::web::common::errors::{ApiError, ErrorCode, WebError};
use crate::web::common::flash::{self, Flash};
use crate::web::common::language::cookie as lang_cookie;
use crate::web::common::layout::Layout;
use crate::web::common::page::Visitor;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/language", get(show).post(save))
        .route("/api/v1/preferences/language", put(save_api))
}

#[derive(Template, WebTemplate)]
#[template(path = "language.html")]
struct LanguagePage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    current: &'static str,
}

async fn show(State(state): State<AppState>, v: Visitor) -> Response {
    let page = LanguagePage {
        layout: Layout::new(&state, v.lang, &state.catalogs.get(v.lang).language_title),
        csrf_token: &v.csrf,
        current: v.lang.code(),
    };
    v.finish(page.into_response())
}

#[derive(Deserialize)]
struct LanguageForm {
    lang: String,
    // Checked by the CSRF layer before this handler runs.
    #[allow(dead_code)]
    csrf_token: String,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for LanguageForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanguageForm")
            .field("lang", &self.lang)
            .finish_non_exhaustive()
    }
}

async fn save(Form(form): Form<LanguageForm>) -> Result<Response, WebError> {
    let lang = Lang::parse(&form.lang).ok_or(WebError::BadRequest(ErrorCode::UnknownLanguage))?;
    let mut res = flash::redirect("/settings/language", Flash::LanguageSaved)?;
    res.headers_mut()
        .append(header::SET_COOKIE, lang_cookie(lang)?);
    Ok(res)
}

/// Body of `PUT /api/v1/preferences/language`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguagePreference {
    /// `ja` or `en`.
    #[schema(example = "en")]
    pub lang: String,
}

/// Sets the language of pages and API messages for this browser.
#[utoipa::path(
    put,
    path = "/api/v1/preferences/language",
    request_body = LanguagePreference,
    responses(
        (status = 204, description = "Saved; the `__Host-anshin_lang` cookie is set"),
        (status = 400, description = "Malformed JSON or unknown language", body = ApiError),
        (status = 403, description = "Cross-origin request", body = ApiError),
        (status = 415, description = "Body is not application/json", body = ApiError),
    ),
    tag = "preferences"
)]
pub async fn save_api(
    body: Result<Json<LanguagePreference>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, WebError> {
    let Json(pref) = body.map_err(|e| match e {
        axum::extract::rejection::JsonRejection::MissingJsonContentType(_) => {
            WebError::UnsupportedMediaType
        }
        _ => WebError::BadRequest(ErrorCode::MalformedJson),
    })?;
    let lang = Lang::parse(&pref.lang).ok_or(WebError::BadRequest(ErrorCode::UnknownLanguage))?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, lang_cookie(lang)?);
    Ok(res)
}

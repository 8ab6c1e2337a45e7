//! Choosing the site's language: a form page for people and a JSON
//! endpoint for the API. The choice is kept in a cookie, not in the
//! session, so it survives logout and costs no database write.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, put};
use axum::{Extension, Form, Json, Router};
use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use crate::i18n::Lang;
use crate::web::AppState;
use crate::web::errors::WebError;
use crate::web::pages::Layout;
use crate::web::sessions::{self, CurrentSession, cookie_value};

pub const COOKIE: &str = "__Host-anshin_lang";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/language", get(show).post(save))
        .route("/api/v1/preferences/language", put(save_api))
}

/// The language of a request: cookie, then `Accept-Language`, then default.
pub fn request_lang(headers: &HeaderMap, default: Lang) -> Lang {
    cookie_value(headers, COOKIE)
        .and_then(Lang::parse)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(default)
}

fn lang_cookie(lang: Lang) -> Result<HeaderValue, WebError> {
    let c = Cookie::build((COOKIE, lang.code()))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::days(365))
        .build();
    HeaderValue::from_str(&c.to_string()).map_err(|e| WebError::Internal(anyhow::anyhow!("{e}")))
}

#[derive(Template, WebTemplate)]
#[template(path = "language.html")]
struct LanguagePage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    current: &'static str,
}

async fn show(
    State(state): State<AppState>,
    session: Option<Extension<CurrentSession>>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = request_lang(&headers, state.settings.site.default_language);
    let (token, set_cookie) = sessions::ensure(&state, session.map(|s| s.0)).await?;
    let csrf = token.csrf_token();
    let page = LanguagePage {
        layout: Layout::new(&state, lang, &state.catalogs.get(lang).language_title),
        csrf_token: csrf.as_str(),
        current: lang.code(),
    };
    let mut res = page.into_response();
    if let Some(c) = set_cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

#[derive(Debug, Deserialize)]
struct LanguageForm {
    lang: String,
    // Checked by the CSRF layer before this handler runs.
    #[allow(dead_code)]
    csrf_token: String,
}

async fn save(Form(form): Form<LanguageForm>) -> Result<Response, WebError> {
    let lang = Lang::parse(&form.lang).ok_or(WebError::BadRequest("unknown_language"))?;
    let mut res = Redirect::to("/settings/language").into_response();
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
        (status = 400, description = "Malformed JSON or unknown language", body = crate::web::errors::ApiError),
        (status = 403, description = "Cross-origin request", body = crate::web::errors::ApiError),
        (status = 415, description = "Body is not application/json", body = crate::web::errors::ApiError),
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
        _ => WebError::BadRequest("malformed_json"),
    })?;
    let lang = Lang::parse(&pref.lang).ok_or(WebError::BadRequest("unknown_language"))?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, lang_cookie(lang)?);
    Ok(res)
}

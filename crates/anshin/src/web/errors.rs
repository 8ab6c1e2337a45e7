//! One error type for the web layer, mapped to responses in one place.
//!
//! Handlers and middleware return [`WebError`]; it becomes a bare response
//! with a status and an [`ErrorInfo`] extension. [`render_error_pages`]
//! then gives *every* 4xx/5xx response of the site (ours, axum's
//! extractor rejections, the body limit's 413, the timeout's 408, a caught
//! panic's 500) the same body: a generic page in the visitor's language,
//! or `{error, message, request_id}` JSON under `/api/`. Bodies never hold
//! a cause, a stack, a version or the request's data; 5xx causes are
//! logged inside the request span instead.

use std::any::Any;

use askama::Template;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::i18n::Catalog;
use crate::web::AppState;
use crate::web::language::request_lang;
use crate::web::pages::Layout;
use crate::web::request_id::RequestId;

/// Stable error codes clients can rely on.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("cross-site request refused")]
    CrossSite,
    #[error("missing or invalid CSRF token")]
    CsrfToken,
    #[error("not found")]
    NotFound,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// A form's fields are wrong; the JSON body lists each (`fields`).
    #[error("invalid fields")]
    InvalidFields(Vec<crate::member_data::FieldError>),
    /// Stored personal data does not decrypt (moved, tampered with, key
    /// gone): a 500 with its own code, the cause in the log only.
    #[error("stored data unreadable")]
    Unreadable(anyhow::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// The field errors of an `invalid_fields` response, for the renderer.
#[derive(Debug, Clone)]
pub struct InvalidFieldList(pub Vec<crate::member_data::FieldError>);

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FieldErrorView<'a> {
    /// The form field, e.g. `postal_code`.
    pub field: &'a str,
    /// Stable reason, e.g. `wrong_length`.
    pub code: &'a str,
    /// In the request's language; never contains the input.
    pub message: &'a str,
}

/// What the error-page renderer needs to know about an error response.
#[derive(Debug, Clone, Copy)]
pub struct ErrorInfo {
    pub code: &'static str,
    /// A more specific text than the status's generic one.
    pub detail: Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Generic,
    Csrf,
}

impl WebError {
    fn status_and_info(&self) -> (StatusCode, ErrorInfo) {
        let info = |code| ErrorInfo {
            code,
            detail: Detail::Generic,
        };
        match self {
            WebError::BadRequest(code) => (StatusCode::BAD_REQUEST, info(code)),
            WebError::CrossSite => (StatusCode::FORBIDDEN, info("cross_site_request")),
            WebError::CsrfToken => (
                StatusCode::FORBIDDEN,
                ErrorInfo {
                    code: "csrf_token_invalid",
                    detail: Detail::Csrf,
                },
            ),
            WebError::NotFound => (StatusCode::NOT_FOUND, info("not_found")),
            WebError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, info("payload_too_large")),
            WebError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                info("unsupported_media_type"),
            ),
            WebError::Unauthorized(code) => (StatusCode::UNAUTHORIZED, info(code)),
            WebError::Forbidden(code) => (StatusCode::FORBIDDEN, info(code)),
            WebError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, info("rate_limited"))
            }
            WebError::InvalidFields(_) => (StatusCode::BAD_REQUEST, info("invalid_fields")),
            WebError::Unreadable(_) => (StatusCode::INTERNAL_SERVER_ERROR, info("data_unreadable")),
            WebError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, info("internal_error")),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, info) = self.status_and_info();
        match &self {
            // The cause goes to the log (inside the request span, so it
            // carries the request id), never to the client.
            WebError::Internal(cause) | WebError::Unreadable(cause) => {
                tracing::error!(code = info.code, error = %cause, "request failed");
            }
            other => tracing::info!(code = info.code, reason = %other, "request refused"),
        }
        let mut res = status.into_response();
        if let WebError::TooManyRequests { retry_after_secs } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let WebError::InvalidFields(fields) = self {
            res.extensions_mut().insert(InvalidFieldList(fields));
        }
        res.extensions_mut().insert(info);
        res
    }
}

/// Fallback for unknown paths.
pub async fn not_found() -> WebError {
    WebError::NotFound
}

/// Turns a caught panic into a 500 without echoing the panic message.
pub fn panic_response(_payload: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    WebError::Internal(anyhow::anyhow!("panic in handler")).into_response()
}

fn default_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable_entity",
        429 => "too_many_requests",
        503 => "service_unavailable",
        s if s >= 500 => "internal_error",
        _ => "client_error",
    }
}

fn texts(t: &Catalog, status: StatusCode, detail: Detail) -> (&str, &str) {
    match (status.as_u16(), detail) {
        (403, Detail::Csrf) => (&t.error_403_title, &t.error_403_csrf_body),
        (400 | 422, _) => (&t.error_400_title, &t.error_400_body),
        (401, _) => (&t.error_403_title, &t.err_not_authenticated),
        (403, _) => (&t.error_403_title, &t.error_403_body),
        (404, _) => (&t.error_404_title, &t.error_404_body),
        (405, _) => (&t.error_405_title, &t.error_405_body),
        (408, _) => (&t.error_408_title, &t.error_408_body),
        (413, _) => (&t.error_413_title, &t.error_413_body),
        (415, _) => (&t.error_415_title, &t.error_415_body),
        (429, _) => (&t.error_429_title, &t.error_429_body),
        (503, _) => (&t.error_503_title, &t.error_503_body),
        (s, _) if s >= 500 => (&t.error_500_title, &t.error_500_body),
        _ => (&t.error_400_title, &t.error_400_body),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout<'a>,
    status: u16,
    body: &'a str,
    request_id: &'a str,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiError<'a> {
    /// Stable machine-readable code, e.g. `csrf_token_invalid`.
    pub error: &'a str,
    /// Human-readable text in the request's language.
    pub message: &'a str,
    /// Quote this to support; it finds the request in the logs.
    pub request_id: &'a str,
}

/// Replaces the body of every error response with the generic page or JSON.
pub async fn render_error_pages(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let lang = request_lang(req.headers(), state.settings.site.default_language);
    let api = req.uri().path().starts_with("/api/");
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let info = res.extensions().get::<ErrorInfo>().copied();
    let fields = res.extensions().get::<InvalidFieldList>().cloned();
    let (code, detail) = match info {
        Some(i) => (i.code, i.detail),
        None => (default_code(status), Detail::Generic),
    };
    // Keep headers that matter for the client (Allow on 405, Retry-After
    // on 429, cookies); drop everything describing the old body.
    let (mut parts, _old_body) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_ENCODING);
    let t = state.catalogs.get(lang);
    let (title, generic) = texts(t, status, detail);
    let specific = specific_message(t, code, state.settings.auth.password_min_chars);
    let text = specific.as_deref().unwrap_or(generic);
    let body = if api {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let json = ApiError {
            error: code,
            message: text,
            request_id: &request_id,
        };
        match fields {
            Some(InvalidFieldList(list)) => {
                let views: Vec<FieldErrorView<'_>> = list
                    .iter()
                    .map(|f| FieldErrorView {
                        field: f.field,
                        code: f.code,
                        message: match lang {
                            crate::i18n::Lang::Ja => f.message_ja,
                            crate::i18n::Lang::En => f.message_en,
                        },
                    })
                    .collect();
                let mut value = serde_json::to_value(&json).unwrap_or_default();
                if let Some(obj) = value.as_object_mut() {
                    obj.insert(
                        "fields".into(),
                        serde_json::to_value(&views).unwrap_or_default(),
                    );
                }
                serde_json::to_vec(&value).unwrap_or_default()
            }
            None => serde_json::to_vec(&json).unwrap_or_default(),
        }
    } else {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let page = ErrorPage {
            layout: Layout::new(&state, lang, title),
            status: status.as_u16(),
            body: text,
            request_id: &request_id,
        };
        page.render().map(String::into_bytes).unwrap_or_else(|_| {
            format!(
                "{} {title}\n{}: {request_id}\n",
                status.as_u16(),
                t.error_request_id
            )
            .into_bytes()
        })
    };
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The catalog text of a specific error code, if it has one.
pub fn specific_message(t: &Catalog, code: &str, min_chars: usize) -> Option<String> {
    let s = match code {
        "invalid_email" => &t.err_invalid_email,
        "invalid_display_name" => &t.err_invalid_display_name,
        "invalid_code" => &t.err_invalid_code,
        "invalid_credentials" => &t.err_invalid_credentials,
        "password_too_short" => {
            return Some(
                t.err_password_too_short
                    .replace("{min}", &min_chars.to_string()),
            );
        }
        "password_too_long" => &t.err_password_too_long,
        "password_too_common" => &t.err_password_too_common,
        "not_authenticated" => &t.err_not_authenticated,
        "reauthentication_required" => &t.err_reauthentication_required,
        "current_password_wrong" => &t.err_current_password_wrong,
        "rate_limited" => &t.err_rate_limited,
        "session_not_found" => &t.err_session_not_found,
        "malformed_json" => &t.err_malformed_json,
        "challenge_required" => &t.err_challenge_required,
        "challenge_failed" => &t.err_challenge_failed,
        "invalid_fields" => &t.err_invalid_fields,
        "data_unreadable" => &t.err_data_unreadable,
        _ => return None,
    };
    Some(s.clone())
}

/// For tests and the ops listener: the language-independent code of a status.
pub fn code_for(status: StatusCode) -> &'static str {
    default_code(status)
}

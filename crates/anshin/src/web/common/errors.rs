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

use anshin_core::accounts::AuthError;
use anshin_core::challenge::ChallengeError;
use anshin_core::i18n::{Catalog, Lang};
use anshin_core::limits::Collection;
use anshin_core::member_data::{FieldError, MemberDataError};
use anshin_core::sessions::StoreError;

use super::language::request_lang;
use super::layout::Layout;
use super::request_id::RequestId;
use crate::config::Settings;
use crate::web::AppState;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $text:literal),* $(,)?) => {
        /// Every stable error code a client can get, in one place: the
        /// `error` of an API error body and the key of its message. A
        /// client may switch on them; they never change meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant),*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text),*
                }
            }
        }
    };
}

error_codes! {
    // Input that does not parse.
    InvalidEmail => "invalid_email",
    InvalidDisplayName => "invalid_display_name",
    /// An e-mail change to the address the account already has.
    EmailUnchanged => "email_unchanged",
    /// A sign-up without `accept_terms: true` (the terms of use).
    TermsNotAccepted => "terms_not_accepted",
    InvalidFields => "invalid_fields",
    InvalidSessionId => "invalid_session_id",
    InvalidPage => "invalid_page",
    UnknownLanguage => "unknown_language",
    /// No host, two `Host` fields, or a host that is not a host.
    InvalidHost => "invalid_host",
    MalformedJson => "malformed_json",
    MalformedForm => "malformed_form",
    /// A body the WAF cannot parse as its content type says.
    MalformedBody => "malformed_body",
    /// A body that could not be read (cut off, not UTF-8 where it must be).
    UnreadableBody => "unreadable_body",
    // Who you are.
    NotAuthenticated => "not_authenticated",
    InvalidCode => "invalid_code",
    InvalidCredentials => "invalid_credentials",
    /// The owner's own browser, on a locked account (C8).
    AccountLocked => "account_locked",
    ReauthenticationRequired => "reauthentication_required",
    CurrentPasswordWrong => "current_password_wrong",
    PasswordTooShort => "password_too_short",
    PasswordTooLong => "password_too_long",
    PasswordTooCommon => "password_too_common",
    ChallengeRequired => "challenge_required",
    ChallengeFailed => "challenge_failed",
    // What the server refuses.
    CrossSiteRequest => "cross_site_request",
    CsrfTokenInvalid => "csrf_token_invalid",
    RequestBlocked => "request_blocked",
    RateLimited => "rate_limited",
    PayloadTooLarge => "payload_too_large",
    /// The request head (headers, or the address on HTTP/2) is too large.
    HeadersTooLarge => "headers_too_large",
    UriTooLong => "uri_too_long",
    UnsupportedMediaType => "unsupported_media_type",
    NotFound => "not_found",
    /// A request for a host this server does not serve.
    MisdirectedRequest => "misdirected_request",
    SessionNotFound => "session_not_found",
    /// A bank code the bundled Zengin list does not hold.
    BankNotFound => "bank_not_found",
    /// A well-formed postcode the bundled Japan Post list does not hold.
    PostcodeNotFound => "postcode_not_found",
    /// The member keeps `limits.max_addresses` addresses already (409).
    TooManyAddresses => "too_many_addresses",
    /// Another owned collection at its `limits.max_*` (409).
    LimitReached => "limit_reached",
    /// Personal data changed `limits.max_personal_data_changes` times in
    /// the window (429 with Retry-After).
    TooManyChanges => "too_many_changes",
    // The catalog.
    /// The member has a shop already (one per member).
    ShopExists => "shop_exists",
    /// The member has not opened a shop yet.
    NoShop => "no_shop",
    ItemLimit => "item_limit",
    ImageLimit => "image_limit",
    /// Image uploads (the codes of `shops::images::ImageError`).
    ImageSize => "image_size",
    NotAnImage => "not_an_image",
    ImageTooManyPixels => "image_too_many_pixels",
    ImageDamaged => "image_damaged",
    ImagePolyglot => "image_polyglot",
    // Cart, checkout, payments, orders (issue 13).
    /// Someone else bought the last ones.
    SoldOut => "sold_out",
    /// An item's price or status changed since the cart was read.
    ItemChanged => "item_changed",
    NotForSale => "not_for_sale",
    /// The member's own shop's item.
    OwnItem => "own_item",
    EmptyCart => "empty_cart",
    TotalTooSmall => "total_too_small",
    /// No card processor is configured.
    CheckoutClosed => "checkout_closed",
    /// Cancelled, or its reservation is over.
    NotPayable => "not_payable",
    PaymentInProgress => "payment_in_progress",
    /// Not a processor reference (a card number, say).
    InvalidPaymentMethod => "invalid_payment_method",
    /// The order is not in a state that allows this step.
    OrderState => "order_state",
    RefundTooLarge => "refund_too_large",
    RefundInProgress => "refund_in_progress",
    InvalidAmount => "invalid_amount",
    /// The card processor could not be reached.
    ProcessorUnavailable => "processor_unavailable",
    /// A webhook's signature is missing, wrong or outside the tolerance.
    InvalidSignature => "invalid_signature",
    WebhooksNotConfigured => "webhooks_not_configured",
    // What went wrong on our side.
    DataUnreadable => "data_unreadable",
    InternalError => "internal_error",
    // Statuses made below our handlers (extractors, limits, timeouts).
    BadRequest => "bad_request",
    Forbidden => "forbidden",
    MethodNotAllowed => "method_not_allowed",
    RequestTimeout => "request_timeout",
    UnprocessableEntity => "unprocessable_entity",
    TooManyRequests => "too_many_requests",
    ServiceUnavailable => "service_unavailable",
    ClientError => "client_error",
}

impl ErrorCode {
    /// The catalog's text for this code, if it has a specific one (the
    /// page or API then shows it instead of the status's generic text).
    pub fn message(self, t: &Catalog, settings: &Settings) -> Option<String> {
        use ErrorCode as C;
        let min_chars = settings.auth.password_min_chars;
        let s = match self {
            C::TooManyAddresses => {
                return Some(
                    t.err_too_many_addresses
                        .replace("{max}", &settings.limits.max_addresses.to_string()),
                );
            }
            C::TooManyChanges => &t.err_too_many_changes,
            C::LimitReached => &t.err_limit_reached,
            C::InvalidEmail => &t.err_invalid_email,
            C::InvalidDisplayName => &t.err_invalid_display_name,
            C::EmailUnchanged => &t.err_email_unchanged,
            C::TermsNotAccepted => &t.err_terms_not_accepted,
            C::InvalidCode => &t.err_invalid_code,
            C::InvalidCredentials => &t.err_invalid_credentials,
            C::AccountLocked => &t.err_locked_known_device,
            C::PasswordTooShort => {
                return Some(
                    t.err_password_too_short
                        .replace("{min}", &min_chars.to_string()),
                );
            }
            C::PasswordTooLong => &t.err_password_too_long,
            C::PasswordTooCommon => &t.err_password_too_common,
            C::NotAuthenticated => &t.err_not_authenticated,
            C::ReauthenticationRequired => &t.err_reauthentication_required,
            C::CurrentPasswordWrong => &t.err_current_password_wrong,
            C::RateLimited => &t.err_rate_limited,
            C::SessionNotFound => &t.err_session_not_found,
            C::BankNotFound => &t.err_bank_not_found,
            C::PostcodeNotFound => &t.err_postcode_not_found,
            C::MalformedJson => &t.err_malformed_json,
            C::ChallengeRequired => &t.err_challenge_required,
            C::ChallengeFailed => &t.err_challenge_failed,
            C::InvalidFields => &t.err_invalid_fields,
            C::InvalidPage => &t.err_invalid_page,
            C::DataUnreadable => &t.err_data_unreadable,
            C::ShopExists => &t.err_shop_exists,
            C::NoShop => &t.err_no_shop,
            C::ItemLimit => &t.err_item_limit,
            C::ImageLimit => &t.err_image_limit,
            C::ImageSize
            | C::NotAnImage
            | C::ImageTooManyPixels
            | C::ImageDamaged
            | C::ImagePolyglot => return t.image_errors.get(self.as_str()).cloned(),
            C::SoldOut => t.flash.get("order_sold_out")?,
            C::ItemChanged => t.flash.get("order_changed")?,
            C::NotForSale => &t.checkout.add_unavailable,
            C::OwnItem => &t.checkout.add_own_item,
            C::EmptyCart => &t.checkout.cart_empty,
            C::CheckoutClosed => &t.checkout.checkout_closed,
            C::NotPayable => &t.checkout.pay_expired,
            C::PaymentInProgress => &t.checkout.err_payment_in_progress,
            C::InvalidPaymentMethod => &t.checkout.err_invalid_payment_method,
            C::OrderState => &t.checkout.err_order_state,
            C::RefundTooLarge => t.field_errors.get("amount.too_large")?,
            C::RefundInProgress => &t.checkout.err_refund_in_progress,
            C::InvalidAmount => t.field_errors.get("amount.invalid")?,
            C::ProcessorUnavailable => &t.checkout.pay_error_network,
            C::InvalidSignature => &t.checkout.err_invalid_signature,
            C::WebhooksNotConfigured => &t.checkout.err_webhooks_not_configured,
            C::TotalTooSmall => &t.checkout.err_total_too_small,
            _ => return None,
        };
        Some(s.clone())
    }
}

/// The one error of the web layer; every handler and middleware returns
/// it, and [`IntoResponse`] maps it to a status with its [`ErrorCode`].
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("bad request: {0:?}")]
    BadRequest(ErrorCode),
    #[error("cross-site request refused")]
    CrossSite,
    #[error("missing or invalid CSRF token")]
    CsrfToken,
    #[error("not found: {0:?}")]
    NotFound(ErrorCode),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("request head too large")]
    HeadersTooLarge,
    #[error("request for another host")]
    Misdirected,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("unauthorized: {0:?}")]
    Unauthorized(ErrorCode),
    #[error("forbidden: {0:?}")]
    Forbidden(ErrorCode),
    /// The request conflicts with what exists (a second shop, a
    /// collection at its limit).
    #[error("conflict: {0:?}")]
    Conflict(ErrorCode),
    /// Well-formed, but its content is refused (an upload that is not a
    /// safe image).
    #[error("unprocessable: {0:?}")]
    Unprocessable(ErrorCode),
    /// Something we depend on is not there (503), such as the card
    /// processor.
    #[error("unavailable: {0:?}")]
    Unavailable(ErrorCode),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// A member's personal data changed too often in the window.
    #[error("too many personal data changes")]
    TooManyChanges { retry_after_secs: u64 },
    /// A form's fields are wrong; the JSON body lists each (`fields`).
    #[error("invalid fields")]
    InvalidFields(Vec<FieldError>),
    /// Stored personal data does not decrypt (moved, tampered with, key
    /// gone): a 500 with its own code, the cause in the log only.
    #[error("stored data unreadable")]
    Unreadable(anyhow::Error),
    /// The database did not answer (a pool timeout, a lost connection,
    /// SQLite locked past its busy timeout): a 503 with `Retry-After`,
    /// which a client or load balancer may retry, not a 500. Made from
    /// an [`WebError::Internal`] whose cause is
    /// [`StoreError::Unavailable`], wherever it was wrapped.
    #[error("database unavailable")]
    DatabaseUnavailable(anyhow::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// Seconds a client is asked to wait before trying again when the
/// database did not answer: a PostgreSQL restart or failover takes a few.
pub const DATABASE_RETRY_AFTER_SECS: u64 = 5;

/// Whether an unexpected error is the database being out of reach,
/// however many layers wrapped the store's error.
fn is_database_outage(cause: &anyhow::Error) -> bool {
    cause.chain().any(|e| {
        matches!(
            e.downcast_ref::<StoreError>(),
            Some(StoreError::Unavailable(_))
        )
    })
}

/// The field errors of an `invalid_fields` response, for the renderer.
#[derive(Debug, Clone)]
pub struct InvalidFieldList(pub Vec<FieldError>);

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
    pub code: ErrorCode,
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
        use ErrorCode as C;
        match self {
            WebError::BadRequest(code) => (StatusCode::BAD_REQUEST, info(*code)),
            WebError::CrossSite => (StatusCode::FORBIDDEN, info(C::CrossSiteRequest)),
            WebError::CsrfToken => (
                StatusCode::FORBIDDEN,
                ErrorInfo {
                    code: C::CsrfTokenInvalid,
                    detail: Detail::Csrf,
                },
            ),
            WebError::NotFound(code) => (StatusCode::NOT_FOUND, info(*code)),
            WebError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, info(C::PayloadTooLarge)),
            WebError::Misdirected => (StatusCode::MISDIRECTED_REQUEST, info(C::MisdirectedRequest)),
            WebError::HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                info(C::HeadersTooLarge),
            ),
            WebError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                info(C::UnsupportedMediaType),
            ),
            WebError::Unauthorized(code) => (StatusCode::UNAUTHORIZED, info(*code)),
            WebError::Forbidden(code) => (StatusCode::FORBIDDEN, info(*code)),
            WebError::Conflict(code) => (StatusCode::CONFLICT, info(*code)),
            WebError::Unprocessable(code) => (StatusCode::UNPROCESSABLE_ENTITY, info(*code)),
            WebError::Unavailable(code) => (StatusCode::SERVICE_UNAVAILABLE, info(*code)),
            WebError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, info(C::RateLimited))
            }
            WebError::TooManyChanges { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, info(C::TooManyChanges))
            }
            WebError::InvalidFields(_) => (StatusCode::BAD_REQUEST, info(C::InvalidFields)),
            WebError::Unreadable(_) => (StatusCode::INTERNAL_SERVER_ERROR, info(C::DataUnreadable)),
            WebError::DatabaseUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, info(C::ServiceUnavailable))
            }
            WebError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, info(C::InternalError)),
        }
    }

    /// An unexpected error caused by the database being out of reach
    /// becomes [`WebError::DatabaseUnavailable`]; everything else stays.
    fn with_outage_told_apart(self) -> Self {
        match self {
            WebError::Internal(cause) if is_database_outage(&cause) => {
                WebError::DatabaseUnavailable(cause)
            }
            other => other,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let this = self.with_outage_told_apart();
        let (status, info) = this.status_and_info();
        match &this {
            // The cause goes to the log (inside the request span, so it
            // carries the request id), never to the client.
            WebError::Internal(cause) | WebError::Unreadable(cause) => {
                tracing::error!(error_code = info.code.as_str(), error = %cause, "request failed");
            }
            // The driver's text (never a bound value) says which outage.
            WebError::DatabaseUnavailable(cause) => {
                tracing::error!(error_code = info.code.as_str(), error = %cause, "request failed: database unavailable");
            }
            other => {
                tracing::info!(error_code = info.code.as_str(), reason = %other, "request refused")
            }
        }
        let mut res = status.into_response();
        let retry_after = match &this {
            WebError::TooManyRequests { retry_after_secs }
            | WebError::TooManyChanges { retry_after_secs } => Some(*retry_after_secs),
            WebError::DatabaseUnavailable(_) => Some(DATABASE_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let WebError::InvalidFields(fields) = this {
            res.extensions_mut().insert(InvalidFieldList(fields));
        }
        res.extensions_mut().insert(info);
        res
    }
}

/// Fallback for unknown paths.
pub async fn not_found() -> WebError {
    WebError::NotFound(ErrorCode::NotFound)
}

/// Turns a caught panic into a 500 without echoing the panic message.
pub fn panic_response(_payload: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    WebError::Internal(anyhow::anyhow!("panic in handler")).into_response()
}

fn default_code(status: StatusCode) -> ErrorCode {
    use ErrorCode as C;
    match status.as_u16() {
        400 => C::BadRequest,
        403 => C::Forbidden,
        404 => C::NotFound,
        405 => C::MethodNotAllowed,
        408 => C::RequestTimeout,
        413 => C::PayloadTooLarge,
        414 => C::UriTooLong,
        415 => C::UnsupportedMediaType,
        421 => C::MisdirectedRequest,
        422 => C::UnprocessableEntity,
        429 => C::TooManyRequests,
        431 => C::HeadersTooLarge,
        503 => C::ServiceUnavailable,
        s if s >= 500 => C::InternalError,
        _ => C::ClientError,
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
        (414 | 431, _) => (&t.error_431_title, &t.error_431_body),
        (415, _) => (&t.error_415_title, &t.error_415_body),
        (421, _) => (&t.error_421_title, &t.error_421_body),
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
    // Machine endpoints (the JSON API, processor webhooks) get JSON.
    let api = req.uri().path().starts_with("/api/") || req.uri().path().starts_with("/hooks/");
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
    let body = generic_body(
        &state,
        &Generic {
            lang,
            api,
            status,
            code,
            detail,
            fields: fields.as_ref(),
            request_id: &request_id,
        },
        &mut parts.headers,
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// What the generic body of an error response says.
struct Generic<'a> {
    lang: Lang,
    api: bool,
    status: StatusCode,
    code: ErrorCode,
    detail: Detail,
    fields: Option<&'a InvalidFieldList>,
    request_id: &'a str,
}

/// The generic page in the visitor's language, or the API's JSON; sets
/// the content type in `headers`.
fn generic_body(state: &AppState, g: &Generic<'_>, headers: &mut http::HeaderMap) -> Vec<u8> {
    let t = state.catalogs.get(g.lang);
    let (title, generic) = texts(t, g.status, g.detail);
    let specific = g.code.message(t, &state.settings);
    let text = specific.as_deref().unwrap_or(generic);
    if g.api {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let json = ApiError {
            error: g.code.as_str(),
            message: text,
            request_id: g.request_id,
        };
        match g.fields {
            Some(InvalidFieldList(list)) => {
                let views: Vec<FieldErrorView<'_>> = list
                    .iter()
                    .map(|f| FieldErrorView {
                        field: f.field,
                        code: f.code,
                        message: f.message(t),
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
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let page = ErrorPage {
            layout: Layout::new(state, g.lang, title),
            status: g.status.as_u16(),
            body: text,
            request_id: g.request_id,
        };
        page.render().map(String::into_bytes).unwrap_or_else(|_| {
            format!(
                "{} {title}\n{}: {}\n",
                g.status.as_u16(),
                t.error_request_id,
                g.request_id
            )
            .into_bytes()
        })
    }
}

/// The answer to a request that hyper could not parse (malformed, head
/// too large), made as every other error response is: a request id
/// (logged here), the security headers and the generic page. Nothing of
/// the request is known, so the page is HTML in the default language.
/// `server::protocol_errors` sends it in place of hyper's bare one.
pub fn protocol_error(state: &AppState, status: StatusCode) -> http::Response<Vec<u8>> {
    let request_id = super::request_id::new_id(state);
    let code = default_code(status);
    tracing::info!(
        request_id = %request_id,
        status = status.as_u16(),
        error_code = code.as_str(),
        "request refused by the HTTP parser"
    );
    let mut res = http::Response::new(Vec::new());
    *res.status_mut() = status;
    let body = generic_body(
        state,
        &Generic {
            lang: state.settings.site.default_language,
            api: false,
            status,
            code,
            detail: Detail::Generic,
            fields: None,
            request_id: &request_id,
        },
        res.headers_mut(),
    );
    *res.body_mut() = body;
    super::headers::set(res.headers_mut());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(super::request_id::HEADER, v);
    }
    res
}

/// For tests and the ops listener: the language-independent code of a status.
pub fn code_for(status: StatusCode) -> &'static str {
    default_code(status).as_str()
}

/// What the core's account use cases refuse, as the client may learn it.
impl From<AuthError> for WebError {
    fn from(e: AuthError) -> Self {
        use ErrorCode as C;
        use anshin_core::accounts::password::PasswordRule;
        match e {
            AuthError::InvalidCode => WebError::Unauthorized(C::InvalidCode),
            AuthError::InvalidCredentials => WebError::Unauthorized(C::InvalidCredentials),
            AuthError::LockedKnownDevice => WebError::Unauthorized(C::AccountLocked),
            AuthError::RateLimited { retry_after_secs } => {
                WebError::TooManyRequests { retry_after_secs }
            }
            AuthError::ReauthRequired => WebError::Forbidden(C::ReauthenticationRequired),
            AuthError::CurrentPasswordWrong => WebError::Forbidden(C::CurrentPasswordWrong),
            AuthError::EmailUnchanged => WebError::BadRequest(C::EmailUnchanged),
            AuthError::Password(rule) => WebError::BadRequest(match rule {
                PasswordRule::TooShort => C::PasswordTooShort,
                PasswordRule::TooLong => C::PasswordTooLong,
                PasswordRule::TooCommon => C::PasswordTooCommon,
            }),
            AuthError::Challenge(e) => WebError::from(e),
            AuthError::TermsNotAccepted => WebError::BadRequest(C::TermsNotAccepted),
            AuthError::NotAuthenticated => WebError::Unauthorized(C::NotAuthenticated),
            AuthError::DataUnreadable(e) => WebError::Unreadable(e),
            AuthError::Unexpected(e) => WebError::Internal(e),
        }
    }
}

/// What the contact form refuses.
impl From<anshin_core::contact::ContactError> for WebError {
    fn from(e: anshin_core::contact::ContactError) -> Self {
        use anshin_core::contact::ContactError as E;
        match e {
            E::Invalid(fields) => WebError::InvalidFields(fields),
            E::Challenge(e) => WebError::from(e),
            E::RateLimited { retry_after_secs } => WebError::TooManyRequests { retry_after_secs },
            E::Unexpected(e) => WebError::Internal(e),
        }
    }
}

/// What the vulnerability report form refuses (C5).
impl From<anshin_core::vdp::VdpError> for WebError {
    fn from(e: anshin_core::vdp::VdpError) -> Self {
        use anshin_core::vdp::VdpError as E;
        match e {
            E::Invalid(fields) => WebError::InvalidFields(fields),
            E::Challenge(e) => WebError::from(e),
            E::RateLimited { retry_after_secs } => WebError::TooManyRequests { retry_after_secs },
            E::Unreadable => WebError::Internal(anyhow::anyhow!("a report could not be sealed")),
            E::Unexpected(e) => WebError::Internal(e),
        }
    }
}

impl From<ChallengeError> for WebError {
    fn from(e: ChallengeError) -> Self {
        match e {
            ChallengeError::Required => WebError::Forbidden(ErrorCode::ChallengeRequired),
            ChallengeError::Invalid | ChallengeError::Unavailable => {
                WebError::Forbidden(ErrorCode::ChallengeFailed)
            }
        }
    }
}

impl From<MemberDataError> for WebError {
    fn from(e: MemberDataError) -> Self {
        match e {
            MemberDataError::Invalid(fields) => WebError::InvalidFields(fields),
            MemberDataError::NotFound => WebError::NotFound(ErrorCode::NotFound),
            MemberDataError::ReauthRequired => {
                WebError::Forbidden(ErrorCode::ReauthenticationRequired)
            }
            MemberDataError::NotAuthenticated => {
                WebError::Unauthorized(ErrorCode::NotAuthenticated)
            }
            MemberDataError::LimitReached { collection, .. } => {
                WebError::Conflict(match collection {
                    Collection::Addresses => ErrorCode::TooManyAddresses,
                    Collection::Sessions => ErrorCode::LimitReached,
                })
            }
            MemberDataError::TooManyChanges(t) => WebError::TooManyChanges {
                retry_after_secs: t.retry_after_secs,
            },
            e @ (MemberDataError::Unreadable { .. } | MemberDataError::Malformed { .. }) => {
                WebError::Unreadable(e.into())
            }
            MemberDataError::Store(e) => WebError::from(e),
            e @ MemberDataError::Mail(_) => WebError::Internal(e.into()),
        }
    }
}

/// What the catalog's use cases refuse.
impl From<anshin_core::shops::ShopError> for WebError {
    fn from(e: anshin_core::shops::ShopError) -> Self {
        use anshin_core::shops::ShopError as S;
        use anshin_core::shops::images::ImageError as I;
        match e {
            S::Invalid(fields) => WebError::InvalidFields(fields),
            S::AlreadyOpen => WebError::Conflict(ErrorCode::ShopExists),
            S::NoShop => WebError::NotFound(ErrorCode::NoShop),
            S::NotFound => WebError::NotFound(ErrorCode::NotFound),
            S::ItemLimit { .. } => WebError::Conflict(ErrorCode::ItemLimit),
            S::ImageLimit { .. } => WebError::Conflict(ErrorCode::ImageLimit),
            S::Image(i) => match i {
                I::Size => WebError::Unprocessable(ErrorCode::ImageSize),
                I::NotAnImage => WebError::Unprocessable(ErrorCode::NotAnImage),
                I::TooManyPixels => WebError::Unprocessable(ErrorCode::ImageTooManyPixels),
                I::Damaged => WebError::Unprocessable(ErrorCode::ImageDamaged),
                I::Polyglot => WebError::Unprocessable(ErrorCode::ImagePolyglot),
            },
            S::Store(e) => WebError::from(e),
            e @ S::Media(_) => WebError::Internal(e.into()),
        }
    }
}

impl From<anshin_core::sessions::EndError> for WebError {
    fn from(e: anshin_core::sessions::EndError) -> Self {
        match e {
            anshin_core::sessions::EndError::NotFound => {
                WebError::NotFound(ErrorCode::SessionNotFound)
            }
            anshin_core::sessions::EndError::Store(e) => WebError::from(e),
        }
    }
}

impl From<anshin_core::checkout::CheckoutError> for WebError {
    fn from(e: anshin_core::checkout::CheckoutError) -> Self {
        use ErrorCode as C;
        use anshin_core::checkout::CheckoutError as E;
        match e {
            E::NotSignedIn => WebError::Unauthorized(C::NotAuthenticated),
            E::NotForSale => WebError::Conflict(C::NotForSale),
            E::OwnItem => WebError::BadRequest(C::OwnItem),
            E::EmptyCart => WebError::BadRequest(C::EmptyCart),
            E::AddressNotFound => {
                WebError::InvalidFields(vec![anshin_core::member_data::FieldError {
                    field: "address",
                    code: "required",
                }])
            }
            E::SoldOut => WebError::Conflict(C::SoldOut),
            E::Changed => WebError::Conflict(C::ItemChanged),
            E::TooSmall { .. } => WebError::BadRequest(C::TotalTooSmall),
            E::Closed => WebError::Unavailable(C::CheckoutClosed),
            E::OrderNotFound => WebError::NotFound(C::NotFound),
            E::NotPayable => WebError::Conflict(C::NotPayable),
            E::PaymentInProgress => WebError::Conflict(C::PaymentInProgress),
            E::InvalidPaymentMethod => WebError::BadRequest(C::InvalidPaymentMethod),
            E::Processor(p) => WebError::from(p),
            E::Order(o) => WebError::from(o),
            E::MemberData(m) => WebError::from(m),
            E::Store(s) => WebError::from(s),
        }
    }
}

impl From<anshin_core::payments::ProcessorError> for WebError {
    fn from(e: anshin_core::payments::ProcessorError) -> Self {
        use anshin_core::payments::ProcessorError as P;
        match e {
            P::Unavailable(_) => WebError::Unavailable(ErrorCode::ProcessorUnavailable),
            P::NotConfigured => WebError::Unavailable(ErrorCode::CheckoutClosed),
            // Declines are answered as outcomes, not errors; a refusal
            // or an unreadable answer is our problem to log.
            e => WebError::Internal(anyhow::anyhow!("payment processor: {e}")),
        }
    }
}

impl From<anshin_core::orders::OrderError> for WebError {
    fn from(e: anshin_core::orders::OrderError) -> Self {
        use ErrorCode as C;
        use anshin_core::orders::OrderError as E;
        match e {
            E::NotFound => WebError::NotFound(C::NotFound),
            E::WrongState => WebError::Conflict(C::OrderState),
            E::InvalidAmount => WebError::BadRequest(C::InvalidAmount),
            E::RefundTooLarge => WebError::BadRequest(C::RefundTooLarge),
            E::RefundInProgress => WebError::Conflict(C::RefundInProgress),
            E::Processor(p) => WebError::from(p),
            E::Unreadable(m) => WebError::from(m),
            E::Store(s) => WebError::from(s),
            e @ (E::Ledger(_) | E::Mail(_) | E::Shipping(_)) => WebError::Internal(e.into()),
        }
    }
}

impl From<anshin_core::shipping::ShippingError> for WebError {
    fn from(e: anshin_core::shipping::ShippingError) -> Self {
        use ErrorCode as C;
        use anshin_core::shipping::ShippingError as E;
        match e {
            E::NotFound | E::NoShop | E::NoSuchAddress => WebError::NotFound(C::NotFound),
            E::WrongState => WebError::Conflict(C::OrderState),
            E::MemberData(m) => WebError::from(m),
            E::Order(o) => WebError::from(*o),
            E::Store(e) => WebError::from(e),
            e @ (E::Unreadable | E::Mail(_)) => WebError::Internal(e.into()),
        }
    }
}

/// A header we build (a cookie) that HTTP cannot carry: our bug, a 500.
impl From<http::header::InvalidHeaderValue> for WebError {
    fn from(e: http::header::InvalidHeaderValue) -> Self {
        WebError::Internal(anyhow::anyhow!("header value: {e}"))
    }
}

/// The store's errors in one place: the database out of reach is a 503
/// the client may retry; anything else is our bug, a 500.
impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::Unavailable(_) => WebError::DatabaseUnavailable(e.into()),
            e => WebError::Internal(e.into()),
        }
    }
}

/// The user-facing text of an error for a form page (shown on the form,
/// with a 200), or the error itself if it is not about what the person
/// did (a 5xx, which gets the generic error page).
pub fn form_message(
    state: &AppState,
    lang: Lang,
    e: impl Into<WebError>,
) -> Result<String, WebError> {
    let web: WebError = e.into();
    let code = match &web {
        WebError::BadRequest(c)
        | WebError::Unauthorized(c)
        | WebError::Forbidden(c)
        | WebError::Conflict(c)
        | WebError::Unprocessable(c) => *c,
        WebError::TooManyRequests { .. } => ErrorCode::RateLimited,
        WebError::TooManyChanges { .. } => ErrorCode::TooManyChanges,
        _ => return Err(web),
    };
    let t = state.catalogs.get(lang);
    Ok(code
        .message(t, &state.settings)
        .unwrap_or_else(|| t.error_400_body.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_unique_and_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }

    #[test]
    fn c07_challenge_errors_map_to_stable_codes() {
        let code = |e| match WebError::from(e) {
            WebError::Forbidden(c) => c.as_str(),
            other => panic!("{other:?}"),
        };
        assert_eq!(code(ChallengeError::Required), "challenge_required");
        assert_eq!(code(ChallengeError::Invalid), "challenge_failed");
        assert_eq!(code(ChallengeError::Unavailable), "challenge_failed");
    }

    /// Status, error code and `Retry-After` of the response an error
    /// becomes.
    fn answer(e: WebError) -> (StatusCode, &'static str, Option<String>) {
        let res = e.into_response();
        let code = res.extensions().get::<ErrorInfo>().map(|i| i.code.as_str());
        let retry = res
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (res.status(), code.unwrap_or("-"), retry)
    }

    #[test]
    fn the_database_out_of_reach_is_a_503_to_retry_however_it_was_wrapped() {
        let down =
            || StoreError::Unavailable("pool timed out while waiting for a connection".into());
        let outage = (
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            Some(DATABASE_RETRY_AFTER_SECS.to_string()),
        );
        // The store's error itself, through `?` into anyhow, with a
        // context around it, inside a use case's error that holds it
        // as anyhow (a login) or as its own variant (an address, a
        // shop, a session), and inside one that wraps that again.
        assert_eq!(answer(WebError::from(down())), outage);
        assert_eq!(answer(WebError::Internal(down().into())), outage);
        assert_eq!(
            answer(WebError::Internal(
                anyhow::Error::from(down()).context("reading the cart")
            )),
            outage
        );
        assert_eq!(answer(WebError::from(AuthError::from(down()))), outage);
        assert_eq!(
            answer(WebError::from(MemberDataError::Store(down()))),
            outage
        );
        assert_eq!(
            answer(WebError::from(anshin_core::shops::ShopError::Store(down()))),
            outage
        );
        assert_eq!(
            answer(WebError::from(anshin_core::sessions::EndError::Store(
                down()
            ))),
            outage
        );
        assert_eq!(
            answer(WebError::from(
                anshin_core::shipping::ShippingError::MemberData(MemberDataError::Store(down()))
            )),
            outage
        );
        assert_eq!(
            answer(WebError::from(anshin_core::orders::OrderError::Store(
                down()
            ))),
            outage
        );
        // Any other store error is our fault: a 500, and no invitation
        // to retry.
        let internal = (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", None);
        assert_eq!(
            answer(WebError::from(StoreError::Other("syntax error".into()))),
            internal
        );
        assert_eq!(
            answer(WebError::from(AuthError::from(StoreError::Corrupt {
                table: "members",
                reason: "bad uuid",
            }))),
            internal
        );
        assert_eq!(
            answer(WebError::Internal(anyhow::anyhow!(
                "database unavailable: but only in words"
            ))),
            internal
        );
    }
}

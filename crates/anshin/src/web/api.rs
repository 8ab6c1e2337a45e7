//! The JSON API under `/api/v1` and its OpenAPI document at
//! `/api/openapi.json`. Routes live with their feature modules; this module
//! only lists them for the document.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::web::AppState;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "anshin API",
        description = "JSON API of the anshin marketplace. Requests with a body must be \
            `application/json`; cross-origin requests are refused. Errors are \
            `{error, message, request_id}` with a stable `error` code.",
        version = "1"
    ),
    paths(
        crate::web::member_data::set_phone,
        crate::web::member_data::list_addresses,
        crate::web::member_data::add_address,
        crate::web::member_data::update_address,
        crate::web::member_data::delete_address,
        crate::web::member_data::set_bank_account,
        crate::web::language::save_api,
        crate::web::account::signup,
        crate::web::account::signup_verify,
        crate::web::account::login_code,
        crate::web::account::login_code_verify,
        crate::web::account::login_password,
        crate::web::account::login_unlock,
        crate::web::account::me,
        crate::web::account::set_password,
        crate::web::account::remove_password,
        crate::web::account::reauth_code,
        crate::web::account::reauth_verify,
        crate::web::account::sessions,
        crate::web::account::end_session,
        crate::web::account::end_other_sessions,
        crate::web::account::logins,
        crate::web::account::logout,
        crate::web::challenge::issue,
    ),
    components(schemas(
        crate::web::errors::ApiError,
        crate::web::language::LanguagePreference,
        crate::challenge::altcha::Challenge
    ))
)]
pub struct ApiDoc;

/// `Json` whose rejections become our errors: a body that is not JSON of
/// the expected shape is 400 `malformed_json`, a wrong content type 415.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = crate::web::errors::WebError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        use crate::web::errors::WebError;
        use axum::extract::rejection::JsonRejection;
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(WebError::UnsupportedMediaType),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(WebError::PayloadTooLarge)
            }
            Err(_) => Err(WebError::BadRequest("malformed_json")),
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

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
    paths(crate::web::language::save_api),
    components(schemas(crate::web::errors::ApiError, crate::web::language::LanguagePreference))
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

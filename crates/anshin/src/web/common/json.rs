//! `Json` whose rejections become our errors: a body that is not JSON of
//! the expected shape is 400 `malformed_json`, a wrong content type 415,
//! an oversized one 413.

use axum::Json;
use axum::extract::rejection::JsonRejection;

use super::errors::{ErrorCode, WebError};

#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(WebError::UnsupportedMediaType),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(WebError::PayloadTooLarge)
            }
            Err(_) => Err(WebError::BadRequest(ErrorCode::MalformedJson)),
        }
    }
}

//! `GET /api/v1/challenge`: a fresh ALTCHA proof-of-work challenge for the
//! widget (`static/altcha.js`). Unauthenticated by design (it guards
//! sign-up and login); issuing costs one HMAC and no database write, so it
//! gives an attacker nothing to exhaust. 404 when a third-party provider
//! is configured.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::challenge::{self, Provider, altcha::Challenge};
use crate::web::AppState;
use crate::web::errors::WebError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/challenge", get(issue))
}

/// A new challenge; solve it and send the result as the `altcha` field.
#[utoipa::path(get, path = "/api/v1/challenge",
    responses((status = 200, body = Challenge), (status = 404, body = crate::web::errors::ApiError)))]
pub async fn issue(State(state): State<AppState>) -> Result<Json<Challenge>, WebError> {
    if state.settings.captcha.provider != Provider::Altcha {
        return Err(WebError::NotFound);
    }
    // Responses are `Cache-Control: no-store` by default (headers.rs):
    // every visitor gets a challenge of their own.
    Ok(Json(challenge::issue(&state)))
}

//! `GET /api/v1/challenge`: a fresh ALTCHA proof-of-work challenge for the
//! widget (`static/altcha.js`). Unauthenticated by design (it guards
//! sign-up and login); issuing costs one HMAC and no database write, so it
//! gives an attacker nothing to exhaust. 404 when a third-party provider
//! is configured.

use anshin_core::challenge::{self, Provider};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::web::AppState;
use crate::web::common::errors::{ApiError, ErrorCode, WebError};

/// What `GET /api/v1/challenge` returns; the ALTCHA widget's input.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeView {
    /// Always `SHA-256`.
    pub algorithm: String,
    /// hex(SHA-256(salt || number)).
    pub challenge: String,
    /// The secret number is in `0..=maxnumber`.
    pub maxnumber: u64,
    /// Random hex, then `?expires=<unix seconds>&maxnumber=<n>&`.
    pub salt: String,
    /// hex(HMAC-SHA-256(key, challenge)).
    pub signature: String,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/challenge", get(issue))
}

/// A new challenge; solve it and send the result as the `altcha` field.
#[utoipa::path(get, path = "/api/v1/challenge",
    responses((status = 200, body = ChallengeView), (status = 404, body = ApiError)))]
pub async fn issue(State(state): State<AppState>) -> Result<Json<ChallengeView>, WebError> {
    if state.settings.captcha.provider != Provider::Altcha {
        return Err(WebError::NotFound(ErrorCode::NotFound));
    }
    // Responses are `Cache-Control: no-store` by default (headers.rs):
    // every visitor gets a challenge of their own.
    let c = challenge::issue(&state.core);
    Ok(Json(ChallengeView {
        algorithm: c.algorithm,
        challenge: c.challenge,
        maxnumber: c.maxnumber,
        salt: c.salt,
        signature: c.signature,
    }))
}

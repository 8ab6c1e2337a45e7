//! The profile API: the display name (`PATCH /api/v1/me/profile`) and the
//! e-mail address (`POST /api/v1/me/email` to start, `/email/verify` with
//! the code mailed to the new address, `/email/resend`). The same use
//! cases as the pages (`profile_pages`).

use anshin_core::accounts;
use anshin_domain::FlowId;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::{Json, Router};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::accounts_api::{FlowResponse, parse_display_name, parse_email};
use crate::web::AppState;
use crate::web::common::client::ClientOf;
use crate::web::common::errors::{ApiError, WebError};
use crate::web::common::json::ApiJson;
use crate::web::common::member::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/profile", patch(update_profile))
        .route("/api/v1/me/email", post(start_email_change))
        .route("/api/v1/me/email/verify", post(confirm_email_change))
        .route("/api/v1/me/email/resend", post(resend_email_change))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// 1 to 50 characters after trimming, no control characters. A longer
    /// name is refused (400 `invalid_display_name`), never cut.
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    /// As stored (trimmed).
    pub display_name: String,
}

/// Changes the display name. No recent login needed.
#[utoipa::path(patch, path = "/api/v1/me/profile", request_body = ProfileUpdate,
    responses(
        (status = 200, body = ProfileView),
        (status = 400, body = ApiError, description = "`invalid_display_name`: empty, over 50 characters or with a control character"),
        (status = 401, body = ApiError, description = "`not_authenticated`"),
    ),
    tag = "me")]
pub async fn update_profile(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<ProfileUpdate>,
) -> Result<Json<ProfileView>, WebError> {
    let name = parse_display_name(&req.display_name)?;
    accounts::change_display_name(&state.core, me.member, &name).await?;
    Ok(Json(ProfileView {
        display_name: name.as_str().to_owned(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeRequest {
    /// The new address; the code goes there.
    pub email: String,
}

/// Starts an e-mail change: mails a code to the new address. Needs a
/// login or a confirmed code within `auth.recent_auth_secs` (10 minutes
/// by default; `POST /api/v1/me/reauth/code` gets one). The answer is the
/// same whether or not the new address already has an account (its owner
/// then gets a notice, no code, and the change cannot complete).
#[utoipa::path(post, path = "/api/v1/me/email", request_body = EmailChangeRequest,
    responses(
        (status = 202, body = FlowResponse, description = "A code is on its way to the new address, if it can be used"),
        (status = 400, body = ApiError, description = "`invalid_email`, or `email_unchanged` (the account's current address)"),
        (status = 401, body = ApiError, description = "`not_authenticated`"),
        (status = 403, body = ApiError, description = "`reauthentication_required`"),
        (status = 429, body = ApiError, description = "`rate_limited`: too many codes for this address or changes by this member in the window"),
    ),
    tag = "me")]
pub async fn start_email_change(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<EmailChangeRequest>,
) -> Result<Response, WebError> {
    let new = parse_email(&req.email)?;
    let flow_id = accounts::request_email_change(&state.core, &me.session, new).await?;
    Ok(flow_started(flow_id))
}

fn flow_started(flow_id: FlowId) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(FlowResponse {
            flow_id: flow_id.as_uuid(),
        }),
    )
        .into_response()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeCode {
    pub flow_id: Uuid,
    pub code: String,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for EmailChangeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChangeCode")
            .field("flow_id", &self.flow_id)
            .finish_non_exhaustive()
    }
}

/// Finishes the change with the code mailed to the new address, from the
/// session that started it: the address changes, every other session of
/// the member ends (this one stays), and the old address gets a notice
/// with the new one masked.
#[utoipa::path(post, path = "/api/v1/me/email/verify", request_body = EmailChangeCode,
    responses(
        (status = 204, description = "Changed; other sessions ended"),
        (status = 401, body = ApiError, description = "`invalid_code` (wrong, expired, used, out of attempts, or not this session's change), or `not_authenticated`"),
        (status = 429, body = ApiError, description = "`rate_limited`: too many failures from this address"),
    ),
    tag = "me")]
pub async fn confirm_email_change(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    me: SignedIn,
    ApiJson(req): ApiJson<EmailChangeCode>,
) -> Result<StatusCode, WebError> {
    accounts::confirm_email_change(
        &state.core,
        &me.session,
        FlowId::from_uuid(req.flow_id),
        &req.code,
        &client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeResend {
    pub flow_id: Uuid,
}

/// Mails a new code for this session's change (the same rules as
/// starting it); the old code stops working.
#[utoipa::path(post, path = "/api/v1/me/email/resend", request_body = EmailChangeResend,
    responses(
        (status = 202, body = FlowResponse),
        (status = 401, body = ApiError, description = "`invalid_code`: not this session's change"),
        (status = 403, body = ApiError, description = "`reauthentication_required`"),
        (status = 429, body = ApiError, description = "`rate_limited`"),
    ),
    tag = "me")]
pub async fn resend_email_change(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<EmailChangeResend>,
) -> Result<Response, WebError> {
    let flow_id =
        accounts::resend_email_change(&state.core, &me.session, FlowId::from_uuid(req.flow_id))
            .await?;
    Ok(flow_started(flow_id))
}

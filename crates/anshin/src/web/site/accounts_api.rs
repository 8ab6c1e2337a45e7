//! The account API (`/api/v1/signup`, `/login/*`, `/me/*`, `/logout`):
//! each handler parses the request, calls one use case of
//! `anshin_core::accounts` or `anshin_core::sessions`, and maps the outcome
//! to a response. Wrong codes and wrong passwords are one generic 401 each.

use anshin_core::accounts::{self, CodeRequest, LoggedIn};
use anshin_core::sessions;
use anshin_domain::{DisplayName, EmailAddress, FlowId, FlowPurpose, SessionId};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use http::{HeaderMap, StatusCode, header};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::web::AppState;
use crate::web::common::client::ClientOf;
use crate::web::common::errors::{ApiError, ErrorCode, WebError};
use crate::web::common::json::ApiJson;
use crate::web::common::language::request_lang;
use crate::web::common::member::SignedIn;
use crate::web::common::session::{self, CurrentSession};
use crate::web::site::member_data_api::BankAccountMasked;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/signup", post(signup))
        .route("/api/v1/signup/verify", post(signup_verify))
        .route("/api/v1/login/code", post(login_code))
        .route("/api/v1/login/code/verify", post(login_code_verify))
        .route("/api/v1/login/password", post(login_password))
        .route("/api/v1/login/unlock", post(login_unlock))
        .route("/api/v1/me", get(me))
        .route(
            "/api/v1/me/password",
            put(set_password).delete(remove_password),
        )
        .route("/api/v1/me/reauth/code", post(reauth_code))
        .route("/api/v1/me/reauth/verify", post(reauth_verify))
        .route("/api/v1/me/sessions", get(list_sessions))
        .route("/api/v1/me/sessions/{id}", delete(end_session))
        .route("/api/v1/me/sessions/end-others", post(end_other_sessions))
        .route("/api/v1/me/logins", get(logins))
        .route("/api/v1/logout", post(logout))
}

type Session = Option<Extension<CurrentSession>>;

/// The e-mail address as typed, parsed (400 `invalid_email` otherwise).
pub(crate) fn parse_email(raw: &str) -> Result<EmailAddress, WebError> {
    EmailAddress::parse(raw).ok_or(WebError::BadRequest(ErrorCode::InvalidEmail))
}

/// The display name as typed, parsed (400 `invalid_display_name`).
pub(crate) fn parse_display_name(raw: &str) -> Result<DisplayName, WebError> {
    DisplayName::parse(raw).ok_or(WebError::BadRequest(ErrorCode::InvalidDisplayName))
}

/// The response to a successful login: the session cookie (and a device
/// cookie for a new browser).
fn logged_in(state: &AppState, status: StatusCode, l: LoggedIn) -> Result<Response, WebError> {
    let cookies = session::login_cookies(state, &l)?;
    let body = Json(LoginResponse {
        member_id: l.member_id.as_uuid(),
        created: l.created_member,
    });
    let mut res = (status, body).into_response();
    for c in cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    pub display_name: String,
    /// Must be `true`: the person accepts the terms of use in force
    /// (`/terms`; its version is recorded on the account). Missing or
    /// `false` is 400 `terms_not_accepted`.
    #[serde(default)]
    pub accept_terms: bool,
    /// The solved bot challenge (C7): base64 JSON from `GET /api/v1/challenge`.
    #[serde(default)]
    pub altcha: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowResponse {
    /// Send it back with the code; a code works only in its own flow.
    pub flow_id: Uuid,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub flow_id: Uuid,
    pub code: String,
    /// Log out every other session at the same time ("this was not me").
    #[serde(default)]
    pub end_other_sessions: bool,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("flow_id", &self.flow_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub member_id: Uuid,
    /// True when this call created the account.
    pub created: bool,
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

/// Starts a sign-up: mails a code. Same answer whether or not the address
/// is taken (the owner gets a notice instead of a code).
#[utoipa::path(post, path = "/api/v1/signup", request_body = SignupRequest,
    responses((status = 202, body = FlowResponse), (status = 400, body = ApiError, description = "`invalid_email`, `invalid_display_name`, or `terms_not_accepted` (no `accept_terms: true`)"), (status = 403, body = ApiError, description = "`challenge_required` or `challenge_failed`"), (status = 429, body = ApiError)),
    tag = "accounts")]
pub async fn signup(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<Response, WebError> {
    let lang = request_lang(&headers, state.settings.site.default_language);
    let request = CodeRequest::Signup {
        email: parse_email(&req.email)?,
        display_name: parse_display_name(&req.display_name)?,
        accepts_terms: req.accept_terms,
    };
    let flow_id =
        accounts::request_code(&state.core, request, lang, req.altcha.as_deref(), &client).await?;
    Ok(flow_started(flow_id))
}

/// Finishes a sign-up with the mailed code: creates the account and logs in.
#[utoipa::path(post, path = "/api/v1/signup/verify", request_body = VerifyRequest,
    responses((status = 201, body = LoginResponse, description = "Account created; session cookie set"), (status = 401, body = ApiError)),
    tag = "accounts")]
pub async fn signup_verify(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    session: Session,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Response, WebError> {
    let l = accounts::verify_code(
        &state.core,
        FlowPurpose::Signup,
        FlowId::from_uuid(req.flow_id),
        &req.code,
        &client,
        session.map(|s| s.0.record.id),
        false,
    )
    .await?;
    logged_in(&state, StatusCode::CREATED, l)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequestBody {
    pub email: String,
    /// The solved bot challenge (C7).
    #[serde(default)]
    pub altcha: Option<String>,
}

/// Mails a login code. Same status, body shape and work whether or not
/// the address has an account.
#[utoipa::path(post, path = "/api/v1/login/code", request_body = CodeRequestBody,
    responses((status = 202, body = FlowResponse), (status = 400, body = ApiError), (status = 403, body = ApiError, description = "`challenge_required` or `challenge_failed`"), (status = 429, body = ApiError)),
    tag = "accounts")]
pub async fn login_code(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CodeRequestBody>,
) -> Result<Response, WebError> {
    let lang = request_lang(&headers, state.settings.site.default_language);
    let request = CodeRequest::Login {
        email: parse_email(&req.email)?,
    };
    let flow_id =
        accounts::request_code(&state.core, request, lang, req.altcha.as_deref(), &client).await?;
    Ok(flow_started(flow_id))
}

/// Logs in with the mailed code.
#[utoipa::path(post, path = "/api/v1/login/code/verify", request_body = VerifyRequest,
    responses((status = 200, body = LoginResponse, description = "Session cookie set"), (status = 401, body = ApiError)),
    tag = "accounts")]
pub async fn login_code_verify(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    session: Session,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Response, WebError> {
    let l = accounts::verify_code(
        &state.core,
        FlowPurpose::Login,
        FlowId::from_uuid(req.flow_id),
        &req.code,
        &client,
        session.map(|s| s.0.record.id),
        req.end_other_sessions,
    )
    .await?;
    logged_in(&state, StatusCode::OK, l)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequest {
    /// The token from the link mailed to the owner of a locked account.
    pub token: String,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for UnlockRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnlockRequest").finish_non_exhaustive()
    }
}

/// Mails a fresh code to the owner of a locked account, from the link in
/// the lock notice; verify it at `/api/v1/login/code/verify`. The code
/// logs in despite the lock (C8).
#[utoipa::path(post, path = "/api/v1/login/unlock", request_body = UnlockRequest,
    responses((status = 202, body = FlowResponse), (status = 401, body = ApiError)),
    tag = "accounts")]
pub async fn login_unlock(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<UnlockRequest>,
) -> Result<Response, WebError> {
    let flow_id = accounts::request_unlock(&state.core, &req.token).await?;
    Ok(flow_started(flow_id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordLoginRequest {
    pub email: String,
    #[schema(value_type = String)]
    pub password: SecretString,
    /// A solved bot challenge (C7): needed once the address or account
    /// has recent failures, or the site is under attack (403
    /// `challenge_required` without it). Clients may always send one.
    #[serde(default)]
    pub altcha: Option<String>,
}

/// Logs in with a password (for members who chose one).
#[utoipa::path(post, path = "/api/v1/login/password", request_body = PasswordLoginRequest,
    responses((status = 200, body = LoginResponse, description = "Session cookie set"), (status = 401, body = ApiError), (status = 403, body = ApiError, description = "`challenge_required` or `challenge_failed`: solve `GET /api/v1/challenge` and send it as `altcha`"), (status = 429, body = ApiError)),
    tag = "accounts")]
pub async fn login_password(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    session: Session,
    ApiJson(req): ApiJson<PasswordLoginRequest>,
) -> Result<Response, WebError> {
    let l = accounts::login_password(
        &state.core,
        &req.email,
        &req.password,
        req.altcha.as_deref(),
        &client,
        session.map(|s| s.0.record.id),
    )
    .await?;
    logged_in(&state, StatusCode::OK, l)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub language: String,
    pub has_password: bool,
    /// UTC microseconds.
    pub created_at: i64,
    /// Masked: `090-****-5678`.
    pub phone: Option<String>,
    /// Masked: the number as `****321`.
    pub bank_account: Option<BankAccountMasked>,
    /// The version of the terms of use the member accepted last (`null`
    /// for an account older than the record of consent).
    pub terms_version: Option<String>,
    /// When they accepted it, UTC microseconds.
    pub terms_accepted_at: Option<i64>,
    /// True when the accepted version is the one in force.
    pub terms_current: bool,
}

/// The logged-in member.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = MeResponse), (status = 401, body = ApiError)), tag = "me")]
pub async fn me(State(state): State<AppState>, me: SignedIn) -> Result<Json<MeResponse>, WebError> {
    let p = accounts::profile(&state.core, me.member).await?;
    Ok(Json(MeResponse {
        id: p.id.as_uuid(),
        email: p.email.as_str().to_owned(),
        display_name: p.display_name.as_str().to_owned(),
        language: p.language.code().to_owned(),
        has_password: p.has_password,
        created_at: p.created_at.micros(),
        phone: p.phone_masked,
        bank_account: p.bank_account.as_ref().map(BankAccountMasked::from),
        terms_current: accounts::terms_current(p.terms.as_ref()),
        terms_accepted_at: p.terms.as_ref().map(|t| t.accepted_at.micros()),
        terms_version: p.terms.map(|t| t.version),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    #[schema(value_type = String)]
    pub password: SecretString,
    /// Needed unless the session logged in or confirmed a code within
    /// `auth.recent_auth_secs` (10 minutes by default).
    #[schema(value_type = Option<String>)]
    pub current_password: Option<SecretString>,
}

/// Adds or changes the password.
#[utoipa::path(put, path = "/api/v1/me/password", request_body = SetPasswordRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 403, body = ApiError)), tag = "me")]
pub async fn set_password(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<SetPasswordRequest>,
) -> Result<StatusCode, WebError> {
    accounts::set_password(
        &state.core,
        &me.session,
        &req.password,
        req.current_password.as_ref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Chooses password-less login: the stored hash is deleted at once.
#[utoipa::path(delete, path = "/api/v1/me/password",
    responses((status = 204), (status = 403, body = ApiError)), tag = "me")]
pub async fn remove_password(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<StatusCode, WebError> {
    accounts::remove_password(&state.core, &me.session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mails a code to confirm a sensitive change.
#[utoipa::path(post, path = "/api/v1/me/reauth/code", responses((status = 202, body = FlowResponse)), tag = "me")]
pub async fn reauth_code(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Response, WebError> {
    let flow_id = accounts::request_reauth(&state.core, me.member).await?;
    Ok(flow_started(flow_id))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthRequest {
    pub flow_id: Uuid,
    pub code: String,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for ReauthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReauthRequest")
            .field("flow_id", &self.flow_id)
            .finish_non_exhaustive()
    }
}

/// Confirms the code: this session counts as freshly authenticated.
#[utoipa::path(post, path = "/api/v1/me/reauth/verify", request_body = ReauthRequest,
    responses((status = 204), (status = 401, body = ApiError)), tag = "me")]
pub async fn reauth_verify(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    me: SignedIn,
    ApiJson(req): ApiJson<ReauthRequest>,
) -> Result<StatusCode, WebError> {
    accounts::verify_reauth(
        &state.core,
        &me.session,
        FlowId::from_uuid(req.flow_id),
        &req.code,
        &client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub current: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: String,
    pub device: String,
    pub method: String,
}

/// The member's live sessions, the current one marked.
#[utoipa::path(get, path = "/api/v1/me/sessions", responses((status = 200, body = [SessionView])), tag = "me")]
pub async fn list_sessions(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Json<Vec<SessionView>>, WebError> {
    let list = sessions::list(&state.core, me.member, me.session.id).await?;
    Ok(Json(
        list.into_iter()
            .map(|s| SessionView {
                id: s.id.as_uuid(),
                current: s.current,
                created_at: s.created_at.micros(),
                last_seen_at: s.last_seen_at.micros(),
                ip: s.ip,
                device: s.device,
                method: s.method.map(|m| m.as_str().to_owned()).unwrap_or_default(),
            })
            .collect(),
    ))
}

/// Ends one session; it stops working at once on every instance.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ApiError)), tag = "me")]
pub async fn end_session(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, WebError> {
    let id = SessionId::parse(&id).ok_or(WebError::BadRequest(ErrorCode::InvalidSessionId))?;
    sessions::end(&state.core, me.member, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndedResponse {
    pub ended: u64,
}

/// Ends every session but this one.
#[utoipa::path(post, path = "/api/v1/me/sessions/end-others", responses((status = 200, body = EndedResponse)), tag = "me")]
pub async fn end_other_sessions(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Json<EndedResponse>, WebError> {
    let ended = sessions::end_others(&state.core, me.member, me.session.id).await?;
    Ok(Json(EndedResponse { ended }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginView {
    pub at: i64,
    pub ip: String,
    pub device: String,
    pub method: String,
    pub outcome: String,
}

/// Login history entries per API page.
const LOGINS_PAGE: i64 = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LoginsQuery {
    /// 1 (newest, the default) to 1000; 100 entries a page.
    #[param(example = 1)]
    pub page: Option<String>,
}

/// The member's login history: successes and failures, newest first, 100
/// a page.
#[utoipa::path(
    get,
    path = "/api/v1/me/logins",
    params(LoginsQuery),
    responses(
        (status = 200, body = [LoginView]),
        (status = 400, description = "`page` is not a number from 1 to 1000", body = ApiError),
    ),
    tag = "me"
)]
pub async fn logins(
    State(state): State<AppState>,
    me: SignedIn,
    Query(q): Query<LoginsQuery>,
) -> Result<Json<Vec<LoginView>>, WebError> {
    let page = match q.page.as_deref() {
        None => 1,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=1_000).contains(p))
            .ok_or(WebError::BadRequest(ErrorCode::InvalidPage))?,
    };
    let list = sessions::history(
        &state.core,
        me.member,
        LOGINS_PAGE,
        (page - 1) * LOGINS_PAGE,
    )
    .await?;
    Ok(Json(
        list.into_iter()
            .map(|e| LoginView {
                at: e.at.micros(),
                ip: e.ip,
                device: e.device,
                method: e.method.as_str().to_owned(),
                outcome: e.outcome.as_str().to_owned(),
            })
            .collect(),
    ))
}

/// Ends this session on the server and clears the cookie.
#[utoipa::path(post, path = "/api/v1/logout", responses((status = 204)), tag = "accounts")]
pub async fn logout(State(state): State<AppState>, session: Session) -> Result<Response, WebError> {
    if let Some(s) = session {
        sessions::logout(&state.core, s.0.record.id).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, session::cleared()?);
    Ok(res)
}

//! The account API (`/api/v1/signup`, `/login/*`, `/me/*`, `/logout`):
//! thin handlers that parse the request, call `crate::accounts`, and map
//! the outcome to a response. Wrong codes and wrong passwords are one
//! generic 401 each.

use std::net::SocketAddr;

use anshin_store::{FlowPurpose, SessionRecord};
use anshin_vault::SessionToken;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::{self, AuthError, Client, LoggedIn};
use crate::web::AppState;
use crate::web::api::ApiJson;
use crate::web::errors::WebError;
use crate::web::language::request_lang;
use crate::web::sessions::{self, CurrentSession, cookie_value, secure_cookie};

pub const DEVICE_COOKIE: &str = "__Host-anshin_device";
const DEVICE_COOKIE_SECS: u64 = 400 * 24 * 60 * 60;

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
        .route("/api/v1/me/sessions", get(sessions))
        .route("/api/v1/me/sessions/{id}", delete(end_session))
        .route("/api/v1/me/sessions/end-others", post(end_other_sessions))
        .route("/api/v1/me/logins", get(logins))
        .route("/api/v1/logout", post(logout))
}

impl From<AuthError> for WebError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidInput(code) => WebError::BadRequest(code),
            AuthError::InvalidCode => WebError::Unauthorized("invalid_code"),
            AuthError::InvalidCredentials => WebError::Unauthorized("invalid_credentials"),
            AuthError::RateLimited { retry_after_secs } => {
                WebError::TooManyRequests { retry_after_secs }
            }
            AuthError::ReauthRequired => WebError::Forbidden("reauthentication_required"),
            AuthError::CurrentPasswordWrong => WebError::Forbidden("current_password_wrong"),
            AuthError::Password(rule) => WebError::BadRequest(rule.code()),
            AuthError::Challenge(e) => WebError::from(e),
            AuthError::Unexpected(e) => WebError::Internal(e),
        }
    }
}

/// A member's session, required by `/me` routes (401 otherwise).
#[derive(Debug, Clone)]
pub struct AuthSession {
    pub member_id: Uuid,
    pub session: SessionRecord,
}

impl<S: Send + Sync> FromRequestParts<S> for AuthSession {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, WebError> {
        let current = parts
            .extensions
            .get::<CurrentSession>()
            .ok_or(WebError::Unauthorized("not_authenticated"))?;
        let member_id = accounts::member_of(&current.record)
            .ok_or(WebError::Unauthorized("not_authenticated"))?;
        Ok(AuthSession {
            member_id,
            session: current.record.clone(),
        })
    }
}

/// Who is asking: the client address (through configured proxies only),
/// the browser and its device cookie.
pub(crate) fn client(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> Client {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip =
        accounts::limits::client_ip(peer.ip(), forwarded, &state.settings.limits.trusted_proxies);
    Client {
        ip: ip.to_string(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        device_token: cookie_value(headers, DEVICE_COOKIE)
            .and_then(|v| SessionToken::parse(v).ok()),
    }
}

/// Sign-up and code requests need a solved bot challenge (C7), at the
/// current attack level; checked after the input is valid, so a typo gets
/// a 400 that says so rather than a 403. A failed (not missing) challenge
/// for an existing member's address is a security event in their history.
pub(crate) async fn require_challenge(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    email: &str,
    presented: Option<&str>,
) -> Result<(), WebError> {
    let c = client(state, headers, peer);
    let ip: std::net::IpAddr = c.ip.parse().unwrap_or(peer.ip());
    let level = state.challenges.level().saturating_sub(1);
    match crate::challenge::check(state, presented, ip, level).await {
        Ok(()) => Ok(()),
        Err(e) => {
            if e != crate::challenge::ChallengeError::Required {
                accounts::record_challenge_failure(state, email, &c, "code").await;
            }
            Err(WebError::from(e))
        }
    }
}

/// The response to a successful login: the session cookie (and a device
/// cookie for a new browser).
fn logged_in(state: &AppState, status: StatusCode, l: LoggedIn) -> Result<Response, WebError> {
    let body = Json(LoginResponse {
        member_id: l.member_id,
        created: l.created_member,
    });
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        secure_cookie(
            sessions::COOKIE,
            &l.token.expose(),
            state.settings.sessions.absolute_lifetime_secs,
        )?,
    );
    if let Some(d) = l.new_device_token {
        h.append(
            header::SET_COOKIE,
            secure_cookie(DEVICE_COOKIE, &d.expose(), DEVICE_COOKIE_SECS)?,
        );
    }
    Ok(res)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    pub display_name: String,
    /// The solved bot challenge (C7): base64 JSON from `GET /api/v1/challenge`.
    #[serde(default)]
    pub altcha: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowResponse {
    /// Send it back with the code; a code works only in its own flow.
    pub flow_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub flow_id: Uuid,
    pub code: String,
    /// Log out every other session at the same time ("this was not me").
    #[serde(default)]
    pub end_other_sessions: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub member_id: Uuid,
    /// True when this call created the account.
    pub created: bool,
}

/// Starts a sign-up: mails a code. Same answer whether or not the address
/// is taken (the owner gets a notice instead of a code).
#[utoipa::path(post, path = "/api/v1/signup", request_body = SignupRequest,
    responses((status = 202, body = FlowResponse), (status = 400, body = crate::web::errors::ApiError), (status = 403, body = crate::web::errors::ApiError, description = "`challenge_required` or `challenge_failed`"), (status = 429, body = crate::web::errors::ApiError)),
    tag = "accounts")]
pub async fn signup(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<Response, WebError> {
    let lang = request_lang(&headers, state.settings.site.default_language);
    accounts::validate_signup(&req.email, &req.display_name)?;
    require_challenge(&state, &headers, peer, &req.email, req.altcha.as_deref()).await?;
    let flow_id = accounts::request_code(
        &state,
        FlowPurpose::Signup,
        &req.email,
        Some(&req.display_name),
        lang,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(FlowResponse { flow_id })).into_response())
}

/// Finishes a sign-up with the mailed code: creates the account and logs in.
#[utoipa::path(post, path = "/api/v1/signup/verify", request_body = VerifyRequest,
    responses((status = 201, body = LoginResponse, description = "Account created; session cookie set"), (status = 401, body = crate::web::errors::ApiError)),
    tag = "accounts")]
pub async fn signup_verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Option<axum::Extension<CurrentSession>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Response, WebError> {
    let c = client(&state, &headers, peer);
    let previous = session.map(|s| s.0.record.id);
    let l = accounts::verify_code(
        &state,
        FlowPurpose::Signup,
        req.flow_id,
        &req.code,
        &c,
        previous,
    )
    .await?;
    logged_in(&state, StatusCode::CREATED, l)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub email: String,
    /// The solved bot challenge (C7).
    #[serde(default)]
    pub altcha: Option<String>,
}

/// Mails a login code. Same status, body shape and work whether or not
/// the address has an account.
#[utoipa::path(post, path = "/api/v1/login/code", request_body = CodeRequest,
    responses((status = 202, body = FlowResponse), (status = 400, body = crate::web::errors::ApiError), (status = 403, body = crate::web::errors::ApiError, description = "`challenge_required` or `challenge_failed`"), (status = 429, body = crate::web::errors::ApiError)),
    tag = "accounts")]
pub async fn login_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<Response, WebError> {
    let lang = request_lang(&headers, state.settings.site.default_language);
    accounts::validate_email(&req.email)?;
    require_challenge(&state, &headers, peer, &req.email, req.altcha.as_deref()).await?;
    let flow_id =
        accounts::request_code(&state, FlowPurpose::Login, &req.email, None, lang).await?;
    Ok((StatusCode::ACCEPTED, Json(FlowResponse { flow_id })).into_response())
}

/// Logs in with the mailed code.
#[utoipa::path(post, path = "/api/v1/login/code/verify", request_body = VerifyRequest,
    responses((status = 200, body = LoginResponse, description = "Session cookie set"), (status = 401, body = crate::web::errors::ApiError)),
    tag = "accounts")]
pub async fn login_code_verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Option<axum::Extension<CurrentSession>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Response, WebError> {
    let c = client(&state, &headers, peer);
    let previous = session.map(|s| s.0.record.id);
    let l = accounts::verify_code(
        &state,
        FlowPurpose::Login,
        req.flow_id,
        &req.code,
        &c,
        previous,
    )
    .await?;
    if req.end_other_sessions {
        let ended = state
            .store
            .sessions()
            .delete_all_for_member(l.member_id, Some(l.session_id))
            .await
            .map_err(|e| WebError::Internal(e.into()))?;
        tracing::info!(member = %l.member_id, ended, "other sessions ended at login");
    }
    logged_in(&state, StatusCode::OK, l)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequest {
    /// The token from the link mailed to the owner of a locked account.
    pub token: String,
}

/// Mails a fresh code to the owner of a locked account, from the link in
/// the lock notice; verify it at `/api/v1/login/code/verify`. The code
/// logs in despite the lock (C8).
#[utoipa::path(post, path = "/api/v1/login/unlock", request_body = UnlockRequest,
    responses((status = 202, body = FlowResponse), (status = 401, body = crate::web::errors::ApiError)),
    tag = "accounts")]
pub async fn login_unlock(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<UnlockRequest>,
) -> Result<Response, WebError> {
    let flow_id = accounts::request_unlock(&state, &req.token).await?;
    Ok((StatusCode::ACCEPTED, Json(FlowResponse { flow_id })).into_response())
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
    responses((status = 200, body = LoginResponse, description = "Session cookie set"), (status = 401, body = crate::web::errors::ApiError), (status = 403, body = crate::web::errors::ApiError, description = "`challenge_required` or `challenge_failed`: solve `GET /api/v1/challenge` and send it as `altcha`"), (status = 429, body = crate::web::errors::ApiError)),
    tag = "accounts")]
pub async fn login_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Option<axum::Extension<CurrentSession>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PasswordLoginRequest>,
) -> Result<Response, WebError> {
    let c = client(&state, &headers, peer);
    let previous = session.map(|s| s.0.record.id);
    let l = accounts::login_password(
        &state,
        &req.email,
        &req.password,
        req.altcha.as_deref(),
        &c,
        previous,
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
    pub bank_account: Option<crate::web::member_data::BankAccountMasked>,
}

async fn member(
    state: &AppState,
    auth: &AuthSession,
) -> Result<anshin_store::MemberRecord, WebError> {
    state
        .store
        .accounts()
        .find_member(auth.member_id)
        .await
        .map_err(|e| WebError::Internal(e.into()))?
        .ok_or(WebError::Unauthorized("not_authenticated"))
}

/// The logged-in member.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = MeResponse), (status = 401, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn me(
    State(state): State<AppState>,
    auth: AuthSession,
) -> Result<Json<MeResponse>, WebError> {
    let m = member(&state, &auth).await?;
    let (phone, bank_account) = crate::web::member_data::masked(&state, m.id).await?;
    Ok(Json(MeResponse {
        phone,
        bank_account,
        id: m.id,
        has_password: m.password_hash.is_some(),
        email: m.email,
        display_name: m.display_name,
        language: m.language,
        created_at: m.created_at,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    #[schema(value_type = String)]
    pub password: SecretString,
    /// Needed unless the session logged in or confirmed a code within the
    /// last 10 minutes.
    #[schema(value_type = Option<String>)]
    pub current_password: Option<SecretString>,
}

/// Adds or changes the password.
#[utoipa::path(put, path = "/api/v1/me/password", request_body = SetPasswordRequest,
    responses((status = 204), (status = 400, body = crate::web::errors::ApiError), (status = 403, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn set_password(
    State(state): State<AppState>,
    auth: AuthSession,
    ApiJson(req): ApiJson<SetPasswordRequest>,
) -> Result<StatusCode, WebError> {
    let m = member(&state, &auth).await?;
    accounts::set_password(
        &state,
        &auth.session,
        &m,
        &req.password,
        req.current_password.as_ref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Chooses password-less login: the stored hash is deleted at once.
#[utoipa::path(delete, path = "/api/v1/me/password",
    responses((status = 204), (status = 403, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn remove_password(
    State(state): State<AppState>,
    auth: AuthSession,
) -> Result<StatusCode, WebError> {
    let m = member(&state, &auth).await?;
    accounts::remove_password(&state, &auth.session, &m).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mails a code to confirm a sensitive change.
#[utoipa::path(post, path = "/api/v1/me/reauth/code", responses((status = 202, body = FlowResponse)), tag = "me")]
pub async fn reauth_code(
    State(state): State<AppState>,
    auth: AuthSession,
) -> Result<Response, WebError> {
    let m = member(&state, &auth).await?;
    let flow_id = accounts::request_reauth(&state, &m).await?;
    Ok((StatusCode::ACCEPTED, Json(FlowResponse { flow_id })).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthRequest {
    pub flow_id: Uuid,
    pub code: String,
}

/// Confirms the code: this session counts as freshly authenticated.
#[utoipa::path(post, path = "/api/v1/me/reauth/verify", request_body = ReauthRequest,
    responses((status = 204), (status = 401, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn reauth_verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: AuthSession,
    ApiJson(req): ApiJson<ReauthRequest>,
) -> Result<StatusCode, WebError> {
    accounts::verify_reauth(
        &state,
        &auth.session,
        req.flow_id,
        &req.code,
        &client(&state, &headers, peer),
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
pub async fn sessions(
    State(state): State<AppState>,
    auth: AuthSession,
) -> Result<Json<Vec<SessionView>>, WebError> {
    let list = state
        .store
        .sessions()
        .list_for_member(auth.member_id, state.clock.now())
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
    Ok(Json(
        list.into_iter()
            .map(|s| {
                let login = s.login.clone();
                SessionView {
                    current: s.id == auth.session.id,
                    id: s.id,
                    created_at: s.created_at,
                    last_seen_at: s.last_seen_at,
                    ip: login.as_ref().map(|l| l.ip.clone()).unwrap_or_default(),
                    device: login.as_ref().map(|l| l.device.clone()).unwrap_or_default(),
                    method: login.map(|l| l.method).unwrap_or_default(),
                }
            })
            .collect(),
    ))
}

/// Ends one session; it stops working at once on every instance.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn end_session(
    State(state): State<AppState>,
    auth: AuthSession,
    Path(id): Path<String>,
) -> Result<StatusCode, WebError> {
    let id = Uuid::parse_str(&id).map_err(|_| WebError::BadRequest("invalid_session_id"))?;
    let ended = state
        .store
        .sessions()
        .delete_for_member(auth.member_id, id)
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
    if ended {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(WebError::NotFound)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndedResponse {
    pub ended: u64,
}

/// Ends every session but this one.
#[utoipa::path(post, path = "/api/v1/me/sessions/end-others", responses((status = 200, body = EndedResponse)), tag = "me")]
pub async fn end_other_sessions(
    State(state): State<AppState>,
    auth: AuthSession,
) -> Result<Json<EndedResponse>, WebError> {
    let ended = state
        .store
        .sessions()
        .delete_all_for_member(auth.member_id, Some(auth.session.id))
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
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

/// The member's login history: successes and failures, newest first.
#[utoipa::path(get, path = "/api/v1/me/logins", responses((status = 200, body = [LoginView])), tag = "me")]
pub async fn logins(
    State(state): State<AppState>,
    auth: AuthSession,
) -> Result<Json<Vec<LoginView>>, WebError> {
    let list = state
        .store
        .accounts()
        .list_login_events(auth.member_id, 100)
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
    Ok(Json(
        list.into_iter()
            .map(|e| LoginView {
                at: e.at,
                ip: e.ip,
                device: e.device,
                method: e.method,
                outcome: e.outcome,
            })
            .collect(),
    ))
}

/// Ends this session on the server and clears the cookie.
#[utoipa::path(post, path = "/api/v1/logout", responses((status = 204)), tag = "accounts")]
pub async fn logout(
    State(state): State<AppState>,
    session: Option<axum::Extension<CurrentSession>>,
) -> Result<Response, WebError> {
    if let Some(s) = session {
        state
            .store
            .sessions()
            .delete(s.0.record.id)
            .await
            .map_err(|e| WebError::Internal(e.into()))?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, secure_cookie(sessions::COOKIE, "", 0)?);
    Ok(res)
}

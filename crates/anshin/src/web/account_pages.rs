//! The same account journeys as the API, as HTML forms: sign up, log in by
//! code or password, "this was not me", the account page (password,
//! re-authentication) and the sessions page (C10). Every form carries the
//! session's CSRF token; errors re-render the form with what is wrong.

use std::net::SocketAddr;

use anshin_store::FlowPurpose;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use http::{HeaderMap, header};
use secrecy::SecretString;
use serde::Deserialize;
use uuid::Uuid;

use crate::accounts::{self, LoggedIn};
use crate::i18n::Lang;
use crate::web::AppState;
use crate::web::account::DEVICE_COOKIE;
use crate::web::errors::{WebError, specific_message};
use crate::web::language::request_lang;
use crate::web::pages::Layout;
use crate::web::sessions::{self, CurrentSession, secure_cookie};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signup", get(signup_page).post(signup_submit))
        .route("/signup/verify", post(signup_verify))
        .route("/login", get(login_page))
        .route("/login/code", post(login_code))
        .route("/login/verify", post(login_verify))
        .route("/login/password", post(login_password))
        .route("/account", get(account_page))
        .route("/account/password", post(password_submit))
        .route("/account/password/remove", post(password_remove))
        .route("/account/reauth", post(reauth_submit))
        .route("/account/reauth/verify", post(reauth_verify))
        .route("/account/sessions", get(sessions_page))
        .route("/account/sessions/{id}/end", post(session_end))
        .route("/account/sessions/end-others", post(sessions_end_others))
        .route("/account/not-me", get(not_me_page))
        .route("/login/unlock", get(unlock_page).post(unlock_submit))
        .route("/logout", post(logout))
}

type Session = Option<Extension<CurrentSession>>;

/// What a page needs from the request: language, CSRF token, and the
/// cookie to set if a visitor session was just created.
struct PageCtx {
    lang: Lang,
    csrf: String,
    set_cookie: Option<http::HeaderValue>,
    session: Option<CurrentSession>,
}

async fn ctx(state: &AppState, headers: &HeaderMap, session: Session) -> Result<PageCtx, WebError> {
    let lang = request_lang(headers, state.settings.site.default_language);
    let current = session.map(|s| s.0);
    let (token, set_cookie) = sessions::ensure(state, current.clone()).await?;
    Ok(PageCtx {
        lang,
        csrf: token.csrf_token().as_str().to_owned(),
        set_cookie,
        session: current,
    })
}

fn with_cookie(mut res: Response, c: Option<http::HeaderValue>) -> Response {
    if let Some(c) = c {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// The user-facing text of an error, or the error itself if it is a 5xx.
pub(crate) fn message(
    state: &AppState,
    lang: Lang,
    e: impl Into<WebError>,
) -> Result<String, WebError> {
    let web: WebError = e.into();
    let code = match &web {
        WebError::BadRequest(c) | WebError::Unauthorized(c) | WebError::Forbidden(c) => *c,
        WebError::TooManyRequests { .. } => "rate_limited",
        _ => return Err(web),
    };
    let t = state.catalogs.get(lang);
    Ok(
        specific_message(t, code, state.settings.auth.password_min_chars)
            .unwrap_or_else(|| t.error_400_body.clone()),
    )
}

fn logged_in_redirect(state: &AppState, l: LoggedIn) -> Result<Response, WebError> {
    let mut res = Redirect::to("/account").into_response();
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
            secure_cookie(DEVICE_COOKIE, &d.expose(), 400 * 24 * 3600)?,
        );
    }
    Ok(res)
}

#[derive(Template, WebTemplate)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    error: Option<String>,
    email: &'a str,
    display_name: &'a str,
}

async fn signup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let t = state.catalogs.get(c.lang);
    let page = SignupPage {
        layout: Layout::new(&state, c.lang, &t.signup_title),
        csrf_token: &c.csrf,
        error: None,
        email: "",
        display_name: "",
    };
    Ok(with_cookie(page.into_response(), c.set_cookie))
}

#[derive(Deserialize)]
struct SignupForm {
    email: String,
    display_name: String,
    #[serde(default)]
    altcha: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "verify.html")]
struct VerifyPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    error: Option<String>,
    action: &'a str,
    flow_id: Uuid,
    end_other_sessions: bool,
    /// Where a re-authentication returns to (a hidden field), if not the
    /// account page.
    next: Option<&'static str>,
}

async fn signup_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(f): Form<SignupForm>,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let t = state.catalogs.get(c.lang);
    let started = async {
        accounts::validate_signup(&f.email, &f.display_name)?;
        crate::web::account::require_challenge(
            &state,
            &headers,
            peer,
            &f.email,
            f.altcha.as_deref(),
        )
        .await?;
        Ok::<_, WebError>(
            accounts::request_code(
                &state,
                FlowPurpose::Signup,
                &f.email,
                Some(&f.display_name),
                c.lang,
            )
            .await?,
        )
    };
    match started.await {
        Ok(flow_id) => Ok(VerifyPage {
            layout: Layout::new(&state, c.lang, &t.verify_title),
            csrf_token: &c.csrf,
            error: None,
            action: "/signup/verify",
            flow_id,
            end_other_sessions: false,
            next: None,
        }
        .into_response()),
        Err(e) => {
            let error = Some(message(&state, c.lang, e)?);
            Ok(SignupPage {
                layout: Layout::new(&state, c.lang, &t.signup_title),
                csrf_token: &c.csrf,
                error,
                email: &f.email,
                display_name: &f.display_name,
            }
            .into_response())
        }
    }
}

#[derive(Deserialize)]
struct VerifyForm {
    flow_id: Uuid,
    code: String,
    #[serde(default)]
    end_other_sessions: Option<String>,
    #[serde(default)]
    next: AfterReauth,
}

/// Where a confirmed re-authentication returns to. A closed list, so the
/// hidden `next` field cannot become an open redirect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum AfterReauth {
    /// The account page, with "Saved.".
    #[default]
    Account,
    /// The payout bank account page, now with its form.
    BankAccount,
}

impl AfterReauth {
    fn field(self) -> Option<&'static str> {
        match self {
            AfterReauth::Account => None,
            AfterReauth::BankAccount => Some("bank-account"),
        }
    }
}

/// The "enter the code we mailed you" page of a re-authentication.
pub(crate) fn reauth_code_page(
    state: &AppState,
    lang: Lang,
    csrf: &str,
    flow_id: Uuid,
    error: Option<String>,
    next: AfterReauth,
) -> Response {
    let t = state.catalogs.get(lang);
    VerifyPage {
        layout: Layout::new(state, lang, &t.verify_title),
        csrf_token: csrf,
        error,
        action: "/account/reauth/verify",
        flow_id,
        end_other_sessions: false,
        next: next.field(),
    }
    .into_response()
}

async fn verify(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    session: Session,
    f: VerifyForm,
    purpose: FlowPurpose,
    action: &str,
) -> Result<Response, WebError> {
    let c = ctx(state, headers, session).await?;
    let previous = c.session.as_ref().map(|s| s.record.id);
    match accounts::verify_code(
        state,
        purpose,
        f.flow_id,
        &f.code,
        &crate::web::account::client(state, headers, peer),
        previous,
    )
    .await
    {
        Ok(l) => {
            if f.end_other_sessions.is_some() {
                state
                    .store
                    .sessions()
                    .delete_all_for_member(l.member_id, Some(l.session_id))
                    .await
                    .map_err(|e| WebError::Internal(e.into()))?;
            }
            logged_in_redirect(state, l)
        }
        Err(e) => {
            let t = state.catalogs.get(c.lang);
            let error = Some(message(state, c.lang, e)?);
            Ok(VerifyPage {
                layout: Layout::new(state, c.lang, &t.verify_title),
                csrf_token: &c.csrf,
                error,
                action,
                flow_id: f.flow_id,
                end_other_sessions: f.end_other_sessions.is_some(),
                next: None,
            }
            .into_response())
        }
    }
}

async fn signup_verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(f): Form<VerifyForm>,
) -> Result<Response, WebError> {
    verify(
        &state,
        &headers,
        peer,
        session,
        f,
        FlowPurpose::Signup,
        "/signup/verify",
    )
    .await
}

async fn login_verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(f): Form<VerifyForm>,
) -> Result<Response, WebError> {
    verify(
        &state,
        &headers,
        peer,
        session,
        f,
        FlowPurpose::Login,
        "/login/verify",
    )
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    error: Option<String>,
    email: &'a str,
    not_me: bool,
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let t = state.catalogs.get(c.lang);
    let page = LoginPage {
        layout: Layout::new(&state, c.lang, &t.login_title),
        csrf_token: &c.csrf,
        error: None,
        email: "",
        not_me: false,
    };
    Ok(with_cookie(page.into_response(), c.set_cookie))
}

async fn not_me_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let t = state.catalogs.get(c.lang);
    let page = LoginPage {
        layout: Layout::new(&state, c.lang, &t.not_me_title),
        csrf_token: &c.csrf,
        error: None,
        email: "",
        not_me: true,
    };
    Ok(with_cookie(page.into_response(), c.set_cookie))
}

#[derive(Deserialize)]
struct EmailForm {
    email: String,
    #[serde(default)]
    altcha: Option<String>,
    #[serde(default)]
    end_other_sessions: Option<String>,
}

async fn login_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(f): Form<EmailForm>,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let t = state.catalogs.get(c.lang);
    let not_me = f.end_other_sessions.is_some();
    let started = async {
        accounts::validate_email(&f.email)?;
        crate::web::account::require_challenge(
            &state,
            &headers,
            peer,
            &f.email,
            f.altcha.as_deref(),
        )
        .await?;
        Ok::<_, WebError>(
            accounts::request_code(&state, FlowPurpose::Login, &f.email, None, c.lang).await?,
        )
    };
    match started.await {
        Ok(flow_id) => Ok(VerifyPage {
            layout: Layout::new(&state, c.lang, &t.verify_title),
            csrf_token: &c.csrf,
            error: None,
            action: "/login/verify",
            flow_id,
            end_other_sessions: not_me,
            next: None,
        }
        .into_response()),
        Err(e) => {
            let error = Some(message(&state, c.lang, e)?);
            Ok(LoginPage {
                layout: Layout::new(&state, c.lang, &t.login_title),
                csrf_token: &c.csrf,
                error,
                email: &f.email,
                not_me,
            }
            .into_response())
        }
    }
}

#[derive(Deserialize)]
struct PasswordLoginForm {
    email: String,
    password: SecretString,
    #[serde(default)]
    altcha: Option<String>,
}

async fn login_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(f): Form<PasswordLoginForm>,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let previous = c.session.as_ref().map(|s| s.record.id);
    match accounts::login_password(
        &state,
        &f.email,
        &f.password,
        f.altcha.as_deref(),
        &crate::web::account::client(&state, &headers, peer),
        previous,
    )
    .await
    {
        Ok(l) => logged_in_redirect(&state, l),
        Err(e) => {
            let t = state.catalogs.get(c.lang);
            let error = Some(message(&state, c.lang, e)?);
            Ok(LoginPage {
                layout: Layout::new(&state, c.lang, &t.login_title),
                csrf_token: &c.csrf,
                error,
                email: &f.email,
                not_me: false,
            }
            .into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    error: Option<String>,
    saved: bool,
    email: &'a str,
    display_name: &'a str,
    has_password: bool,
    min_chars: usize,
}

/// The member of this request, or a redirect to the login page.
async fn member_or_login(
    state: &AppState,
    c: &PageCtx,
) -> Result<Result<(anshin_store::MemberRecord, anshin_store::SessionRecord), Response>, WebError> {
    let Some(s) = &c.session else {
        return Ok(Err(Redirect::to("/login").into_response()));
    };
    let Some(member_id) = accounts::member_of(&s.record) else {
        return Ok(Err(Redirect::to("/login").into_response()));
    };
    match state
        .store
        .accounts()
        .find_member(member_id)
        .await
        .map_err(|e| WebError::Internal(e.into()))?
    {
        Some(m) => Ok(Ok((m, s.record.clone()))),
        None => Ok(Err(Redirect::to("/login").into_response())),
    }
}

fn account_view(
    state: &AppState,
    c: &PageCtx,
    m: &anshin_store::MemberRecord,
    error: Option<String>,
    saved: bool,
) -> Response {
    let t = state.catalogs.get(c.lang);
    AccountPage {
        layout: Layout::new(state, c.lang, &t.account_title),
        csrf_token: &c.csrf,
        error,
        saved,
        email: &m.email,
        display_name: &m.display_name,
        has_password: m.password_hash.is_some(),
        min_chars: state.settings.auth.password_min_chars,
    }
    .into_response()
}

async fn account_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let (m, _) = match member_or_login(&state, &c).await? {
        Ok(x) => x,
        Err(r) => return Ok(with_cookie(r, c.set_cookie)),
    };
    Ok(account_view(&state, &c, &m, None, false))
}

#[derive(Deserialize)]
struct PasswordForm {
    password: SecretString,
    #[serde(default)]
    current_password: Option<SecretString>,
}

async fn password_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    use secrecy::ExposeSecret;
    let c = ctx(&state, &headers, session).await?;
    let (m, s) = match member_or_login(&state, &c).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    let current = f.current_password.filter(|p| !p.expose_secret().is_empty());
    match accounts::set_password(&state, &s, &m, &f.password, current.as_ref()).await {
        Ok(()) => {
            let m = state
                .store
                .accounts()
                .find_member(m.id)
                .await
                .map_err(|e| WebError::Internal(e.into()))?
                .unwrap_or(m);
            Ok(account_view(&state, &c, &m, None, true))
        }
        Err(e) => {
            let error = Some(message(&state, c.lang, e)?);
            Ok(account_view(&state, &c, &m, error, false))
        }
    }
}

async fn password_remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let (m, s) = match member_or_login(&state, &c).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    match accounts::remove_password(&state, &s, &m).await {
        Ok(()) => {
            let m = state
                .store
                .accounts()
                .find_member(m.id)
                .await
                .map_err(|e| WebError::Internal(e.into()))?
                .unwrap_or(m);
            Ok(account_view(&state, &c, &m, None, true))
        }
        Err(e) => {
            let error = Some(message(&state, c.lang, e)?);
            Ok(account_view(&state, &c, &m, error, false))
        }
    }
}

async fn reauth_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let (m, _) = match member_or_login(&state, &c).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    match accounts::request_reauth(&state, &m).await {
        Ok(flow_id) => Ok(reauth_code_page(
            &state,
            c.lang,
            &c.csrf,
            flow_id,
            None,
            AfterReauth::Account,
        )),
        Err(e) => {
            let error = Some(message(&state, c.lang, e)?);
            Ok(account_view(&state, &c, &m, error, false))
        }
    }
}

async fn reauth_verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(f): Form<VerifyForm>,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let (m, s) = match member_or_login(&state, &c).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    match accounts::verify_reauth(
        &state,
        &s,
        f.flow_id,
        &f.code,
        &crate::web::account::client(&state, &headers, peer),
    )
    .await
    {
        Ok(()) => Ok(match f.next {
            AfterReauth::Account => account_view(&state, &c, &m, None, true),
            AfterReauth::BankAccount => Redirect::to("/account/bank-account").into_response(),
        }),
        Err(e) => {
            let error = Some(message(&state, c.lang, e)?);
            Ok(reauth_code_page(
                &state, c.lang, &c.csrf, f.flow_id, error, f.next,
            ))
        }
    }
}

struct SessionRow {
    id: Uuid,
    current: bool,
    device: String,
    ip: String,
    started: String,
    last_seen: String,
}

struct HistoryRow {
    at: String,
    ip: String,
    device: String,
    method: String,
    outcome: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "sessions.html")]
struct SessionsPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    sessions: Vec<SessionRow>,
    history: Vec<HistoryRow>,
}

fn local_time(lang: Lang, micros: i64) -> String {
    match lang {
        Lang::Ja => accounts::format_time(micros, 9 * 3600, "JST"),
        Lang::En => accounts::format_time(micros, 0, "UTC"),
    }
}

async fn sessions_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let (m, s) = match member_or_login(&state, &c).await? {
        Ok(x) => x,
        Err(r) => return Ok(with_cookie(r, c.set_cookie)),
    };
    let err = |e: anshin_store::StoreError| WebError::Internal(e.into());
    let live = state
        .store
        .sessions()
        .list_for_member(m.id, state.clock.now())
        .await
        .map_err(err)?;
    let events = state
        .store
        .accounts()
        .list_login_events(m.id, 100)
        .await
        .map_err(err)?;
    let t = state.catalogs.get(c.lang);
    let page = SessionsPage {
        layout: Layout::new(&state, c.lang, &t.sessions_title),
        csrf_token: &c.csrf,
        sessions: live
            .into_iter()
            .map(|x| SessionRow {
                id: x.id,
                current: x.id == s.id,
                device: x
                    .login
                    .as_ref()
                    .map(|l| l.device.clone())
                    .unwrap_or_default(),
                ip: x.login.as_ref().map(|l| l.ip.clone()).unwrap_or_default(),
                started: local_time(c.lang, x.created_at),
                last_seen: local_time(c.lang, x.last_seen_at),
            })
            .collect(),
        history: events
            .into_iter()
            .map(|e| HistoryRow {
                at: local_time(c.lang, e.at),
                ip: e.ip,
                device: e.device,
                method: e.method,
                outcome: e.outcome,
            })
            .collect(),
    };
    Ok(page.into_response())
}

async fn session_end(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let (m, _) = match member_or_login(&state, &c).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    let id = Uuid::parse_str(&id).map_err(|_| WebError::BadRequest("invalid_session_id"))?;
    state
        .store
        .sessions()
        .delete_for_member(m.id, id)
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
    Ok(Redirect::to("/account/sessions").into_response())
}

async fn sessions_end_others(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let (m, s) = match member_or_login(&state, &c).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    state
        .store
        .sessions()
        .delete_all_for_member(m.id, Some(s.id))
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
    Ok(Redirect::to("/account/sessions").into_response())
}

async fn logout(State(state): State<AppState>, session: Session) -> Result<Response, WebError> {
    if let Some(s) = session {
        state
            .store
            .sessions()
            .delete(s.0.record.id)
            .await
            .map_err(|e| WebError::Internal(e.into()))?;
    }
    let mut res = Redirect::to("/").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, secure_cookie(sessions::COOKIE, "", 0)?);
    Ok(res)
}

#[derive(Template, WebTemplate)]
#[template(path = "unlock.html")]
struct UnlockPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    token: &'a str,
    error: Option<String>,
}

#[derive(Deserialize)]
struct UnlockQuery {
    #[serde(default)]
    token: String,
}

/// The page the lock notice links to. The token stays in a form field from
/// here on, so it is not re-sent in a URL.
async fn unlock_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
    axum::extract::Query(q): axum::extract::Query<UnlockQuery>,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let t = state.catalogs.get(c.lang);
    let page = UnlockPage {
        layout: Layout::new(&state, c.lang, &t.unlock_title),
        csrf_token: &c.csrf,
        token: &q.token,
        error: None,
    };
    Ok(with_cookie(page.into_response(), c.set_cookie))
}

#[derive(Deserialize)]
struct UnlockForm {
    token: String,
}

async fn unlock_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
    Form(f): Form<UnlockForm>,
) -> Result<Response, WebError> {
    let c = ctx(&state, &headers, session).await?;
    let t = state.catalogs.get(c.lang);
    match accounts::request_unlock(&state, &f.token).await {
        Ok(flow_id) => Ok(VerifyPage {
            layout: Layout::new(&state, c.lang, &t.verify_title),
            csrf_token: &c.csrf,
            error: None,
            action: "/login/verify",
            flow_id,
            end_other_sessions: false,
            next: None,
        }
        .into_response()),
        Err(e) => {
            let error = Some(message(&state, c.lang, e)?);
            Ok(UnlockPage {
                layout: Layout::new(&state, c.lang, &t.unlock_title),
                csrf_token: &c.csrf,
                token: "",
                error,
            }
            .into_response())
        }
    }
}

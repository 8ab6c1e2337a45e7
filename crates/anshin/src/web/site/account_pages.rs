//! The same account journeys as the API, as HTML forms: sign up, log in by
//! code or password, "this was not me", the account page (password,
//! re-authentication) and the sessions page (C10). Every form carries the
//! session's CSRF token; errors re-render the form with what is wrong.
//! Each handler calls the same use case as its API twin.

use anshin_core::accounts::{self, CodeRequest, LoggedIn};
use anshin_core::i18n::Lang;
use anshin_core::{sessions, withdrawal};
use anshin_domain::{DisplayName, FlowId, FlowPurpose, SessionId};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use secrecy::SecretString;
use serde::Deserialize;
use uuid::Uuid;

use super::accounts_api::{parse_display_name, parse_email};
use super::confirm::Confirm;
use super::profile_pages::display_name_message;
use crate::web::AppState;
use crate::web::common::captcha::CaptchaFields;
use crate::web::common::client::ClientOf;
use crate::web::common::cookies;
use crate::web::common::errors::{ErrorCode, WebError, form_message};
use crate::web::common::flash::{self, Flash};
use crate::web::common::forms::no_store;
use crate::web::common::layout::Layout;
use crate::web::common::member::SignedIn;
use crate::web::common::page::Visitor;
use crate::web::common::session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signup", get(signup_page).post(signup_submit))
        .route("/signup/verify", post(signup_verify))
        .route("/signup/resend", post(signup_resend))
        .route("/login", get(login_page))
        .route("/login/code", post(login_code))
        .route("/login/verify", post(login_verify))
        .route("/login/resend", post(login_resend))
        .route("/login/password", post(login_password))
        .route("/account", get(account_page))
        .route("/account/password", post(password_submit))
        .route(
            "/account/password/remove",
            get(password_remove_confirm).post(password_remove),
        )
        .route(
            "/account/withdraw",
            get(withdraw_page).post(withdraw_submit),
        )
        .route("/account/reauth", post(reauth_submit))
        .route("/account/reauth/verify", post(reauth_verify))
        .route("/account/sessions", get(sessions_page))
        .route(
            "/account/sessions/{id}/end",
            get(session_end_confirm).post(session_end),
        )
        .route(
            "/account/sessions/end-others",
            get(sessions_end_others_confirm).post(sessions_end_others),
        )
        .route("/account/not-me", get(not_me_page))
        .route("/login/unlock", get(unlock_page).post(unlock_submit))
        .route("/logout", post(logout))
}

/// After a login: the page the visitor was sent away from (the
/// [`cookies::RETURN_TO`] cookie, checked again here, then deleted), else
/// the account page.
fn logged_in_redirect(
    state: &AppState,
    l: LoggedIn,
    headers: &http::HeaderMap,
) -> Result<Response, WebError> {
    let session_cookies = session::login_cookies(state, &l)?;
    let asked = cookies::value(headers, cookies::RETURN_TO);
    let to = asked.and_then(cookies::return_path).unwrap_or("/account");
    let mut res = flash::redirect(to, Flash::LoggedIn)?;
    for c in session_cookies {
        res.headers_mut().append(http::header::SET_COOKIE, c);
    }
    if asked.is_some() {
        res.headers_mut().append(
            http::header::SET_COOKIE,
            cookies::secure(cookies::RETURN_TO, "", 0)?,
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
    /// The consent box was ticked (kept when the form comes back).
    accept_terms: bool,
    /// The version of the terms the box accepts.
    terms_version: &'static str,
}

async fn signup_page(State(state): State<AppState>, v: Visitor) -> Response {
    let t = state.catalogs.get(v.lang);
    let page = SignupPage {
        layout: Layout::new(&state, v.lang, &t.signup_title),
        csrf_token: &v.csrf,
        error: None,
        email: "",
        display_name: "",
        accept_terms: false,
        terms_version: accounts::TERMS_VERSION,
    };
    v.finish(page.into_response())
}

#[derive(Deserialize)]
struct SignupForm {
    email: String,
    display_name: String,
    /// The consent checkbox: present (any value) when ticked.
    #[serde(default)]
    accept_terms: Option<String>,
    #[serde(flatten)]
    captcha: CaptchaFields,
}

#[derive(Template, WebTemplate)]
#[template(path = "verify.html")]
struct VerifyPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    error: Option<String>,
    /// "A new code is on its way."
    resent: bool,
    step: CodeStep,
    flow_id: Uuid,
    end_other_sessions: bool,
    /// Where a re-authentication returns to (a hidden field), if not the
    /// account page.
    next: Option<&'static str>,
}

/// Which journey a code page belongs to: where its code, its "send a new
/// code" and its "use another address" go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeStep {
    Signup,
    Login,
    Reauth,
    /// The code mailed to the new address of an e-mail change.
    EmailChange,
}

impl CodeStep {
    fn verify(self) -> &'static str {
        match self {
            CodeStep::Signup => "/signup/verify",
            CodeStep::Login => "/login/verify",
            CodeStep::Reauth => "/account/reauth/verify",
            CodeStep::EmailChange => "/account/profile/email/verify",
        }
    }

    fn resend(self) -> &'static str {
        match self {
            CodeStep::Signup => "/signup/resend",
            CodeStep::Login => "/login/resend",
            CodeStep::Reauth => "/account/reauth",
            CodeStep::EmailChange => "/account/profile/email/resend",
        }
    }

    /// The form to start again with another address (none for a
    /// re-authentication: the code goes to the account's own address).
    fn other_address(self) -> Option<&'static str> {
        match self {
            CodeStep::Signup => Some("/signup"),
            CodeStep::Login => Some("/login"),
            CodeStep::Reauth => None,
            CodeStep::EmailChange => Some("/account/profile/email"),
        }
    }

    /// Re-authentication and e-mail change codes are asked for by a
    /// signed-in member, whose session is the proof; the others need the
    /// bot challenge (C7).
    fn needs_challenge(self) -> bool {
        matches!(self, CodeStep::Signup | CodeStep::Login)
    }

    /// The resend form names the flow it renews (a re-authentication code
    /// is simply asked for again).
    fn resend_carries_flow(self) -> bool {
        self != CodeStep::Reauth
    }

    /// What the page says besides the common lead.
    fn note(self, t: &anshin_core::i18n::Catalog) -> Option<&str> {
        match self {
            CodeStep::EmailChange => Some(&t.email_change_code_note),
            _ => None,
        }
    }
}

/// What a code page says besides the form.
#[derive(Debug, Default)]
struct CodeNote {
    error: Option<String>,
    resent: bool,
}

/// The "enter the code we mailed you" page of a login or sign-up.
fn code_page(
    state: &AppState,
    v: &Visitor,
    step: CodeStep,
    flow_id: FlowId,
    end_other_sessions: bool,
    note: CodeNote,
) -> Response {
    let t = state.catalogs.get(v.lang);
    VerifyPage {
        layout: Layout::new(state, v.lang, &t.verify_title),
        csrf_token: &v.csrf,
        error: note.error,
        resent: note.resent,
        step,
        flow_id: flow_id.as_uuid(),
        end_other_sessions,
        next: None,
    }
    .into_response()
}

/// The message for a failed code: the code page offers a new code, so it
/// says so instead of the API's generic text.
pub(crate) fn code_error(
    state: &AppState,
    lang: Lang,
    e: accounts::AuthError,
) -> Result<String, WebError> {
    match e {
        accounts::AuthError::InvalidCode => {
            Ok(state.catalogs.get(lang).err_code_wrong_here.clone())
        }
        e => form_message(state, lang, e),
    }
}

async fn signup_submit(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    v: Visitor,
    Form(f): Form<SignupForm>,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(v.lang);
    let presented = f.captcha.presented(state.settings.captcha.provider);
    let started = async {
        let request = CodeRequest::Signup {
            email: parse_email(&f.email)?,
            display_name: parse_display_name(&f.display_name)?,
            accepts_terms: f.accept_terms.is_some(),
        };
        Ok::<_, WebError>(
            accounts::request_code(&state.core, request, v.lang, presented, &client).await?,
        )
    };
    match started.await {
        Ok(flow_id) => Ok(code_page(
            &state,
            &v,
            CodeStep::Signup,
            flow_id,
            false,
            CodeNote::default(),
        )),
        Err(e) => {
            // A wrong display name says what is wrong with it (its length,
            // never a cut copy); the form keeps what was typed.
            let error = match (&e, DisplayName::check(&f.display_name)) {
                (WebError::BadRequest(ErrorCode::InvalidDisplayName), Err(why)) => {
                    Some(display_name_message(t, why))
                }
                _ => Some(form_message(&state, v.lang, e)?),
            };
            Ok(SignupPage {
                layout: Layout::new(&state, v.lang, &t.signup_title),
                csrf_token: &v.csrf,
                error,
                email: &f.email,
                display_name: &f.display_name,
                accept_terms: f.accept_terms.is_some(),
                terms_version: accounts::TERMS_VERSION,
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
    /// The account page.
    #[default]
    Account,
    /// The payout bank account page, now with its form (and what was
    /// typed before, if it was kept).
    BankAccount,
    /// The e-mail change page, now with its form.
    Email,
    /// "Remove the phone number?"
    RemovePhone,
    /// "Remove the bank account?"
    RemoveBankAccount,
    /// "Leave anshin?" (C18)
    Withdraw,
}

impl AfterReauth {
    /// The page that asked for the code.
    fn page(self) -> &'static str {
        match self {
            AfterReauth::Account => "/account",
            AfterReauth::BankAccount => "/account/bank-account",
            AfterReauth::Email => "/account/profile/email",
            AfterReauth::RemovePhone => "/account/phone/remove",
            AfterReauth::RemoveBankAccount => "/account/bank-account/remove",
            AfterReauth::Withdraw => "/account/withdraw",
        }
    }

    pub(crate) fn field(self) -> Option<&'static str> {
        match self {
            AfterReauth::Account => None,
            AfterReauth::BankAccount => Some("bank-account"),
            AfterReauth::Email => Some("email"),
            AfterReauth::RemovePhone => Some("remove-phone"),
            AfterReauth::RemoveBankAccount => Some("remove-bank-account"),
            AfterReauth::Withdraw => Some("withdraw"),
        }
    }
}

/// The "enter the code we mailed you" page of a re-authentication.
pub(crate) fn reauth_code_page(
    state: &AppState,
    lang: Lang,
    csrf: &str,
    flow_id: FlowId,
    error: Option<String>,
    next: AfterReauth,
) -> Response {
    let t = state.catalogs.get(lang);
    VerifyPage {
        layout: Layout::new(state, lang, &t.verify_title),
        csrf_token: csrf,
        error,
        resent: false,
        step: CodeStep::Reauth,
        flow_id: flow_id.as_uuid(),
        end_other_sessions: false,
        next: next.field(),
    }
    .into_response()
}

/// The "enter the code we mailed you" page of an e-mail change (the code
/// went to the new address). `resent`: a new code is on its way.
pub(crate) fn email_change_code_page(
    state: &AppState,
    lang: Lang,
    csrf: &str,
    flow_id: FlowId,
    error: Option<String>,
    resent: bool,
) -> Response {
    let t = state.catalogs.get(lang);
    VerifyPage {
        layout: Layout::new(state, lang, &t.verify_title),
        csrf_token: csrf,
        error,
        resent,
        step: CodeStep::EmailChange,
        flow_id: flow_id.as_uuid(),
        end_other_sessions: false,
        next: None,
    }
    .into_response()
}

async fn verify(
    state: &AppState,
    client: &accounts::Client,
    (v, headers): (Visitor, &http::HeaderMap),
    f: VerifyForm,
    purpose: FlowPurpose,
    step: CodeStep,
) -> Result<Response, WebError> {
    let previous = v.session.as_ref().map(|s| s.record.id);
    let flow_id = FlowId::from_uuid(f.flow_id);
    let end_others = f.end_other_sessions.is_some();
    match accounts::verify_code(
        &state.core,
        purpose,
        flow_id,
        &f.code,
        client,
        previous,
        end_others,
    )
    .await
    {
        Ok(l) => logged_in_redirect(state, l, headers),
        Err(e) => {
            let note = CodeNote {
                error: Some(code_error(state, v.lang, e)?),
                resent: false,
            };
            Ok(code_page(state, &v, step, flow_id, end_others, note))
        }
    }
}

async fn signup_verify(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    v: Visitor,
    headers: http::HeaderMap,
    Form(f): Form<VerifyForm>,
) -> Result<Response, WebError> {
    verify(
        &state,
        &client,
        (v, &headers),
        f,
        FlowPurpose::Signup,
        CodeStep::Signup,
    )
    .await
}

async fn login_verify(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    v: Visitor,
    headers: http::HeaderMap,
    Form(f): Form<VerifyForm>,
) -> Result<Response, WebError> {
    verify(
        &state,
        &client,
        (v, &headers),
        f,
        FlowPurpose::Login,
        CodeStep::Login,
    )
    .await
}

#[derive(Deserialize)]
struct ResendForm {
    flow_id: Uuid,
    #[serde(default)]
    end_other_sessions: Option<String>,
    #[serde(flatten)]
    captcha: CaptchaFields,
}

/// "Send a new code": the same rules as the first request (bot challenge,
/// the address's request window), the same page whether or not the
/// address has an account.
async fn resend(
    state: &AppState,
    client: &accounts::Client,
    v: Visitor,
    f: ResendForm,
    step: CodeStep,
) -> Result<Response, WebError> {
    let old = FlowId::from_uuid(f.flow_id);
    let end_others = f.end_other_sessions.is_some();
    let presented = f.captcha.presented(state.settings.captcha.provider);
    let (flow_id, note) =
        match accounts::resend_code(&state.core, old, v.lang, presented, client).await {
            Ok(new) => (
                new,
                CodeNote {
                    error: None,
                    resent: true,
                },
            ),
            Err(e) => (
                old,
                CodeNote {
                    error: Some(code_error(state, v.lang, e)?),
                    resent: false,
                },
            ),
        };
    Ok(code_page(state, &v, step, flow_id, end_others, note))
}

async fn signup_resend(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    v: Visitor,
    Form(f): Form<ResendForm>,
) -> Result<Response, WebError> {
    resend(&state, &client, v, f, CodeStep::Signup).await
}

async fn login_resend(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    v: Visitor,
    Form(f): Form<ResendForm>,
) -> Result<Response, WebError> {
    resend(&state, &client, v, f, CodeStep::Login).await
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

fn login_view(
    state: &AppState,
    v: &Visitor,
    not_me: bool,
    email: &str,
    error: Option<String>,
) -> Response {
    let t = state.catalogs.get(v.lang);
    let title = if not_me {
        &t.not_me_title
    } else {
        &t.login_title
    };
    LoginPage {
        layout: Layout::new(state, v.lang, title),
        csrf_token: &v.csrf,
        error,
        email,
        not_me,
    }
    .into_response()
}

async fn login_page(State(state): State<AppState>, v: Visitor) -> Response {
    v.finish(login_view(&state, &v, false, "", None))
}

async fn not_me_page(State(state): State<AppState>, v: Visitor) -> Response {
    v.finish(login_view(&state, &v, true, "", None))
}

#[derive(Deserialize)]
struct EmailForm {
    email: String,
    #[serde(flatten)]
    captcha: CaptchaFields,
    #[serde(default)]
    end_other_sessions: Option<String>,
}

async fn login_code(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    v: Visitor,
    Form(f): Form<EmailForm>,
) -> Result<Response, WebError> {
    let not_me = f.end_other_sessions.is_some();
    let presented = f.captcha.presented(state.settings.captcha.provider);
    let started = async {
        let request = CodeRequest::Login {
            email: parse_email(&f.email)?,
        };
        Ok::<_, WebError>(
            accounts::request_code(&state.core, request, v.lang, presented, &client).await?,
        )
    };
    match started.await {
        Ok(flow_id) => Ok(code_page(
            &state,
            &v,
            CodeStep::Login,
            flow_id,
            not_me,
            CodeNote::default(),
        )),
        Err(e) => {
            let error = Some(form_message(&state, v.lang, e)?);
            Ok(login_view(&state, &v, not_me, &f.email, error))
        }
    }
}

#[derive(Deserialize)]
struct PasswordLoginForm {
    email: String,
    password: SecretString,
    #[serde(flatten)]
    captcha: CaptchaFields,
}

async fn login_password(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    v: Visitor,
    headers: http::HeaderMap,
    Form(f): Form<PasswordLoginForm>,
) -> Result<Response, WebError> {
    let previous = v.session.as_ref().map(|s| s.record.id);
    match accounts::login_password(
        &state.core,
        &f.email,
        &f.password,
        f.captcha.presented(state.settings.captcha.provider),
        &client,
        previous,
    )
    .await
    {
        Ok(l) => logged_in_redirect(&state, l, &headers),
        Err(e) => {
            let error = Some(form_message(&state, v.lang, e)?);
            Ok(login_view(&state, &v, false, &f.email, error))
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    error: Option<String>,
    email: &'a str,
    display_name: &'a str,
    has_password: bool,
    min_chars: usize,
    /// The session logged in or confirmed a code recently: changes that
    /// need it can be made now, and the page says so.
    recent: bool,
}

async fn account_view(
    state: &AppState,
    me: &SignedIn,
    error: Option<String>,
) -> Result<Response, WebError> {
    let p = accounts::summary(&state.core, me.member).await?;
    let t = state.catalogs.get(me.lang);
    Ok(AccountPage {
        layout: Layout::new(state, me.lang, &t.account_title),
        csrf_token: &me.csrf,
        error,
        email: p.email.as_str(),
        display_name: p.display_name.as_str(),
        has_password: p.has_password,
        min_chars: state.settings.auth.password_min_chars,
        recent: sessions::recently_authenticated(&state.core, &me.session),
    }
    .into_response())
}

async fn account_page(State(state): State<AppState>, me: SignedIn) -> Result<Response, WebError> {
    account_view(&state, &me, None).await
}

#[derive(Deserialize)]
struct PasswordForm {
    password: SecretString,
    #[serde(default)]
    current_password: Option<SecretString>,
}

async fn password_submit(
    State(state): State<AppState>,
    me: SignedIn,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    use secrecy::ExposeSecret;
    let current = f.current_password.filter(|p| !p.expose_secret().is_empty());
    match accounts::set_password(&state.core, &me.session, &f.password, current.as_ref()).await {
        Ok(()) => flash::redirect("/account", Flash::PasswordSet),
        Err(e) => {
            let error = Some(form_message(&state, me.lang, e)?);
            account_view(&state, &me, error).await
        }
    }
}

async fn password_remove_confirm(State(state): State<AppState>, me: SignedIn) -> Response {
    let t = state.catalogs.get(me.lang);
    Confirm {
        lead: &t.confirm_remove_password_lead,
        detail: None,
        action: "/account/password/remove",
        submit: &t.account_remove_password,
        cancel: "/account",
    }
    .page(&state, &me)
}

async fn password_remove(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Response, WebError> {
    match accounts::remove_password(&state.core, &me.session).await {
        Ok(()) => flash::redirect("/account", Flash::PasswordRemoved),
        Err(e) => {
            let error = Some(form_message(&state, me.lang, e)?);
            account_view(&state, &me, error).await
        }
    }
}

// ---- withdrawal (C18) ----

#[derive(Template, WebTemplate)]
#[template(path = "withdraw.html")]
struct WithdrawPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    error: Option<String>,
    /// What the withdrawal waits for, as sentences; empty: the form.
    waits: Vec<String>,
}

fn wait_text(t: &anshin_core::i18n::Catalog, w: &withdrawal::Wait) -> String {
    match w {
        withdrawal::Wait::OpenPurchases(n) => {
            t.withdraw_wait_purchases.replace("{count}", &n.to_string())
        }
        withdrawal::Wait::OpenSales(n) => t.withdraw_wait_sales.replace("{count}", &n.to_string()),
        withdrawal::Wait::PayoutsUnderWay(n) => {
            t.withdraw_wait_payouts.replace("{count}", &n.to_string())
        }
        withdrawal::Wait::UnpaidBalance(y) => t
            .withdraw_wait_balance
            .replace("{amount}", &y.amount().to_string()),
    }
}

/// The page again, with what is wrong or what it waits for: a 200, as
/// every re-shown form here (the error-page layer gives any 4xx the
/// generic page, which would hide the reason).
fn withdraw_view(
    state: &AppState,
    me: &SignedIn,
    waits: &[withdrawal::Wait],
    error: Option<String>,
    status: http::StatusCode,
) -> Response {
    let t = state.catalogs.get(me.lang);
    let page = WithdrawPage {
        layout: Layout::new(state, me.lang, &t.account_withdraw_title),
        csrf_token: &me.csrf,
        error,
        waits: waits.iter().map(|w| wait_text(t, w)).collect(),
    };
    let mut res = no_store(page.into_response());
    *res.status_mut() = status;
    res
}

/// "Leave anshin?": what goes and what stays; what the withdrawal waits
/// for, if anything; else, with a fresh login, the form (a box to tick,
/// then the button), or the offer of a confirmation code that comes back
/// here.
async fn withdraw_page(State(state): State<AppState>, me: SignedIn) -> Result<Response, WebError> {
    let waits = withdrawal::waits(&state.core, me.member).await?;
    if waits.is_empty() && !sessions::recently_authenticated(&state.core, &me.session) {
        let t = state.catalogs.get(me.lang);
        let layout = Layout::new(&state, me.lang, &t.account_reauth_title);
        let lead = t
            .withdraw_reauth_lead
            .replace("{minutes}", &layout.reauth_minutes);
        return Ok(no_store(
            ReauthFirst {
                layout,
                csrf_token: &me.csrf,
                lead,
                next: AfterReauth::Withdraw.field().unwrap_or_default(),
                cancel: "/account",
            }
            .into_response(),
        ));
    }
    Ok(withdraw_view(
        &state,
        &me,
        &waits,
        None,
        http::StatusCode::OK,
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "reauth_first.html")]
struct ReauthFirst<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    lead: String,
    next: &'static str,
    cancel: &'static str,
}

#[derive(Deserialize)]
struct WithdrawForm {
    #[serde(default)]
    confirm: Option<String>,
}

/// Erases the account (C18), ends this browser's session and says so on
/// the home page; or says what waits, or asks for the box to be ticked.
async fn withdraw_submit(
    State(state): State<AppState>,
    me: SignedIn,
    Form(f): Form<WithdrawForm>,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(me.lang);
    if f.confirm.as_deref() != Some("yes") {
        let waits = withdrawal::waits(&state.core, me.member).await?;
        return Ok(withdraw_view(
            &state,
            &me,
            &waits,
            Some(t.err_withdraw_unconfirmed.clone()),
            http::StatusCode::OK,
        ));
    }
    match withdrawal::withdraw_self(&state.core, &me.session).await {
        Ok(()) => {
            let mut res = flash::redirect("/", Flash::Withdrawn)?;
            res.headers_mut()
                .append(http::header::SET_COOKIE, session::cleared()?);
            Ok(res)
        }
        // The login went stale between the question and the answer.
        Err(withdrawal::WithdrawError::ReauthRequired) => {
            Ok(Redirect::to("/account/withdraw").into_response())
        }
        Err(withdrawal::WithdrawError::Waits(waits)) => Ok(withdraw_view(
            &state,
            &me,
            &waits,
            None,
            http::StatusCode::OK,
        )),
        Err(withdrawal::WithdrawError::NotFound) => Ok(Redirect::to("/").into_response()),
        Err(withdrawal::WithdrawError::Store(e)) => Err(e.into()),
        Err(e @ withdrawal::WithdrawError::Mail(_)) => Err(WebError::Internal(e.into())),
    }
}

#[derive(Deserialize)]
struct ReauthForm {
    #[serde(default)]
    next: AfterReauth,
}

/// Mails a confirmation code (also the code page's "send a new code").
async fn reauth_submit(
    State(state): State<AppState>,
    me: SignedIn,
    Form(f): Form<ReauthForm>,
) -> Result<Response, WebError> {
    match accounts::request_reauth(&state.core, me.member).await {
        Ok(flow_id) => Ok(reauth_code_page(
            &state, me.lang, &me.csrf, flow_id, None, f.next,
        )),
        Err(e) => {
            let error = Some(form_message(&state, me.lang, e)?);
            account_view(&state, &me, error).await
        }
    }
}

async fn reauth_verify(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    me: SignedIn,
    Form(f): Form<VerifyForm>,
) -> Result<Response, WebError> {
    let flow_id = FlowId::from_uuid(f.flow_id);
    match accounts::verify_reauth(&state.core, &me.session, flow_id, &f.code, &client).await {
        Ok(()) => flash::redirect(f.next.page(), Flash::Reauthenticated),
        Err(e) => {
            let error = Some(code_error(&state, me.lang, e)?);
            Ok(reauth_code_page(
                &state, me.lang, &me.csrf, flow_id, error, f.next,
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

/// Login history rows per page.
const HISTORY_PAGE: i64 = 20;
/// The oldest page anyone can ask for (20,000 entries back): deeper
/// offsets would only make the database scan for nothing.
const HISTORY_MAX_PAGE: i64 = 1_000;

#[derive(Template, WebTemplate)]
#[template(path = "sessions.html")]
struct SessionsPage<'a> {
    layout: Layout<'a>,
    sessions: Vec<SessionRow>,
    history: Vec<HistoryRow>,
    page_label: String,
    /// Links to the neighbouring history pages, if there are any.
    newer: Option<i64>,
    older: Option<i64>,
}

#[derive(Deserialize)]
struct HistoryQuery {
    #[serde(default)]
    page: Option<String>,
}

impl HistoryQuery {
    /// The history page asked for: 1 for anything that is not a page
    /// number in range (a link typed by hand is not an error).
    fn page(&self) -> i64 {
        self.page
            .as_deref()
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| (1..=HISTORY_MAX_PAGE).contains(p))
            .unwrap_or(1)
    }
}

async fn sessions_page(
    State(state): State<AppState>,
    me: SignedIn,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, WebError> {
    let page = q.page();
    let live = sessions::list(&state.core, me.member, me.session.id).await?;
    // One more than a page tells whether an older page exists.
    let mut events = sessions::history(
        &state.core,
        me.member,
        HISTORY_PAGE + 1,
        (page - 1) * HISTORY_PAGE,
    )
    .await?;
    let has_older = events.len() as i64 > HISTORY_PAGE;
    events.truncate(HISTORY_PAGE as usize);
    let t = state.catalogs.get(me.lang);
    let page = SessionsPage {
        layout: Layout::new(&state, me.lang, &t.sessions_title),
        sessions: live
            .into_iter()
            .map(|x| SessionRow {
                id: x.id.as_uuid(),
                current: x.current,
                device: x.device,
                ip: x.ip,
                started: accounts::local_time(me.lang, x.created_at),
                last_seen: accounts::local_time(me.lang, x.last_seen_at),
            })
            .collect(),
        history: events
            .into_iter()
            .map(|e| HistoryRow {
                at: accounts::local_time(me.lang, e.at),
                ip: e.ip,
                device: e.device,
                method: t.login_method(e.method).to_owned(),
                outcome: t.login_outcome(e.outcome).to_owned(),
            })
            .collect(),
        page_label: t.history_page_of.replace("{page}", &page.to_string()),
        newer: (page > 1).then_some(page - 1),
        older: has_older.then_some(page + 1),
    };
    Ok(page.into_response())
}

async fn session_end_confirm(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = SessionId::parse(&id).ok_or(WebError::BadRequest(ErrorCode::InvalidSessionId))?;
    let live = sessions::list(&state.core, me.member, me.session.id).await?;
    // Gone already, or not this member's: the list shows what is left.
    let Some(s) = live.into_iter().find(|s| s.id == id && !s.current) else {
        return Ok(Redirect::to("/account/sessions").into_response());
    };
    let t = state.catalogs.get(me.lang);
    let detail = format!(
        "{} · {} · {}",
        s.device,
        s.ip,
        accounts::local_time(me.lang, s.last_seen_at)
    );
    let action = format!("/account/sessions/{}/end", id.as_uuid());
    Ok(Confirm {
        lead: &t.confirm_end_session_lead,
        detail: Some(&detail),
        action: &action,
        submit: &t.sessions_end,
        cancel: "/account/sessions",
    }
    .page(&state, &me))
}

async fn session_end(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = SessionId::parse(&id).ok_or(WebError::BadRequest(ErrorCode::InvalidSessionId))?;
    match sessions::end(&state.core, me.member, id).await {
        // Already gone (ended elsewhere): the page shows what is left.
        Ok(()) | Err(sessions::EndError::NotFound) => {
            flash::redirect("/account/sessions", Flash::SessionEnded)
        }
        Err(e) => Err(e.into()),
    }
}

async fn sessions_end_others_confirm(State(state): State<AppState>, me: SignedIn) -> Response {
    let t = state.catalogs.get(me.lang);
    Confirm {
        lead: &t.confirm_end_others_lead,
        detail: None,
        action: "/account/sessions/end-others",
        submit: &t.sessions_end_others,
        cancel: "/account/sessions",
    }
    .page(&state, &me)
}

async fn sessions_end_others(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Response, WebError> {
    sessions::end_others(&state.core, me.member, me.session.id).await?;
    flash::redirect("/account/sessions", Flash::OtherSessionsEnded)
}

async fn logout(
    State(state): State<AppState>,
    session: Option<axum::Extension<session::CurrentSession>>,
) -> Result<Response, WebError> {
    if let Some(s) = session {
        sessions::logout(&state.core, s.0.record.id).await?;
    }
    let mut res = flash::redirect("/", Flash::LoggedOut)?;
    res.headers_mut()
        .append(http::header::SET_COOKIE, session::cleared()?);
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

fn unlock_view(state: &AppState, v: &Visitor, token: &str, error: Option<String>) -> Response {
    let t = state.catalogs.get(v.lang);
    UnlockPage {
        layout: Layout::new(state, v.lang, &t.unlock_title),
        csrf_token: &v.csrf,
        token,
        error,
    }
    .into_response()
}

/// The page the lock notice links to. The token stays in a form field from
/// here on, so it is not re-sent in a URL.
async fn unlock_page(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<UnlockQuery>,
) -> Response {
    v.finish(unlock_view(&state, &v, &q.token, None))
}

#[derive(Deserialize)]
struct UnlockForm {
    token: String,
}

async fn unlock_submit(
    State(state): State<AppState>,
    v: Visitor,
    Form(f): Form<UnlockForm>,
) -> Result<Response, WebError> {
    match accounts::request_unlock(&state.core, &f.token).await {
        Ok(flow_id) => Ok(code_page(
            &state,
            &v,
            CodeStep::Login,
            flow_id,
            false,
            CodeNote::default(),
        )),
        Err(e) => {
            let error = Some(form_message(&state, v.lang, e)?);
            Ok(unlock_view(&state, &v, "", error))
        }
    }
}

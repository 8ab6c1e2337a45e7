//! The profile pages: the display name (`/account/profile`) and the
//! e-mail address (`/account/profile/email`, then the code page). Each
//! handler calls the same use case as its API twin (`profile_api`).
//!
//! A display name over the limit is refused with its length and stays in
//! the form as typed: never cut (the input has no `maxlength`, which
//! would let a browser cut a pasted name silently). Changing the e-mail
//! address needs a recent login; without one the page offers the
//! confirmation code, and the code page returns here.

use anshin_core::accounts;
use anshin_core::i18n::Catalog;
use anshin_core::sessions;
use anshin_domain::{DisplayName, DisplayNameError, FlowId};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::account_pages::{AfterReauth, code_error, email_change_code_page, reauth_code_page};
use super::accounts_api::parse_email;
use crate::web::AppState;
use crate::web::common::client::ClientOf;
use crate::web::common::errors::{ErrorCode, WebError, form_message};
use crate::web::common::flash::{self, Flash};
use crate::web::common::forms::no_store;
use crate::web::common::layout::Layout;
use crate::web::common::member::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/profile", get(profile_page).post(name_submit))
        .route("/account/profile/email", get(email_page).post(email_submit))
        .route("/account/profile/email/reauth", post(email_reauth))
        .route("/account/profile/email/verify", post(email_verify))
        .route("/account/profile/email/resend", post(email_resend))
}

/// What is wrong with a display name, in the reader's language: the
/// limit and how long the typed one is, so it can be shortened (it is
/// never cut for the person).
pub(crate) fn display_name_message(t: &Catalog, e: DisplayNameError) -> String {
    match e {
        DisplayNameError::Empty => t.err_display_name_required.clone(),
        DisplayNameError::TooLong { chars } => t
            .err_display_name_too_long
            .replace("{max}", &DisplayName::MAX_CHARS.to_string())
            .replace("{count}", &chars.to_string()),
        DisplayNameError::InvalidCharacter => t.err_display_name_invalid_character.clone(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    /// The stored name, or what was typed when it was refused.
    display_name: &'a str,
    max_chars: usize,
    name_error: Option<String>,
    email: &'a str,
}

async fn render_profile(
    state: &AppState,
    me: &SignedIn,
    typed: Option<&str>,
    name_error: Option<String>,
) -> Result<Response, WebError> {
    let p = accounts::summary(&state.core, me.member).await?;
    let t = state.catalogs.get(me.lang);
    let page = ProfilePage {
        layout: Layout::new(state, me.lang, &t.profile_title),
        csrf_token: &me.csrf,
        display_name: typed.unwrap_or(p.display_name.as_str()),
        max_chars: DisplayName::MAX_CHARS,
        name_error,
        email: p.email.as_str(),
    };
    Ok(no_store(page.into_response()))
}

async fn profile_page(State(state): State<AppState>, me: SignedIn) -> Result<Response, WebError> {
    render_profile(&state, &me, None, None).await
}

#[derive(Deserialize)]
struct NameForm {
    display_name: String,
}

async fn name_submit(
    State(state): State<AppState>,
    me: SignedIn,
    Form(f): Form<NameForm>,
) -> Result<Response, WebError> {
    match DisplayName::check(&f.display_name) {
        Ok(name) => {
            accounts::change_display_name(&state.core, me.member, &name).await?;
            flash::redirect("/account/profile", Flash::DisplayNameSaved)
        }
        Err(why) => {
            let message = display_name_message(state.catalogs.get(me.lang), why);
            render_profile(&state, &me, Some(&f.display_name), Some(message)).await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "email_change.html")]
struct EmailPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    current: &'a str,
    /// Whether the session may start a change now; if not, the page
    /// offers a confirmation code instead of the form.
    recent: bool,
    /// The new address as typed, when the form comes back with an error.
    typed: &'a str,
    /// What is wrong with the typed address.
    error: Option<String>,
    /// A message that is not about the field (a confirmation needed, too
    /// many requests).
    notice: Option<String>,
}

/// What the e-mail page shows besides the current address.
#[derive(Default)]
struct EmailView<'a> {
    typed: &'a str,
    error: Option<String>,
    notice: Option<String>,
}

async fn render_email(
    state: &AppState,
    me: &SignedIn,
    view: EmailView<'_>,
) -> Result<Response, WebError> {
    let p = accounts::summary(&state.core, me.member).await?;
    let t = state.catalogs.get(me.lang);
    let page = EmailPage {
        layout: Layout::new(state, me.lang, &t.email_change_title),
        csrf_token: &me.csrf,
        current: p.email.as_str(),
        recent: sessions::recently_authenticated(&state.core, &me.session),
        typed: view.typed,
        error: view.error,
        notice: view.notice,
    };
    Ok(no_store(page.into_response()))
}

async fn email_page(State(state): State<AppState>, me: SignedIn) -> Result<Response, WebError> {
    render_email(&state, &me, EmailView::default()).await
}

#[derive(Deserialize)]
struct EmailForm {
    email: String,
}

/// Starts the change: the code page, whether or not the new address
/// already has an account (its owner then gets a notice, not a code).
async fn email_submit(
    State(state): State<AppState>,
    me: SignedIn,
    Form(f): Form<EmailForm>,
) -> Result<Response, WebError> {
    let started = async {
        let new = parse_email(&f.email)?;
        Ok::<_, WebError>(accounts::request_email_change(&state.core, &me.session, new).await?)
    };
    let e = match started.await {
        Ok(flow_id) => {
            return Ok(no_store(email_change_code_page(
                &state, me.lang, &me.csrf, flow_id, None, false,
            )));
        }
        Err(e) => e,
    };
    // What is wrong with the address goes next to the field; anything else
    // (a confirmation needed, too many requests) above the form.
    let about_field = matches!(
        e,
        WebError::BadRequest(ErrorCode::InvalidEmail | ErrorCode::EmailUnchanged)
    );
    let message = Some(form_message(&state, me.lang, e)?);
    let view = if about_field {
        EmailView {
            typed: &f.email,
            error: message,
            notice: None,
        }
    } else {
        EmailView {
            typed: &f.email,
            error: None,
            notice: message,
        }
    };
    render_email(&state, &me, view).await
}

/// Mails a confirmation code to the current address; the code page
/// returns to the e-mail form.
async fn email_reauth(State(state): State<AppState>, me: SignedIn) -> Result<Response, WebError> {
    match accounts::request_reauth(&state.core, me.member).await {
        Ok(flow_id) => Ok(reauth_code_page(
            &state,
            me.lang,
            &me.csrf,
            flow_id,
            None,
            AfterReauth::Email,
        )),
        Err(e) => {
            let notice = Some(form_message(&state, me.lang, e)?);
            render_email(
                &state,
                &me,
                EmailView {
                    notice,
                    ..EmailView::default()
                },
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct CodeForm {
    flow_id: Uuid,
    code: String,
}

async fn email_verify(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    me: SignedIn,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    let flow_id = FlowId::from_uuid(f.flow_id);
    match accounts::confirm_email_change(&state.core, &me.session, flow_id, &f.code, &client).await
    {
        Ok(()) => flash::redirect("/account/profile", Flash::EmailChanged),
        Err(e) => {
            let error = Some(code_error(&state, me.lang, e)?);
            Ok(no_store(email_change_code_page(
                &state, me.lang, &me.csrf, flow_id, error, false,
            )))
        }
    }
}

#[derive(Deserialize)]
struct ResendForm {
    flow_id: Uuid,
}

/// "Send a new code": the same request again (a recent login, the
/// address's and the member's request windows); the old code stops
/// working.
async fn email_resend(
    State(state): State<AppState>,
    me: SignedIn,
    Form(f): Form<ResendForm>,
) -> Result<Response, WebError> {
    let old = FlowId::from_uuid(f.flow_id);
    let page = match accounts::resend_email_change(&state.core, &me.session, old).await {
        Ok(new) => email_change_code_page(&state, me.lang, &me.csrf, new, None, true),
        Err(e) => {
            let error = Some(code_error(&state, me.lang, e)?);
            email_change_code_page(&state, me.lang, &me.csrf, old, error, false)
        }
    };
    Ok(no_store(page))
}

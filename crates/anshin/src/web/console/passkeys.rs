//! The console's passkey pages (C21): the login page's passkey form, and
//! the staff member's own security page (list, add, remove). The
//! ceremonies themselves are `anshin_core::staff::passkeys`; the page's
//! script (`static/console-passkeys.js`) only carries bytes between the
//! browser's WebAuthn API and these handlers:
//!
//! - `POST /login/passkey/options`, `POST /security/passkeys/options`:
//!   start a ceremony, answer `{ ceremony, options }` as JSON;
//! - `POST /login/passkey`, `POST /security/passkeys`: a plain form post
//!   with the ceremony token and the authenticator's answer (JSON) that
//!   ends in a redirect or the page with what went wrong.
//!
//! Both posts go through the console's CSRF layer like every form (the
//! origin check; with a session, the synchronizer token).

use anshin_core::i18n::StaffCatalog;
use anshin_core::staff::LoginError;
use anshin_core::staff::passkeys::{self, PasskeyError};
use anshin_domain::StaffPasskeyId;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::pages::{ConsoleLayout, LoginPage, StepUpPage, forbidden, page};
use super::{ConsoleState, Staff, StaffClient, bare, redirect_with, session_cookie};

/// The JSON a page's script gets to start a ceremony.
fn ceremony_json(c: &passkeys::Ceremony) -> Response {
    Json(json!({ "ceremony": c.token.expose(), "options": c.options })).into_response()
}

/// A JSON refusal with a message the script shows.
fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// A signed-in person's ceremony options, or why not (one mapping for
/// registration and step-up): too many passkeys or none is a 409 with its
/// message, a policy refusal 403, a console without a passkey origin 503.
fn options_answer(
    t: &StaffCatalog,
    started: Result<passkeys::Ceremony, PasskeyError>,
    what: &str,
) -> Response {
    match started {
        Ok(c) => ceremony_json(&c),
        Err(PasskeyError::TooMany) => refusal(StatusCode::CONFLICT, &t.passkeys.too_many),
        Err(PasskeyError::NotFound) => refusal(StatusCode::CONFLICT, &t.passkeys.none),
        Err(PasskeyError::Refused(_)) => refusal(StatusCode::FORBIDDEN, &t.forbidden_body),
        Err(PasskeyError::Origin(e)) => {
            tracing::warn!(error = %e, "passkeys unavailable");
            refusal(StatusCode::SERVICE_UNAVAILABLE, &t.passkeys.unavailable)
        }
        Err(e) => {
            tracing::error!(error = %e, "{what}");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

fn words<'a>(state: &'a ConsoleState, headers: &HeaderMap) -> &'a StaffCatalog {
    ConsoleLayout::new(state, headers, None, |t| &t.title).t
}

/// `POST /login/passkey/options`: a login ceremony (no account named).
pub async fn login_options(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
) -> Response {
    let t = words(&state, &headers);
    let Some(origin) = state.passkey_origin.as_ref() else {
        return refusal(StatusCode::SERVICE_UNAVAILABLE, &t.passkeys.unavailable);
    };
    match passkeys::start_login(&state.app.core, ip, origin).await {
        Ok(c) => ceremony_json(&c),
        Err(LoginError::Throttled) => refusal(StatusCode::TOO_MANY_REQUESTS, &t.throttled),
        Err(LoginError::Passkeys(e)) => {
            tracing::warn!(error = %e, "passkeys unavailable");
            refusal(StatusCode::SERVICE_UNAVAILABLE, &t.passkeys.unavailable)
        }
        Err(e) => {
            tracing::error!(error = %e, "passkey login options failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct PasskeyLoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

/// `POST /login/passkey`: e-mail + the authenticator's answer.
pub async fn login(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    uri: http::Uri,
    Form(form): Form<PasskeyLoginForm>,
) -> Response {
    let render = |status: StatusCode, error: fn(&StaffCatalog) -> &str| {
        let layout = ConsoleLayout::new(&state, &headers, None, |t| &t.login_title);
        let error = Some(error(layout.t));
        page(
            status,
            &headers,
            LoginPage {
                layout,
                email: form.email.chars().take(254).collect(),
                error,
                passkeys_here: super::at_passkey_origin(&state, &headers, &uri),
                passkeys_js: state.app.assets.url("console-passkeys.js"),
            }
            .render(),
        )
    };
    if form.ceremony.is_empty() || form.credential.is_empty() {
        // The form was posted without the script (or without WebAuthn):
        // nothing to check, nothing counted.
        return render(StatusCode::UNPROCESSABLE_ENTITY, |t| {
            &t.passkeys.unsupported
        });
    }
    let Some(origin) = state.passkey_origin.as_ref() else {
        return render(StatusCode::SERVICE_UNAVAILABLE, |t| &t.passkeys.unavailable);
    };
    match passkeys::login(
        &state.app.core,
        origin,
        &form.email,
        &form.ceremony,
        &form.credential,
        ip,
    )
    .await
    {
        Ok(login) => {
            let cookie = session_cookie(
                &login.token.expose(),
                state.app.settings.staff.absolute_lifetime_secs,
            );
            redirect_with("/", "logged_in", cookie)
        }
        Err(LoginError::Invalid) => render(StatusCode::UNAUTHORIZED, |t| &t.passkeys.login_failed),
        Err(LoginError::Throttled) => render(StatusCode::TOO_MANY_REQUESTS, |t| &t.throttled),
        Err(LoginError::Passkeys(e)) => {
            tracing::warn!(error = %e, "passkeys unavailable");
            render(StatusCode::SERVICE_UNAVAILABLE, |t| &t.passkeys.unavailable)
        }
        Err(e) => {
            tracing::error!(error = %e, "staff passkey login failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

struct Row {
    id: String,
    name: String,
    added: String,
    used: String,
}

#[derive(Template)]
#[template(path = "console/security.html")]
struct SecurityPage<'a> {
    layout: ConsoleLayout<'a>,
    rows: Vec<Row>,
    error: Option<&'a str>,
    passkeys_here: bool,
    passkeys_js: &'a str,
}

fn jst(at: anshin_domain::Timestamp) -> String {
    anshin_core::accounts::format_time(at, 9 * 3600, "JST")
}

async fn security_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    uri: &http::Uri,
    s: &Staff,
    ip: std::net::IpAddr,
    status: StatusCode,
    error: Option<fn(&StaffCatalog) -> &str>,
) -> Response {
    let list = match passkeys::list(&state.app.core, &s.current, ip).await {
        Ok(l) => l,
        Err(PasskeyError::Refused(_)) => return forbidden(state, headers),
        Err(e) => {
            tracing::error!(error = %e, "listing passkeys failed");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.passkeys.security_title);
    let t = &layout.t.passkeys;
    let rows = list
        .iter()
        .map(|p| Row {
            id: p.id.to_string(),
            name: p.name.clone(),
            added: t.added_on.replace("{date}", &jst(p.created_at)),
            used: match p.last_used_at {
                Some(at) => t.last_used.replace("{date}", &jst(at)),
                None => t.never_used.clone(),
            },
        })
        .collect();
    let error = error.map(|f| f(layout.t));
    page(
        status,
        headers,
        SecurityPage {
            layout,
            rows,
            error,
            passkeys_here: super::at_passkey_origin(state, headers, uri),
            passkeys_js: state.app.assets.url("console-passkeys.js"),
        }
        .render(),
    )
}

/// `GET /security`: the staff member's own passkeys.
pub async fn security_page(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    uri: http::Uri,
    Extension(s): Extension<Staff>,
) -> Response {
    security_view(&state, &headers, &uri, &s, ip, StatusCode::OK, None).await
}

/// `POST /security/passkeys/options`: a registration ceremony for the
/// logged-in staff member (the guard asked for a fresh second factor).
pub async fn register_options(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    let t = words(&state, &headers);
    let Some(origin) = state.passkey_origin.as_ref() else {
        return refusal(StatusCode::SERVICE_UNAVAILABLE, &t.passkeys.unavailable);
    };
    options_answer(
        t,
        passkeys::start_registration(&state.app.core, &s.current, ip, origin).await,
        "passkey registration options failed",
    )
}

#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

/// `POST /security/passkeys`: the authenticator's answer to a
/// registration ceremony.
pub async fn register(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    uri: http::Uri,
    Extension(s): Extension<Staff>,
    Form(form): Form<RegisterForm>,
) -> Response {
    let fail = |status, error: fn(&StaffCatalog) -> &str| {
        security_view(&state, &headers, &uri, &s, ip, status, Some(error))
    };
    if form.ceremony.is_empty() || form.credential.is_empty() {
        return fail(StatusCode::UNPROCESSABLE_ENTITY, |t| {
            &t.passkeys.unsupported
        })
        .await;
    }
    let Some(origin) = state.passkey_origin.as_ref() else {
        return fail(StatusCode::SERVICE_UNAVAILABLE, |t| &t.passkeys.unavailable).await;
    };
    match passkeys::finish_registration(
        &state.app.core,
        &s.current,
        ip,
        origin,
        &form.ceremony,
        &form.name,
        &form.credential,
    )
    .await
    {
        Ok(_) => redirect_with("/security", "passkey_added", None),
        Err(PasskeyError::Invalid) => {
            fail(StatusCode::UNPROCESSABLE_ENTITY, |t| &t.passkeys.invalid).await
        }
        Err(PasskeyError::Duplicate) => fail(StatusCode::CONFLICT, |t| &t.passkeys.duplicate).await,
        Err(PasskeyError::Refused(_)) => forbidden(&state, &headers),
        Err(e) => {
            tracing::error!(error = %e, "adding a passkey failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// `POST /security/passkeys/{id}/remove`: removes one of one's own.
pub async fn remove(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = StaffPasskeyId::parse(&id) else {
        return bare(StatusCode::NOT_FOUND);
    };
    match passkeys::remove(&state.app.core, &s.current, ip, id).await {
        Ok(()) => redirect_with("/security", "passkey_removed", None),
        Err(PasskeyError::NotFound) => bare(StatusCode::NOT_FOUND),
        Err(PasskeyError::Refused(_)) => forbidden(&state, &headers),
        Err(e) => {
            tracing::error!(error = %e, "removing a passkey failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// `POST /step-up/passkey/options`: a step-up ceremony naming the
/// person's own passkeys (409 with a message if they have none).
pub async fn step_up_options(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    let t = words(&state, &headers);
    let Some(origin) = state.passkey_origin.as_ref() else {
        return refusal(StatusCode::SERVICE_UNAVAILABLE, &t.passkeys.unavailable);
    };
    options_answer(
        t,
        passkeys::start_step_up(&state.app.core, &s.current, ip, origin).await,
        "passkey step-up options failed",
    )
}

#[derive(Debug, Deserialize)]
pub struct StepUpForm {
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

/// `POST /step-up/passkey`: the authenticator's answer to a step-up.
pub async fn step_up(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    uri: http::Uri,
    Extension(s): Extension<Staff>,
    Form(form): Form<StepUpForm>,
) -> Response {
    let render = |status: StatusCode, error: fn(&StaffCatalog) -> &str| {
        let layout = ConsoleLayout::new(&state, &headers, Some(&s), |t| &t.stepup_title);
        let error = Some(error(layout.t));
        page(
            status,
            &headers,
            StepUpPage {
                layout,
                error,
                passkeys_here: super::at_passkey_origin(&state, &headers, &uri),
                passkeys_js: state.app.assets.url("console-passkeys.js"),
            }
            .render(),
        )
    };
    if form.ceremony.is_empty() || form.credential.is_empty() {
        return render(StatusCode::UNPROCESSABLE_ENTITY, |t| {
            &t.passkeys.unsupported
        });
    }
    let Some(origin) = state.passkey_origin.as_ref() else {
        return render(StatusCode::SERVICE_UNAVAILABLE, |t| &t.passkeys.unavailable);
    };
    match passkeys::step_up(
        &state.app.core,
        &s.current,
        ip,
        origin,
        &form.ceremony,
        &form.credential,
    )
    .await
    {
        Ok(()) => redirect_with("/", "stepped_up", None),
        Err(PasskeyError::Invalid | PasskeyError::NotFound) => {
            render(StatusCode::UNAUTHORIZED, |t| &t.passkeys.login_failed)
        }
        Err(PasskeyError::Refused(_)) => forbidden(&state, &headers),
        Err(e) => {
            tracing::error!(error = %e, "staff passkey step-up failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

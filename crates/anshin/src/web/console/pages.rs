//! The console's pages: login, TOTP enrolment, step-up, home, and the
//! admin's staff list with add, change of role and disable (asking
//! first). Each handler
//! parses, calls one use case of `anshin_core::staff`, and renders.

use anshin_core::access::{self, Action};
use anshin_core::i18n::{Lang, StaffCatalog};
use anshin_core::staff::{self, LoginError, StaffAccount, StaffError};
use anshin_domain::{StaffId, StaffRole, StaffStatus};
use anshin_vault::SessionToken;
use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;

use super::{ConsoleState, FLASH_COOKIE, Staff, StaffClient, bare, redirect_with, session_cookie};
use crate::web::common::cookies;
use crate::web::common::language::request_lang;
use axum::Form;

/// What the console's base template needs.
pub struct ConsoleLayout<'a> {
    pub t: &'a StaffCatalog,
    pub lang: &'static str,
    pub title: &'a str,
    pub css: &'a str,
    pub icon: &'a str,
    /// The no-copy script (C23), on every console page.
    pub nocopy_js: &'a str,
    /// The label page: printing shows the label image only (other
    /// console pages print nothing).
    pub label_print: bool,
    /// Signed in: the menu shows home, (admins) staff, and logout.
    pub signed_in: bool,
    pub admin: bool,
    /// The menu shows "Members" (support) and "Audit log" (security).
    pub support: bool,
    pub security: bool,
    /// The menu shows "Incidents" (security; admin reads them).
    pub incidents: bool,
    /// The menu shows "Shipping" (shipping workers and managers).
    pub shipping: bool,
    /// The menu shows "Alerts" (security).
    pub alerts: bool,
    /// The menu shows "Payouts" (finance).
    pub finance: bool,
    pub csrf: String,
    pub flash: Option<String>,
}

fn lang_of(state: &ConsoleState, headers: &HeaderMap) -> Lang {
    request_lang(headers, state.app.settings.site.default_language)
}

fn catalog<'a>(state: &'a ConsoleState, headers: &HeaderMap) -> (&'a StaffCatalog, Lang) {
    let lang = lang_of(state, headers);
    (&state.app.catalogs.get(lang).staff, lang)
}

/// The flash's sentence. A flash is a code, optionally followed by
/// `.`-separated numbers the sentence names (`sessions_ended.3.0`); only
/// letters and digits are put into the sentence.
fn flash_text(t: &StaffCatalog, headers: &HeaderMap) -> Option<String> {
    let value = cookies::value(headers, FLASH_COOKIE)?;
    let mut parts = value.split('.');
    let code = parts.next()?;
    let args: Vec<&str> = parts
        .map(|a| {
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric()) {
                a
            } else {
                "?"
            }
        })
        .collect();
    let arg = |i: usize| args.get(i).copied().unwrap_or("?");
    let i = &t.incidents;
    let two = |text: &str, a: &str, b: &str| text.replace(a, arg(0)).replace(b, arg(1));
    Some(match code {
        "logged_in" => t.flash_logged_in.clone(),
        "logged_out" => t.flash_logged_out.clone(),
        "enrolled" => t.flash_enrolled.clone(),
        "disabled" => t.flash_disabled.clone(),
        "role_changed" => t.flash_role_changed.clone(),
        "stepped_up" => t.flash_stepped_up.clone(),
        "passkey_added" => t.passkeys.flash_added.clone(),
        "passkey_removed" => t.passkeys.flash_removed.clone(),
        "incident_opened" => i.flash_opened.clone(),
        "incident_sessions_ended" => two(&i.flash_sessions_ended, "{members}", "{staff}"),
        "incident_locked" => i.flash_locked.clone(),
        "incident_unlocked" => i.flash_unlocked.clone(),
        "incident_password_reset" => i.flash_password_reset.clone(),
        "incident_keys_rotated" => two(&i.flash_keys_rotated, "{version}", "{n}"),
        "incident_staff_disabled" => i.flash_staff_disabled.clone(),
        "incident_notify_done" => two(&i.flash_notify_done, "{sent}", "{total}"),
        "incident_notify_running" => two(&i.flash_notify_running, "{sent}", "{total}"),
        "incident_notify_already" => two(&i.flash_notify_already, "{sent}", "{total}"),
        "incident_closed" => i.flash_closed.clone(),
        "checked_in" => t.centre.flash_checked_in.clone(),
        "shift_resumed" => t.centre.flash_resumed.clone(),
        "checked_out" => t.centre.flash_checked_out.clone(),
        "shift_needed" => t.centre.flash_shift_needed.clone(),
        "terminal_registered" => t.centre.flash_registered.clone(),
        "terminal_retired" => t.centre.flash_retired.clone(),
        "void_requested" => t.centre.flash_void_requested.clone(),
        "void_approved" => t.centre.flash_void_approved.clone(),
        "void_already" => t.centre.flash_void_already.clone(),
        "void_rejected" => t.centre.flash_void_rejected.clone(),
        "parcel_accepted" => t.labels.flash_accepted.clone(),
        "shift_ended" => t.centre.flash_shift_ended.clone(),
        "parcel_event" => t.labels.flash_event.clone(),
        "payouts_built" => t.payouts.flash_built.clone(),
        "payout_paid" => t.payouts.flash_paid.clone(),
        "payout_failed" => t.payouts.flash_failed.clone(),
        "payout_already" => t.payouts.flash_already.clone(),
        "payout_contradicted" => t.payouts.flash_contradicted.clone(),
        "payouts_imported" => two(&t.payouts.flash_imported, "{paid}", "{failed}"),
        "payouts_import_again" => t.payouts.flash_import_again.replace("{already}", arg(0)),
        "payouts_import_contradicted" => {
            two(&t.payouts.flash_import_contradicted, "{paid}", "{failed}")
                .replace("{contradicted}", arg(2))
        }
        "vdp_status" => t.vdp.flash_status.clone(),
        "vdp_note" => t.vdp.flash_note.clone(),
        _ => return None,
    })
}

impl<'a> ConsoleLayout<'a> {
    pub(super) fn new(
        state: &'a ConsoleState,
        headers: &HeaderMap,
        staff: Option<&Staff>,
        title: impl Fn(&'a StaffCatalog) -> &'a str,
    ) -> Self {
        let (t, lang) = catalog(state, headers);
        Self {
            t,
            lang: lang.code(),
            title: title(t),
            css: state.app.assets.url("app.css"),
            icon: state.app.assets.url("icon.svg"),
            nocopy_js: state.app.assets.url("console-nocopy.js"),
            label_print: false,
            signed_in: staff.is_some(),
            admin: staff
                .is_some_and(|s| access::role_may(s.current.account.role, Action::ListStaff)),
            support: staff
                .is_some_and(|s| access::role_may(s.current.account.role, Action::ViewMemberData)),
            security: staff
                .is_some_and(|s| access::role_may(s.current.account.role, Action::ViewAuditLog)),
            incidents: staff
                .is_some_and(|s| access::role_may(s.current.account.role, Action::ViewIncidents)),
            shipping: staff
                .is_some_and(|s| access::role_may(s.current.account.role, Action::CheckIn)),
            alerts: staff
                .is_some_and(|s| access::role_may(s.current.account.role, Action::ViewAlerts)),
            finance: staff
                .is_some_and(|s| access::role_may(s.current.account.role, Action::ViewPayouts)),
            csrf: staff.map(Staff::csrf).unwrap_or_default(),
            flash: flash_text(t, headers),
        }
    }
}

/// Renders a page with `status`, clearing a flash it showed.
pub(super) fn page(
    status: StatusCode,
    headers: &HeaderMap,
    body: Result<String, askama::Error>,
) -> Response {
    let Ok(html) = body else {
        return bare(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let mut res = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    if cookies::value(headers, FLASH_COOKIE).is_some()
        && let Ok(clear) = cookies::secure(FLASH_COOKIE, "", 0)
    {
        res.headers_mut().append(header::SET_COOKIE, clear);
    }
    res
}

pub async fn asset(State(state): State<ConsoleState>, Path(file): Path<String>) -> Response {
    state
        .app
        .assets
        .response(&file)
        .unwrap_or_else(|| bare(StatusCode::NOT_FOUND))
}

#[derive(Template)]
#[template(path = "console/forbidden.html")]
struct ForbiddenPage<'a> {
    layout: ConsoleLayout<'a>,
}

/// The refusal of a role the policy does not allow (403).
pub fn forbidden(state: &ConsoleState, headers: &HeaderMap) -> Response {
    let layout = ConsoleLayout::new(state, headers, None, |t| &t.forbidden_title);
    page(
        StatusCode::FORBIDDEN,
        headers,
        ForbiddenPage { layout }.render(),
    )
}

#[derive(Template)]
#[template(path = "console/login.html")]
pub(super) struct LoginPage<'a> {
    pub(super) layout: ConsoleLayout<'a>,
    pub(super) email: String,
    pub(super) error: Option<&'a str>,
    /// The page was reached at the origin passkeys work at.
    pub(super) passkeys_here: bool,
    pub(super) passkeys_js: &'a str,
}

pub async fn login_page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    uri: http::Uri,
    staff: Option<Extension<Staff>>,
) -> Response {
    if staff.is_some() {
        return Redirect::to("/").into_response();
    }
    let layout = ConsoleLayout::new(&state, &headers, None, |t| &t.login_title);
    page(
        StatusCode::OK,
        &headers,
        LoginPage {
            layout,
            email: String::new(),
            error: None,
            passkeys_here: super::at_passkey_origin(&state, &headers, &uri),
            passkeys_js: state.app.assets.url("console-passkeys.js"),
        }
        .render(),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    #[serde(default)]
    code: String,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

pub async fn login(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    uri: http::Uri,
    Form(form): Form<LoginForm>,
) -> Response {
    let (status, error): (StatusCode, fn(&StaffCatalog) -> &str) =
        match staff::login(&state.app.core, &form.email, &form.code, ip).await {
            Ok(login) => {
                let cookie = session_cookie(
                    &login.token.expose(),
                    state.app.settings.staff.absolute_lifetime_secs,
                );
                return redirect_with("/", "logged_in", cookie);
            }
            Err(LoginError::Invalid) => (StatusCode::UNAUTHORIZED, |t| &t.login_failed),
            Err(LoginError::Throttled) => (StatusCode::TOO_MANY_REQUESTS, |t| &t.throttled),
            Err(e) => {
                tracing::error!(error = %e, "staff login failed");
                return bare(StatusCode::SERVICE_UNAVAILABLE);
            }
        };
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
}

#[derive(Template)]
#[template(path = "console/enrol.html")]
struct EnrolPage<'a> {
    layout: ConsoleLayout<'a>,
    /// `None`: the link does not work (the page says so).
    offer: Option<Offer>,
    token: String,
    error: Option<&'a str>,
}

struct Offer {
    email: String,
    uri: String,
    secret: String,
}

#[derive(Deserialize)]
pub struct EnrolQuery {
    #[serde(default)]
    token: String,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for EnrolQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolQuery").finish_non_exhaustive()
    }
}

async fn enrol_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    token: &str,
    wrong_code: bool,
) -> Response {
    let offer = match SessionToken::parse(token) {
        Ok(t) => match staff::enrolment_offer(&state.app.core, &t).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "enrolment offer failed");
                return bare(StatusCode::SERVICE_UNAVAILABLE);
            }
        },
        Err(_) => None,
    };
    let layout = ConsoleLayout::new(state, headers, None, |t| &t.enrol_title);
    let status = match (&offer, wrong_code) {
        (None, _) => StatusCode::NOT_FOUND,
        (Some(_), true) => StatusCode::UNPROCESSABLE_ENTITY,
        (Some(_), false) => StatusCode::OK,
    };
    let error = match (&offer, wrong_code) {
        (None, _) => Some(layout.t.enrol_invalid.as_str()),
        (Some(_), true) => Some(layout.t.enrol_wrong_code.as_str()),
        _ => None,
    };
    let offer = offer.map(|o| Offer {
        email: o.email.as_str().to_owned(),
        uri: o.otpauth_uri.to_string(),
        secret: o.secret_base32.to_string(),
    });
    let mut res = page(
        status,
        headers,
        EnrolPage {
            layout,
            offer,
            token: token.to_owned(),
            error,
        }
        .render(),
    );
    // The page holds a secret: never kept by a cache (the headers layer
    // sets no-store), never sent on as a referrer.
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        http::HeaderValue::from_static("no-referrer"),
    );
    res
}

pub async fn enrol_page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<EnrolQuery>,
) -> Response {
    enrol_view(&state, &headers, &q.token, false).await
}

#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    code: String,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for EnrolForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolForm").finish_non_exhaustive()
    }
}

pub async fn enrol(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Form(form): Form<EnrolForm>,
) -> Response {
    let Ok(token) = SessionToken::parse(&form.token) else {
        return enrol_view(&state, &headers, "", false).await;
    };
    match staff::enrol(&state.app.core, &token, &form.code).await {
        Ok(()) => redirect_with("/login", "enrolled", None),
        Err(LoginError::Invalid) => enrol_view(&state, &headers, &form.token, true).await,
        Err(e) => {
            tracing::error!(error = %e, "enrolment failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

pub async fn logout(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    Extension(s): Extension<Staff>,
) -> Response {
    if let Err(e) = staff::logout(&state.app.core, &s.current, ip).await {
        tracing::error!(error = %e, "staff logout failed");
        return bare(StatusCode::SERVICE_UNAVAILABLE);
    }
    redirect_with("/login", "logged_out", session_cookie("", 0))
}

#[derive(Template)]
#[template(path = "console/step_up.html")]
pub(super) struct StepUpPage<'a> {
    pub(super) layout: ConsoleLayout<'a>,
    pub(super) error: Option<&'a str>,
    pub(super) passkeys_here: bool,
    pub(super) passkeys_js: &'a str,
}

pub async fn step_up_page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    uri: http::Uri,
    Extension(s): Extension<Staff>,
) -> Response {
    let layout = ConsoleLayout::new(&state, &headers, Some(&s), |t| &t.stepup_title);
    page(
        StatusCode::OK,
        &headers,
        StepUpPage {
            layout,
            error: None,
            passkeys_here: super::at_passkey_origin(&state, &headers, &uri),
            passkeys_js: state.app.assets.url("console-passkeys.js"),
        }
        .render(),
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for CodeForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeForm").finish_non_exhaustive()
    }
}

pub async fn step_up(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    uri: http::Uri,
    Extension(s): Extension<Staff>,
    Form(form): Form<CodeForm>,
) -> Response {
    match staff::step_up(&state.app.core, &s.current, &form.code, ip).await {
        Ok(()) => redirect_with("/", "stepped_up", None),
        Err(LoginError::Invalid | LoginError::Throttled) => {
            let layout = ConsoleLayout::new(&state, &headers, Some(&s), |t| &t.stepup_title);
            let error = Some(layout.t.login_failed.as_str());
            page(
                StatusCode::UNAUTHORIZED,
                &headers,
                StepUpPage {
                    layout,
                    error,
                    passkeys_here: super::at_passkey_origin(&state, &headers, &uri),
                    passkeys_js: state.app.assets.url("console-passkeys.js"),
                }
                .render(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "staff step-up failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage<'a> {
    layout: ConsoleLayout<'a>,
    signed_in_as: String,
    allowed: Vec<&'a str>,
}

pub async fn home(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    let layout = ConsoleLayout::new(&state, &headers, Some(&s), |t| &t.home_title);
    let t = layout.t;
    let role = s.current.account.role;
    let allowed = Action::ALL
        .into_iter()
        .filter(|a| *a != Action::SignIn && access::role_may(role, *a))
        .map(|a| t.actions.get(a.as_str()).map_or(a.as_str(), String::as_str))
        .collect();
    let signed_in_as = t
        .signed_in_as
        .replace("{email}", s.current.account.email.as_str())
        .replace("{role}", role_word(t, role));
    page(
        StatusCode::OK,
        &headers,
        HomePage {
            layout,
            signed_in_as,
            allowed,
        }
        .render(),
    )
}

pub(super) fn role_word(t: &StaffCatalog, role: StaffRole) -> &str {
    t.roles
        .get(role.as_str())
        .map_or(role.as_str(), String::as_str)
}

struct Row {
    id: String,
    email: String,
    role: String,
    active: bool,
    enrolled: bool,
    /// The reader's own account (no "disable" link).
    me: bool,
}

#[derive(Template)]
#[template(path = "console/staff.html")]
struct StaffListPage<'a> {
    layout: ConsoleLayout<'a>,
    rows: Vec<Row>,
    roles: Vec<(&'static str, &'a str)>,
    error: Option<&'a str>,
    email: String,
    /// The enrolment link of an account just added (shown once).
    added_link: Option<String>,
}

#[allow(clippy::too_many_arguments)] // a page's parts, named
async fn staff_list_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    ip: std::net::IpAddr,
    status: StatusCode,
    error: Option<fn(&StaffCatalog) -> &str>,
    email: String,
    added_link: Option<String>,
) -> Response {
    let accounts: Vec<StaffAccount> = match staff::list_by(&state.app.core, &s.current, ip).await {
        Ok(a) => a,
        Err(StaffError::Refused(_)) => return forbidden(state, headers),
        Err(e) => {
            tracing::error!(error = %e, "staff list failed");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.staff_title);
    let t = layout.t;
    let rows = accounts
        .iter()
        .map(|a| Row {
            id: a.id.to_string(),
            email: a.email.as_str().to_owned(),
            role: role_word(t, a.role).to_owned(),
            active: a.status == StaffStatus::Active,
            enrolled: a.enrolled,
            me: a.id == s.current.account.id,
        })
        .collect();
    let roles = StaffRole::ALL
        .into_iter()
        .map(|r| (r.as_str(), role_word(t, r)))
        .collect();
    page(
        status,
        headers,
        StaffListPage {
            error: error.map(|f| f(t)),
            layout,
            rows,
            roles,
            email,
            added_link,
        }
        .render(),
    )
}

pub async fn staff_list(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    staff_list_view(
        &state,
        &headers,
        &s,
        ip,
        StatusCode::OK,
        None,
        String::new(),
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub async fn staff_add(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<AddForm>,
) -> Response {
    let email: String = form.email.chars().take(254).collect();
    let Some(role) = StaffRole::parse(&form.role) else {
        return staff_list_view(
            &state,
            &headers,
            &s,
            ip,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(|t| &t.staff_role_required),
            email,
            None,
        )
        .await;
    };
    match staff::add_by(&state.app.core, &s.current, ip, &form.email, role).await {
        Ok(enrolment) => {
            let link = format!("{}{}", state.origin, enrolment.path());
            staff_list_view(
                &state,
                &headers,
                &s,
                ip,
                StatusCode::CREATED,
                None,
                String::new(),
                Some(link),
            )
            .await
        }
        Err(StaffError::InvalidEmail) => {
            staff_list_view(
                &state,
                &headers,
                &s,
                ip,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(|t| &t.invalid_email),
                email,
                None,
            )
            .await
        }
        Err(StaffError::EmailTaken) => {
            staff_list_view(
                &state,
                &headers,
                &s,
                ip,
                StatusCode::CONFLICT,
                Some(|t| &t.email_taken),
                email,
                None,
            )
            .await
        }
        Err(StaffError::Refused(_)) => forbidden(&state, &headers),
        Err(e) => {
            tracing::error!(error = %e, "adding staff failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

#[derive(Template)]
#[template(path = "console/disable.html")]
struct DisablePage<'a> {
    layout: ConsoleLayout<'a>,
    id: String,
    lead: String,
}

pub async fn disable_page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
) -> Response {
    let found = match StaffId::parse(&id) {
        Some(id) => staff::find(&state.app.core, id).await,
        None => Ok(None),
    };
    let record = match found {
        Ok(Some(r)) => r,
        Ok(None) => return bare(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::error!(error = %e, "staff lookup failed");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let layout = ConsoleLayout::new(&state, &headers, Some(&s), |t| &t.disable_title);
    let lead = layout
        .t
        .disable_lead
        .replace("{email}", record.email.as_str());
    page(
        StatusCode::OK,
        &headers,
        DisablePage {
            layout,
            id: record.id.to_string(),
            lead,
        }
        .render(),
    )
}

pub async fn disable(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = StaffId::parse(&id) else {
        return bare(StatusCode::NOT_FOUND);
    };
    match staff::disable_by(&state.app.core, &s.current, ip, id).await {
        Ok(()) => redirect_with("/staff", "disabled", None),
        Err(StaffError::NotFound) => bare(StatusCode::NOT_FOUND),
        Err(StaffError::OwnAccount) => {
            staff_list_view(
                &state,
                &headers,
                &s,
                ip,
                StatusCode::CONFLICT,
                Some(|t| &t.staff_cannot_disable_self),
                String::new(),
                None,
            )
            .await
        }
        Err(StaffError::Refused(_)) => forbidden(&state, &headers),
        Err(e) => {
            tracing::error!(error = %e, "disabling staff failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

#[derive(Template)]
#[template(path = "console/role.html")]
struct RolePage<'a> {
    layout: ConsoleLayout<'a>,
    id: String,
    lead: String,
    /// Choosing: the roles the account does not have (empty when no
    /// change is possible: one's own or a disabled account).
    roles: Vec<(&'static str, &'a str)>,
    /// Confirming: the chosen role's code and the question.
    confirm: Option<(&'static str, String)>,
    error: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub struct RoleQuery {
    #[serde(default)]
    role: Option<String>,
}

/// The role page: choose a role (`chosen` is `None`), or confirm the
/// chosen one; with an error, the choice again.
async fn role_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    id: &str,
    chosen: Option<StaffRole>,
    status: StatusCode,
    error: Option<fn(&StaffCatalog) -> &str>,
) -> Response {
    let found = match StaffId::parse(id) {
        Some(id) => staff::find(&state.app.core, id).await,
        None => Ok(None),
    };
    let record = match found {
        Ok(Some(r)) => r,
        Ok(None) => return bare(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::error!(error = %e, "staff lookup failed");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.role_title);
    let t = layout.t;
    // What cannot change is said at once, with no form to fill in; a
    // role the account has already is asked again.
    let changeable = record.id != s.current.account.id && record.status == StaffStatus::Active;
    let (status, error, chosen) = if record.id == s.current.account.id {
        let e = Some(t.staff_cannot_change_own_role.as_str());
        (StatusCode::CONFLICT, e, None)
    } else if record.status != StaffStatus::Active {
        (
            StatusCode::CONFLICT,
            Some(t.staff_role_disabled.as_str()),
            None,
        )
    } else if chosen == Some(record.role) {
        (StatusCode::CONFLICT, Some(t.staff_role_same.as_str()), None)
    } else {
        (status, error.map(|f| f(t)), chosen)
    };
    let roles = if changeable {
        StaffRole::ALL
            .into_iter()
            .filter(|r| *r != record.role)
            .map(|r| (r.as_str(), role_word(t, r)))
            .collect()
    } else {
        Vec::new()
    };
    let confirm = chosen.filter(|_| error.is_none()).map(|to| {
        (
            to.as_str(),
            t.role_confirm_lead
                .replace("{email}", record.email.as_str())
                .replace("{from}", role_word(t, record.role))
                .replace("{to}", role_word(t, to)),
        )
    });
    let lead = t
        .role_lead
        .replace("{email}", record.email.as_str())
        .replace("{role}", role_word(t, record.role));
    page(
        status,
        headers,
        RolePage {
            layout,
            id: record.id.to_string(),
            lead,
            roles,
            confirm,
            error,
        }
        .render(),
    )
}

/// `GET /staff/{id}/role`: choose the new role; `?role=R`: confirm it.
pub async fn role_page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Query(q): Query<RoleQuery>,
) -> Response {
    let Some(text) = q.role.as_deref() else {
        return role_view(&state, &headers, &s, &id, None, StatusCode::OK, None).await;
    };
    match StaffRole::parse(text) {
        Some(r) => role_view(&state, &headers, &s, &id, Some(r), StatusCode::OK, None).await,
        None => {
            let error: fn(&StaffCatalog) -> &str = |t| &t.staff_role_required;
            role_view(
                &state,
                &headers,
                &s,
                &id,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(error),
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// `POST /staff/{id}/role`: the change (CSRF and step-up checked in front
/// by the console's layers, the policy again by the use case).
pub async fn change_role(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    let Some(staff_id) = StaffId::parse(&id) else {
        return bare(StatusCode::NOT_FOUND);
    };
    let again = |status, error: fn(&StaffCatalog) -> &str| {
        role_view(&state, &headers, &s, &id, None, status, Some(error))
    };
    let Some(role) = StaffRole::parse(&form.role) else {
        return again(StatusCode::UNPROCESSABLE_ENTITY, |t| &t.staff_role_required).await;
    };
    match staff::change_role_by(&state.app.core, &s.current, ip, staff_id, role).await {
        Ok(_) => redirect_with("/staff", "role_changed", None),
        Err(StaffError::NotFound) => bare(StatusCode::NOT_FOUND),
        Err(StaffError::OwnRole) => {
            again(StatusCode::CONFLICT, |t| &t.staff_cannot_change_own_role).await
        }
        Err(StaffError::LastAdmin) => again(StatusCode::CONFLICT, |t| &t.staff_last_admin).await,
        Err(StaffError::NotActive) => again(StatusCode::CONFLICT, |t| &t.staff_role_disabled).await,
        Err(StaffError::SameRole) => again(StatusCode::CONFLICT, |t| &t.staff_role_same).await,
        Err(StaffError::ChangedMeanwhile) => {
            again(StatusCode::CONFLICT, |t| &t.staff_role_changed_meanwhile).await
        }
        Err(StaffError::Refused(_)) => forbidden(&state, &headers),
        Err(e) => {
            tracing::error!(error = %e, "changing a staff role failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

//! The shipping centre's pages of the staff console (issue 15; C20, C24,
//! C25): the shift page where workers check in and out, the managers'
//! terminal registry and shift log, the void request form and the
//! managers' list of pending voids. Each handler parses, calls one use
//! case of `anshin_core::centre` (which checks the access policy again,
//! with the open shift and, for a decision, the requester), and renders.
//!
//! Everything that ends something or voids something (check-out, retiring
//! a terminal, asking for a void, approving or rejecting one) is first
//! answered with a page that says what will happen, whose form posts the
//! same fields with `confirm=1`; then it happens and a redirect carries a
//! flash saying what happened. Errors are pages with the reason in words.

use std::net::IpAddr;

use anshin_core::access::{self, Action, Decision};
use anshin_core::accounts::local_time;
use anshin_core::centre::{self, CentreError, ShiftEnd, TerminalStatus, VoidStatus};
use anshin_core::i18n::{Lang, StaffCentreCatalog};
use anshin_domain::{StaffId, TerminalId, VoidRequestId};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Form};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::pages::{ConsoleLayout, forbidden, page};
use super::{ConsoleState, Staff, StaffClient, bare, redirect_with};
use crate::web::common::language::request_lang;

fn lang_of(state: &ConsoleState, headers: &HeaderMap) -> Lang {
    request_lang(headers, state.app.settings.site.default_language)
}

fn words<'a>(state: &'a ConsoleState, headers: &HeaderMap) -> &'a StaffCentreCatalog {
    &state.app.catalogs.get(lang_of(state, headers)).staff.centre
}

/// What the shipping forms may carry (each reads its own fields).
#[derive(Debug, Default, Deserialize)]
pub struct CentreForm {
    /// `1` on the confirmation page's form: do it.
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    terminal: String,
    /// `1`: move one's open shift to this sign-in.
    #[serde(default)]
    resume: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    serial: String,
    #[serde(default)]
    shipment: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    staff: String,
    #[serde(default)]
    shift: String,
}

impl CentreForm {
    fn confirmed(&self) -> bool {
        self.confirm == "1"
    }
}

/// A short, pseudonymous name for a staff account: the end of its id
/// (the random part; a UUIDv7 starts with its creation time, which
/// accounts made the same day share).
fn who(id: StaffId, me: StaffId, t: &StaffCentreCatalog) -> String {
    let text = id.to_string();
    let short = text
        .get(text.len().saturating_sub(12)..)
        .unwrap_or(&text)
        .to_owned();
    if id == me {
        format!("{short} ({})", t.you)
    } else {
        short
    }
}

/// The failure's status and sentence; `None` when the policy refused
/// (the caller answers: the forbidden page, or the shift page).
fn problem(t: &StaffCentreCatalog, e: &CentreError) -> Option<(StatusCode, String)> {
    use StatusCode as S;
    let (status, text) = match e {
        CentreError::Refused(_) => return None,
        CentreError::BadLabel => (S::UNPROCESSABLE_ENTITY, &t.err_label),
        CentreError::BadSerial => (S::UNPROCESSABLE_ENTITY, &t.err_serial),
        CentreError::TerminalTaken => (S::CONFLICT, &t.err_taken),
        CentreError::TerminalNotFound => (S::NOT_FOUND, &t.err_terminal_not_found),
        CentreError::TerminalInUse => (S::CONFLICT, &t.err_in_use),
        CentreError::TerminalNotAvailable => (S::CONFLICT, &t.err_not_available),
        CentreError::AlreadyOnShift => (S::CONFLICT, &t.err_already_on_shift),
        CentreError::NoShift => (S::CONFLICT, &t.err_no_shift),
        CentreError::BadShipment => (S::UNPROCESSABLE_ENTITY, &t.err_shipment),
        CentreError::BadReason => (S::UNPROCESSABLE_ENTITY, &t.err_reason),
        CentreError::VoidPending => (S::CONFLICT, &t.err_pending),
        CentreError::VoidNotFound => (S::NOT_FOUND, &t.err_void_not_found),
        CentreError::VoidDecided => (S::CONFLICT, &t.err_decided),
        CentreError::CodeNotLive => (S::CONFLICT, &t.err_code_not_live),
        CentreError::OwnShift => (S::CONFLICT, &t.err_own_shift),
        CentreError::Store(err) => {
            // The bundle (act and audit entry) did not commit: nothing
            // happened.
            tracing::error!(error = %err, "a shipping centre act did not commit");
            (S::SERVICE_UNAVAILABLE, &t.err_not_recorded)
        }
    };
    Some((status, text.clone()))
}

/// The answer to a refusal by the core's policy check.
fn refused(state: &ConsoleState, headers: &HeaderMap, d: Decision) -> Response {
    match d {
        Decision::DenyNoShift => redirect_with("/shipping/shift", "shift_needed", None),
        Decision::DenyStepUp => {
            axum::response::IntoResponse::into_response(axum::response::Redirect::to("/step-up"))
        }
        Decision::DenyNetwork => bare(StatusCode::FORBIDDEN),
        _ => forbidden(state, headers),
    }
}

// ------------------------------------------------------- confirmation

#[derive(Template)]
#[template(path = "console/centre_confirm.html")]
struct ConfirmPage<'a> {
    layout: ConsoleLayout<'a>,
    what: String,
    action: String,
    fields: Vec<(&'static str, String)>,
    back: &'static str,
}

fn confirm_page(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    what: String,
    action: String,
    fields: Vec<(&'static str, String)>,
    back: &'static str,
) -> Response {
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.centre.confirm_title);
    page(
        StatusCode::OK,
        headers,
        ConfirmPage {
            layout,
            what,
            action,
            fields,
            back,
        }
        .render(),
    )
}

// -------------------------------------------------------------- shift

struct TerminalOption {
    id: String,
    label: String,
}

#[derive(Template)]
#[template(path = "console/shift.html")]
struct ShiftPage<'a> {
    layout: ConsoleLayout<'a>,
    /// On shift here: the terminal and since when.
    here: Option<String>,
    /// A shift open from another sign-in.
    elsewhere: Option<String>,
    terminals: Vec<TerminalOption>,
    manager: bool,
    error: Option<String>,
}

async fn shift_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    ip: IpAddr,
    error: Option<(StatusCode, String)>,
) -> Response {
    let t = words(state, headers);
    let lang = lang_of(state, headers);
    let terminals = if s.current.shift.is_none() {
        match centre::available_terminals(&state.app.core, &s.current, ip).await {
            Ok(list) => list
                .into_iter()
                .map(|r| TerminalOption {
                    id: r.id.to_string(),
                    label: format!("{} ({})", r.label, r.serial),
                })
                .collect(),
            Err(CentreError::Refused(d)) => return refused(state, headers, d),
            Err(e) => {
                tracing::error!(error = %e, "the terminals could not be read");
                return bare(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
    } else {
        Vec::new()
    };
    let (here, elsewhere) = match &s.current.shift {
        Some(sh) => {
            let text = |tpl: &str| {
                tpl.replace("{terminal}", &sh.terminal_label)
                    .replace("{since}", &local_time(lang, sh.started_at))
            };
            if s.current.on_shift() {
                (Some(text(&t.on_shift)), None)
            } else {
                (None, Some(text(&t.elsewhere)))
            }
        }
        None => (None, None),
    };
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.centre.shift_title);
    let (status, error) = match error {
        Some((st, text)) => (st, Some(text)),
        None => (StatusCode::OK, None),
    };
    page(
        status,
        headers,
        ShiftPage {
            layout,
            here,
            elsewhere,
            terminals,
            manager: access::role_may(s.current.account.role, Action::ReviewVoids),
            error,
        }
        .render(),
    )
}

pub async fn shift_page(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    shift_view(&state, &headers, &s, ip, None).await
}

/// Checks in on the chosen terminal, or (`resume=1`) moves one's open
/// shift to this sign-in. Neither ends anything: no question first.
pub async fn check_in(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<CentreForm>,
) -> Response {
    let core = &state.app.core;
    let result = if form.resume == "1" {
        centre::resume_shift(core, &s.current, ip)
            .await
            .map(|_| "shift_resumed")
    } else {
        match TerminalId::parse(form.terminal.trim()) {
            Some(terminal) => centre::check_in(core, &s.current, ip, terminal)
                .await
                .map(|_| "checked_in"),
            None => Err(CentreError::TerminalNotAvailable),
        }
    };
    match result {
        Ok(flash) => redirect_with("/shipping/shift", flash, None),
        Err(CentreError::Refused(d)) => refused(&state, &headers, d),
        Err(e) => {
            let p = problem(words(&state, &headers), &e);
            shift_view(&state, &headers, &s, ip, p).await
        }
    }
}

/// Checks out (after asking), returning the terminal.
pub async fn check_out(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<CentreForm>,
) -> Response {
    let t = words(&state, &headers);
    if !form.confirmed() {
        let Some(shift) = &s.current.shift else {
            let p = problem(t, &CentreError::NoShift);
            return shift_view(&state, &headers, &s, ip, p).await;
        };
        return confirm_page(
            &state,
            &headers,
            &s,
            t.confirm_check_out
                .replace("{terminal}", &shift.terminal_label),
            "/shipping/shift/end".to_owned(),
            Vec::new(),
            "/shipping/shift",
        );
    }
    match centre::check_out(&state.app.core, &s.current, ip).await {
        Ok(_) => redirect_with("/shipping/shift", "checked_out", None),
        Err(CentreError::Refused(d)) => refused(&state, &headers, d),
        Err(e) => {
            let p = problem(t, &e);
            shift_view(&state, &headers, &s, ip, p).await
        }
    }
}

// ---------------------------------------------------------- terminals

struct TerminalRow {
    id: String,
    label: String,
    serial: String,
    status: String,
    retirable: bool,
}

#[derive(Template)]
#[template(path = "console/terminals.html")]
struct TerminalsPage<'a> {
    layout: ConsoleLayout<'a>,
    rows: Vec<TerminalRow>,
    error: Option<String>,
    label: String,
    serial: String,
}

async fn terminals_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    ip: IpAddr,
    error: Option<(StatusCode, String)>,
    (label, serial): (String, String),
) -> Response {
    let t = words(state, headers);
    let list = match centre::terminals(&state.app.core, &s.current, ip).await {
        Ok(l) => l,
        Err(CentreError::Refused(d)) => return refused(state, headers, d),
        Err(e) => {
            tracing::error!(error = %e, "the terminals could not be read");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let rows = list
        .into_iter()
        .map(|r| {
            let status = match (r.status, r.checked_out_to) {
                (TerminalStatus::Retired, _) => &t.status_retired,
                (TerminalStatus::Active, Some(_)) => &t.status_checked_out,
                (TerminalStatus::Active, None) => &t.status_active,
            };
            TerminalRow {
                id: r.id.to_string(),
                label: r.label,
                serial: r.serial,
                status: status.clone(),
                retirable: r.status == TerminalStatus::Active && r.checked_out_to.is_none(),
            }
        })
        .collect();
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.centre.terminals_title);
    let (status, error) = match error {
        Some((st, text)) => (st, Some(text)),
        None => (StatusCode::OK, None),
    };
    page(
        status,
        headers,
        TerminalsPage {
            layout,
            rows,
            error,
            label,
            serial,
        }
        .render(),
    )
}

pub async fn terminals(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    terminals_view(&state, &headers, &s, ip, None, Default::default()).await
}

pub async fn register(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<CentreForm>,
) -> Response {
    match centre::register_terminal(&state.app.core, &s.current, ip, &form.label, &form.serial)
        .await
    {
        Ok(_) => redirect_with("/shipping/terminals", "terminal_registered", None),
        Err(CentreError::Refused(d)) => refused(&state, &headers, d),
        Err(e) => {
            let p = problem(words(&state, &headers), &e);
            let kept = (
                form.label.chars().take(80).collect(),
                form.serial.chars().take(80).collect(),
            );
            terminals_view(&state, &headers, &s, ip, p, kept).await
        }
    }
}

pub async fn retire(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<CentreForm>,
) -> Response {
    let t = words(&state, &headers);
    let Some(terminal) = TerminalId::parse(&id) else {
        let p = problem(t, &CentreError::TerminalNotFound);
        return terminals_view(&state, &headers, &s, ip, p, Default::default()).await;
    };
    if !form.confirmed() {
        let found = match centre::terminals(&state.app.core, &s.current, ip).await {
            Ok(list) => list
                .into_iter()
                .find(|r| r.id == terminal && r.status == TerminalStatus::Active),
            Err(CentreError::Refused(d)) => return refused(&state, &headers, d),
            Err(e) => {
                tracing::error!(error = %e, "the terminals could not be read");
                return bare(StatusCode::SERVICE_UNAVAILABLE);
            }
        };
        let Some(found) = found else {
            let p = problem(t, &CentreError::TerminalNotFound);
            return terminals_view(&state, &headers, &s, ip, p, Default::default()).await;
        };
        return confirm_page(
            &state,
            &headers,
            &s,
            t.confirm_retire.replace("{terminal}", &found.label),
            format!("/shipping/terminals/{terminal}/retire"),
            Vec::new(),
            "/shipping/terminals",
        );
    }
    match centre::retire_terminal(&state.app.core, &s.current, ip, terminal).await {
        Ok(_) => redirect_with("/shipping/terminals", "terminal_retired", None),
        Err(CentreError::Refused(d)) => refused(&state, &headers, d),
        Err(e) => {
            let p = problem(t, &e);
            terminals_view(&state, &headers, &s, ip, p, Default::default()).await
        }
    }
}

// ---------------------------------------------------------- shift log

struct ShiftRow {
    who: String,
    terminal: String,
    from: String,
    to: String,
    /// Another worker's open shift: the manager's "end this shift" form.
    end: Option<EndForm>,
}

/// The fields of the "end this shift" form.
struct EndForm {
    staff: String,
    shift: String,
}

#[derive(Template)]
#[template(path = "console/shifts.html")]
struct ShiftsPage<'a> {
    layout: ConsoleLayout<'a>,
    rows: Vec<ShiftRow>,
}

pub async fn shift_log(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    let t = words(&state, &headers);
    let lang = lang_of(&state, &headers);
    let log = match centre::shift_log(&state.app.core, &s.current, ip).await {
        Ok(l) => l,
        Err(CentreError::Refused(d)) => return refused(&state, &headers, d),
        Err(e) => {
            tracing::error!(error = %e, "the shift log could not be read");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let me = s.current.account.id;
    let rows = log
        .into_iter()
        .map(|r| ShiftRow {
            end: (r.ended_at.is_none() && r.staff != me).then(|| EndForm {
                staff: r.staff.to_string(),
                shift: r.id.to_string(),
            }),
            who: who(r.staff, me, t),
            terminal: r.terminal_label,
            from: local_time(lang, r.started_at),
            to: match (r.ended_at, r.end) {
                (None, _) => t.open_now.clone(),
                (Some(at), end) => {
                    let why = match end {
                        Some(ShiftEnd::StaffDisabled) => &t.end_staff_disabled,
                        Some(ShiftEnd::EndedByManager) => &t.end_by_manager,
                        _ => &t.end_checked_out,
                    };
                    format!("{} ({why})", local_time(lang, at))
                }
            },
        })
        .collect();
    let layout = ConsoleLayout::new(&state, &headers, Some(&s), |t| &t.centre.shifts_title);
    page(
        StatusCode::OK,
        &headers,
        ShiftsPage { layout, rows }.render(),
    )
}

// -------------------------------------------------------------- voids

#[derive(Template)]
#[template(path = "console/void_new.html")]
struct VoidNewPage<'a> {
    layout: ConsoleLayout<'a>,
    error: Option<String>,
    shipment: String,
    reason: String,
}

fn void_form(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    error: Option<(StatusCode, String)>,
    shipment: String,
    reason: String,
) -> Response {
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.centre.void_new_title);
    let (status, error) = match error {
        Some((st, text)) => (st, Some(text)),
        None => (StatusCode::OK, None),
    };
    page(
        status,
        headers,
        VoidNewPage {
            layout,
            error,
            shipment,
            reason,
        }
        .render(),
    )
}

pub async fn void_new(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    void_form(&state, &headers, &s, None, String::new(), String::new())
}

pub async fn void_request(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<CentreForm>,
) -> Response {
    let t = words(&state, &headers);
    let shipment: String = form.shipment.trim().chars().take(80).collect();
    let reason: String = form
        .reason
        .trim()
        .chars()
        .take(centre::MAX_REASON_CHARS + 1)
        .collect();
    if !form.confirmed() {
        return match centre::check_void_input(&shipment, &reason) {
            Ok(id) => confirm_page(
                &state,
                &headers,
                &s,
                t.confirm_void.replace("{shipment}", &id.to_string()),
                "/shipping/voids/new".to_owned(),
                vec![("shipment", shipment), ("reason", reason)],
                "/shipping/voids/new",
            ),
            Err(e) => void_form(&state, &headers, &s, problem(t, &e), shipment, reason),
        };
    }
    match centre::request_void(&state.app.core, &s.current, ip, &shipment, &reason).await {
        Ok(_) => redirect_with("/shipping/shift", "void_requested", None),
        Err(CentreError::Refused(d)) => refused(&state, &headers, d),
        Err(e) => void_form(&state, &headers, &s, problem(t, &e), shipment, reason),
    }
}

struct VoidRow {
    id: String,
    shipment: String,
    who: String,
    when: String,
    reason: String,
    own: bool,
}

#[derive(Template)]
#[template(path = "console/voids.html")]
struct VoidsPage<'a> {
    layout: ConsoleLayout<'a>,
    rows: Vec<VoidRow>,
    error: Option<String>,
}

async fn voids_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    ip: IpAddr,
    error: Option<(StatusCode, String)>,
) -> Response {
    let t = words(state, headers);
    let lang = lang_of(state, headers);
    let list = match centre::pending_voids(&state.app.core, &s.current, ip).await {
        Ok(l) => l,
        Err(CentreError::Refused(d)) => return refused(state, headers, d),
        Err(e) => {
            tracing::error!(error = %e, "the void requests could not be read");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let me = s.current.account.id;
    let rows = list
        .into_iter()
        .map(|r| VoidRow {
            id: r.id.to_string(),
            shipment: r.shipment.to_string(),
            who: who(r.requested_by, me, t),
            when: local_time(lang, r.requested_at),
            reason: r.reason,
            own: r.requested_by == me,
        })
        .collect();
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.centre.voids_title);
    let (status, error) = match error {
        Some((st, text)) => (st, Some(text)),
        None => (StatusCode::OK, None),
    };
    page(
        status,
        headers,
        VoidsPage {
            layout,
            rows,
            error,
        }
        .render(),
    )
}

pub async fn voids(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    voids_view(&state, &headers, &s, ip, None).await
}

async fn decide(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    ip: IpAddr,
    id: &str,
    form: &CentreForm,
    approve: bool,
) -> Response {
    let t = words(state, headers);
    let core = &state.app.core;
    let Some(request) = VoidRequestId::parse(id) else {
        let p = problem(t, &CentreError::VoidNotFound);
        return voids_view(state, headers, s, ip, p).await;
    };
    if !form.confirmed() {
        let record = match centre::void_request(core, &s.current, ip, request).await {
            Ok(r) => r,
            Err(CentreError::Refused(d)) => return refused(state, headers, d),
            Err(e) => return voids_view(state, headers, s, ip, problem(t, &e)).await,
        };
        if record.requested_by == s.current.account.id {
            let p = Some((StatusCode::FORBIDDEN, t.err_own_request.clone()));
            return voids_view(state, headers, s, ip, p).await;
        }
        if record.status != VoidStatus::Pending {
            let p = problem(t, &CentreError::VoidDecided);
            return voids_view(state, headers, s, ip, p).await;
        }
        let tpl = if approve {
            &t.confirm_approve
        } else {
            &t.confirm_reject
        };
        let verb = if approve { "approve" } else { "reject" };
        return confirm_page(
            state,
            headers,
            s,
            tpl.replace("{shipment}", &record.shipment.to_string())
                .replace("{who}", &who(record.requested_by, s.current.account.id, t))
                .replace("{reason}", &record.reason),
            format!("/shipping/voids/{request}/{verb}"),
            Vec::new(),
            "/shipping/voids",
        );
    }
    match centre::decide_void(core, &s.current, ip, request, approve).await {
        Ok(d) => {
            let flash = match (d.status, d.already) {
                (VoidStatus::Rejected, _) => "void_rejected",
                (_, true) => "void_already",
                (_, false) => "void_approved",
            };
            redirect_with("/shipping/voids", flash, None)
        }
        Err(CentreError::Refused(Decision::DenyOwnRequest)) => {
            let p = Some((StatusCode::FORBIDDEN, t.err_own_request.clone()));
            voids_view(state, headers, s, ip, p).await
        }
        Err(CentreError::Refused(d)) => refused(state, headers, d),
        Err(e) => voids_view(state, headers, s, ip, problem(t, &e)).await,
    }
}

pub async fn approve(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<CentreForm>,
) -> Response {
    decide(&state, &headers, &s, ip, &id, &form, true).await
}

pub async fn reject(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<CentreForm>,
) -> Response {
    decide(&state, &headers, &s, ip, &id, &form, false).await
}

/// A manager ends another worker's open shift (asked first), recorded.
pub async fn end_others_shift(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<CentreForm>,
) -> Response {
    let t = words(&state, &headers);
    let (Some(staff), Some(shift)) = (
        StaffId::parse(form.staff.trim()),
        anshin_domain::ShiftId::parse(form.shift.trim()),
    ) else {
        return shift_log_problem(&state, &headers, &s, t, &CentreError::NoShift);
    };
    if !form.confirmed() {
        let log = match centre::shift_log(&state.app.core, &s.current, ip).await {
            Ok(l) => l,
            Err(CentreError::Refused(d)) => return refused(&state, &headers, d),
            Err(e) => return shift_log_problem(&state, &headers, &s, t, &e),
        };
        let Some(open) = log
            .into_iter()
            .find(|r| r.id == shift && r.staff == staff && r.ended_at.is_none())
        else {
            return shift_log_problem(&state, &headers, &s, t, &CentreError::NoShift);
        };
        return confirm_page(
            &state,
            &headers,
            &s,
            t.confirm_end_shift
                .replace("{who}", &who(staff, s.current.account.id, t))
                .replace("{terminal}", &open.terminal_label),
            "/shipping/shifts/end".to_owned(),
            vec![("staff", staff.to_string()), ("shift", shift.to_string())],
            "/shipping/shifts",
        );
    }
    match centre::end_others_shift(&state.app.core, &s.current, ip, staff, shift).await {
        Ok(_) => redirect_with("/shipping/shifts", "shift_ended", None),
        Err(CentreError::Refused(d)) => refused(&state, &headers, d),
        Err(e) => shift_log_problem(&state, &headers, &s, t, &e),
    }
}

#[derive(Template)]
#[template(path = "console/centre_problem.html")]
struct ProblemPage<'a> {
    layout: ConsoleLayout<'a>,
    message: String,
}

/// A refused shift-log act: its reason in words, a link back.
fn shift_log_problem(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    t: &StaffCentreCatalog,
    e: &CentreError,
) -> Response {
    let Some((status, message)) = problem(t, e) else {
        return forbidden(state, headers);
    };
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.centre.shifts_title);
    page(status, headers, ProblemPage { layout, message }.render())
}

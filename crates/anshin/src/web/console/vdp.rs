//! The vulnerability report pages of the staff console (C5; issue 18),
//! the `security` role's: the list (tracking id, status, language, times),
//! one report (address, text and notes, decrypted; the view is audited
//! first by the core), a status change and a note. Each handler parses,
//! calls one use case of `anshin_core::staff::vdp` with the staff member
//! (the core checks the access policy again), and renders; the acts answer
//! with a redirect to the report and a flash saying what happened. The
//! report pages are `no-store` (the console's pages all are).

use std::net::IpAddr;

use anshin_core::accounts::local_time;
use anshin_core::i18n::Lang;
use anshin_core::staff::StaffError;
use anshin_core::staff::vdp::{self, TriageError, VdpStatus};
use anshin_domain::VdpReportId;
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

struct Row {
    id: String,
    tracking: String,
    status: String,
    lang: &'static str,
    received: String,
}

#[derive(Template)]
#[template(path = "console/vdp_list.html")]
struct ListPage<'a> {
    layout: ConsoleLayout<'a>,
    rows: Vec<Row>,
}

/// Failure of a use case as a response: the policy's 403 page, a 404, or
/// a 503 (logged without any value of the report).
fn failed(state: &ConsoleState, headers: &HeaderMap, e: TriageError) -> Response {
    match e {
        TriageError::Staff(StaffError::Refused(_)) => forbidden(state, headers),
        TriageError::NotFound => bare(StatusCode::NOT_FOUND),
        e => {
            tracing::error!(error = %e, "vulnerability report page failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

pub async fn list(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    let lines = match vdp::vdp_reports_by(&state.app.core, &s.current, ip).await {
        Ok(v) => v,
        Err(e) => return failed(&state, &headers, e),
    };
    let lang = lang_of(&state, &headers);
    let layout = ConsoleLayout::new(&state, &headers, Some(&s), |t| &t.vdp.title);
    let rows = lines
        .iter()
        .map(|l| Row {
            id: l.id.to_string(),
            tracking: l.tracking.clone(),
            status: layout.t.vdp.status(l.status.as_str()).to_owned(),
            lang: l.lang.code(),
            received: local_time(lang, l.received_at),
        })
        .collect();
    page(StatusCode::OK, &headers, ListPage { layout, rows }.render())
}

struct StatusOption {
    value: &'static str,
    label: String,
    selected: bool,
}

struct NoteRow {
    by: String,
    at: String,
    text: String,
}

#[derive(Template)]
#[template(path = "console/vdp.html")]
struct ReportPage<'a> {
    layout: ConsoleLayout<'a>,
    id: String,
    heading: String,
    tracking: String,
    status: String,
    received: String,
    lang: &'static str,
    email: String,
    text: String,
    statuses: Vec<StatusOption>,
    notes: Vec<NoteRow>,
    may_triage: bool,
    /// A note that was refused, shown again with the reason.
    note: String,
    note_error: bool,
}

async fn show_report(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    ip: IpAddr,
    id: VdpReportId,
    note_again: Option<String>,
) -> Response {
    let view = match vdp::open_vdp_report_by(&state.app.core, &s.current, ip, id).await {
        Ok(v) => v,
        Err(e) => return failed(state, headers, e),
    };
    let lang = lang_of(state, headers);
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.vdp.title);
    let w = &layout.t.vdp;
    let statuses = VdpStatus::ALL
        .iter()
        .map(|st| StatusOption {
            value: st.as_str(),
            label: w.status(st.as_str()).to_owned(),
            selected: *st == view.line.status,
        })
        .collect();
    let notes = view
        .notes
        .iter()
        .map(|n| NoteRow {
            by: w.note_by.replace("{staff}", &n.staff.to_string()),
            at: local_time(lang, n.at),
            text: n.text.clone(),
        })
        .collect();
    let note_error = note_again.is_some();
    let body = ReportPage {
        id: view.line.id.to_string(),
        heading: w.report_title.replace("{tracking}", &view.line.tracking),
        tracking: view.line.tracking.clone(),
        status: w.status(view.line.status.as_str()).to_owned(),
        received: local_time(lang, view.line.received_at),
        lang: view.line.lang.code(),
        email: view.email.clone(),
        text: view.text.clone(),
        statuses,
        notes,
        may_triage: anshin_core::access::role_may(
            s.current.account.role,
            anshin_core::access::Action::TriageVdpReports,
        ),
        note_error,
        note: note_again.unwrap_or_default(),
        layout,
    }
    .render();
    let status = if note_error {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(status, headers, body)
}

fn parse_id(id: &str) -> Option<VdpReportId> {
    uuid::Uuid::parse_str(id).ok().map(VdpReportId::from_uuid)
}

pub async fn show(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = parse_id(&id) else {
        return bare(StatusCode::NOT_FOUND);
    };
    show_report(&state, &headers, &s, ip, id, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct TriageForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
}

pub async fn set_status(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<TriageForm>,
) -> Response {
    let Some(id) = parse_id(&id) else {
        return bare(StatusCode::NOT_FOUND);
    };
    let Some(status) = VdpStatus::parse(form.status.trim()) else {
        return bare(StatusCode::BAD_REQUEST);
    };
    match vdp::set_vdp_status_by(&state.app.core, &s.current, ip, id, status).await {
        Ok(()) => redirect_with(&format!("/vdp/{id}"), "vdp_status", None),
        Err(e) => failed(&state, &headers, e),
    }
}

pub async fn add_note(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<TriageForm>,
) -> Response {
    let Some(id) = parse_id(&id) else {
        return bare(StatusCode::NOT_FOUND);
    };
    match vdp::add_vdp_note_by(&state.app.core, &s.current, ip, id, &form.note).await {
        Ok(()) => redirect_with(&format!("/vdp/{id}"), "vdp_note", None),
        // The page again, with the note as typed and the reason.
        Err(TriageError::InvalidNote) => {
            show_report(&state, &headers, &s, ip, id, Some(form.note)).await
        }
        Err(e) => failed(&state, &headers, e),
    }
}

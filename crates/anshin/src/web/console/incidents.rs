//! The incident pages of the staff console (C28; issue 14): the list with
//! an "open an incident" form, an incident's page with its timeline, its
//! notification's progress and a form for every containment act. Each
//! handler parses, calls one use case of `anshin_core::incidents` with
//! the staff member as the doer (the core checks the access policy again),
//! and renders.
//!
//! Every act is a POST (CSRF-checked by the console's middleware, step-up
//! by the policy) that is answered first with a confirmation page saying
//! what will happen; the page's own form posts the same fields again with
//! `confirm=1`, and only then does the act run. It ends with a redirect
//! to the incident and a flash saying what happened. Errors are pages
//! with the reason in words.
//!
//! Two acts outlive a request's patience and run on a task of their own,
//! so a timed-out or dropped request cannot cut them off half-way: the key
//! rotation (awaited) and the member notification, which the page awaits
//! until it has started (or failed) and for a moment more; a longer one
//! goes on in the background, its progress kept in the incident record
//! (the page shows it), resumable like the command line's (the core
//! continues from the last committed batch).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use anshin_core::access::{self, Action};
use anshin_core::accounts::local_time;
use anshin_core::i18n::{Lang, StaffIncidentCatalog};
use anshin_core::incidents::{
    self, Audience, Doer, IncidentError, IncidentRecord, IncidentStatus, Members,
};
use anshin_core::mail::compose::IncidentTemplate;
use anshin_domain::{EmailAddress, IncidentId, MemberId, StaffId};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Form};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::pages::{ConsoleLayout, forbidden, page, role_word};
use super::{ConsoleState, Staff, StaffClient, bare, redirect_with};
use crate::web::common::language::request_lang;

/// The incidents whose notification runs on this instance now (the page
/// says "under way" for them, "not finished" for others).
#[derive(Debug, Default)]
pub struct NotifyRuns(Mutex<HashSet<IncidentId>>);

impl NotifyRuns {
    fn running(&self, id: IncidentId) -> bool {
        self.0.lock().map(|s| s.contains(&id)).unwrap_or(false)
    }

    fn set(&self, id: IncidentId, on: bool) {
        if let Ok(mut s) = self.0.lock() {
            if on {
                s.insert(id);
            } else {
                s.remove(&id);
            }
        }
    }
}

/// How long a notification's page waits for it to finish after it
/// started, before it answers "under way".
const NOTIFY_WAIT: Duration = Duration::from_secs(3);

fn lang_of(state: &ConsoleState, headers: &HeaderMap) -> Lang {
    request_lang(headers, state.app.settings.site.default_language)
}

/// What an act's form may carry (each act reads its own fields).
#[derive(Debug, Default, Deserialize)]
pub struct ActForm {
    /// `1` on the confirmation page's form: do it.
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    member: String,
    #[serde(default)]
    staff: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    members: String,
    #[serde(default)]
    lessons: String,
}

impl ActForm {
    fn confirmed(&self) -> bool {
        self.confirm == "1"
    }
}

/// A failure shown in words: the status and the sentence.
struct Problem {
    status: StatusCode,
    text: String,
}

impl Problem {
    fn new(status: StatusCode, text: &str) -> Self {
        Self {
            status,
            text: text.to_owned(),
        }
    }
}

/// The sentence for a failed act; `None`: the policy refused (the
/// forbidden page answers).
fn problem(state: &ConsoleState, lang: Lang, e: &IncidentError) -> Option<Problem> {
    use StatusCode as S;
    let t = &state.app.catalogs.get(lang).staff.incidents;
    Some(match e {
        IncidentError::Refused(_) => return None,
        IncidentError::NotFound => Problem::new(S::NOT_FOUND, &t.err_not_found),
        IncidentError::Closed | IncidentError::NoneOpen | IncidentError::SeveralOpen(_) => {
            Problem::new(S::CONFLICT, &t.err_closed)
        }
        IncidentError::BadTitle => Problem::new(S::UNPROCESSABLE_ENTITY, &t.err_title),
        IncidentError::BadLessons => Problem::new(S::UNPROCESSABLE_ENTITY, &t.err_lessons),
        IncidentError::MemberNotFound(_) => Problem::new(S::NOT_FOUND, &t.err_member_not_found),
        IncidentError::StaffNotFound => Problem::new(S::NOT_FOUND, &t.err_staff_not_found),
        IncidentError::OwnAccount => Problem::new(S::CONFLICT, &t.err_own_account),
        IncidentError::NothingToEnd => Problem::new(S::UNPROCESSABLE_ENTITY, &t.err_nothing),
        IncidentError::NotifyInProgress { template, .. } => Problem {
            status: S::CONFLICT,
            text: t.err_notify_in_progress.replace(
                "{template}",
                &IncidentTemplate::parse(template)
                    .map_or_else(|| template.clone(), |tp| template_name(state, lang, tp)),
            ),
        },
        IncidentError::NoRecipients => Problem::new(S::UNPROCESSABLE_ENTITY, &t.err_no_recipients),
        IncidentError::Rotation(err) => {
            tracing::error!(error = %err, "incident key rotation failed");
            Problem::new(S::SERVICE_UNAVAILABLE, &t.err_rotation)
        }
        IncidentError::Mail(err) => {
            tracing::error!(error = %err, "incident notification could not compose a mail");
            Problem::new(S::SERVICE_UNAVAILABLE, &t.err_not_recorded)
        }
        IncidentError::Store(err) => {
            // The bundle (act, timeline line, audit entry) did not commit:
            // nothing happened.
            tracing::error!(error = %err, "an incident act did not commit");
            Problem::new(S::SERVICE_UNAVAILABLE, &t.err_not_recorded)
        }
    })
}

/// The name of a notice as the reader sees it: its mail's subject in
/// the reader's language.
fn template_name(state: &ConsoleState, lang: Lang, t: IncidentTemplate) -> String {
    let c = state.app.catalogs.get(lang);
    match t {
        IncidentTemplate::SessionsEnded => c.mail_incident_sessions_ended_subject.clone(),
        IncidentTemplate::PasswordReset => c.mail_incident_password_reset_subject.clone(),
        IncidentTemplate::DataExposure => c.mail_incident_data_exposure_subject.clone(),
    }
}

// ---------------------------------------------------------------- list

struct ListRow {
    id: String,
    title: String,
    open: bool,
    opened: String,
}

#[derive(Template)]
#[template(path = "console/incidents.html")]
struct ListPage<'a> {
    layout: ConsoleLayout<'a>,
    rows: Vec<ListRow>,
    may_open: bool,
    error: Option<String>,
    title: String,
}

async fn list_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    ip: IpAddr,
    problem_shown: Option<Problem>,
    title: String,
) -> Response {
    let doer = Doer::staff(&s.current, ip);
    let records = match incidents::list(&state.app.core, &doer).await {
        Ok(r) => r,
        Err(IncidentError::Refused(_)) => return forbidden(state, headers),
        Err(e) => {
            tracing::error!(error = %e, "incident list failed");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let lang = lang_of(state, headers);
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.incidents.list_title);
    let rows = records
        .iter()
        .map(|r| ListRow {
            id: r.id.to_string(),
            title: r.title.clone(),
            open: r.status == IncidentStatus::Open,
            opened: local_time(lang, r.opened_at),
        })
        .collect();
    let (status, error) = match problem_shown {
        Some(p) => (p.status, Some(p.text)),
        None => (StatusCode::OK, None),
    };
    page(
        status,
        headers,
        ListPage {
            layout,
            rows,
            may_open: access::role_may(s.current.account.role, Action::OpenIncident),
            error,
            title,
        }
        .render(),
    )
}

pub async fn list(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    list_view(&state, &headers, &s, ip, None, String::new()).await
}

// ------------------------------------------------------- confirmation

#[derive(Template)]
#[template(path = "console/incident_confirm.html")]
struct ConfirmPage<'a> {
    layout: ConsoleLayout<'a>,
    /// "In the incident …:" (none when opening one).
    within: Option<String>,
    what: Vec<String>,
    /// Lessons (or other long text) shown as written.
    quoted: Option<String>,
    action: String,
    fields: Vec<(&'static str, String)>,
    back: String,
}

#[allow(clippy::too_many_arguments)] // a page's parts, named
fn confirm_page(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    incident: Option<&IncidentRecord>,
    what: Vec<String>,
    quoted: Option<String>,
    action: String,
    fields: Vec<(&'static str, String)>,
) -> Response {
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.incidents.confirm_title);
    let within = incident.map(|r| layout.t.incidents.confirm_in.replace("{title}", &r.title));
    let back = incident.map_or_else(
        || "/incidents".to_owned(),
        |r| format!("/incidents/{}", r.id),
    );
    page(
        StatusCode::OK,
        headers,
        ConfirmPage {
            layout,
            within,
            what,
            quoted,
            action,
            fields,
            back,
        }
        .render(),
    )
}

pub async fn open(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<ActForm>,
) -> Response {
    let title: String = form.title.trim().chars().take(400).collect();
    let t = &state
        .app
        .catalogs
        .get(lang_of(&state, &headers))
        .staff
        .incidents;
    if !form.confirmed() {
        // Checked before asking: the same rule the core applies.
        if title.is_empty()
            || title.chars().count() > incidents::MAX_TITLE_CHARS
            || title.chars().any(char::is_control)
        {
            let p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, &t.err_title);
            return list_view(&state, &headers, &s, ip, Some(p), title).await;
        }
        return confirm_page(
            &state,
            &headers,
            &s,
            None,
            vec![t.confirm_open.replace("{title}", &title)],
            None,
            "/incidents".to_owned(),
            vec![("title", title)],
        );
    }
    let doer = Doer::staff(&s.current, ip);
    match incidents::open(&state.app.core, &doer, &title).await {
        Ok(id) => redirect_with(&format!("/incidents/{id}"), "incident_opened", None),
        Err(e) => match problem(&state, lang_of(&state, &headers), &e) {
            Some(p) => list_view(&state, &headers, &s, ip, Some(p), title).await,
            None => forbidden(&state, &headers),
        },
    }
}

// ------------------------------------------------------ incident page

struct Line {
    at: String,
    actor: String,
    action: String,
    detail: String,
}

struct Progress {
    text: String,
    finished: bool,
    running: bool,
    /// The fields that continue it (same notice, same members).
    again: Vec<(&'static str, String)>,
}

/// Which acts the reader's role may take (the policy, per act).
struct Acts {
    end: bool,
    lock: bool,
    unlock: bool,
    reset: bool,
    rotate: bool,
    disable: bool,
    notify: bool,
    close: bool,
}

impl Acts {
    fn of(s: &Staff) -> Self {
        let may = |a| access::role_may(s.current.account.role, a);
        Self {
            end: may(Action::IncidentEndSessions),
            lock: may(Action::IncidentLockMember),
            unlock: may(Action::IncidentUnlockMember),
            reset: may(Action::IncidentForcePasswordReset),
            rotate: may(Action::IncidentRotateKeys),
            disable: may(Action::IncidentDisableStaff),
            notify: may(Action::IncidentNotifyMembers),
            close: may(Action::CloseIncident),
        }
    }

    fn any(&self) -> bool {
        self.end
            || self.lock
            || self.unlock
            || self.reset
            || self.rotate
            || self.disable
            || self.notify
            || self.close
    }
}

#[derive(Template)]
#[template(path = "console/incident.html")]
struct IncidentPage<'a> {
    layout: ConsoleLayout<'a>,
    id: String,
    title: String,
    open: bool,
    opened_by: String,
    closed_on: Option<String>,
    lessons: Option<String>,
    progress: Option<Progress>,
    lines: Vec<Line>,
    acts: Acts,
    templates: Vec<(&'static str, String)>,
    error: Option<String>,
    /// What was typed, kept when the page answers an error.
    member: String,
    lessons_typed: String,
}

/// Renders the incident `id` (with an error, if an act failed).
async fn incident_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    ip: IpAddr,
    id: IncidentId,
    problem_shown: Option<Problem>,
    form: &ActForm,
) -> Response {
    let doer = Doer::staff(&s.current, ip);
    let lang = lang_of(state, headers);
    let (rec, timeline) = match incidents::show(&state.app.core, &doer, id).await {
        Ok(found) => found,
        Err(IncidentError::Refused(_)) => return forbidden(state, headers),
        Err(IncidentError::NotFound) => {
            let t = &state.app.catalogs.get(lang).staff.incidents;
            let p = Problem::new(StatusCode::NOT_FOUND, &t.err_not_found);
            return list_view(state, headers, s, ip, Some(p), String::new()).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "incident view failed");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.incidents.list_title);
    let t = &layout.t.incidents;
    let progress = rec.notify.as_ref().map(|n| {
        let template = IncidentTemplate::parse(&n.template)
            .map_or_else(|| n.template.clone(), |tp| template_name(state, lang, tp));
        let audience = match Audience::from_stored(&n.audience) {
            Some(Audience::Members(ids)) => format!("{} ({})", t.audience_members, ids.len()),
            _ => t.audience_all.clone(),
        };
        let again = match Audience::from_stored(&n.audience) {
            Some(Audience::Members(ids)) => vec![
                ("template", n.template.clone()),
                ("audience", "members".to_owned()),
                (
                    "members",
                    ids.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            ],
            _ => vec![
                ("template", n.template.clone()),
                ("audience", "all".to_owned()),
            ],
        };
        Progress {
            text: t
                .notify_progress
                .replace("{template}", &template)
                .replace("{audience}", &audience)
                .replace("{sent}", &n.sent.to_string())
                .replace("{total}", &n.total.to_string()),
            finished: n.finished_at.is_some(),
            running: n.finished_at.is_none() && state.notify_runs.running(id),
            again,
        }
    });
    let lines = timeline
        .iter()
        .map(|e| Line {
            at: local_time(lang, e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            detail: e.detail.clone(),
        })
        .collect();
    let templates = IncidentTemplate::ALL
        .into_iter()
        .map(|tp| (tp.as_str(), template_name(state, lang, tp)))
        .collect();
    let (status, error) = match problem_shown {
        Some(p) => (p.status, Some(p.text)),
        None => (StatusCode::OK, None),
    };
    let opened_by = t
        .opened_by
        .replace("{date}", &local_time(lang, rec.opened_at))
        .replace("{who}", &rec.opened_by);
    let closed_on = rec
        .closed_at
        .map(|at| t.closed_on.replace("{date}", &local_time(lang, at)));
    page(
        status,
        headers,
        IncidentPage {
            id: rec.id.to_string(),
            title: rec.title.clone(),
            open: rec.status == IncidentStatus::Open,
            opened_by,
            closed_on,
            lessons: rec.lessons.clone(),
            progress,
            lines,
            acts: Acts::of(s),
            templates,
            error,
            member: form.member.trim().chars().take(64).collect(),
            lessons_typed: form
                .lessons
                .chars()
                .take(incidents::MAX_LESSONS_CHARS)
                .collect(),
            layout,
        }
        .render(),
    )
}

fn incident_id(text: &str) -> Option<IncidentId> {
    IncidentId::parse(text.trim())
}

pub async fn show(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = incident_id(&id) else {
        let t = &state
            .app
            .catalogs
            .get(lang_of(&state, &headers))
            .staff
            .incidents;
        let p = Problem::new(StatusCode::NOT_FOUND, &t.err_not_found);
        return list_view(&state, &headers, &s, ip, Some(p), String::new()).await;
    };
    incident_view(&state, &headers, &s, ip, id, None, &ActForm::default()).await
}

// ---------------------------------------------------------------- acts

/// What every act's handler has at hand.
struct Act<'a> {
    state: &'a ConsoleState,
    headers: &'a HeaderMap,
    s: &'a Staff,
    ip: IpAddr,
    form: &'a ActForm,
    lang: Lang,
}

impl Act<'_> {
    fn t(&self) -> &StaffIncidentCatalog {
        &self.state.app.catalogs.get(self.lang).staff.incidents
    }

    fn doer(&self) -> Doer {
        Doer::staff(&self.s.current, self.ip)
    }

    /// The incident page with a problem.
    async fn fail(&self, id: IncidentId, p: Problem) -> Response {
        incident_view(
            self.state,
            self.headers,
            self.s,
            self.ip,
            id,
            Some(p),
            self.form,
        )
        .await
    }

    /// The incident page with the failure of `e` (or the forbidden page).
    async fn failed(&self, id: IncidentId, e: &IncidentError) -> Response {
        match problem(self.state, self.lang, e) {
            Some(p) => self.fail(id, p).await,
            None => forbidden(self.state, self.headers),
        }
    }

    /// The open incident `id`, before asking: a missing or closed one is
    /// said in words. `Err` holds the page that says it.
    async fn open_incident(&self, id: &str) -> Result<IncidentRecord, Response> {
        let Some(id) = incident_id(id) else {
            let p = Problem::new(StatusCode::NOT_FOUND, &self.t().err_not_found);
            return Err(list_view(
                self.state,
                self.headers,
                self.s,
                self.ip,
                Some(p),
                String::new(),
            )
            .await);
        };
        match incidents::show(&self.state.app.core, &self.doer(), id).await {
            Ok((rec, _)) if rec.status == IncidentStatus::Open => Ok(rec),
            Ok(_) => Err(self.failed(id, &IncidentError::Closed).await),
            Err(IncidentError::NotFound) => {
                let p = Problem::new(StatusCode::NOT_FOUND, &self.t().err_not_found);
                Err(list_view(
                    self.state,
                    self.headers,
                    self.s,
                    self.ip,
                    Some(p),
                    String::new(),
                )
                .await)
            }
            Err(IncidentError::Refused(_)) => Err(forbidden(self.state, self.headers)),
            Err(e) => {
                tracing::error!(error = %e, "incident lookup failed");
                Err(bare(StatusCode::SERVICE_UNAVAILABLE))
            }
        }
    }

    /// The member the form names, known to exist.
    async fn member(&self, id: IncidentId) -> Result<MemberId, Response> {
        let Some(m) = MemberId::parse(self.form.member.trim()) else {
            let p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, &self.t().err_member_id);
            return Err(self.fail(id, p).await);
        };
        match incidents::member_exists(&self.state.app.core, m).await {
            Ok(true) => Ok(m),
            Ok(false) => Err(self.failed(id, &IncidentError::MemberNotFound(m)).await),
            Err(e) => Err(self.failed(id, &e).await),
        }
    }

    fn confirm(
        &self,
        rec: &IncidentRecord,
        what: Vec<String>,
        quoted: Option<String>,
        path: &str,
        fields: Vec<(&'static str, String)>,
    ) -> Response {
        confirm_page(
            self.state,
            self.headers,
            self.s,
            Some(rec),
            what,
            quoted,
            format!("/incidents/{}/{path}", rec.id),
            fields,
        )
    }

    fn done(&self, id: IncidentId, flash: &str) -> Response {
        redirect_with(&format!("/incidents/{id}"), flash, None)
    }
}

macro_rules! act {
    ($state:ident, $ip:ident, $headers:ident, $s:ident, $form:ident) => {
        Act {
            lang: lang_of(&$state, &$headers),
            state: &$state,
            headers: &$headers,
            s: &$s,
            ip: $ip,
            form: &$form,
        }
    };
}

pub async fn end_sessions(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let act = act!(state, ip, headers, s, form);
    let rec = match act.open_incident(&id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let (members, staff) = match form.scope.as_str() {
        "all_members" => (Members::All, false),
        "member" => match act.member(rec.id).await {
            Ok(m) => (Members::One(m), false),
            Err(page) => return page,
        },
        "all_staff" => (Members::None, true),
        _ => return act.failed(rec.id, &IncidentError::NothingToEnd).await,
    };
    if !form.confirmed() {
        let t = act.t();
        let what = match members {
            Members::All => t.confirm_end_all_members.clone(),
            Members::One(m) => t.confirm_end_member.replace("{member}", &m.to_string()),
            Members::None => t.confirm_end_all_staff.clone(),
        };
        let mut fields = vec![("scope", form.scope.clone())];
        if let Members::One(m) = members {
            fields.push(("member", m.to_string()));
        }
        return act.confirm(&rec, vec![what], None, "end-sessions", fields);
    }
    match incidents::end_sessions(&state.app.core, &act.doer(), rec.id, members, staff).await {
        Ok(ended) => act.done(
            rec.id,
            &format!(
                "incident_sessions_ended.{}.{}",
                ended.member_sessions, ended.staff_sessions
            ),
        ),
        Err(e) => act.failed(rec.id, &e).await,
    }
}

pub async fn lock(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let act = act!(state, ip, headers, s, form);
    let rec = match act.open_incident(&id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let m = match act.member(rec.id).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    if !form.confirmed() {
        let what = act.t().confirm_lock.replace("{member}", &m.to_string());
        return act.confirm(
            &rec,
            vec![what],
            None,
            "lock",
            vec![("member", m.to_string())],
        );
    }
    match incidents::lock_member(&state.app.core, &act.doer(), rec.id, m).await {
        Ok(()) => act.done(rec.id, "incident_locked"),
        Err(e) => act.failed(rec.id, &e).await,
    }
}

pub async fn unlock(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let act = act!(state, ip, headers, s, form);
    let rec = match act.open_incident(&id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let m = match act.member(rec.id).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    if !form.confirmed() {
        let what = act.t().confirm_unlock.replace("{member}", &m.to_string());
        return act.confirm(
            &rec,
            vec![what],
            None,
            "unlock",
            vec![("member", m.to_string())],
        );
    }
    match incidents::unlock_member(&state.app.core, &act.doer(), rec.id, m).await {
        Ok(()) => act.done(rec.id, "incident_unlocked"),
        Err(e) => act.failed(rec.id, &e).await,
    }
}

pub async fn password_reset(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let act = act!(state, ip, headers, s, form);
    let rec = match act.open_incident(&id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let member = match form.scope.as_str() {
        "all" => None,
        _ => match act.member(rec.id).await {
            Ok(m) => Some(m),
            Err(page) => return page,
        },
    };
    if !form.confirmed() {
        let t = act.t();
        let (what, fields) = match member {
            Some(m) => (
                t.confirm_reset_member.replace("{member}", &m.to_string()),
                vec![("scope", "member".to_owned()), ("member", m.to_string())],
            ),
            None => (
                t.confirm_reset_all.clone(),
                vec![("scope", "all".to_owned())],
            ),
        };
        return act.confirm(&rec, vec![what], None, "password-reset", fields);
    }
    match incidents::force_password_reset(&state.app.core, &act.doer(), rec.id, member).await {
        Ok(()) => act.done(rec.id, "incident_password_reset"),
        Err(e) => act.failed(rec.id, &e).await,
    }
}

pub async fn rotate_keys(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let act = act!(state, ip, headers, s, form);
    let rec = match act.open_incident(&id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    if !form.confirmed() {
        let what = act.t().confirm_rotate.clone();
        return act.confirm(&rec, vec![what], None, "rotate-keys", Vec::new());
    }
    // On its own task: a request that times out or is dropped does not
    // cut the rotation (and its closing record) off half-way.
    let svc = state.app.core.clone();
    let doer = act.doer();
    let incident = rec.id;
    let task = tokio::spawn(async move { incidents::rotate_keys(&svc, &doer, incident).await });
    match task.await {
        Ok(Ok((version, n))) => act.done(rec.id, &format!("incident_keys_rotated.{version}.{n}")),
        Ok(Err(e)) => act.failed(rec.id, &e).await,
        Err(e) => {
            tracing::error!(error = %e, "the key rotation task failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// The staff account a form names: an id, or a work e-mail address.
async fn staff_named(
    state: &ConsoleState,
    doer: &Doer,
    text: &str,
) -> Result<Option<anshin_core::staff::StaffAccount>, IncidentError> {
    let text = text.trim();
    if let Some(id) = StaffId::parse(text) {
        return incidents::staff_account(&state.app.core, doer, id).await;
    }
    match EmailAddress::parse(text) {
        Some(email) => incidents::staff_account_by_email(&state.app.core, doer, &email).await,
        None => Ok(None),
    }
}

pub async fn disable_staff(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let act = act!(state, ip, headers, s, form);
    let rec = match act.open_incident(&id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let account = match staff_named(&state, &act.doer(), &form.staff).await {
        Ok(Some(a)) => a,
        Ok(None) => return act.failed(rec.id, &IncidentError::StaffNotFound).await,
        Err(e) => return act.failed(rec.id, &e).await,
    };
    if account.id == s.current.account.id {
        return act.failed(rec.id, &IncidentError::OwnAccount).await;
    }
    if !form.confirmed() {
        let t = &state.app.catalogs.get(act.lang).staff;
        let what = t
            .incidents
            .confirm_disable
            .replace("{email}", account.email.as_str())
            .replace("{role}", role_word(t, account.role));
        return act.confirm(
            &rec,
            vec![what],
            None,
            "disable-staff",
            vec![("staff", account.id.to_string())],
        );
    }
    match incidents::disable_staff(&state.app.core, &act.doer(), rec.id, account.id).await {
        Ok(()) => act.done(rec.id, "incident_staff_disabled"),
        Err(e) => act.failed(rec.id, &e).await,
    }
}

/// The notification a form asks for: its notice and audience.
fn notice_of(form: &ActForm) -> Option<(IncidentTemplate, Audience)> {
    let template = IncidentTemplate::parse(form.template.trim())?;
    let audience = match form.audience.as_str() {
        "all" => Audience::All,
        "members" => {
            let ids = form
                .members
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .map(MemberId::parse)
                .collect::<Option<Vec<_>>>()?;
            if ids.is_empty() || ids.len() > 10_000 {
                return None;
            }
            Audience::Members(ids)
        }
        _ => return None,
    };
    Some((template, audience))
}

pub async fn notify(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let act = act!(state, ip, headers, s, form);
    let rec = match act.open_incident(&id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let Some((template, audience)) = notice_of(&form) else {
        let p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, &act.t().err_template);
        return act.fail(rec.id, p).await;
    };
    if !form.confirmed() {
        let n = match incidents::audience_size(&state.app.core, &act.doer(), &audience).await {
            Ok(0) => return act.failed(rec.id, &IncidentError::NoRecipients).await,
            Ok(n) => n,
            Err(e) => return act.failed(rec.id, &e).await,
        };
        let t = act.t();
        let mut what = vec![
            t.confirm_notify
                .replace("{template}", &template_name(&state, act.lang, template))
                .replace("{n}", &n.to_string()),
        ];
        if let Some(p) = rec.notify.as_ref().filter(|p| {
            p.finished_at.is_none()
                && p.template == template.as_str()
                && Audience::from_stored(&p.audience).as_ref() == Some(&audience)
        }) {
            what.push(
                t.confirm_notify_resume
                    .replace("{sent}", &p.sent.to_string())
                    .replace("{total}", &p.total.to_string()),
            );
        }
        let mut fields = vec![
            ("template", template.as_str().to_owned()),
            ("audience", form.audience.clone()),
        ];
        if let Audience::Members(ids) = &audience {
            fields.push((
                "members",
                ids.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
        }
        return act.confirm(&rec, what, None, "notify", fields);
    }
    // On its own task: the run goes on after this answer if it is long;
    // its progress is kept in the incident record (see the module doc).
    let (started_tx, started) = tokio::sync::oneshot::channel::<(u64, u64)>();
    let svc = state.app.core.clone();
    let doer = act.doer();
    let incident = rec.id;
    let runs = state.clone();
    let mut task = tokio::spawn(async move {
        runs.notify_runs.set(incident, true);
        let mut started_tx = Some(started_tx);
        let mut on_progress = move |sent: u64, total: u64| {
            if let Some(tx) = started_tx.take() {
                let _ = tx.send((sent, total));
            }
        };
        let report =
            incidents::notify(&svc, &doer, incident, template, audience, &mut on_progress).await;
        runs.notify_runs.set(incident, false);
        report
    });
    let finished =
        |r: Result<Result<incidents::NotifyReport, IncidentError>, tokio::task::JoinError>| {
            r.map_err(|e| {
                tracing::error!(error = %e, "the notification task failed");
            })
        };
    let outcome = tokio::select! {
        r = &mut task => Some(finished(r)),
        _ = started => None,
    };
    let outcome = match outcome {
        Some(o) => o,
        // Started: wait a moment for a short run to finish.
        None => match tokio::time::timeout(NOTIFY_WAIT, &mut task).await {
            Ok(r) => finished(r),
            Err(_) => {
                let (sent, total) =
                    match incidents::show(&state.app.core, &act.doer(), rec.id).await {
                        Ok((r, _)) => r.notify.map_or((0, 0), |n| (n.sent, n.total)),
                        Err(_) => (0, 0),
                    };
                return act.done(rec.id, &format!("incident_notify_running.{sent}.{total}"));
            }
        },
    };
    match outcome {
        Ok(Ok(report)) if report.already_done => act.done(
            rec.id,
            &format!("incident_notify_already.{}.{}", report.sent, report.total),
        ),
        Ok(Ok(report)) => act.done(
            rec.id,
            &format!("incident_notify_done.{}.{}", report.sent, report.total),
        ),
        Ok(Err(e)) => act.failed(rec.id, &e).await,
        Err(()) => bare(StatusCode::SERVICE_UNAVAILABLE),
    }
}

pub async fn close(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let act = act!(state, ip, headers, s, form);
    let rec = match act.open_incident(&id).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let lessons = form.lessons.trim();
    if lessons.is_empty() || lessons.chars().count() > incidents::MAX_LESSONS_CHARS {
        return act.failed(rec.id, &IncidentError::BadLessons).await;
    }
    if !form.confirmed() {
        let what = act.t().confirm_close.clone();
        return act.confirm(
            &rec,
            vec![what],
            Some(lessons.to_owned()),
            "close",
            vec![("lessons", lessons.to_owned())],
        );
    }
    match incidents::close(&state.app.core, &act.doer(), rec.id, lessons).await {
        Ok(()) => act.done(rec.id, "incident_closed"),
        Err(e) => act.failed(rec.id, &e).await,
    }
}

//! Support's view of a member's personal data and the security role's
//! views of the audit log and the security alerts (C22, C27, C29). Each handler parses, calls
//! one use case of `anshin_core::staff`, and renders.
//!
//! A member is named in a POST form (an id or an e-mail address), never
//! in a URL; the page that shows their data is the answer to that POST,
//! so it is neither bookmarked nor kept in a history with the address in
//! it (and the headers layer forbids caching).

use anshin_core::accounts::local_time;
use anshin_core::audit::Actor;
use anshin_core::i18n::Lang;
use anshin_core::staff::{self, AuditFilter, MemberView, StaffError};
use anshin_core::withdrawal::WithdrawError;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::{Extension, Form};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::pages::{ConsoleLayout, forbidden, page};
use super::{ConsoleState, Staff, StaffClient, bare};
use crate::web::common::language::request_lang;

struct AddressLine {
    is_default: bool,
    postal_code: String,
    prefecture: String,
    city: String,
    line1: String,
    line2: Option<String>,
    recipient_name: String,
    phone: Option<String>,
}

struct MemberFacts {
    id: String,
    email: String,
    display_name: String,
    created: String,
    has_password: bool,
    phone: Option<String>,
    addresses: Vec<AddressLine>,
}

impl MemberFacts {
    fn of(v: &MemberView, lang: Lang) -> Self {
        Self {
            id: v.id.to_string(),
            email: v.email.as_str().to_owned(),
            display_name: v.display_name.clone(),
            created: local_time(lang, v.created_at),
            has_password: v.has_password,
            phone: v.phone.as_ref().map(|p| p.national_display().to_string()),
            addresses: v
                .addresses
                .iter()
                .map(|s| {
                    let a = &s.address;
                    AddressLine {
                        is_default: s.is_default,
                        postal_code: a.postal_code().as_str().to_owned(),
                        prefecture: match lang {
                            Lang::Ja => a.prefecture().name_ja(),
                            Lang::En => a.prefecture().name_en(),
                        }
                        .to_owned(),
                        city: a.city().as_str().to_owned(),
                        line1: a.line1().as_str().to_owned(),
                        line2: a.line2().map(|l| l.as_str().to_owned()),
                        recipient_name: a.recipient_name().as_str().to_owned(),
                        phone: a.phone().map(|p| p.national_display().to_string()),
                    }
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/member.html")]
struct MemberPage<'a> {
    layout: ConsoleLayout<'a>,
    member: Option<MemberFacts>,
    refused: bool,
    error: Option<&'a str>,
    /// What happened after an act (a withdrawal).
    notice: Option<&'a str>,
    lookup: String,
}

/// A catalog sentence, chosen before the catalog is at hand.
type Words = fn(&anshin_core::i18n::StaffCatalog) -> &str;

#[allow(clippy::too_many_arguments)] // a page's parts, named
fn member_render(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    status: StatusCode,
    member: Option<MemberFacts>,
    refused: bool,
    error: Option<Words>,
    lookup: String,
    notice: Option<Words>,
) -> Response {
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.members_title);
    let error = error.map(|f| f(layout.t));
    let notice = notice.map(|f| f(layout.t));
    page(
        status,
        headers,
        MemberPage {
            layout,
            member,
            refused,
            error,
            notice,
            lookup,
        }
        .render(),
    )
}

/// The lookup form.
pub async fn member_page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    member_render(
        &state,
        &headers,
        &s,
        StatusCode::OK,
        None,
        false,
        None,
        String::new(),
        None,
    )
}

#[derive(Debug, Deserialize)]
pub struct LookupForm {
    #[serde(default)]
    lookup: String,
}

/// Looks the member up and shows their data, once its view is recorded.
pub async fn member_view(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<LookupForm>,
) -> Response {
    let lookup: String = form.lookup.chars().take(254).collect();
    let lang = request_lang(&headers, state.app.settings.site.default_language);
    match staff::view_member(&state.app.core, &s.current, ip, &lookup).await {
        Ok(view) => member_render(
            &state,
            &headers,
            &s,
            StatusCode::OK,
            Some(MemberFacts::of(&view, lang)),
            false,
            None,
            String::new(),
            None,
        ),
        Err(StaffError::MemberNotFound) => member_render(
            &state,
            &headers,
            &s,
            StatusCode::NOT_FOUND,
            None,
            false,
            Some(|t| &t.member_not_found),
            lookup,
            None,
        ),
        // The audit entry could not be written: refused, nothing shown.
        Err(StaffError::NotRecorded(_)) => member_render(
            &state,
            &headers,
            &s,
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            true,
            None,
            String::new(),
            None,
        ),
        Err(StaffError::Refused(_)) => forbidden(&state, &headers),
        Err(e) => {
            tracing::error!(error = %e, "member data view failed");
            bare(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    confirm: Option<String>,
}

/// Withdraws a member on their request (C18): the policy's
/// `withdraw_member` (support, fresh second factor) is checked by the
/// guard and again by the core; the box must be ticked (the console asks
/// before destroying). Says what happened, or what waits.
pub async fn member_withdraw(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<WithdrawForm>,
) -> Response {
    let Some(member) = anshin_domain::MemberId::parse(&id) else {
        return member_render(
            &state,
            &headers,
            &s,
            StatusCode::NOT_FOUND,
            None,
            false,
            Some(|t| &t.member_not_found),
            String::new(),
            None,
        );
    };
    if form.confirm.as_deref() != Some("yes") {
        return member_render(
            &state,
            &headers,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            false,
            Some(|t| &t.member_withdraw_unconfirmed),
            String::new(),
            None,
        );
    }
    let (status, error, notice): (StatusCode, Option<Words>, Option<Words>) =
        match staff::withdraw_member(&state.app.core, &s.current, ip, member).await {
            Ok(()) => (StatusCode::OK, None, Some(|t| &t.member_withdrawn)),
            Err(StaffError::Withdraw(WithdrawError::Waits(_))) => (
                StatusCode::CONFLICT,
                Some(|t| &t.member_withdraw_waits),
                None,
            ),
            Err(StaffError::Withdraw(WithdrawError::NotFound)) => (
                StatusCode::NOT_FOUND,
                Some(|t| &t.member_withdraw_gone),
                None,
            ),
            Err(StaffError::Refused(_)) => return forbidden(&state, &headers),
            Err(e) => {
                tracing::error!(error = %e, "withdrawal on request failed");
                return bare(StatusCode::SERVICE_UNAVAILABLE);
            }
        };
    member_render(
        &state,
        &headers,
        &s,
        status,
        None,
        false,
        error,
        String::new(),
        notice,
    )
}

struct AuditLine {
    index: u64,
    at: String,
    actor: String,
    action: &'static str,
    target: String,
    origin: String,
    reason: String,
    details: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPageView<'a> {
    layout: ConsoleLayout<'a>,
    rows: Vec<AuditLine>,
    error: Option<&'a str>,
    person: String,
    record: String,
    since: String,
    until: String,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQueryForm {
    #[serde(default)]
    person: String,
    #[serde(default)]
    record: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    before: String,
}

fn nonempty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn actor_text(a: &Actor) -> String {
    match a.id() {
        Some(id) => format!("{} {id}", a.kind().as_str()),
        None => a.kind().as_str().to_owned(),
    }
}

/// The audit log, filtered, a page at a time (query parameters hold
/// only ids and dates, never personal data).
pub async fn audit_log(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Query(q): Query<AuditQueryForm>,
) -> Response {
    let lang = request_lang(&headers, state.app.settings.site.default_language);
    let mut bad = false;
    let mut day = |text: &str, f: fn(&str, Lang) -> Option<anshin_domain::Timestamp>| {
        nonempty(text).and_then(|t| {
            let d = f(&t, lang);
            bad |= d.is_none();
            d
        })
    };
    let since = day(&q.since, staff::day_start);
    let until = day(&q.until, staff::day_end);
    let before_index = nonempty(&q.before).and_then(|b| {
        let n = b.parse::<u64>().ok();
        bad |= n.is_none();
        n
    });
    let filter = AuditFilter {
        person: nonempty(&q.person),
        record: nonempty(&q.record),
        since,
        until,
        before_index,
    };
    let result = if bad {
        Err(StaffError::InvalidFilter)
    } else {
        staff::audit_log_by(&state.app.core, &s.current, ip, &filter).await
    };
    let (status, page_data, error): (_, _, Option<Words>) = match result {
        Ok(p) => (StatusCode::OK, Some(p), None),
        Err(StaffError::InvalidFilter) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(|t| &t.audit_invalid_filter),
        ),
        Err(StaffError::Refused(_)) => return forbidden(&state, &headers),
        Err(e) => {
            tracing::error!(error = %e, "audit log view failed");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let layout = ConsoleLayout::new(&state, &headers, Some(&s), |t| &t.audit_title);
    let t = layout.t;
    let (rows, next) = match page_data {
        Some(p) => {
            let rows = p
                .entries
                .iter()
                .map(|r| AuditLine {
                    index: r.index,
                    at: local_time(lang, r.at),
                    actor: actor_text(&r.actor),
                    action: r.action.as_str(),
                    target: r
                        .target
                        .as_ref()
                        .map(|t| format!("{} {}", t.kind.as_str(), t.id))
                        .unwrap_or_default(),
                    origin: r.origin.clone().unwrap_or_default(),
                    reason: r.reason.clone(),
                    details: if r.details_kept {
                        t.audit_details_kept.clone()
                    } else {
                        t.audit_details_purged.clone()
                    },
                })
                .collect();
            let next = p.next_before.and_then(|b| {
                let before = b.to_string();
                let pairs: Vec<(&str, &str)> = [
                    ("person", q.person.trim()),
                    ("record", q.record.trim()),
                    ("since", q.since.trim()),
                    ("until", q.until.trim()),
                    ("before", before.as_str()),
                ]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .collect();
                serde_urlencoded::to_string(pairs)
                    .ok()
                    .map(|qs| format!("/audit?{qs}"))
            });
            (rows, next)
        }
        None => (Vec::new(), None),
    };
    let cut = |s: &str| s.trim().chars().take(64).collect::<String>();
    page(
        status,
        &headers,
        AuditPageView {
            error: error.map(|f| f(t)),
            layout,
            rows,
            person: cut(&q.person),
            record: cut(&q.record),
            since: cut(&q.since),
            until: cut(&q.until),
            next,
        }
        .render(),
    )
}

/// One alert as the page shows it.
struct AlertLine {
    rule: String,
    rule_text: String,
    subject: String,
    value: i64,
    threshold: i64,
    fired: String,
    cleared: Option<String>,
}

#[derive(Template)]
#[template(path = "console/alerts.html")]
struct AlertsPageView<'a> {
    layout: ConsoleLayout<'a>,
    on: Vec<AlertLine>,
    recent: Vec<AlertLine>,
}

/// One self-scan report as the page shows it.
struct SelfScanLine {
    when: String,
    findings: i64,
    items: Vec<anshin_core::selfscan::Finding>,
    text: String,
}

#[derive(Template)]
#[template(path = "console/selfscan.html")]
struct SelfScanPageView<'a> {
    layout: ConsoleLayout<'a>,
    latest: Option<SelfScanLine>,
    earlier: Vec<SelfScanLine>,
}

/// The kept self-scan reports (C30): the newest in full, the earlier ones
/// by date and number of findings.
pub async fn selfscan(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    let lang = request_lang(&headers, state.app.settings.site.default_language);
    let reports = match staff::selfscans_by(&state.app.core, &s.current, ip).await {
        Ok(v) => v,
        Err(StaffError::Refused(_)) => return forbidden(&state, &headers),
        Err(e) => {
            tracing::error!(error = %e, "self-scan view failed");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let layout = ConsoleLayout::new(&state, &headers, Some(&s), |t| &t.selfscan.title);
    let line = |r: &staff::SelfScanRecord| SelfScanLine {
        when: local_time(lang, r.ran_at),
        findings: r.findings,
        items: serde_json::from_str::<anshin_core::selfscan::Report>(&r.json)
            .map(|rep| rep.findings)
            .unwrap_or_default(),
        text: r.text.clone(),
    };
    let mut lines = reports.iter().map(line);
    let latest = lines.next();
    let earlier = lines.collect();
    page(
        StatusCode::OK,
        &headers,
        SelfScanPageView {
            layout,
            latest,
            earlier,
        }
        .render(),
    )
}

/// The security alerts (C29): on now, and the latest.
pub async fn alerts(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    let lang = request_lang(&headers, state.app.settings.site.default_language);
    let view = match staff::alerts_by(&state.app.core, &s.current, ip).await {
        Ok(v) => v,
        Err(StaffError::Refused(_)) => return forbidden(&state, &headers),
        Err(e) => {
            tracing::error!(error = %e, "alerts view failed");
            return bare(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let layout = ConsoleLayout::new(&state, &headers, Some(&s), |t| &t.alerts.title);
    let catalog = state.app.catalogs.get(lang);
    let line = |a: &staff::AlertRecord| AlertLine {
        rule: a.rule.clone(),
        rule_text: catalog.alert_rule(&a.rule).to_owned(),
        subject: a.subject.clone(),
        value: a.value,
        threshold: a.threshold,
        fired: local_time(lang, a.fired_at),
        cleared: a.resolved_at.map(|t| local_time(lang, t)),
    };
    let on = view.on.iter().map(line).collect();
    let recent = view.recent.iter().map(line).collect();
    page(
        StatusCode::OK,
        &headers,
        AlertsPageView { layout, on, recent }.render(),
    )
}

//! The finance pages (issue 16, C16; ADR 0020): payouts waiting for a
//! batch, the batches, one batch with its lines, the Zengin transfer file
//! and the hand marks of the bank's result. Each handler parses, calls one
//! `anshin_core::payouts` use case (which asks the policy again, step-up
//! included, and writes the audit entry), renders.
//!
//! The pages show amounts, ids and `****567`; the full account appears
//! only in the transfer file, which is downloaded (a POST, so a link in a
//! mail or another site cannot start it) and never kept on the server.

use std::net::IpAddr;

use anshin_core::accounts::local_time;
use anshin_core::i18n::{Lang, StaffPayoutsCatalog};
use anshin_core::payouts::zengin::{FileError, RecordProblem};
use anshin_core::payouts::{self, Doer, ImportReport, PayoutError, ResultProblem, Settled};
use anshin_domain::{PayoutBatchId, PayoutId, PayoutStatus};
use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::pages::{ConsoleLayout, forbidden, page};
use super::{ConsoleState, Staff, StaffClient, bare, redirect_with};
use crate::web::common::language::request_lang;

fn lang_of(state: &ConsoleState, headers: &HeaderMap) -> Lang {
    request_lang(headers, state.app.settings.site.default_language)
}

fn words<'a>(state: &'a ConsoleState, headers: &HeaderMap) -> &'a StaffPayoutsCatalog {
    &state
        .app
        .catalogs
        .get(lang_of(state, headers))
        .staff
        .payouts
}

fn status_text(t: &StaffPayoutsCatalog, s: PayoutStatus) -> String {
    match s {
        PayoutStatus::Requested => t.status_requested.clone(),
        PayoutStatus::Batched => t.status_batched.clone(),
        PayoutStatus::Paid => t.status_paid.clone(),
        PayoutStatus::Failed => t.status_failed.clone(),
    }
}

/// What a refusal or a failure shows: the policy's refusals as the other
/// console pages do, everything else as a message on the page.
fn refusal(state: &ConsoleState, headers: &HeaderMap, e: &PayoutError) -> Option<Response> {
    match e {
        PayoutError::Refused(anshin_core::access::Decision::DenyStepUp) => {
            Some(axum::response::Redirect::to("/step-up").into_response())
        }
        PayoutError::Refused(anshin_core::access::Decision::DenyNetwork) => {
            Some(bare(StatusCode::FORBIDDEN))
        }
        PayoutError::Refused(_) => Some(forbidden(state, headers)),
        _ => None,
    }
}

fn problem(t: &StaffPayoutsCatalog, e: &PayoutError) -> (StatusCode, String) {
    use StatusCode as S;
    match e {
        PayoutError::NothingToBatch => (S::CONFLICT, t.err_nothing.clone()),
        PayoutError::BadDate => (S::UNPROCESSABLE_ENTITY, t.err_date.clone()),
        PayoutError::WrongState => (S::CONFLICT, t.err_state.clone()),
        PayoutError::NotFound => (S::NOT_FOUND, t.err_not_found.clone()),
        PayoutError::Unconvertible(lines) => (
            S::UNPROCESSABLE_ENTITY,
            format!("{} {}", t.err_unconvertible, lines.join(" / ")),
        ),
        PayoutError::File(f) => (
            S::UNPROCESSABLE_ENTITY,
            format!("{} {f}", t.err_unconvertible),
        ),
        PayoutError::BadResult(p) => (
            S::UNPROCESSABLE_ENTITY,
            format!("{} {}", t.err_result, result_problem(t, p)),
        ),
        other => {
            tracing::error!(error = %other, "a finance act failed");
            (S::SERVICE_UNAVAILABLE, other.to_string())
        }
    }
}

// -------------------------------------------------------------- overview

#[derive(Debug)]
struct RequestRow {
    at: String,
    amount: String,
    fee: String,
    net: String,
}

#[derive(Debug)]
struct BatchRow {
    id: String,
    created: String,
    transfer_date: String,
    items: u32,
    total: String,
    exported: String,
}

#[derive(Template)]
#[template(path = "console/payouts.html")]
struct OverviewPage<'a> {
    layout: ConsoleLayout<'a>,
    error: Option<String>,
    requested: Vec<RequestRow>,
    batches: Vec<BatchRow>,
    date: String,
}

async fn overview_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    ip: IpAddr,
    error: Option<(StatusCode, String)>,
    date: String,
) -> Response {
    let lang = lang_of(state, headers);
    let core = &state.app.core;
    let doer = Doer::Staff {
        staff: &s.current,
        ip,
    };
    let requested = match payouts::requested(core, doer).await {
        Ok(v) => v,
        Err(e) => {
            return refusal(state, headers, &e)
                .unwrap_or_else(|| bare(StatusCode::SERVICE_UNAVAILABLE));
        }
    };
    let batches = match payouts::batches(core, doer, 50).await {
        Ok(v) => v,
        Err(e) => {
            return refusal(state, headers, &e)
                .unwrap_or_else(|| bare(StatusCode::SERVICE_UNAVAILABLE));
        }
    };
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.payouts.title);
    let (status, error) = match error {
        Some((st, text)) => (st, Some(text)),
        None => (StatusCode::OK, None),
    };
    let view = OverviewPage {
        layout,
        error,
        requested: requested
            .iter()
            .map(|p| RequestRow {
                at: local_time(lang, p.created_at),
                amount: p.amount.to_string(),
                fee: p.fee.to_string(),
                net: p.net().to_string(),
            })
            .collect(),
        batches: batches
            .iter()
            .map(|b| BatchRow {
                id: b.id.to_string(),
                created: local_time(lang, b.created_at),
                transfer_date: b.transfer_date.clone(),
                items: b.items,
                total: b.total.to_string(),
                exported: b
                    .exported_at
                    .map(|at| local_time(lang, at))
                    .unwrap_or_else(|| "—".into()),
            })
            .collect(),
        date,
    };
    page(status, headers, view.render())
}

pub async fn overview(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    overview_view(&state, &headers, &s, ip, None, String::new()).await
}

#[derive(Debug, Default, Deserialize)]
pub struct FinanceForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    batch: String,
}

pub async fn build(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<FinanceForm>,
) -> Response {
    let doer = Doer::Staff {
        staff: &s.current,
        ip,
    };
    let date = form.date.trim();
    let date = (!date.is_empty()).then_some(date);
    match payouts::build_batch(&state.app.core, doer, date).await {
        Ok(b) => redirect_with(
            &format!("/finance/payouts/batches/{}", b.id),
            "payouts_built",
            None,
        ),
        Err(e) => match refusal(&state, &headers, &e) {
            Some(r) => r,
            None => {
                let p = problem(words(&state, &headers), &e);
                let kept = form.date.chars().take(10).collect();
                overview_view(&state, &headers, &s, ip, Some(p), kept).await
            }
        },
    }
}

// ----------------------------------------------------------------- batch

#[derive(Debug)]
struct ItemRow {
    line: u32,
    payout: String,
    account: String,
    amount: String,
    fee: String,
    net: String,
    status: String,
    open: bool,
    completed: String,
}

#[derive(Template)]
#[template(path = "console/payout_batch.html")]
struct BatchPage<'a> {
    layout: ConsoleLayout<'a>,
    error: Option<String>,
    id: String,
    transfer_date: String,
    items: u32,
    total: String,
    exported: String,
    rows: Vec<ItemRow>,
}

async fn batch_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    ip: IpAddr,
    id: PayoutBatchId,
    error: Option<(StatusCode, String)>,
) -> Response {
    let lang = lang_of(state, headers);
    let doer = Doer::Staff {
        staff: &s.current,
        ip,
    };
    let (b, items) = match payouts::batch(&state.app.core, doer, id).await {
        Ok(v) => v,
        Err(e) => {
            if let Some(r) = refusal(state, headers, &e) {
                return r;
            }
            let (st, text) = problem(words(state, headers), &e);
            return overview_view(state, headers, s, ip, Some((st, text)), String::new()).await;
        }
    };
    let (status, error) = match error {
        Some((st, text)) => (st, Some(text)),
        None => (StatusCode::OK, None),
    };
    let view = BatchPage {
        layout: ConsoleLayout::new(state, headers, Some(s), |t| &t.payouts.batch_title),
        error,
        id: b.id.to_string(),
        transfer_date: b.transfer_date.clone(),
        items: b.items,
        total: b.total.to_string(),
        exported: b
            .exported_at
            .map(|at| local_time(lang, at))
            .unwrap_or_else(|| "—".into()),
        rows: items
            .iter()
            .map(|i| ItemRow {
                line: i.payout.batch_line.unwrap_or(0),
                payout: i.payout.id.to_string(),
                account: i.account.clone().unwrap_or_else(|| "—".into()),
                amount: i.payout.amount.to_string(),
                fee: i.payout.fee.to_string(),
                net: i.payout.net().to_string(),
                status: status_text(words(state, headers), i.payout.status),
                open: i.payout.status == PayoutStatus::Batched,
                completed: i
                    .payout
                    .completed_at
                    .map(|at| local_time(lang, at))
                    .unwrap_or_default(),
            })
            .collect(),
    };
    page(status, headers, view.render())
}

fn batch_id(text: &str) -> Option<PayoutBatchId> {
    PayoutBatchId::parse(text.trim())
}

pub async fn batch(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = batch_id(&id) else {
        let p = problem(words(&state, &headers), &PayoutError::NotFound);
        return overview_view(&state, &headers, &s, ip, Some(p), String::new()).await;
    };
    batch_view(&state, &headers, &s, ip, id, None).await
}

/// The transfer file, as a download.
pub async fn export(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = batch_id(&id) else {
        let p = problem(words(&state, &headers), &PayoutError::NotFound);
        return overview_view(&state, &headers, &s, ip, Some(p), String::new()).await;
    };
    let doer = Doer::Staff {
        staff: &s.current,
        ip,
    };
    match payouts::export_batch(&state.app.core, doer, id).await {
        Ok(file) => {
            let disposition =
                HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.name))
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
            (
                StatusCode::OK,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=Shift_JIS"),
                    ),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                file.bytes,
            )
                .into_response()
        }
        Err(e) => match refusal(&state, &headers, &e) {
            Some(r) => r,
            None => {
                let p = problem(words(&state, &headers), &e);
                batch_view(&state, &headers, &s, ip, id, Some(p)).await
            }
        },
    }
}

/// Marks one payout paid or failed by hand.
pub async fn settle(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    Form(form): Form<FinanceForm>,
) -> Response {
    let t = words(&state, &headers);
    let (Some(payout), Some(batch)) = (PayoutId::parse(id.trim()), batch_id(&form.batch)) else {
        let p = problem(t, &PayoutError::NotFound);
        return overview_view(&state, &headers, &s, ip, Some(p), String::new()).await;
    };
    let paid = match form.outcome.as_str() {
        "paid" => true,
        "failed" => false,
        _ => {
            let p = problem(t, &PayoutError::WrongState);
            return batch_view(&state, &headers, &s, ip, batch, Some(p)).await;
        }
    };
    let doer = Doer::Staff {
        staff: &s.current,
        ip,
    };
    let back = format!("/finance/payouts/batches/{batch}");
    match payouts::settle_by_hand(&state.app.core, doer, payout, paid).await {
        Ok(Settled::Now) if paid => redirect_with(&back, "payout_paid", None),
        Ok(Settled::Now) => redirect_with(&back, "payout_failed", None),
        Ok(Settled::Already) => redirect_with(&back, "payout_already", None),
        Ok(Settled::Contradicted) => redirect_with(&back, "payout_contradicted", None),
        Err(e) => match refusal(&state, &headers, &e) {
            Some(r) => r,
            None => {
                let p = problem(t, &e);
                batch_view(&state, &headers, &s, ip, batch, Some(p)).await
            }
        },
    }
}

/// What is wrong with a result file, in the reader's language.
fn result_problem(t: &StaffPayoutsCatalog, p: &ResultProblem) -> String {
    let record = |text: &str, n: usize| text.replace("{record}", &n.to_string());
    let line = |text: &str, n: u32| text.replace("{line}", &n.to_string());
    match p {
        ResultProblem::File(FileError::Length) => t.err_result_length.clone(),
        ResultProblem::File(FileError::Record { record: n, problem }) => {
            let text = match problem {
                RecordProblem::NoHeader => &t.err_result_header,
                RecordProblem::NoEnd => &t.err_result_end,
                RecordProblem::NoTrailer => &t.err_result_trailer,
                RecordProblem::NotData => &t.err_result_not_data,
                RecordProblem::Amount => &t.err_result_amount_digits,
                RecordProblem::Line => &t.err_result_line_digits,
                RecordProblem::Result => &t.err_result_code,
                RecordProblem::Totals => &t.err_result_totals,
            };
            record(text, *n)
        }
        // Not one a reader makes; said as the shell says it.
        ResultProblem::File(f @ FileError::Field { .. }) => f.to_string(),
        ResultProblem::Empty => t.err_result_empty.clone(),
        ResultProblem::NotInBatch { line: n } => line(&t.err_result_not_in_batch, *n),
        ResultProblem::Amount {
            line: n,
            file,
            batch,
        } => line(&t.err_result_amount, *n)
            .replace("{file}", &file.to_string())
            .replace("{batch}", &batch.to_string()),
        ResultProblem::Twice { line: n } => line(&t.err_result_twice, *n),
    }
}

/// The `result` file of the upload form (the CSRF token was checked by
/// the layer); `None` if no file was chosen. The body limit
/// (`http.body_limit_bytes`) caps its size.
async fn result_file(mut form: Multipart) -> Result<Option<Vec<u8>>, StatusCode> {
    let malformed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        }
    };
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        if field.name() == Some("result") {
            let bytes = field.bytes().await.map_err(malformed)?;
            return Ok((!bytes.is_empty()).then(|| bytes.to_vec()));
        }
    }
    Ok(None)
}

/// The flash of an import: what was settled, or that nothing changed.
fn import_flash(r: &ImportReport) -> String {
    if r.contradicted > 0 {
        format!(
            "payouts_import_contradicted.{}.{}.{}",
            r.paid, r.failed, r.contradicted
        )
    } else if r.paid + r.failed == 0 {
        format!("payouts_import_again.{}", r.already)
    } else {
        format!("payouts_imported.{}.{}", r.paid, r.failed)
    }
}

/// Imports the bank's result file of a batch (the upload form on the
/// batch's page): every line is checked against the batch first, then
/// settled (posting, mail and audit entry each); a file imported before
/// changes nothing, and the flash says so.
pub async fn import(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
    form: Multipart,
) -> Response {
    let t = words(&state, &headers);
    let Some(id) = batch_id(&id) else {
        let p = problem(t, &PayoutError::NotFound);
        return overview_view(&state, &headers, &s, ip, Some(p), String::new()).await;
    };
    let file = match result_file(form).await {
        Ok(Some(f)) => f,
        Ok(None) => {
            let p = (StatusCode::UNPROCESSABLE_ENTITY, t.err_result_none.clone());
            return batch_view(&state, &headers, &s, ip, id, Some(p)).await;
        }
        Err(status) => return bare(status),
    };
    let doer = Doer::Staff {
        staff: &s.current,
        ip,
    };
    match payouts::import_result(&state.app.core, doer, id, &file).await {
        Ok(report) => redirect_with(
            &format!("/finance/payouts/batches/{id}"),
            &import_flash(&report),
            None,
        ),
        Err(e) => match refusal(&state, &headers, &e) {
            Some(r) => r,
            None => {
                let p = problem(t, &e);
                batch_view(&state, &headers, &s, ip, id, Some(p)).await
            }
        },
    }
}

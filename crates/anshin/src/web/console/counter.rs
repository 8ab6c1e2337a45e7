//! The shipping centre's counter in the console (issue 15; C19, C22,
//! C23, C24; ADR 0016, 0017): accepting a parcel by its drop-off code,
//! the label page and its image, parcel events. Each handler parses,
//! calls one use case of `anshin_core::counter` (which checks the policy
//! again, with the open shift on this session's terminal, and commits the
//! act with its audit entry), and renders.
//!
//! - `POST /shipping/accept` (the code in the form body, never in a URL):
//!   the parcel is accepted and recorded in one commit, then a redirect
//!   to `/shipping/labels/{shipment}` (an id, no personal data).
//! - `GET /shipping/labels/{shipment}`: the label page, which takes no
//!   personal data (so it can show none) and records nothing.
//! - `GET /shipping/labels/{shipment}/image`: one view = one audit entry,
//!   committed before the label data is opened; then the PNG
//!   ([`super::labels::label_image`]). A failed audit write is a 503 with
//!   an empty body: no image.
//!
//! Off shift, or from a sign-in that is not the one on the checked-out
//! terminal, every counter route answers 403 with a page that says why
//! ([`no_shift`]), and the refusal is recorded.

use anshin_core::access::{Action, Decision};
use anshin_core::counter::{self, CounterError, LabelView};
use anshin_core::i18n::{Lang, StaffLabelCatalog};
use anshin_core::member_data::ShippingAddress;
use anshin_core::shipping::DropoffRefusal;
use anshin_domain::{ParcelEventKind, ShipmentId};
use anshin_labels::{Label, ParcelSize, PartyInput, Watermark};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::pages::{ConsoleLayout, forbidden, page};
use super::{ConsoleState, Staff, StaffClient, bare, redirect_with};
use crate::web::common::language::request_lang;

fn words<'a>(state: &'a ConsoleState, headers: &HeaderMap) -> &'a StaffLabelCatalog {
    let lang: Lang = request_lang(headers, state.app.settings.site.default_language);
    &state.app.catalogs.get(lang).staff.labels
}

/// The counter's actions: refused off shift with [`no_shift`] (a page
/// saying why), not sent to the shift page.
pub fn is_counter(action: Action) -> bool {
    matches!(
        action,
        Action::AcceptParcel | Action::ViewLabel | Action::RecordParcelEvent
    )
}

#[derive(Template)]
#[template(path = "console/no_shift.html")]
struct NoShiftPage<'a> {
    layout: ConsoleLayout<'a>,
}

/// 403: not on an open shift at the terminal this sign-in checked out
/// (C24). Says why, links to the shift page, shows nothing else.
pub fn no_shift(state: &ConsoleState, headers: &HeaderMap) -> Response {
    let layout = ConsoleLayout::new(state, headers, None, |t| &t.labels.no_shift_title);
    page(
        StatusCode::FORBIDDEN,
        headers,
        NoShiftPage { layout }.render(),
    )
}

/// The answer to a refusal by the core's policy check.
fn refused(state: &ConsoleState, headers: &HeaderMap, d: Decision) -> Response {
    match d {
        Decision::DenyNoShift => no_shift(state, headers),
        Decision::DenyStepUp => Redirect::to("/step-up").into_response(),
        Decision::DenyNetwork => bare(StatusCode::FORBIDDEN),
        _ => forbidden(state, headers),
    }
}

/// The failure's status and sentence; `None` for a policy refusal.
fn problem(t: &StaffLabelCatalog, e: &CounterError) -> Option<(StatusCode, String)> {
    use StatusCode as S;
    let (status, text) = match e {
        CounterError::Refused(_) => return None,
        CounterError::Code(r) => match r {
            DropoffRefusal::Malformed => (S::UNPROCESSABLE_ENTITY, &t.err_malformed),
            DropoffRefusal::Altered => (S::UNPROCESSABLE_ENTITY, &t.err_altered),
            DropoffRefusal::Forged => (S::UNPROCESSABLE_ENTITY, &t.err_forged),
            DropoffRefusal::Unknown => (S::NOT_FOUND, &t.err_unknown),
            DropoffRefusal::AlreadyAccepted => (S::CONFLICT, &t.err_already),
            DropoffRefusal::Voided => (S::CONFLICT, &t.err_voided),
            DropoffRefusal::NoSender => (S::CONFLICT, &t.err_no_sender),
        },
        CounterError::NoLabel => (S::NOT_FOUND, &t.err_no_label),
        CounterError::WrongState => (S::CONFLICT, &t.err_event_state),
        CounterError::Unreadable => (S::GONE, &t.err_unreadable),
        CounterError::NotRecorded(_) => (S::SERVICE_UNAVAILABLE, &t.err_not_recorded),
        CounterError::Store(err) => {
            tracing::error!(error = %err, "a counter act failed");
            (S::SERVICE_UNAVAILABLE, &t.err_not_recorded)
        }
        CounterError::Shipping(err) => {
            tracing::error!(error = %err, "a counter act failed");
            (S::SERVICE_UNAVAILABLE, &t.err_not_recorded)
        }
    };
    Some((status, text.clone()))
}

// -------------------------------------------------------------- accept

#[derive(Template)]
#[template(path = "console/accept.html")]
struct AcceptPage<'a> {
    layout: ConsoleLayout<'a>,
    error: Option<String>,
}

fn accept_view(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    error: Option<(StatusCode, String)>,
) -> Response {
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.labels.accept_title);
    let (status, error) = match error {
        Some((status, text)) => (status, Some(text)),
        None => (StatusCode::OK, None),
    };
    page(status, headers, AcceptPage { layout, error }.render())
}

/// The counter's page: the drop-off code field, and parcel events.
pub async fn accept_page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
) -> Response {
    accept_view(&state, &headers, &s, None)
}

#[derive(Default, Deserialize)]
pub struct CounterForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    shipment: String,
    #[serde(default)]
    kind: String,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for CounterForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CounterForm")
            .field("shipment", &self.shipment)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Accepts the parcel of the typed or scanned code; on to its label.
pub async fn accept(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<CounterForm>,
) -> Response {
    let code: String = form.code.chars().take(64).collect();
    match counter::accept_parcel(&state.app.core, &s.current, ip, &code).await {
        Ok(shipment) => redirect_with(
            &format!("/shipping/labels/{shipment}"),
            "parcel_accepted",
            None,
        ),
        Err(CounterError::Refused(d)) => refused(&state, &headers, d),
        Err(e) => accept_view(&state, &headers, &s, problem(words(&state, &headers), &e)),
    }
}

// --------------------------------------------------------------- event

fn event_kind(text: &str) -> Option<ParcelEventKind> {
    match text {
        "in_transit" => Some(ParcelEventKind::InTransit),
        "delivered" => Some(ParcelEventKind::Delivered),
        _ => None,
    }
}

/// A parcel event entered at the counter, recorded.
pub async fn event(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Form(form): Form<CounterForm>,
) -> Response {
    let t = words(&state, &headers);
    let (Some(shipment), Some(kind)) = (
        ShipmentId::parse(form.shipment.trim()),
        event_kind(&form.kind),
    ) else {
        return accept_view(
            &state,
            &headers,
            &s,
            Some((StatusCode::UNPROCESSABLE_ENTITY, t.err_shipment.clone())),
        );
    };
    match counter::record_event(&state.app.core, &s.current, ip, shipment, kind).await {
        Ok(()) => redirect_with("/shipping/accept", "parcel_event", None),
        Err(CounterError::Refused(d)) => refused(&state, &headers, d),
        Err(CounterError::NoLabel) => accept_view(
            &state,
            &headers,
            &s,
            Some((StatusCode::NOT_FOUND, t.err_shipment.clone())),
        ),
        Err(e) => accept_view(&state, &headers, &s, problem(t, &e)),
    }
}

// --------------------------------------------------------------- label

#[derive(Template)]
#[template(path = "console/label_refused.html")]
struct LabelRefusedPage<'a> {
    layout: ConsoleLayout<'a>,
    message: String,
}

fn label_refused(
    state: &ConsoleState,
    headers: &HeaderMap,
    s: &Staff,
    status: StatusCode,
    message: String,
) -> Response {
    let layout = ConsoleLayout::new(state, headers, Some(s), |t| &t.labels.title);
    page(
        status,
        headers,
        LabelRefusedPage { layout, message }.render(),
    )
}

/// The label page: the image (by the shipment's id), the print button.
/// No personal data here, so nothing to record; the image is the view.
pub async fn label(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
) -> Response {
    let t = words(&state, &headers);
    let Some(shipment) = ShipmentId::parse(&id) else {
        return label_refused(
            &state,
            &headers,
            &s,
            StatusCode::NOT_FOUND,
            t.err_no_label.clone(),
        );
    };
    match counter::label_target(&state.app.core, &s.current, ip, shipment).await {
        Ok(waybill) => super::labels::label_page(
            &state,
            &headers,
            &s,
            &format!("/shipping/labels/{shipment}/image"),
            &waybill,
        ),
        Err(CounterError::Refused(d)) => refused(&state, &headers, d),
        Err(e) => match problem(t, &e) {
            Some((status, text)) => label_refused(&state, &headers, &s, status, text),
            None => forbidden(&state, &headers),
        },
    }
}

/// One party of the label as the renderer takes it. `None`: no sender
/// (cannot happen for an accepted parcel; refused all the same).
fn party(a: &ShippingAddress) -> PartyInput {
    let mut lines = vec![format!("{}{}", a.city().as_str(), a.line1().as_str())];
    if let Some(l2) = a.line2() {
        lines.push(l2.as_str().to_owned());
    }
    PartyInput {
        name: a.recipient_name().as_str().to_owned(),
        postcode: a.postal_code().as_str().to_owned(),
        prefecture: a.prefecture().name_ja().to_owned(),
        address_lines: lines,
        phone: a.phone().map(|p| (*p.national_display()).clone()),
    }
}

/// The label and watermark of a recorded view; `None` if the data does
/// not make a label (logged by field name only).
fn label_of(view: &LabelView) -> Option<(Label, Watermark)> {
    let sender = view.data.sender.as_ref()?;
    let label = Label::new(
        &view.waybill,
        ParcelSize::S60,
        &party(&view.data.recipient),
        &party(sender),
    )
    .map_err(|e| tracing::warn!(error = %e, "label data refused"))
    .ok()?;
    let watermark = Watermark::new(&view.staff, &view.at)
        .map_err(|e| tracing::error!(error = %e, "watermark refused"))
        .ok()?;
    Some((label, watermark))
}

/// The label image: one view, recorded first (C22); then the PNG. Every
/// refusal is a bare status (an image URL has no page to show): 403 off
/// shift, 404 no label, 503 when the view could not be recorded.
pub async fn label_png(
    State(state): State<ConsoleState>,
    Extension(StaffClient(ip)): Extension<StaffClient>,
    headers: HeaderMap,
    Extension(s): Extension<Staff>,
    Path(id): Path<String>,
) -> Response {
    let Some(shipment) = ShipmentId::parse(&id) else {
        return bare(StatusCode::NOT_FOUND);
    };
    let Some(font) = state.label_font.clone() else {
        return bare(StatusCode::SERVICE_UNAVAILABLE);
    };
    match counter::view_label(&state.app.core, &s.current, ip, shipment).await {
        Ok(view) => match label_of(&view) {
            Some((label, watermark)) => super::labels::label_image(font, label, watermark).await,
            None => bare(StatusCode::UNPROCESSABLE_ENTITY),
        },
        Err(CounterError::Refused(d)) => refused(&state, &headers, d),
        Err(e) => {
            let status = problem(words(&state, &headers), &e)
                .map_or(StatusCode::FORBIDDEN, |(status, _)| status);
            bare(status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_events_after_acceptance_are_taken_from_the_form() {
        assert_eq!(event_kind("in_transit"), Some(ParcelEventKind::InTransit));
        assert_eq!(event_kind("delivered"), Some(ParcelEventKind::Delivered));
        assert_eq!(event_kind("accepted"), None);
        assert_eq!(event_kind(""), None);
    }
}

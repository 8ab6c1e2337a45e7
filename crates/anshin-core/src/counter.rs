//! The shipping centre's counter (issue 15; C19, C22, C23, C24): a
//! worker on shift accepts a parcel by its drop-off code, sees (and
//! prints) its label, and enters its later events. Each is one use case
//! the console's handlers call; each checks the access policy again
//! (role, area network, step-up and **an open shift checked in from this
//! session**, so a sign-in on another machine or a worker who checked out
//! is refused here too), and commits its rows and its audit entry in one
//! bundle through the one write path. Design: ADR 0016 and 0017.
//!
//! - [`accept_parcel`]: the code is resolved ([`shipping::resolve_code`]),
//!   then [`shipping::accept_changes`] (code used up, first timeline line,
//!   the order's `paid → shipped` step and its letters) and the audit
//!   entry `parcel_accepted` (worker, shipment, terminal, shift, why)
//!   commit together, or none of them does.
//! - [`view_label`]: every fetch of a label image is a view of both
//!   parties' addresses (C22). The entry `label_viewed` (worker, shipment,
//!   terminal, shift, why) is committed **first**; only after the commit
//!   is the sealed address snapshot opened and returned. If the entry
//!   cannot be written the caller gets [`CounterError::NotRecorded`] and
//!   no label data exists in the process to serve.
//! - [`label_target`]: what the label page needs (the waybill number):
//!   no personal data, so no audit entry.
//! - [`record_event`]: in transit, delivered, entered at the counter,
//!   audited in the same bundle as the event.
//!
//! # What an attacker (or a curious worker) tries, and what stops it
//! - look at labels off shift, after checking out, or from a second
//!   sign-in on another machine: the policy's shift rule (C24), in the
//!   console's guard and again here (`c24_*_label_view_is_refused_*`);
//! - look at a label without a trace: the entry commits before the data
//!   is opened; a failed audit write is a refusal
//!   (`c22_*_audit_write_fails_*`);
//! - browse other parcels' labels by shipment id: only accepted and
//!   in-transit parcels have a label to show (an unaccepted parcel's
//!   label needs its code, i.e. the parcel in front of the worker), and
//!   each view is in the audit log with the worker, terminal and shift;
//! - accept the same parcel twice (double click, two terminals): the code
//!   is single use (a guarded write), the second is `AlreadyAccepted` and
//!   writes nothing.

use std::net::IpAddr;

use anshin_domain::{ParcelEventKind, ShipmentId, ShipmentStatus, Timestamp};
use anshin_store::audit::{AuditAction, AuditTarget};
use anshin_store::{Changes, ShiftRecord, StoreError, guards};

use crate::Services;
use crate::access::{Action, Decision};
use crate::shipping::{self, DropoffRefusal, LabelData, ResolveError, ShippingError};
use crate::staff::{CurrentStaff, POLICY_ALLOW};

/// Why a counter act did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    /// The access policy refused (`Decision::reason` says why).
    #[error("refused by the access policy: {}", .0.reason())]
    Refused(Decision),
    /// The drop-off code was refused (forged, altered, used, …).
    #[error(transparent)]
    Code(#[from] DropoffRefusal),
    /// No such shipment, or not one with a label to show now (not
    /// accepted yet, or delivered).
    #[error("no label to show for this shipment")]
    NoLabel,
    /// The event does not fit the parcel's state.
    #[error("the parcel's state does not allow this event")]
    WrongState,
    /// The shipment's label data is gone (purged) or unreadable.
    #[error("the label data is gone or unreadable")]
    Unreadable,
    /// The bundle with the audit entry did not commit: nothing happened
    /// and nothing may be shown.
    #[error("not recorded: {0}")]
    NotRecorded(StoreError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Shipping(Box<ShippingError>),
}

impl From<ShippingError> for CounterError {
    fn from(e: ShippingError) -> Self {
        match e {
            ShippingError::Unreadable => CounterError::Unreadable,
            ShippingError::NotFound => CounterError::NoLabel,
            ShippingError::WrongState => CounterError::WrongState,
            ShippingError::Store(s) => CounterError::Store(s),
            other => CounterError::Shipping(Box::new(other)),
        }
    }
}

impl From<StoreError> for CounterError {
    fn from(e: StoreError) -> Self {
        CounterError::Store(e)
    }
}

/// Refuses unless the policy lets `actor` take `action` now; a refusal
/// is recorded (`staff_act_refused`).
async fn authorize(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    action: Action,
) -> Result<ShiftRecord, CounterError> {
    match crate::staff::decide_about(svc, Some(actor), action, ip, None) {
        Decision::Allow => {}
        d => {
            crate::staff::record_guard_refusal(svc, actor, action, d, ip).await;
            return Err(CounterError::Refused(d));
        }
    }
    // The policy's shift rule held, so the shift is open and this
    // session's; read it for the entry.
    match actor.shift.clone() {
        Some(s) if actor.on_shift() => Ok(s),
        _ => Err(CounterError::Refused(Decision::DenyNoShift)),
    }
}

/// The audit entry of a counter act: the worker (actor), the shipment
/// (target), the terminal and shift, and why (`why`), never personal
/// data.
fn entry(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    action: AuditAction,
    shipment: ShipmentId,
    shift: &ShiftRecord,
    why: &str,
) -> anshin_store::AuditEntry {
    crate::audit::entry(
        svc,
        anshin_store::audit::Actor::Staff(actor.account.id.as_uuid()),
        action,
        Some(AuditTarget::shipment(shipment)),
        Some(ip),
        POLICY_ALLOW,
        serde_json::json!({
            "terminal": shift.terminal,
            "shift": shift.id,
            "why": why,
        }),
    )
}

/// The waybill number printed on the label: the shipment id's 32 hex
/// digits (no personal data; the label's QR code holds it).
pub fn waybill(shipment: ShipmentId) -> String {
    shipment.as_uuid().simple().to_string().to_ascii_uppercase()
}

/// Accepts the parcel whose drop-off code a worker typed or scanned
/// (C24: on an open shift on this terminal). The code is used up and the
/// acceptance recorded in one commit; the shipment's id comes back for
/// the label page.
pub async fn accept_parcel(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    presented: &str,
) -> Result<ShipmentId, CounterError> {
    let shift = authorize(svc, actor, ip, Action::AcceptParcel).await?;
    let resolved = shipping::resolve_code(svc, presented)
        .await
        .map_err(|e| match e {
            ResolveError::Refused(r) => CounterError::Code(r),
            ResolveError::Store(s) => CounterError::Store(s),
        })?;
    let id = resolved.shipment.id;
    let changes = shipping::accept_changes(svc, &resolved)
        .await?
        .audited(entry(
            svc,
            actor,
            ip,
            AuditAction::ParcelAccepted,
            id,
            &shift,
            "accept",
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(staff = %actor.account.id, shipment = %id, shift = %shift.id, "parcel accepted at the counter");
            Ok(id)
        }
        Err(e) if e.is_precondition(guards::DROPOFF_NOT_LIVE) => {
            Err(DropoffRefusal::AlreadyAccepted.into())
        }
        Err(e) if e.is_precondition(guards::SHIPMENT_STATE) => {
            Err(DropoffRefusal::AlreadyAccepted.into())
        }
        Err(e) => {
            tracing::error!(error = %e, shipment = %id, "a parcel acceptance did not commit; nothing happened");
            Err(CounterError::NotRecorded(e))
        }
    }
}

/// A shipment whose label may be shown now: accepted, or on its way.
async fn labelled(svc: &Services, shipment: ShipmentId) -> Result<(), CounterError> {
    let s = svc
        .store
        .shipping()
        .shipment(shipment)
        .await?
        .ok_or(CounterError::NoLabel)?;
    match s.status {
        ShipmentStatus::Accepted | ShipmentStatus::InTransit if s.has_sender => Ok(()),
        _ => Err(CounterError::NoLabel),
    }
}

/// What the label page shows besides the image: the waybill number. No
/// personal data, so no view to record; refused like the image off
/// shift, and for a shipment without a label to show.
pub async fn label_target(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    shipment: ShipmentId,
) -> Result<String, CounterError> {
    authorize(svc, actor, ip, Action::ViewLabel).await?;
    labelled(svc, shipment).await?;
    Ok(waybill(shipment))
}

/// One view of a label, recorded: the data to draw and who looked when
/// (for the watermark). `Debug` shows no personal data.
#[derive(Debug)]
pub struct LabelView {
    pub waybill: String,
    pub data: LabelData,
    /// The staff member's id, for the watermark.
    pub staff: String,
    /// The time of the view (UTC, to the second), for the watermark.
    pub at: String,
}

fn utc(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp(at.secs(), 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| at.secs().to_string())
}

/// A view of a shipment's label (C22): the entry `label_viewed` (worker,
/// shipment, terminal, shift) commits first; only then are the sealed
/// addresses opened. [`CounterError::NotRecorded`] if the entry cannot be
/// written: the caller has nothing to show.
pub async fn view_label(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    shipment: ShipmentId,
) -> Result<LabelView, CounterError> {
    let shift = authorize(svc, actor, ip, Action::ViewLabel).await?;
    labelled(svc, shipment).await?;
    let now = svc.now();
    let changes = Changes::new().audited(entry(
        svc,
        actor,
        ip,
        AuditAction::LabelViewed,
        shipment,
        &shift,
        "label",
    ));
    if let Err(e) = svc.store.commit(&changes).await {
        tracing::error!(error = %e, shipment = %shipment, "a label view could not be recorded; refused");
        return Err(CounterError::NotRecorded(e));
    }
    let data = shipping::label(svc, shipment).await?;
    Ok(LabelView {
        waybill: waybill(shipment),
        data,
        staff: actor.account.id.to_string(),
        at: utc(now),
    })
}

/// A parcel event entered at the counter (in transit, delivered), with
/// its audit entry in the same bundle ([`shipping::event_changes`]).
pub async fn record_event(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    shipment: ShipmentId,
    kind: ParcelEventKind,
) -> Result<(), CounterError> {
    let shift = authorize(svc, actor, ip, Action::RecordParcelEvent).await?;
    let record = svc
        .store
        .shipping()
        .shipment(shipment)
        .await?
        .ok_or(CounterError::NoLabel)?;
    let why = kind.as_str();
    let changes = shipping::event_changes(svc, &record, kind)
        .await?
        .audited(entry(
            svc,
            actor,
            ip,
            AuditAction::ParcelEventRecorded,
            shipment,
            &shift,
            why,
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(staff = %actor.account.id, shipment = %shipment, event = why, "parcel event recorded at the counter");
            Ok(())
        }
        Err(e)
            if e.is_precondition(guards::SHIPMENT_STATE)
                || e.is_precondition(guards::ORDER_STATE) =>
        {
            Err(CounterError::WrongState)
        }
        Err(e) => {
            tracing::error!(error = %e, shipment = %shipment, "a parcel event did not commit; nothing happened");
            Err(CounterError::NotRecorded(e))
        }
    }
}

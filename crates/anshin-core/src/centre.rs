//! The shipping centre's people and equipment (issue 15; C24, C25): the
//! terminal registry managers keep, workers' shifts on those terminals,
//! and the two-person void of a waybill. Design and the attacks each
//! part answers: `docs/adr/0016-shipping-centre.md`.
//!
//! Every function here is a staff act in the console's shipping area. It
//! checks the access policy again first (`access::decide`, with the
//! staff member's role, second factor, open shift and, for a decision on
//! a void, the request's requester; a refusal is recorded as
//! `staff_act_refused`), then commits its rows and its audit entry in one
//! bundle: a check-in, a check-out, a registration, a retirement, a void
//! request and its decision are each in the audit log or did not happen.
//!
//! What the database keeps whatever door or instance writes (migration
//! 0022): one open shift per worker and per terminal, no check-out of a
//! retired terminal, no retirement of one in use, one pending void per
//! shipment, and a void decided once, by someone other than its
//! requester, on an open shift of theirs.
//!
//! The drop-off code's fate belongs to the shipments (issue 15's
//! "ship" part): an approved void's bundle is built by
//! [`approval_bundle`], the one place where the shipment's own void write
//! joins it.

use std::net::IpAddr;

use anshin_domain::{ShiftId, ShipmentId, StaffId, TerminalId, VoidRequestId};
use anshin_store::audit::{Actor, AuditAction, AuditTarget};
use anshin_store::{Changes, NewShift, NewTerminal, NewVoidRequest, StoreError, Write, guards};

pub use anshin_store::{
    ShiftEnd, ShiftRecord, TerminalRecord, TerminalStatus, VoidRequestRecord, VoidStatus,
};

use crate::Services;
use crate::access::{Action, Decision};
use crate::staff::{CurrentStaff, POLICY_ALLOW};

/// The longest terminal label and serial (characters).
pub const MAX_LABEL_CHARS: usize = 40;
/// The longest reason for a void (characters).
pub const MAX_REASON_CHARS: usize = 500;
/// How many shifts the shift log shows.
pub const SHIFT_LOG_LIMIT: u32 = 200;
/// How many pending void requests the managers' list shows.
pub const PENDING_LIMIT: u32 = 200;

/// Why a shipping centre act did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CentreError {
    /// The access policy refused (`Decision::reason` says why).
    #[error("refused by the access policy: {}", .0.reason())]
    Refused(Decision),
    #[error("a terminal's label is 1 to 40 printable characters")]
    BadLabel,
    #[error("a terminal's serial is 1 to 40 printable characters")]
    BadSerial,
    #[error("a terminal with this label or serial is registered already")]
    TerminalTaken,
    #[error("no such terminal")]
    TerminalNotFound,
    #[error("the terminal is checked out; it is retired after its shift ends")]
    TerminalInUse,
    #[error("the terminal is retired or checked out by someone else")]
    TerminalNotAvailable,
    /// The staff member has an open shift already (here or from another
    /// sign-in).
    #[error("an open shift exists already")]
    AlreadyOnShift,
    /// No open shift to end or to move.
    #[error("no open shift")]
    NoShift,
    /// A manager's own shift is ended by checking out.
    #[error("one's own shift is ended by checking out")]
    OwnShift,
    #[error("not a shipment id")]
    BadShipment,
    #[error("a reason is 1 to 500 characters")]
    BadReason,
    #[error("a void of this shipment is waiting for a manager already")]
    VoidPending,
    #[error("no such void request")]
    VoidNotFound,
    #[error("the void request was decided already")]
    VoidDecided,
    /// The shipment's drop-off code was used (the parcel was accepted) or
    /// replaced meanwhile: there is no live code left to void.
    #[error("the drop-off code is not live: the parcel was accepted or the code replaced")]
    CodeNotLive,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Refuses unless the policy lets `actor` take `action` now (about a
/// request of `requester`, for a decision); a refusal is recorded.
async fn authorize(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    action: Action,
    requester: Option<StaffId>,
) -> Result<(), CentreError> {
    match crate::staff::decide_about(svc, Some(actor), action, ip, requester) {
        Decision::Allow => Ok(()),
        d => {
            crate::staff::record_guard_refusal(svc, actor, action, d, ip).await;
            Err(CentreError::Refused(d))
        }
    }
}

fn entry(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    action: AuditAction,
    target: AuditTarget,
    details: serde_json::Value,
) -> anshin_store::AuditEntry {
    crate::audit::entry(
        svc,
        Actor::Staff(actor.account.id.as_uuid()),
        action,
        Some(target),
        Some(ip),
        POLICY_ALLOW,
        details,
    )
}

/// A short printable name: trimmed, 1 to [`MAX_LABEL_CHARS`], no
/// control characters.
fn short_name(text: &str) -> Option<String> {
    let t = text.trim();
    let n = t.chars().count();
    ((1..=MAX_LABEL_CHARS).contains(&n) && !t.chars().any(char::is_control)).then(|| t.to_owned())
}

// ---------------------------------------------------------- registry

/// Every terminal, by label (the managers' registry).
pub async fn terminals(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<Vec<TerminalRecord>, CentreError> {
    authorize(svc, actor, ip, Action::ManageTerminals, None).await?;
    Ok(svc.store.centre().list_terminals().await?)
}

/// Registers a terminal (label and serial, both unique), recorded.
pub async fn register_terminal(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    label: &str,
    serial: &str,
) -> Result<TerminalId, CentreError> {
    authorize(svc, actor, ip, Action::ManageTerminals, None).await?;
    let label = short_name(label).ok_or(CentreError::BadLabel)?;
    let serial = short_name(serial).ok_or(CentreError::BadSerial)?;
    let id: TerminalId = svc.new_id();
    let changes = Changes::new()
        .with(Write::RegisterTerminal(NewTerminal {
            id,
            label,
            serial,
            registered_at: svc.now(),
            registered_by: actor.account.id,
        }))
        .audited(entry(
            svc,
            actor,
            ip,
            AuditAction::TerminalRegistered,
            AuditTarget::terminal(id),
            serde_json::json!({}),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(id),
        Err(StoreError::Conflict(_)) => Err(CentreError::TerminalTaken),
        Err(e) => Err(e.into()),
    }
}

/// Retires an active terminal that is not checked out, recorded.
pub async fn retire_terminal(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    terminal: TerminalId,
) -> Result<TerminalRecord, CentreError> {
    authorize(svc, actor, ip, Action::ManageTerminals, None).await?;
    let record = svc
        .store
        .centre()
        .find_terminal(terminal)
        .await?
        .filter(|t| t.status == TerminalStatus::Active)
        .ok_or(CentreError::TerminalNotFound)?;
    let changes = Changes::new()
        .with(Write::RetireTerminal {
            terminal,
            at: svc.now(),
        })
        .audited(entry(
            svc,
            actor,
            ip,
            AuditAction::TerminalRetired,
            AuditTarget::terminal(terminal),
            serde_json::json!({}),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(record),
        Err(StoreError::Precondition(g)) if g == guards::TERMINAL_IN_USE => {
            Err(CentreError::TerminalInUse)
        }
        Err(StoreError::Precondition(g)) if g == guards::TERMINAL_NOT_FOUND => {
            Err(CentreError::TerminalNotFound)
        }
        Err(e) => Err(e.into()),
    }
}

/// The shift log, newest first (who, which terminal, from, to).
pub async fn shift_log(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<Vec<ShiftRecord>, CentreError> {
    authorize(svc, actor, ip, Action::ViewShiftLog, None).await?;
    Ok(svc.store.centre().list_shifts(SHIFT_LOG_LIMIT).await?)
}

// ------------------------------------------------------------ shifts

/// The terminals a check-in may choose: active and not checked out.
pub async fn available_terminals(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<Vec<TerminalRecord>, CentreError> {
    authorize(svc, actor, ip, Action::CheckIn, None).await?;
    Ok(svc
        .store
        .centre()
        .list_terminals()
        .await?
        .into_iter()
        .filter(|t| t.status == TerminalStatus::Active && t.checked_out_to.is_none())
        .collect())
}

/// Checks the staff member in on `terminal` from this session (C24),
/// recorded. One open shift per person and per terminal: the database
/// refuses a second one even when two requests race.
pub async fn check_in(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    terminal: TerminalId,
) -> Result<ShiftId, CentreError> {
    authorize(svc, actor, ip, Action::CheckIn, None).await?;
    if actor.shift.is_some() {
        return Err(CentreError::AlreadyOnShift);
    }
    let id: ShiftId = svc.new_id();
    let changes = Changes::new()
        .with(Write::OpenShift(NewShift {
            id,
            staff: actor.account.id,
            terminal,
            session: actor.session.id,
            started_at: svc.now(),
        }))
        .audited(entry(
            svc,
            actor,
            ip,
            AuditAction::ShiftCheckedIn,
            AuditTarget::terminal(terminal),
            serde_json::json!({ "shift": id }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(staff = %actor.account.id, shift = %id, terminal = %terminal, "shift checked in");
            Ok(id)
        }
        Err(StoreError::Precondition(g)) if g == guards::TERMINAL_NOT_AVAILABLE => {
            Err(CentreError::TerminalNotAvailable)
        }
        // Which unique index refused is not told by every driver: the
        // person's own open shift, or the terminal's.
        Err(StoreError::Conflict(_)) => {
            match svc.store.centre().open_shift_of(actor.account.id).await? {
                Some(_) => Err(CentreError::AlreadyOnShift),
                None => Err(CentreError::TerminalNotAvailable),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Moves the staff member's open shift to this sign-in (signed in again
/// at the same terminal, the old session ended), recorded.
pub async fn resume_shift(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<ShiftRecord, CentreError> {
    authorize(svc, actor, ip, Action::CheckIn, None).await?;
    let shift = actor.shift.clone().ok_or(CentreError::NoShift)?;
    if actor.on_shift() {
        return Err(CentreError::AlreadyOnShift);
    }
    let changes = Changes::new()
        .with(Write::MoveShift {
            shift: shift.id,
            staff: actor.account.id,
            session: actor.session.id,
        })
        .audited(entry(
            svc,
            actor,
            ip,
            AuditAction::ShiftResumed,
            AuditTarget::terminal(shift.terminal),
            serde_json::json!({ "shift": shift.id }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(shift),
        Err(StoreError::Precondition(g)) if g == guards::SHIFT_NOT_OPEN => {
            Err(CentreError::NoShift)
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks out: the shift ends and the terminal is returned, recorded.
pub async fn check_out(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<ShiftRecord, CentreError> {
    authorize(svc, actor, ip, Action::CheckOut, None).await?;
    let shift = actor.shift.clone().ok_or(CentreError::NoShift)?;
    let changes = Changes::new()
        .with(Write::EndShift {
            shift: shift.id,
            staff: actor.account.id,
            end: ShiftEnd::CheckedOut,
            at: svc.now(),
        })
        .audited(entry(
            svc,
            actor,
            ip,
            AuditAction::ShiftCheckedOut,
            AuditTarget::terminal(shift.terminal),
            serde_json::json!({ "shift": shift.id }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(staff = %actor.account.id, shift = %shift.id, "shift checked out");
            Ok(shift)
        }
        Err(StoreError::Precondition(g)) if g == guards::SHIFT_NOT_OPEN => {
            Err(CentreError::NoShift)
        }
        Err(e) => Err(e.into()),
    }
}

/// A manager ends another worker's open shift (C24: forgotten open, the
/// worker gone home), recorded with the manager as the actor; the
/// terminal is free again and the worker's sign-in is off shift at its
/// next request. `shift` must still be `staff`'s open shift (a shift
/// ended and opened again meanwhile is not ended by an old page). Never
/// one's own: check out instead.
pub async fn end_others_shift(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    staff: StaffId,
    shift: ShiftId,
) -> Result<ShiftRecord, CentreError> {
    authorize(svc, actor, ip, Action::EndOthersShift, None).await?;
    if staff == actor.account.id {
        return Err(CentreError::OwnShift);
    }
    let open = svc
        .store
        .centre()
        .open_shift_of(staff)
        .await?
        .filter(|s| s.id == shift)
        .ok_or(CentreError::NoShift)?;
    let changes = Changes::new()
        .with(Write::EndShift {
            shift: open.id,
            staff,
            end: ShiftEnd::EndedByManager,
            at: svc.now(),
        })
        .audited(entry(
            svc,
            actor,
            ip,
            AuditAction::ShiftEndedByManager,
            AuditTarget::terminal(open.terminal),
            serde_json::json!({ "shift": open.id, "worker": staff }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(manager = %actor.account.id, staff = %staff, shift = %open.id, "shift ended by a manager");
            Ok(open)
        }
        Err(StoreError::Precondition(g)) if g == guards::SHIFT_NOT_OPEN => {
            Err(CentreError::NoShift)
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------- voids

/// The worker's reason: trimmed, 1 to [`MAX_REASON_CHARS`] characters,
/// line breaks allowed, no other control characters.
fn reason_of(text: &str) -> Option<String> {
    let t = text.trim();
    let n = t.chars().count();
    let ok = (1..=MAX_REASON_CHARS).contains(&n)
        && !t.chars().any(|c| c.is_control() && c != '\n' && c != '\r');
    ok.then(|| t.to_owned())
}

/// Checks a void request's fields as [`request_void`] will (for the
/// page that asks before sending it).
pub fn check_void_input(shipment: &str, reason: &str) -> Result<ShipmentId, CentreError> {
    let shipment = ShipmentId::parse(shipment.trim()).ok_or(CentreError::BadShipment)?;
    reason_of(reason).ok_or(CentreError::BadReason)?;
    Ok(shipment)
}

/// Asks for a waybill to be voided (C25), recorded; a manager decides.
/// The reason stays with the request (it is the worker's free text), the
/// audit entry names the request, shift and terminal.
pub async fn request_void(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    shipment: &str,
    reason: &str,
) -> Result<VoidRequestId, CentreError> {
    authorize(svc, actor, ip, Action::RequestVoid, None).await?;
    let shipment = check_void_input(shipment, reason)?;
    let reason = reason_of(reason).ok_or(CentreError::BadReason)?;
    let shift = actor.shift.clone().ok_or(CentreError::NoShift)?;
    // Only a waybill that exists can be asked to be voided: an unknown id
    // is the same answer as a malformed one.
    if svc.store.shipping().shipment(shipment).await?.is_none() {
        return Err(CentreError::BadShipment);
    }
    let id: VoidRequestId = svc.new_id();
    let changes = Changes::new()
        .with(Write::RequestVoid(NewVoidRequest {
            id,
            shipment,
            requested_by: actor.account.id,
            shift: shift.id,
            reason,
            at: svc.now(),
        }))
        .audited(entry(
            svc,
            actor,
            ip,
            AuditAction::VoidRequested,
            AuditTarget::shipment(shipment),
            serde_json::json!({ "request": id, "shift": shift.id, "terminal": shift.terminal }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(id),
        Err(StoreError::Conflict(_)) => Err(CentreError::VoidPending),
        Err(StoreError::Precondition(g)) if g == guards::SHIFT_NOT_OPEN => {
            Err(CentreError::NoShift)
        }
        Err(e) => Err(e.into()),
    }
}

/// The void requests waiting for a manager, oldest first.
pub async fn pending_voids(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<Vec<VoidRequestRecord>, CentreError> {
    authorize(svc, actor, ip, Action::ReviewVoids, None).await?;
    Ok(svc
        .store
        .centre()
        .list_void_requests(VoidStatus::Pending, PENDING_LIMIT)
        .await?)
}

/// One void request, for the page that asks the manager to confirm.
pub async fn void_request(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    request: VoidRequestId,
) -> Result<VoidRequestRecord, CentreError> {
    authorize(svc, actor, ip, Action::ReviewVoids, None).await?;
    svc.store
        .centre()
        .find_void_request(request)
        .await?
        .ok_or(CentreError::VoidNotFound)
}

/// What a manager's decision came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decided {
    pub request: VoidRequestId,
    pub shipment: ShipmentId,
    pub status: VoidStatus,
    /// The same manager had approved it already: nothing new happened
    /// (a second approval counts once).
    pub already: bool,
}

/// The bundle of a manager's decision on a void request: the decision
/// (guarded: pending, not the requester's, the decider on shift) and its
/// audit entry, and, for an approval, **the shipment's void**.
///
/// The void's effect on the waybill belongs to the shipments
/// ([`crate::shipping::void_write`]: the live drop-off code dies and the
/// next one is issued to the seller); it joins an approval here, so the
/// approval, the code's death and the audit entry commit in one
/// transaction or not at all. `shipment` is the request's shipment as
/// read before the decision; its write is guarded on that code
/// generation, so a code used or replaced meanwhile fails the whole
/// bundle ([`guards::DROPOFF_NOT_LIVE`]).
pub fn approval_bundle(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    request: &VoidRequestRecord,
    shipment: &anshin_store::ShipmentRecord,
    shift: &ShiftRecord,
    status: VoidStatus,
) -> Changes {
    let action = match status {
        VoidStatus::Rejected => AuditAction::VoidRejected,
        VoidStatus::Approved | VoidStatus::Pending => AuditAction::VoidApproved,
    };
    let mut changes = Changes::new().with(Write::DecideVoid {
        request: request.id,
        by: actor.account.id,
        shift: shift.id,
        status,
        at: svc.now(),
    });
    if status == VoidStatus::Approved {
        changes.push(crate::shipping::void_write(svc, shipment));
    }
    changes.audited(entry(
        svc,
        actor,
        ip,
        action,
        AuditTarget::shipment(request.shipment),
        serde_json::json!({
            "request": request.id,
            "requested_by": request.requested_by,
            "shift": shift.id,
            "terminal": shift.terminal,
        }),
    ))
}

/// A manager approves (`approve`) or rejects a void request (C25). The
/// policy decides with the request's requester, so the requester is
/// refused (recorded as `staff_act_refused`, reason `own_request`), a
/// worker is refused by role, and a manager off shift is refused; the
/// database refuses all three again. A request decided before is not
/// decided again, except that the same manager approving it again is told
/// it is approved (once: no second entry).
pub async fn decide_void(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    request: VoidRequestId,
    approve: bool,
) -> Result<Decided, CentreError> {
    authorize(svc, actor, ip, Action::DecideVoid, None).await?;
    let record = svc
        .store
        .centre()
        .find_void_request(request)
        .await?
        .ok_or(CentreError::VoidNotFound)?;
    authorize(
        svc,
        actor,
        ip,
        Action::DecideVoid,
        Some(record.requested_by),
    )
    .await?;
    let status = if approve {
        VoidStatus::Approved
    } else {
        VoidStatus::Rejected
    };
    let again = |r: &VoidRequestRecord| -> Result<Decided, CentreError> {
        if r.status == status && r.decided_by == Some(actor.account.id) {
            Ok(Decided {
                request: r.id,
                shipment: r.shipment,
                status,
                already: true,
            })
        } else {
            Err(CentreError::VoidDecided)
        }
    };
    if record.status != VoidStatus::Pending {
        return again(&record);
    }
    let shift = actor.shift.clone().ok_or(CentreError::NoShift)?;
    let shipment = svc
        .store
        .shipping()
        .shipment(record.shipment)
        .await?
        .ok_or(CentreError::BadShipment)?;
    let changes = approval_bundle(svc, actor, ip, &record, &shipment, &shift, status);
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(staff = %actor.account.id, request = %request, status = status.as_str(), "void request decided");
            Ok(Decided {
                request,
                shipment: record.shipment,
                status,
                already: false,
            })
        }
        Err(StoreError::Precondition(g)) if g == guards::VOID_DECIDED => {
            // Another decision won the race (perhaps this manager's own
            // double click): say what it was.
            let now = svc
                .store
                .centre()
                .find_void_request(request)
                .await?
                .ok_or(CentreError::VoidNotFound)?;
            again(&now)
        }
        Err(StoreError::Precondition(g)) if g == guards::VOID_OWN_REQUEST => {
            Err(CentreError::Refused(Decision::DenyOwnRequest))
        }
        Err(StoreError::Precondition(g)) if g == guards::DROPOFF_NOT_LIVE => {
            Err(CentreError::CodeNotLive)
        }
        Err(StoreError::Precondition(g)) if g == guards::SHIFT_NOT_OPEN => {
            Err(CentreError::NoShift)
        }
        Err(e) => Err(e.into()),
    }
}

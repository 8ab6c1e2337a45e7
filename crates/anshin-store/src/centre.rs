//! The shipping centre's people and equipment (issue 15; C24, C25): the
//! terminal registry, shifts and waybill void requests. Reads here; every
//! change is a [`crate::Write`] committed through the one write path.
//!
//! The database keeps the rules no request may break, whichever instance
//! writes: one open shift per worker and one per terminal (partial unique
//! indexes: a second check-in fails with [`crate::StoreError::Conflict`]),
//! a shift only on an active terminal and no retiring a terminal in use
//! (guards taken under the terminal's row lock), one pending void request
//! per shipment, and a void decided by someone other than its requester,
//! once ([`crate::guards::VOID_OWN_REQUEST`],
//! [`crate::guards::VOID_DECIDED`], and a `CHECK` behind them).

use anshin_domain::{
    ShiftId, ShipmentId, StaffId, StaffSessionId, TerminalId, Timestamp, VoidRequestId,
};

use crate::StoreError;

/// Whether a terminal may be checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalStatus {
    Active,
    /// Out of use for good; kept for the shift log.
    Retired,
}

impl TerminalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TerminalStatus::Active => "active",
            TerminalStatus::Retired => "retired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(TerminalStatus::Active),
            "retired" => Some(TerminalStatus::Retired),
            _ => None,
        }
    }
}

/// A terminal to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTerminal {
    pub id: TerminalId,
    /// The name written on the device.
    pub label: String,
    pub serial: String,
    pub registered_at: Timestamp,
    pub registered_by: StaffId,
}

/// A terminal as stored, with the open shift it is checked out to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalRecord {
    pub id: TerminalId,
    pub label: String,
    pub serial: String,
    pub status: TerminalStatus,
    pub registered_at: Timestamp,
    pub registered_by: StaffId,
    pub retired_at: Option<Timestamp>,
    /// The open shift holding it, if checked out.
    pub checked_out_to: Option<ShiftId>,
}

/// A check-in: a shift to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShift {
    pub id: ShiftId,
    pub staff: StaffId,
    pub terminal: TerminalId,
    /// The console session the shift works from.
    pub session: StaffSessionId,
    pub started_at: Timestamp,
}

/// Why a shift ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftEnd {
    /// The worker checked out and returned the terminal.
    CheckedOut,
    /// The worker's account was disabled mid-shift.
    StaffDisabled,
    /// A shipping manager ended the shift (forgotten open, the worker
    /// gone); recorded with the manager as the actor.
    EndedByManager,
}

impl ShiftEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            ShiftEnd::CheckedOut => "checked_out",
            ShiftEnd::StaffDisabled => "staff_disabled",
            ShiftEnd::EndedByManager => "ended_by_manager",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "checked_out" => Some(ShiftEnd::CheckedOut),
            "staff_disabled" => Some(ShiftEnd::StaffDisabled),
            "ended_by_manager" => Some(ShiftEnd::EndedByManager),
            _ => None,
        }
    }
}

/// A shift as stored (the shift log's line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftRecord {
    pub id: ShiftId,
    pub staff: StaffId,
    pub terminal: TerminalId,
    pub terminal_label: String,
    pub session: StaffSessionId,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub end: Option<ShiftEnd>,
}

impl ShiftRecord {
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// Where a void request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidStatus {
    Pending,
    Approved,
    Rejected,
}

impl VoidStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VoidStatus::Pending => "pending",
            VoidStatus::Approved => "approved",
            VoidStatus::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(VoidStatus::Pending),
            "approved" => Some(VoidStatus::Approved),
            "rejected" => Some(VoidStatus::Rejected),
            _ => None,
        }
    }
}

/// A worker's request to void a waybill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVoidRequest {
    pub id: VoidRequestId,
    pub shipment: ShipmentId,
    pub requested_by: StaffId,
    /// The requester's open shift.
    pub shift: ShiftId,
    /// The worker's words (never copied into the audit log).
    pub reason: String,
    pub at: Timestamp,
}

/// A void request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidRequestRecord {
    pub id: VoidRequestId,
    pub shipment: ShipmentId,
    pub requested_by: StaffId,
    pub requested_shift: ShiftId,
    pub reason: String,
    pub requested_at: Timestamp,
    pub status: VoidStatus,
    pub decided_by: Option<StaffId>,
    pub decided_shift: Option<ShiftId>,
    pub decided_at: Option<Timestamp>,
}

/// Reads of the shipping centre's registry, shifts and void requests.
#[async_trait::async_trait]
pub trait CentreRepo: Send + Sync {
    /// Every terminal, by label.
    async fn list_terminals(&self) -> Result<Vec<TerminalRecord>, StoreError>;

    async fn find_terminal(&self, id: TerminalId) -> Result<Option<TerminalRecord>, StoreError>;

    /// The staff member's open shift, if any.
    async fn open_shift_of(&self, staff: StaffId) -> Result<Option<ShiftRecord>, StoreError>;

    /// The shift log: the latest `limit` shifts, newest first.
    async fn list_shifts(&self, limit: u32) -> Result<Vec<ShiftRecord>, StoreError>;

    async fn find_void_request(
        &self,
        id: VoidRequestId,
    ) -> Result<Option<VoidRequestRecord>, StoreError>;

    /// Void requests in `status`, oldest first, at most `limit`.
    async fn list_void_requests(
        &self,
        status: VoidStatus,
        limit: u32,
    ) -> Result<Vec<VoidRequestRecord>, StoreError>;
}

//! The words anshin's core and its store share, as types that can only
//! hold valid values: ids that cannot be mixed up ([`MemberId`] is not a
//! [`SessionId`]), normalised e-mail addresses, integer yen and prices, one
//! time type, the catalog's texts and media keys, and the closed sets of
//! states the database stores (flow purposes, login methods and outcomes,
//! mail states, item and shop states) or a form offers (contact topics).
//!
//! Why a crate of its own: the store sits below the core (it must not know
//! the use cases), yet its signatures should speak these types rather than
//! `&str` and `i64`. Both depend on this crate; it depends on nothing of
//! anshin's and does no I/O (ADR 0007).
//!
//! Personal data in here ([`EmailAddress`], [`DisplayName`]) redacts itself
//! in `Debug` and implements neither `Display` nor `Serialize`.

mod contact;
mod email;
mod ids;
mod lang;
mod login;
mod mail;
mod money;
mod order;
mod payout;
mod shipping;
mod shop;
mod staff;
mod time;

pub use contact::ContactTopic;
pub use email::{DisplayName, DisplayNameError, EmailAddress};
pub use ids::{
    AddressId, AlertId, AttemptId, EventId, FlowId, ImageId, IncidentEntryId, IncidentId, ItemId,
    LedgerTxId, MailId, MemberId, OrderId, ParcelEventId, PayoutBatchId, PayoutId, RefundId,
    SelfScanId, SessionId, ShiftId, ShipmentId, ShopId, StaffId, StaffPasskeyId, StaffSessionId,
    TerminalId, VdpNoteId, VdpReportId, VoidRequestId,
};
pub use lang::Lang;
pub use login::{FlowPurpose, LoginMethod, LoginOutcome};
pub use mail::MailStatus;
pub use money::{Price, Yen};
pub use order::{AttemptStatus, LedgerAccount, OrderStatus, Quantity, RefundStatus};
pub use payout::PayoutStatus;
pub use shipping::{DropoffCodeStatus, ParcelEventKind, ShipmentStatus};
pub use shop::{
    ImageFormat, ItemDescription, ItemStatus, ItemTitle, MediaKey, MediaKind, ShopDescription,
    ShopName, ShopStatus, Stock,
};
pub use staff::{StaffRole, StaffStatus};
pub use time::{Duration, JST_OFFSET_SECS, Timestamp};

/// A stored text that names none of a closed set's values: the database
/// holds something this build does not know (or a row was altered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownValue {
    /// The set, e.g. `"flow purpose"`.
    pub set: &'static str,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {}", self.set)
    }
}

impl std::error::Error for UnknownValue {}

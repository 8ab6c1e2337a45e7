//! Where a payout is (C16).

use crate::UnknownValue;

/// A payout's life: `requested` (its amount held in the ledger), then
/// `batched` (in a transfer file), then `paid` or `failed` (the hold
/// posted or voided). Paid and failed are final and carry the
/// completion time from which retention counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayoutStatus {
    Requested,
    Batched,
    Paid,
    Failed,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 4] = [
        PayoutStatus::Requested,
        PayoutStatus::Batched,
        PayoutStatus::Paid,
        PayoutStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Requested => "requested",
            PayoutStatus::Batched => "batched",
            PayoutStatus::Paid => "paid",
            PayoutStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(UnknownValue {
                set: "payout status",
            })
    }

    /// Paid or failed: nothing moves it any more.
    pub fn is_final(self) -> bool {
        matches!(self, PayoutStatus::Paid | PayoutStatus::Failed)
    }
}

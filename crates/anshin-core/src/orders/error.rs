//! What the order use cases refuse.

use anshin_store::{StoreError, Unbalanced, guards};

use crate::member_data::MemberDataError;
use crate::payments::ProcessorError;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// No such order of this member (another member's order answers
    /// exactly like a missing one).
    #[error("no such order")]
    NotFound,
    /// The order is not in a state that allows this step (shipped twice,
    /// a refund of an unpaid order).
    #[error("the order does not allow this now")]
    WrongState,
    /// A refund amount that is not a whole number of yen above zero.
    #[error("invalid refund amount")]
    InvalidAmount,
    /// More than what is left to refund.
    #[error("the refund passes what is left")]
    RefundTooLarge,
    /// Another refund of this order was requested at the same moment.
    #[error("another refund is under way")]
    RefundInProgress,
    /// The processor refused or could not be reached.
    #[error(transparent)]
    Processor(#[from] ProcessorError),
    /// The order's shipping snapshot does not decrypt.
    #[error("shipping snapshot: {0}")]
    Unreadable(#[from] MemberDataError),
    /// The ledger would not balance (a bug; nothing was written).
    #[error("ledger: {0}")]
    Ledger(#[from] Unbalanced),
    /// The anonymous shipment could not be prepared (a
    /// `shipping::ShippingError`, boxed so that this module does not
    /// import the shipping module, which builds on the orders').
    #[error("shipping: {0}")]
    Shipping(Box<dyn std::error::Error + Send + Sync>),
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::compose::SealError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for OrderError {
    fn from(e: StoreError) -> Self {
        if e.is_precondition(guards::ORDER_NOT_FOUND) {
            OrderError::NotFound
        } else if e.is_precondition(guards::ORDER_STATE) {
            OrderError::WrongState
        } else if e.is_precondition(guards::REFUND_TOO_LARGE) {
            OrderError::RefundTooLarge
        } else if e.is_precondition(guards::REFUND_RACE) {
            OrderError::RefundInProgress
        } else {
            OrderError::Store(e)
        }
    }
}

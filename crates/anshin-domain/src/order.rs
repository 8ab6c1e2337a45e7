//! Orders, payments and the ledger as closed sets: where an order stands
//! and where it may go next ([`OrderStatus::can_become`], the one state
//! machine every write follows), how many of an item a buyer may take
//! ([`Quantity`]), where a payment attempt and a refund stand, and the
//! accounts of the double-entry ledger.

use serde::{Deserialize, Serialize};

use crate::UnknownValue;

/// Where an order stands.
///
/// ```text
/// awaiting_payment ─┬─> paid ─> shipped ─> delivered ─> completed
///                   └─> cancelled    │          │           │
///          paid / shipped / delivered / completed ─> refunded (in full)
/// ```
///
/// A partial refund leaves the status as it is and raises the order's
/// refunded amount; the refund of the last yen makes it `refunded`.
/// `cancelled` and `refunded` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created with its stock reserved; waits for the processor.
    AwaitingPayment,
    /// The processor took the money.
    Paid,
    /// The seller sent it.
    Shipped,
    /// The buyer received it.
    Delivered,
    /// Closed: nothing is expected of anyone any more.
    Completed,
    /// Never paid (declined, abandoned, reservation expired): the stock
    /// went back.
    Cancelled,
    /// Every yen went back to the buyer.
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::AwaitingPayment,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(UnknownValue {
                set: "order status",
            })
    }

    /// Whether the state machine allows `self → next`.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus as S;
        matches!(
            (self, next),
            (S::AwaitingPayment, S::Paid | S::Cancelled)
                | (S::Paid, S::Shipped)
                | (S::Shipped, S::Delivered)
                | (S::Delivered, S::Completed)
                | (
                    S::Paid | S::Shipped | S::Delivered | S::Completed,
                    S::Refunded
                )
        )
    }

    /// Money was taken and not all of it returned: a refund may follow.
    pub fn is_refundable(self) -> bool {
        self.can_become(OrderStatus::Refunded)
    }

    /// No transition leaves it.
    pub fn is_final(self) -> bool {
        Self::ALL.into_iter().all(|n| !self.can_become(n))
    }

    /// The processor holds (or held) the buyer's money for this order.
    pub fn was_paid(self) -> bool {
        !matches!(self, OrderStatus::AwaitingPayment | OrderStatus::Cancelled)
    }
}

/// How many of one item a cart line or an order line holds: 1 to
/// [`Quantity::MAX`]. Zero, negative, fractional and huge counts do not
/// parse, so no code path can order `-1` mugs (which would *add* stock)
/// or overflow a total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    /// 99 per line: a creator's shop, not a wholesaler.
    pub const MAX: u32 = 99;
    pub const ONE: Quantity = Quantity(1);

    pub const fn new(n: u32) -> Option<Self> {
        if n >= 1 && n <= Self::MAX {
            Some(Self(n))
        } else {
            None
        }
    }

    /// What a person types or an API client sends: digits (full-width
    /// too) from 1 to 99; nothing else.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.is_empty() || t.chars().count() > 3 {
            return None;
        }
        let mut n: u32 = 0;
        for c in t.chars() {
            let d = match c {
                '0'..='9' => c as u32 - '0' as u32,
                '０'..='９' => c as u32 - '０' as u32,
                _ => return None,
            };
            n = n * 10 + d;
        }
        Self::new(n)
    }

    pub const fn get(self) -> u32 {
        self.0
    }

    /// What the store keeps.
    pub fn to_db(self) -> i64 {
        i64::from(self.0)
    }

    pub fn from_db(n: i64) -> Option<Self> {
        u32::try_from(n).ok().and_then(Self::new)
    }
}

/// Where one try at paying stands (one PaymentIntent at the processor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Written before the processor is asked: if the server dies now,
    /// reconciliation finds it and asks the processor what happened.
    Started,
    /// The card issuer wants the buyer to authenticate (3-D Secure).
    RequiresAction,
    /// Paid; the order is paid by this attempt.
    Succeeded,
    /// Declined, or authentication failed; the buyer may try another card.
    Failed,
    /// Given up (reservation expired, server died before confirming): the
    /// intent was cancelled at the processor.
    Abandoned,
}

impl AttemptStatus {
    pub const ALL: [AttemptStatus; 5] = [
        AttemptStatus::Started,
        AttemptStatus::RequiresAction,
        AttemptStatus::Succeeded,
        AttemptStatus::Failed,
        AttemptStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Started => "started",
            AttemptStatus::RequiresAction => "requires_action",
            AttemptStatus::Succeeded => "succeeded",
            AttemptStatus::Failed => "failed",
            AttemptStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(UnknownValue {
                set: "payment attempt status",
            })
    }

    /// Still waiting for the processor or the buyer.
    pub fn is_live(self) -> bool {
        matches!(self, AttemptStatus::Started | AttemptStatus::RequiresAction)
    }
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Written before the processor is asked (its amount is held against
    /// the order, so a second refund cannot pass the total meanwhile).
    Pending,
    Succeeded,
    /// The processor refused it; the amount is free again.
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        match text {
            "pending" => Ok(RefundStatus::Pending),
            "succeeded" => Ok(RefundStatus::Succeeded),
            "failed" => Ok(RefundStatus::Failed),
            _ => Err(UnknownValue {
                set: "refund status",
            }),
        }
    }
}

/// An account of the double-entry ledger. Amounts are signed: a posting
/// of `+n` debits the account, `-n` credits it, and every transaction's
/// postings sum to zero. A payment debits the clearing account with the
/// total and credits the seller (total - fee) and the fee revenue; a
/// refund reverses the refunded part of each (the fee in proportion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerAccount {
    /// What the payment processor holds for the platform (an asset: its
    /// balance is debit, never below zero).
    ProcessorClearing,
    /// What the platform owes a seller (a liability, one per shop: its
    /// balance is credit, never below zero).
    SellerPayable,
    /// The platform's fees (revenue: credit, never below zero).
    PlatformFeeRevenue,
    /// What the platform owes buyers for money it may not keep: a payment
    /// that succeeded after its order was cancelled, or through another
    /// intent than the one that paid it, until it is given back (a
    /// liability: credit, never below zero; zero once returned).
    RefundsPayable,
    /// Payouts requested and not yet settled (C16): a creator's amount
    /// moves here from their payable when they ask, and leaves it when
    /// the bank paid (to the clearing account and the transfer fee) or
    /// back to the payable when the transfer failed (a liability: credit,
    /// never below zero; zero once every payout settled).
    PayoutsPending,
    /// Transfer fees charged to creators on their payouts (revenue:
    /// credit, never below zero).
    PayoutFeeRevenue,
}

impl LedgerAccount {
    pub const ALL: [LedgerAccount; 6] = [
        LedgerAccount::ProcessorClearing,
        LedgerAccount::SellerPayable,
        LedgerAccount::PlatformFeeRevenue,
        LedgerAccount::RefundsPayable,
        LedgerAccount::PayoutsPending,
        LedgerAccount::PayoutFeeRevenue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LedgerAccount::ProcessorClearing => "processor_clearing",
            LedgerAccount::SellerPayable => "seller_payable",
            LedgerAccount::PlatformFeeRevenue => "platform_fee_revenue",
            LedgerAccount::RefundsPayable => "refunds_payable",
            LedgerAccount::PayoutsPending => "payouts_pending",
            LedgerAccount::PayoutFeeRevenue => "payout_fee_revenue",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or(UnknownValue {
                set: "ledger account",
            })
    }

    /// Whether a posting to this account names a shop (one sub-account
    /// per seller).
    pub fn per_shop(self) -> bool {
        matches!(self, LedgerAccount::SellerPayable)
    }

    /// +1 if the account's natural balance is a debit (an asset), -1 if
    /// a credit (liabilities, revenue): the balance a person reads is
    /// `sign * sum(postings)`, and it must never be below zero.
    pub fn normal_sign(self) -> i64 {
        match self {
            LedgerAccount::ProcessorClearing => 1,
            LedgerAccount::SellerPayable
            | LedgerAccount::PlatformFeeRevenue
            | LedgerAccount::RefundsPayable
            | LedgerAccount::PayoutsPending
            | LedgerAccount::PayoutFeeRevenue => -1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_state_machine_has_exactly_these_edges() {
        use OrderStatus as S;
        let allowed = [
            (S::AwaitingPayment, S::Paid),
            (S::AwaitingPayment, S::Cancelled),
            (S::Paid, S::Shipped),
            (S::Shipped, S::Delivered),
            (S::Delivered, S::Completed),
            (S::Paid, S::Refunded),
            (S::Shipped, S::Refunded),
            (S::Delivered, S::Refunded),
            (S::Completed, S::Refunded),
        ];
        for a in S::ALL {
            for b in S::ALL {
                assert_eq!(a.can_become(b), allowed.contains(&(a, b)), "{a:?} -> {b:?}");
            }
        }
        assert!(S::Cancelled.is_final() && S::Refunded.is_final());
        assert!(
            !S::Completed.is_final(),
            "a completed order may still be refunded"
        );
        assert!(!S::AwaitingPayment.is_refundable() && !S::Cancelled.is_refundable());
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Ok(s));
        }
    }

    #[test]
    fn quantities_are_one_to_ninety_nine() {
        assert_eq!(Quantity::parse("1").map(Quantity::get), Some(1));
        assert_eq!(Quantity::parse("９９").map(Quantity::get), Some(99));
        for bad in [
            "0",
            "-1",
            "100",
            "1.5",
            "",
            " ",
            "1e2",
            "+1",
            "0x1",
            "99999999999",
        ] {
            assert_eq!(Quantity::parse(bad), None, "{bad}");
        }
        assert_eq!(Quantity::from_db(-1), None);
        assert_eq!(Quantity::from_db(3).map(Quantity::to_db), Some(3));
    }

    #[test]
    fn closed_sets_parse_back() {
        for s in AttemptStatus::ALL {
            assert_eq!(AttemptStatus::parse(s.as_str()), Ok(s));
        }
        for a in LedgerAccount::ALL {
            assert_eq!(LedgerAccount::parse(a.as_str()), Ok(a));
        }
        for r in [
            RefundStatus::Pending,
            RefundStatus::Succeeded,
            RefundStatus::Failed,
        ] {
            assert_eq!(RefundStatus::parse(r.as_str()), Ok(r));
        }
        assert!(OrderStatus::parse("PAID").is_err());
    }

    proptest! {
        /// Whatever sequence of transitions is tried, only allowed ones
        /// change the state, and a final state is never left.
        #[test]
        fn any_walk_follows_the_machine(steps in proptest::collection::vec(0usize..7, 0..30)) {
            let mut s = OrderStatus::AwaitingPayment;
            for i in steps {
                let next = OrderStatus::ALL[i];
                let was_final = s.is_final();
                if s.can_become(next) {
                    prop_assert!(!was_final);
                    s = next;
                }
            }
        }

        #[test]
        fn quantity_parse_never_panics(s in ".{0,8}") {
            if let Some(q) = Quantity::parse(&s) {
                prop_assert!((1..=99).contains(&q.get()));
            }
        }
    }
}

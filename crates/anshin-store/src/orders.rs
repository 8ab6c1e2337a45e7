//! Cart, orders, payment attempts, processor events, refunds and the
//! double-entry ledger (issue 13, C15).
//!
//! Reads are [`OrderRepo`] methods; every write is a [`crate::Write`] in a
//! [`crate::Changes`] bundle, and ledger transactions ride in the same
//! bundle (`Changes::ledger`), so a state change and its postings commit
//! together or not at all.
//!
//! The guards that make money safe are single statements:
//! - stock is reserved by `UPDATE items SET stock = stock - n WHERE id = ..
//!   AND stock >= n` (no read-then-write), so two instances racing for the
//!   last item cannot both get it;
//! - every order transition is `UPDATE orders SET status = <to> WHERE id =
//!   .. AND status = <from>`, so a webhook, the buyer's browser and the
//!   reconciliation job can all report the same payment and only one of
//!   them changes the order;
//! - a processor event id and a ledger transaction key are unique: the
//!   same event or payment can never take effect twice;
//! - a refund is held against the order's total in the statement that
//!   numbers it, so two refunds can never pass the total.

use anshin_domain::{
    AddressId, AttemptId, AttemptStatus, ItemId, ItemStatus, LedgerAccount, LedgerTxId, MemberId,
    OrderId, OrderStatus, Price, Quantity, RefundId, RefundStatus, SessionId, ShopId, ShopName,
    ShopStatus, Stock, Timestamp, Yen,
};

use crate::StoreError;

/// A line of a session's cart, with what the cart page shows of its item
/// (read now: prices are never remembered from when it was added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub item_id: ItemId,
    pub quantity: Quantity,
    pub added_at: Timestamp,
    pub shop_id: ShopId,
    pub shop_name: ShopName,
    pub shop_status: ShopStatus,
    pub title: anshin_domain::ItemTitle,
    pub price: Price,
    pub stock: Stock,
    pub item_status: ItemStatus,
}

/// One line of a new order: the item, how many, and the price and title
/// the core read (the store refuses the order if the price changed
/// since).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderLine {
    pub item_id: ItemId,
    pub title: String,
    pub unit_price: Yen,
    pub quantity: Quantity,
}

/// A new order with everything written at checkout.
#[derive(Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub id: OrderId,
    pub buyer_id: MemberId,
    /// The buyer's session: the ordered lines leave its cart.
    pub session_id: SessionId,
    pub shop_id: ShopId,
    pub seller_id: MemberId,
    pub subtotal: Yen,
    pub fee: Yen,
    pub total: Yen,
    pub shipping_address_id: AddressId,
    /// The address as it was, sealed under the buyer's data key.
    pub shipping_ciphertext: Vec<u8>,
    pub reserved_until: Timestamp,
    pub lines: Vec<NewOrderLine>,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for NewOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewOrder")
            .field("id", &self.id)
            .field("shop_id", &self.shop_id)
            .field("total", &self.total)
            .field("lines", &self.lines)
            .finish_non_exhaustive()
    }
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub id: OrderId,
    pub buyer_id: MemberId,
    pub shop_id: ShopId,
    pub seller_id: MemberId,
    pub status: OrderStatus,
    pub subtotal: Yen,
    pub fee: Yen,
    pub total: Yen,
    pub refunded: Yen,
    pub shipping_address_id: Option<AddressId>,
    pub reserved_until: Timestamp,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub paid_intent_id: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub shipped_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
}

/// A line of an order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLineRecord {
    pub item_id: ItemId,
    pub title: String,
    pub unit_price: Yen,
    pub quantity: Quantity,
}

/// A new payment attempt, written before the processor is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttempt {
    pub id: AttemptId,
    pub order_id: OrderId,
    pub buyer_id: MemberId,
    pub attempt_no: i64,
    pub idempotency_key: String,
    /// The processor's reference to the tokenised card, never card data.
    pub payment_method: String,
    pub created_at: Timestamp,
}

/// A payment attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub id: AttemptId,
    pub order_id: OrderId,
    pub attempt_no: i64,
    pub idempotency_key: String,
    pub payment_method: String,
    pub intent_id: Option<String>,
    pub status: AttemptStatus,
    pub failure_code: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A refund as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub id: RefundId,
    pub order_id: OrderId,
    pub seq: i64,
    pub amount: Yen,
    pub idempotency_key: String,
    pub processor_refund_id: Option<String>,
    pub status: RefundStatus,
    pub requested_by: MemberId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new refund, holding its amount against the order until it settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    pub id: RefundId,
    pub order_id: OrderId,
    pub seq: i64,
    pub amount: Yen,
    pub idempotency_key: String,
    pub requested_by: MemberId,
    pub created_at: Timestamp,
}

/// What a ledger transaction records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerKind {
    Payment,
    Refund,
    /// A payment that succeeded after its order was cancelled, or through
    /// another intent than the one that paid it: taken by the processor,
    /// owed back to the buyer.
    LatePayment,
    /// That payment given back.
    LateRefund,
    /// A creator asked for a payout: their payable moves to payouts
    /// pending (`payout_hold:<payout>`).
    PayoutHold,
    /// The bank paid it: pending leaves to the clearing account and the
    /// transfer fee (`payout_paid:<payout>`).
    PayoutPaid,
    /// The transfer failed: the hold goes back to the payable
    /// (`payout_void:<payout>`).
    PayoutVoid,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Payment => "payment",
            LedgerKind::Refund => "refund",
            LedgerKind::LatePayment => "late_payment",
            LedgerKind::LateRefund => "late_refund",
            LedgerKind::PayoutHold => "payout_hold",
            LedgerKind::PayoutPaid => "payout_paid",
            LedgerKind::PayoutVoid => "payout_void",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "payment" => Some(LedgerKind::Payment),
            "refund" => Some(LedgerKind::Refund),
            "late_payment" => Some(LedgerKind::LatePayment),
            "late_refund" => Some(LedgerKind::LateRefund),
            "payout_hold" => Some(LedgerKind::PayoutHold),
            "payout_paid" => Some(LedgerKind::PayoutPaid),
            "payout_void" => Some(LedgerKind::PayoutVoid),
            _ => None,
        }
    }
}

/// One posting: an amount (+ debit, - credit, never zero) to an account
/// (a seller's payable names its shop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Posting {
    pub account: LedgerAccount,
    pub shop: Option<ShopId>,
    pub amount: Yen,
}

/// A balanced transaction of the double-entry ledger. Only
/// [`LedgerTransaction::balanced`] makes one, and it refuses postings that
/// do not sum to zero, a zero amount, or a seller account without its
/// shop; the store checks the sum once more before it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTransaction {
    id: LedgerTxId,
    key: String,
    kind: LedgerKind,
    order: Option<OrderId>,
    at: Timestamp,
    postings: Vec<Posting>,
}

/// Why postings do not make a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unbalanced {
    #[error("the postings do not sum to zero")]
    NonZeroSum,
    #[error("a posting of zero yen")]
    ZeroPosting,
    #[error("a seller's account without its shop, or a shop on another account")]
    ShopMismatch,
    #[error("no postings")]
    Empty,
    #[error("the sum overflows")]
    Overflow,
}

impl LedgerTransaction {
    /// A transaction whose `key` names the business event it records
    /// (`payment:<order>`, `refund:<refund>`): the store keeps one
    /// transaction per key, so the same event is never posted twice.
    pub fn balanced(
        id: LedgerTxId,
        key: String,
        kind: LedgerKind,
        order: Option<OrderId>,
        at: Timestamp,
        postings: Vec<Posting>,
    ) -> Result<Self, Unbalanced> {
        check_balanced(&postings)?;
        Ok(Self {
            id,
            key,
            kind,
            order,
            at,
            postings,
        })
    }

    pub fn id(&self) -> LedgerTxId {
        self.id
    }
    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn kind(&self) -> LedgerKind {
        self.kind
    }
    pub fn order(&self) -> Option<OrderId> {
        self.order
    }
    pub fn at(&self) -> Timestamp {
        self.at
    }
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }
}

/// The rules every transaction keeps (also what `anshin ledger check`
/// verifies on what is stored).
pub fn check_balanced(postings: &[Posting]) -> Result<(), Unbalanced> {
    if postings.is_empty() {
        return Err(Unbalanced::Empty);
    }
    let mut sum = Yen::ZERO;
    for p in postings {
        if p.amount == Yen::ZERO {
            return Err(Unbalanced::ZeroPosting);
        }
        if p.account.per_shop() != p.shop.is_some() {
            return Err(Unbalanced::ShopMismatch);
        }
        sum = sum.checked_add(p.amount).ok_or(Unbalanced::Overflow)?;
    }
    if sum != Yen::ZERO {
        return Err(Unbalanced::NonZeroSum);
    }
    Ok(())
}

/// A stored ledger transaction with its postings (what the check and the
/// replay tests read back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTransaction {
    pub id: LedgerTxId,
    pub key: String,
    pub kind: LedgerKind,
    pub order: Option<OrderId>,
    pub at: Timestamp,
    pub postings: Vec<Posting>,
}

/// The balance of one account (one shop's, for a seller's payable) as
/// the sum of its postings (+ debit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountSum {
    pub account: LedgerAccount,
    pub shop: Option<ShopId>,
    pub sum: Yen,
}

/// Who may see or act on an order (the query scopes by it, so another
/// member's order id finds nothing: no IDOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderParty {
    Buyer(MemberId),
    Seller(MemberId),
}

#[async_trait::async_trait]
pub trait OrderRepo: Send + Sync {
    /// The session's cart, oldest line first, with each item as it is now.
    async fn cart(&self, session: SessionId) -> Result<Vec<CartLine>, StoreError>;

    /// An order, whoever's (the core decides who may see it).
    async fn order(&self, id: OrderId) -> Result<Option<OrderRecord>, StoreError>;

    /// An order if `party` is its buyer or seller; `None` otherwise.
    async fn order_for(
        &self,
        id: OrderId,
        party: OrderParty,
    ) -> Result<Option<OrderRecord>, StoreError>;

    async fn order_lines(&self, id: OrderId) -> Result<Vec<OrderLineRecord>, StoreError>;

    /// One page of the party's orders, newest first; a seller's holds
    /// only those that were paid (an unpaid order is the buyer's alone).
    async fn orders_of(
        &self,
        party: OrderParty,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, StoreError>;

    /// The sealed shipping snapshot: (buyer, ciphertext).
    async fn order_shipping(&self, id: OrderId) -> Result<Option<(MemberId, Vec<u8>)>, StoreError>;

    /// The order's payment attempts, first one first.
    async fn attempts(&self, order: OrderId) -> Result<Vec<AttemptRecord>, StoreError>;

    async fn attempt(&self, id: AttemptId) -> Result<Option<AttemptRecord>, StoreError>;

    /// The attempt that created this processor intent.
    async fn attempt_by_intent(&self, intent: &str) -> Result<Option<AttemptRecord>, StoreError>;

    /// Live attempts (started, requires action) not updated since
    /// `before`: reconciliation asks the processor about them.
    async fn stale_attempts(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<AttemptRecord>, StoreError>;

    /// Unpaid orders whose reservation ended before `now`.
    async fn expired_orders(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, StoreError>;

    /// Delivered orders delivered before `before` (to complete).
    async fn delivered_before(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, StoreError>;

    async fn refunds(&self, order: OrderId) -> Result<Vec<RefundRecord>, StoreError>;

    async fn refund(&self, id: RefundId) -> Result<Option<RefundRecord>, StoreError>;

    /// Pending refunds not updated since `before`.
    async fn stale_refunds(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<RefundRecord>, StoreError>;

    /// Whether a processor event id was recorded.
    async fn event_seen(&self, event_id: &str) -> Result<bool, StoreError>;

    /// The sum of postings per account (and shop).
    async fn account_sums(&self) -> Result<Vec<AccountSum>, StoreError>;

    /// A seller's payable (credit balance, as a positive amount when the
    /// platform owes the shop).
    async fn seller_balance(&self, shop: ShopId) -> Result<Yen, StoreError>;

    /// The member's open orders, as (buyer, seller): awaiting payment,
    /// paid, shipped, or delivered and not completed; plus those with a
    /// pending refund. What a withdrawal waits for (C18).
    async fn open_orders_of(&self, member: MemberId) -> Result<(u64, u64), StoreError>;

    /// One page of ledger transactions in id order, after `after`.
    async fn ledger_page(
        &self,
        after: Option<LedgerTxId>,
        limit: u32,
    ) -> Result<Vec<StoredTransaction>, StoreError>;

    /// One page of every order in id order, after `after` (the ledger
    /// check walks them).
    async fn orders_page(
        &self,
        after: Option<OrderId>,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, StoreError>;

    /// The order's ledger transactions, oldest first.
    async fn ledger_of_order(&self, order: OrderId) -> Result<Vec<StoredTransaction>, StoreError>;
}

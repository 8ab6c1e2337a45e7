//! Orders after checkout: the one state machine
//! (`anshin_domain::OrderStatus`), every transition through the one write
//! path with its ledger postings and its letters to both sides, the
//! buyer's and the seller's views, refunds, processor webhooks and the
//! reconciliation job.
//!
//! # What an attacker tries, and what stops it (each has a test)
//! - **Reading another member's order (IDOR)** by its id, on the order
//!   pages or the API: every read is `order_for(id, Buyer(me))` or
//!   `Seller(me)` in SQL; another's id answers 404 exactly like a missing
//!   one (`checkout::c15_idor_*`). The seller's view has no field for the
//!   buyer's name or address (C19).
//! - **Shipping, refunding or completing someone else's order**: the same
//!   party scope is in each guarded `UPDATE`; the seller ships, the buyer
//!   receives, nobody skips a step (`orders_fulfilment_steps_…`).
//! - **Forged or replayed webhooks**: a bad or missing signature, a body
//!   changed after signing, a timestamp outside the tolerance are refused
//!   with 400/401 before anything is read ([`events`]); a valid event
//!   delivered again, or out of order, is applied once: its id is unique
//!   and recorded in the same transaction as its effect, the order moves
//!   only from `awaiting_payment`, and the ledger key `payment:<order>`
//!   is unique (`c15_webhook_*`).
//! - **Double refunds** (a double click, two tabs, a retry after a
//!   crash): refunds are numbered in the statement that holds their
//!   amount against the order, the processor's idempotency key is
//!   `anshin:<order>:refund:<n>`, and a refund settles once
//!   (`c15_double_refund_*`).
//! - **A refund larger than the payment, or negative**: refused by the
//!   core, by the guarded insert, by the processor and by the schema's
//!   `CHECK (refunded_yen <= total_yen)`.

pub mod error;
pub mod events;
pub mod notices;
pub mod reconcile;
pub mod transitions;
pub mod view;

pub use anshin_store::{OrderLineRecord, OrderRecord, RefundRecord};
pub use error::OrderError;
pub use events::{WebhookError, WebhookOutcome, receive};
pub use notices::order_number;
pub use reconcile::{ReconcileJob, Reconciled, reconcile};
pub use transitions::{
    PayOutcome, RefundOutcome, apply_intent, complete, expire, receive as mark_received, refund,
    ship,
};
pub use view::{
    BuyerOrder, OrderList, OrderView, SellerOrder, buyer_orders, for_buyer, for_seller,
    seller_orders,
};

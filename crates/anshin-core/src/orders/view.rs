//! Orders as their buyer and their seller see them. Each read is scoped
//! to the party in the query (`order_for`), so another member's order id
//! answers exactly like a missing one. The buyer sees where it goes (the
//! sealed snapshot, decrypted here); the seller never does (C19): the
//! seller's view has no field that could hold it.

use anshin_domain::{AttemptStatus, MemberId, OrderId, OrderStatus, Yen};
use anshin_store::{OrderLineRecord, OrderParty, OrderRecord, RefundRecord};

use super::error::OrderError;
use super::notices::order_number;
use crate::Services;
use crate::member_data::ShippingAddress;
use crate::payments::fees::fee_kept;

/// What both sides see of an order.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub order: OrderRecord,
    pub number: String,
    pub lines: Vec<OrderLineRecord>,
    pub refunds: Vec<RefundRecord>,
}

/// The buyer's view: where it goes, and why the last payment failed.
#[derive(Debug, Clone)]
pub struct BuyerOrder {
    pub view: OrderView,
    /// The address the order was placed with (as it was then).
    pub ship_to: Option<ShippingAddress>,
    /// The code of the last failed attempt, if the order still awaits
    /// payment.
    pub last_decline: Option<String>,
    /// An attempt is under way (a double submit, 3-D Secure open).
    pub attempt_live: bool,
}

/// The seller's view: amounts and the shop's share, never the buyer.
#[derive(Debug, Clone)]
pub struct SellerOrder {
    pub view: OrderView,
    /// The platform fee kept after refunds.
    pub fee: Yen,
    /// What the shop receives: total − refunds − fee kept.
    pub seller_receives: Yen,
    /// What can still be refunded.
    pub refundable: Yen,
}

async fn view(svc: &Services, order: OrderRecord) -> Result<OrderView, OrderError> {
    let repo = svc.store.orders();
    Ok(OrderView {
        number: order_number(order.id),
        lines: repo.order_lines(order.id).await?,
        refunds: repo.refunds(order.id).await?,
        order,
    })
}

/// The buyer's order; [`OrderError::NotFound`] unless it is theirs.
pub async fn for_buyer(
    svc: &Services,
    buyer: MemberId,
    id: OrderId,
) -> Result<BuyerOrder, OrderError> {
    let repo = svc.store.orders();
    let order = repo
        .order_for(id, OrderParty::Buyer(buyer))
        .await?
        .ok_or(OrderError::NotFound)?;
    let ship_to = match repo.order_shipping(id).await? {
        Some((member, ct)) if member == buyer => {
            Some(crate::member_data::sealed::open_order_shipping(svc, buyer, id, &ct).await?)
        }
        _ => None,
    };
    let attempts = repo.attempts(id).await?;
    let last_decline = if order.status == OrderStatus::AwaitingPayment {
        attempts
            .iter()
            .rev()
            .find(|a| a.status == AttemptStatus::Failed)
            .and_then(|a| a.failure_code.clone())
    } else {
        None
    };
    Ok(BuyerOrder {
        attempt_live: attempts.iter().any(|a| a.status.is_live()),
        last_decline,
        ship_to,
        view: view(svc, order).await?,
    })
}

/// The seller's order; [`OrderError::NotFound`] unless it is an order of
/// the member's shop that was paid (an unpaid order is not a sale yet).
pub async fn for_seller(
    svc: &Services,
    seller: MemberId,
    id: OrderId,
) -> Result<SellerOrder, OrderError> {
    let order = svc
        .store
        .orders()
        .order_for(id, OrderParty::Seller(seller))
        .await?
        .filter(|o| o.status.was_paid())
        .ok_or(OrderError::NotFound)?;
    let fee = fee_kept(order.fee, order.total, order.refunded);
    let left = order.total.amount() - order.refunded.amount();
    Ok(SellerOrder {
        fee,
        seller_receives: Yen::new(left - fee.amount()),
        refundable: Yen::new(if order.status.is_refundable() {
            left
        } else {
            0
        }),
        view: view(svc, order).await?,
    })
}

/// Orders per page in lists.
pub const PAGE_SIZE: u32 = 20;

/// One page (1-based) of a list, and whether another follows.
#[derive(Debug, Clone)]
pub struct OrderList {
    pub orders: Vec<(OrderRecord, String)>,
    pub page: u32,
    pub has_next: bool,
}

async fn list(
    svc: &Services,
    party: OrderParty,
    page: u32,
    paid_only: bool,
) -> Result<OrderList, OrderError> {
    let page = page.clamp(1, u32::MAX / PAGE_SIZE);
    let mut orders = svc
        .store
        .orders()
        .orders_of(party, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
        .await?;
    let has_next = orders.len() > PAGE_SIZE as usize;
    orders.truncate(PAGE_SIZE as usize);
    Ok(OrderList {
        orders: orders
            .into_iter()
            .filter(|o| !paid_only || o.status.was_paid())
            .map(|o| {
                let n = order_number(o.id);
                (o, n)
            })
            .collect(),
        page,
        has_next,
    })
}

/// The buyer's orders, newest first.
pub async fn buyer_orders(
    svc: &Services,
    buyer: MemberId,
    page: u32,
) -> Result<OrderList, OrderError> {
    list(svc, OrderParty::Buyer(buyer), page, false).await
}

/// The seller's paid orders, newest first, and what the platform owes the
/// member's shop (from the ledger; `None` without a shop).
pub async fn seller_orders(
    svc: &Services,
    seller: MemberId,
    page: u32,
) -> Result<(OrderList, Option<Yen>), OrderError> {
    let list = list(svc, OrderParty::Seller(seller), page, true).await?;
    let balance = match svc.store.shops().shop_of_owner(seller).await? {
        Some(shop) => Some(crate::ledger::seller_balance(svc.store.as_ref(), shop.id).await?),
        None => None,
    };
    Ok((list, balance))
}

//! The cart and checkout (issue 13): a buyer puts items in a cart kept on
//! the server for their session, checks out one shop's items to one of
//! their stored shipping addresses, and pays by card through the
//! processor (C15). Every door (the pages, the JSON API) calls these.
//!
//! Totals are whole yen, computed here from the database's prices at the
//! moment of the order: `total = Σ price × quantity`; the platform fee is
//! part of the total (the buyer pays the total; the seller receives
//! `total − fee`), computed by `payments::fees` (5.6 % + ¥22 by default,
//! rounded down to the yen, see that module).
//!
//! # What an attacker tries, and what stops it (each has a test)
//! - **Price tampering**: no request carries a price or a total. The
//!   order's prices are read from the items when it is placed, and the
//!   store reserves each line with `price_yen = <the price read>` in the
//!   same guarded statement, so a price changed in between fails the
//!   order instead of charging the old one; a price, total or fee field
//!   in a request is refused (`c15_price_in_the_request_is_refused_…`,
//!   conformance `orders_a_changed_price_…`).
//! - **Negative, zero or huge quantities**: [`anshin_domain::Quantity`]
//!   parses 1 to 99 only; the schema checks `quantity BETWEEN 1 AND 99`
//!   again (a negative quantity would otherwise *add* stock).
//! - **Racing for the last item** (many buyers, several instances): stock
//!   is taken by one statement, `UPDATE items SET stock = stock - n WHERE
//!   … AND stock >= n`; no read-then-write, so exactly as many orders as
//!   there is stock succeed, the rest are told it is sold out
//!   (`c15_fifty_buyers_ten_items_two_instances`).
//! - **Paying for someone else's order**, or reading it: every order read
//!   and every payment attempt is scoped to the buyer in SQL; another's
//!   order id is 404 like a missing one (`c15_idor_*`).
//! - **Someone else's shipping address**: the address is looked up among
//!   the buyer's own (`member_data::address`), decrypted only here, and
//!   sealed again into the order under the buyer's key; the seller's
//!   pages never decrypt it.
//! - **A card number sent to anshin**: refused unless it is a processor
//!   reference (`payments::PaymentMethodRef`), never logged.
//! - **Double submit of the pay button**: one live attempt per order
//!   (a unique index); the second is told a payment is under way.
//! - **Buying one's own items** (to fake sales): refused.

use anshin_domain::{
    AddressId, ItemId, ItemStatus, MemberId, OrderId, OrderStatus, Quantity, SessionId, ShopId,
    ShopStatus, Yen,
};
use anshin_store::{
    CartLine, Changes, NewAttempt, NewOrder, NewOrderLine, OrderParty, SessionRecord, StoreError,
    Write, guards,
};

use crate::Services;
use crate::member_data::{MemberDataError, StoredAddress};
use crate::orders::OrderError;
use crate::orders::transitions::{self, PayOutcome};
use crate::payments::{
    IntentRequest, KeyStep, PaymentMethodRef, ProcessorError, attempt_key, idempotency_key,
};

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// The session is a visitor's: checkout needs a member.
    #[error("not signed in")]
    NotSignedIn,
    /// No such item on sale in an open shop.
    #[error("the item is not for sale")]
    NotForSale,
    /// The member's own shop's item.
    #[error("one's own item")]
    OwnItem,
    /// Nothing of this shop in the cart.
    #[error("nothing to check out")]
    EmptyCart,
    /// Not one of the member's addresses.
    #[error("no such address")]
    AddressNotFound,
    /// Someone else bought the last ones; the cart shows what is left.
    #[error("sold out")]
    SoldOut,
    /// An item's price or status changed since the cart was read.
    #[error("an item changed")]
    Changed,
    /// Below the smallest total the processor takes.
    #[error("the total is below the minimum of {min}")]
    TooSmall { min: Yen },
    /// No processor is configured: checkout is closed.
    #[error("checkout is closed")]
    Closed,
    /// No such order of this buyer.
    #[error("no such order")]
    OrderNotFound,
    /// The order cannot be paid (cancelled, reservation over).
    #[error("the order cannot be paid")]
    NotPayable,
    /// Another payment of this order is under way.
    #[error("a payment is under way")]
    PaymentInProgress,
    /// The payment method is not a processor reference (a card number
    /// sent to us, say). The value is never logged.
    #[error("not a payment method reference")]
    InvalidPaymentMethod,
    #[error(transparent)]
    Processor(#[from] ProcessorError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    MemberData(#[from] MemberDataError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for CheckoutError {
    fn from(e: StoreError) -> Self {
        if e.is_precondition(guards::SOLD_OUT) {
            CheckoutError::SoldOut
        } else if e.is_precondition(guards::ITEM_CHANGED) {
            CheckoutError::Changed
        } else if e.is_precondition(guards::ITEM_NOT_FOR_SALE) {
            CheckoutError::NotForSale
        } else if e.is_precondition(guards::ATTEMPT_LIVE) {
            CheckoutError::PaymentInProgress
        } else if e.is_precondition(guards::ORDER_NOT_PAYABLE) {
            CheckoutError::NotPayable
        } else {
            CheckoutError::Store(e)
        }
    }
}

/// A cart line as the cart page shows it.
#[derive(Debug, Clone)]
pub struct CartItem {
    pub line: CartLine,
    /// On sale in an open shop.
    pub available: bool,
    /// Enough in stock for the quantity chosen.
    pub enough: bool,
    pub line_total: Yen,
}

/// One shop's lines of a cart: what one order would be.
#[derive(Debug, Clone)]
pub struct CartGroup {
    pub shop_id: ShopId,
    pub shop_name: String,
    pub items: Vec<CartItem>,
    pub total: Yen,
    /// Every line can be ordered as it is.
    pub ready: bool,
}

fn line_total(l: &CartLine) -> Yen {
    l.price
        .yen()
        .checked_mul(i64::from(l.quantity.get()))
        .unwrap_or(Yen::new(i64::MAX))
}

/// The session's cart, grouped by shop (in the order lines were added).
pub async fn cart(svc: &Services, session: SessionId) -> Result<Vec<CartGroup>, CheckoutError> {
    let lines = svc.store.orders().cart(session).await?;
    let mut groups: Vec<CartGroup> = Vec::new();
    for line in lines {
        let available =
            line.item_status == ItemStatus::OnSale && line.shop_status == ShopStatus::Open;
        let enough = line.stock.count().is_none_or(|n| n >= line.quantity.get());
        let item = CartItem {
            available,
            enough,
            line_total: line_total(&line),
            line,
        };
        let idx = match groups.iter().position(|g| g.shop_id == item.line.shop_id) {
            Some(i) => i,
            None => {
                groups.push(CartGroup {
                    shop_id: item.line.shop_id,
                    shop_name: item.line.shop_name.as_str().to_owned(),
                    items: Vec::new(),
                    total: Yen::ZERO,
                    ready: true,
                });
                groups.len() - 1
            }
        };
        if let Some(g) = groups.get_mut(idx) {
            g.total = g
                .total
                .checked_add(item.line_total)
                .unwrap_or(Yen::new(i64::MAX));
            g.ready &= item.available && item.enough;
            g.items.push(item);
        }
    }
    Ok(groups)
}

/// How many lines the session's cart holds (for the menu).
pub async fn cart_size(svc: &Services, session: SessionId) -> Result<usize, CheckoutError> {
    Ok(svc.store.orders().cart(session).await?.len())
}

fn member_of(session: &SessionRecord) -> Result<MemberId, CheckoutError> {
    session.member().ok_or(CheckoutError::NotSignedIn)
}

/// Puts `quantity` of an item in the cart (replacing the line's quantity).
pub async fn add_to_cart(
    svc: &Services,
    session: &SessionRecord,
    item: ItemId,
    quantity: Quantity,
) -> Result<(), CheckoutError> {
    let member = member_of(session)?;
    let shops = svc.store.shops();
    let record = shops.item(item).await?.ok_or(CheckoutError::NotForSale)?;
    let shop = shops
        .shop(record.shop_id)
        .await?
        .ok_or(CheckoutError::NotForSale)?;
    if shop.owner_id == member {
        return Err(CheckoutError::OwnItem);
    }
    let w = Write::PutInCart {
        session: session.id,
        item,
        quantity,
        at: svc.now(),
    };
    svc.store.commit(&Changes::new().with(w)).await?;
    Ok(())
}

/// Takes an item out of the cart.
pub async fn remove_from_cart(
    svc: &Services,
    session: &SessionRecord,
    item: ItemId,
) -> Result<(), CheckoutError> {
    member_of(session)?;
    let w = Write::RemoveFromCart {
        session: session.id,
        item,
    };
    svc.store.commit(&Changes::new().with(w)).await?;
    Ok(())
}

/// What the checkout page shows: one shop's lines and the buyer's
/// addresses (decrypted for the buyer's own page only).
#[derive(Debug)]
pub struct CheckoutView {
    pub group: CartGroup,
    pub addresses: Vec<StoredAddress>,
    /// The smallest total the processor takes.
    pub minimum: Yen,
    /// A processor is configured.
    pub open: bool,
}

/// The checkout page of one shop's lines.
pub async fn checkout_view(
    svc: &Services,
    session: &SessionRecord,
    shop: ShopId,
) -> Result<CheckoutView, CheckoutError> {
    let member = member_of(session)?;
    let group = cart(svc, session.id)
        .await?
        .into_iter()
        .find(|g| g.shop_id == shop)
        .ok_or(CheckoutError::EmptyCart)?;
    let s = &svc.settings.payments;
    Ok(CheckoutView {
        group,
        addresses: crate::member_data::list_addresses(svc, member).await?,
        minimum: Yen::new(s.minimum_total_yen),
        open: s.configured(),
    })
}

/// Places the order of one shop's cart lines, to one of the buyer's
/// addresses: stock reserved (one guarded statement per line), totals
/// from the database's prices, the address sealed into the order, the
/// lines out of the cart, all in one transaction. The order then awaits
/// payment until `payments.reservation_secs` have passed.
pub async fn place_order(
    svc: &Services,
    session: &SessionRecord,
    shop: ShopId,
    address: AddressId,
) -> Result<OrderId, CheckoutError> {
    let buyer = member_of(session)?;
    let settings = &svc.settings.payments;
    if !settings.configured() {
        return Err(CheckoutError::Closed);
    }
    let group = cart(svc, session.id)
        .await?
        .into_iter()
        .find(|g| g.shop_id == shop)
        .ok_or(CheckoutError::EmptyCart)?;
    if group.items.iter().any(|i| !i.available) {
        return Err(CheckoutError::Changed);
    }
    if group.items.iter().any(|i| !i.enough) {
        return Err(CheckoutError::SoldOut);
    }
    let shop_record = svc
        .store
        .shops()
        .shop(shop)
        .await?
        .ok_or(CheckoutError::NotForSale)?;
    if shop_record.owner_id == buyer {
        return Err(CheckoutError::OwnItem);
    }
    let ship_to = match crate::member_data::address(svc, buyer, address).await {
        Ok(a) => a,
        Err(MemberDataError::NotFound) => return Err(CheckoutError::AddressNotFound),
        Err(e) => return Err(e.into()),
    };
    let mut total = Yen::ZERO;
    for i in &group.items {
        total = total
            .checked_add(i.line_total)
            .ok_or(CheckoutError::Changed)?;
    }
    let minimum = Yen::new(settings.minimum_total_yen);
    if total < minimum {
        return Err(CheckoutError::TooSmall { min: minimum });
    }
    let fee = settings.fees().fee(total);
    let id: OrderId = svc.new_id();
    let now = svc.now();
    let sealed =
        crate::member_data::sealed::seal_order_shipping(svc, buyer, id, &ship_to.address).await?;
    let order = NewOrder {
        id,
        buyer_id: buyer,
        session_id: session.id,
        shop_id: shop,
        seller_id: shop_record.owner_id,
        subtotal: total,
        fee,
        total,
        shipping_address_id: address,
        shipping_ciphertext: sealed,
        reserved_until: now + settings.reservation(),
        lines: group
            .items
            .iter()
            .map(|i| NewOrderLine {
                item_id: i.line.item_id,
                title: i.line.title.as_str().to_owned(),
                unit_price: i.line.price.yen(),
                quantity: i.line.quantity,
            })
            .collect(),
        created_at: now,
    };
    svc.store
        .commit(&Changes::new().with(Write::CreateOrder(order)))
        .await?;
    tracing::info!(order = %id, shop = %shop, total = total.amount(), "order placed; stock reserved");
    Ok(id)
}

/// Pays the buyer's order with the card the processor's element
/// tokenised (`payment_method`, e.g. `card_…`).
///
/// The attempt is written first (with its key `anshin:<order>:<n>:…`),
/// then the processor is asked to create and confirm the intent; if this
/// server dies in between, reconciliation finds the attempt and asks the
/// processor with the same keys, so the buyer is never charged twice.
pub async fn pay(
    svc: &Services,
    buyer: MemberId,
    order_id: OrderId,
    payment_method: &str,
) -> Result<PayOutcome, CheckoutError> {
    let pm = PaymentMethodRef::parse(payment_method).ok_or(CheckoutError::InvalidPaymentMethod)?;
    if !svc.settings.payments.configured() {
        return Err(CheckoutError::Closed);
    }
    let repo = svc.store.orders();
    let order = repo
        .order_for(order_id, OrderParty::Buyer(buyer))
        .await?
        .ok_or(CheckoutError::OrderNotFound)?;
    match order.status {
        OrderStatus::AwaitingPayment => {}
        s if s.was_paid() => return Ok(PayOutcome::Paid),
        _ => return Err(CheckoutError::NotPayable),
    }
    let now = svc.now();
    if order.reserved_until <= now {
        return Err(CheckoutError::NotPayable);
    }
    let attempts = repo.attempts(order_id).await?;
    if attempts.iter().any(|a| a.status.is_live()) {
        return Err(CheckoutError::PaymentInProgress);
    }
    let n = i64::try_from(attempts.len()).unwrap_or(i64::MAX - 1) + 1;
    let new = NewAttempt {
        id: svc.new_id(),
        order_id,
        buyer_id: buyer,
        attempt_no: n,
        idempotency_key: attempt_key(order_id, n),
        payment_method: pm.as_str().to_owned(),
        created_at: now,
    };
    svc.store
        .commit(&Changes::new().with(Write::StartAttempt(new.clone())))
        .await?;
    let mut attempt = repo
        .attempt(new.id)
        .await?
        .ok_or(CheckoutError::OrderNotFound)?;
    let req = IntentRequest {
        amount: order.total,
        payment_method: &pm,
        order: order_id,
    };
    let intent = match svc
        .processor
        .create_intent(&req, &idempotency_key(order_id, n, KeyStep::Create))
        .await
    {
        Ok(i) => i,
        Err(ProcessorError::Unavailable(e)) => {
            tracing::warn!(order = %order_id, error = %e, "processor unavailable; reconciliation will finish the attempt");
            return Ok(PayOutcome::Pending);
        }
        Err(ProcessorError::Declined { code }) => {
            transitions::record_decline(svc, &attempt, &code).await?;
            return Ok(PayOutcome::Declined(code));
        }
        Err(e) => {
            transitions::record_decline(svc, &attempt, "processing_error").await?;
            return Err(e.into());
        }
    };
    match svc
        .store
        .commit(&Changes::new().with(Write::SetAttemptIntent {
            attempt: attempt.id,
            intent_id: intent.id.clone(),
            at: svc.now(),
        }))
        .await
    {
        Ok(()) => attempt.intent_id = Some(intent.id.clone()),
        Err(e) if e.is_precondition(guards::ATTEMPT_SETTLED) => {}
        Err(e) => return Err(e.into()),
    }
    match svc
        .processor
        .confirm_intent(&intent.id, &idempotency_key(order_id, n, KeyStep::Confirm))
        .await
    {
        Ok(i) => Ok(transitions::apply_intent(svc, &attempt, &i, None)
            .await?
            .outcome),
        Err(ProcessorError::Declined { code }) => {
            transitions::record_decline(svc, &attempt, &code).await?;
            tracing::info!(order = %order_id, attempt = n, decline_code = %code, "card declined");
            Ok(PayOutcome::Declined(code))
        }
        Err(ProcessorError::Unavailable(e)) => {
            tracing::warn!(order = %order_id, error = %e, "processor unavailable while confirming");
            Ok(PayOutcome::Pending)
        }
        Err(e) => Err(e.into()),
    }
}

/// Asks the processor how the buyer's latest attempt stands (after 3-D
/// Secure in the browser), and applies it.
pub async fn refresh(
    svc: &Services,
    buyer: MemberId,
    order_id: OrderId,
) -> Result<PayOutcome, CheckoutError> {
    let repo = svc.store.orders();
    let order = repo
        .order_for(order_id, OrderParty::Buyer(buyer))
        .await?
        .ok_or(CheckoutError::OrderNotFound)?;
    if order.status.was_paid() {
        return Ok(PayOutcome::Paid);
    }
    if order.status == OrderStatus::Cancelled {
        return Ok(PayOutcome::Abandoned);
    }
    let attempts = repo.attempts(order_id).await?;
    let Some(last) = attempts.last() else {
        return Ok(PayOutcome::Pending);
    };
    match (&last.intent_id, last.status) {
        (Some(id), s) if s.is_live() => {
            let intent = svc.processor.intent(id).await?;
            Ok(transitions::apply_intent(svc, last, &intent, None)
                .await?
                .outcome)
        }
        (_, anshin_domain::AttemptStatus::Failed) => Ok(PayOutcome::Declined(
            last.failure_code
                .clone()
                .unwrap_or_else(|| "card_declined".into()),
        )),
        (_, anshin_domain::AttemptStatus::Abandoned) => Ok(PayOutcome::Abandoned),
        _ => Ok(PayOutcome::Pending),
    }
}

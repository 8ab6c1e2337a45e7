//! The letters of an order's steps, to its buyer and its seller, built
//! for the same bundle as the step (so a step never happens without its
//! mails, and no mail tells of a step that rolled back).
//!
//! A letter names the order's number, items and amounts and links to the
//! reader's own page of it; never the other side's name or address (C19).

use anshin_domain::{MemberId, OrderId};
use anshin_store::{NewMail, OrderLineRecord, OrderRecord};

use super::error::OrderError;
use crate::Services;
use crate::mail::compose::{Letter, OrderEvent, OrderNotice, Side};

/// The number people quote for an order: the last 10 hex digits of its
/// id (its random part), upper-case, in two groups.
pub fn order_number(id: OrderId) -> String {
    let hex = id.as_uuid().simple().to_string().to_ascii_uppercase();
    let tail = hex.get(hex.len().saturating_sub(10)..).unwrap_or(&hex);
    let (a, b) = tail.split_at(tail.len().min(5));
    format!("{a}-{b}")
}

/// The buyer's page of an order.
pub fn buyer_path(id: OrderId) -> String {
    format!("/orders/{id}")
}

/// The seller's page of an order.
pub fn seller_path(id: OrderId) -> String {
    format!("/sales/{id}")
}

async fn letter_to(
    svc: &Services,
    member: MemberId,
    notice: OrderNotice,
) -> Result<Option<NewMail>, OrderError> {
    let Some(m) = svc.store.accounts().find_member(member).await? else {
        // A member who left gets no mail; the step still happens.
        return Ok(None);
    };
    Ok(Some(crate::mail::letter(
        svc,
        m.language,
        &m.email,
        &Letter::Order(notice),
    )?))
}

/// The letters of `event` for `order`: to the buyer and, except for a
/// cancellation (the seller never saw an unpaid order), to the seller.
pub async fn letters(
    svc: &Services,
    order: &OrderRecord,
    lines: &[OrderLineRecord],
    event: OrderEvent,
    amount: Option<anshin_domain::Yen>,
) -> Result<Vec<NewMail>, OrderError> {
    let items: Vec<(String, u32)> = lines
        .iter()
        .map(|l| (l.title.clone(), l.quantity.get()))
        .collect();
    let notice = |side, path| OrderNotice {
        event,
        side,
        number: order_number(order.id),
        path,
        total: order.total,
        amount,
        items: items.clone(),
    };
    let mut out = Vec::new();
    if let Some(m) = letter_to(
        svc,
        order.buyer_id,
        notice(Side::Buyer, buyer_path(order.id)),
    )
    .await?
    {
        out.push(m);
    }
    if event != OrderEvent::Cancelled
        && let Some(m) = letter_to(
            svc,
            order.seller_id,
            notice(Side::Seller, seller_path(order.id)),
        )
        .await?
    {
        out.push(m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_short_and_stable() {
        let id = OrderId::from_uuid(uuid::Uuid::from_u128(
            0x0190_0000_0000_7000_8000_00ab_cdef_1234,
        ));
        assert_eq!(order_number(id), "ABCDE-F1234");
    }
}

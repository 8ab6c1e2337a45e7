//! The double-entry ledger: every yen that moves because of an order is
//! posted, in whole yen, in the same transaction as the order's state
//! change (through `Changes::post`), and never changed afterwards (the
//! tables refuse UPDATE and DELETE).
//!
//! Accounts (signed amounts, + debit, − credit; each transaction sums to 0):
//!
//! | event | processor clearing | seller payable (shop) | platform fee revenue |
//! |---|---|---|---|
//! | payment of total `t`, fee `f` | `+t` | `−(t − f)` | `−f` |
//! | refund of `r`, fee returned `Δf` | `−r` | `+(r − Δf)` | `+Δf` |
//!
//! A payment that its order must not keep (it succeeded after the order
//! was cancelled, or through another intent than the one that paid the
//! order: the processor took `t` anyway) is given back at once, and both
//! moves are posted together on a fourth account, refunds payable (what
//! is owed back to a buyer): `late_payment` (clearing `+t`, refunds payable `−t`) and
//! `late_refund` (clearing `−t`, refunds payable `+t`). The seller and
//! the fee revenue never see it; the pair sums to zero on every account.
//!
//! `Δf` is the fee returned in proportion (`payments::fees`). A seller's
//! balance is derived from the postings ([`seller_balance`]), never stored.
//! Each transaction is named by its business event (`payment:<order>`,
//! `refund:<refund>`, `late_payment:<order>:<intent>`,
//! `late_refund:<order>:<intent>`), and the key is unique: the webhook, the browser and
//! the reconciliation job may all report one payment, and it is posted once.
//!
//! [`check`] (`anshin ledger check`) verifies what is stored: every
//! transaction balanced; no balance on the wrong side of zero (the clearing
//! account below zero, a seller owing the platform, negative fee revenue);
//! every paid order posted once, unpaid orders never (but for late
//! payments, which must come with their return and cancel out); each
//! order's postings equal to what its total, fee and refunds say.
//!
//! Payouts (C16, ADR 0020) add three kinds, named by the payout in their
//! key (`payout_hold:<payout>`, `payout_paid:<payout>`,
//! `payout_void:<payout>`), and two accounts (payouts pending, payout fee
//! revenue):
//!
//! | event | seller payable | payouts pending | clearing | payout fees |
//! |---|---|---|---|---|
//! | request of `a`, fee `f` | `+a` | `−a` | | |
//! | paid | | `+a` | `−(a − f)` | `−f` |
//! | failed | `−a` | `+a` | | |
//!
//! The check wants every payout held once with its amount; a paid one
//! posted paid once and never voided, a failed one voided once and never
//! paid, one still open neither; and each posting exactly as the table
//! says.

use anshin_domain::{LedgerAccount, OrderId, OrderStatus, RefundId, ShopId, Timestamp, Yen};
use anshin_store::{
    LedgerKind, LedgerTransaction, OrderRecord, Posting, RefundStatus, Store, StoreError,
    Unbalanced,
};

use crate::payments::fees::{fee_kept, fee_returned};

/// A payout transaction as the check collects it.
type PayoutPostings = Vec<(LedgerKind, Vec<(LedgerAccount, i64)>)>;

/// The key of an order's payment transaction.
pub fn payment_key(order: OrderId) -> String {
    format!("payment:{order}")
}

/// The key of a refund's transaction.
pub fn refund_key(refund: RefundId) -> String {
    format!("refund:{refund}")
}

/// The key of a late payment (one that succeeded after its order was
/// cancelled, or after it was paid through another intent) of `intent`.
pub fn late_payment_key(order: OrderId, intent: &str) -> String {
    format!("late_payment:{order}:{intent}")
}

/// The key of the return of that late payment.
pub fn late_refund_key(order: OrderId, intent: &str) -> String {
    format!("late_refund:{order}:{intent}")
}

fn posting(account: LedgerAccount, shop: Option<ShopId>, amount: i64) -> Option<Posting> {
    (amount != 0).then_some(Posting {
        account,
        shop,
        amount: Yen::new(amount),
    })
}

/// The postings of an order's payment.
pub fn payment(
    id: anshin_domain::LedgerTxId,
    order: &OrderRecord,
    at: Timestamp,
) -> Result<LedgerTransaction, Unbalanced> {
    let (t, f) = (order.total.amount(), order.fee.amount());
    let postings = [
        posting(LedgerAccount::ProcessorClearing, None, t),
        posting(LedgerAccount::SellerPayable, Some(order.shop_id), f - t),
        posting(LedgerAccount::PlatformFeeRevenue, None, -f),
    ]
    .into_iter()
    .flatten()
    .collect();
    LedgerTransaction::balanced(
        id,
        payment_key(order.id),
        LedgerKind::Payment,
        Some(order.id),
        at,
        postings,
    )
}

/// The postings of a refund of `amount`, after `before` was refunded.
pub fn refund(
    id: anshin_domain::LedgerTxId,
    order: &OrderRecord,
    refund: RefundId,
    before: Yen,
    amount: Yen,
    at: Timestamp,
) -> Result<LedgerTransaction, Unbalanced> {
    let r = amount.amount();
    let df = fee_returned(order.fee, order.total, before, amount).amount();
    let postings = [
        posting(LedgerAccount::ProcessorClearing, None, -r),
        posting(LedgerAccount::SellerPayable, Some(order.shop_id), r - df),
        posting(LedgerAccount::PlatformFeeRevenue, None, df),
    ]
    .into_iter()
    .flatten()
    .collect();
    LedgerTransaction::balanced(
        id,
        refund_key(refund),
        LedgerKind::Refund,
        Some(order.id),
        at,
        postings,
    )
}

/// The postings of a payment of `amount` through `intent` that succeeded
/// after `order` was cancelled (or paid through another intent), and of
/// its return: the money came in,
/// owed to the buyer, and went back out. Both are posted in the one
/// bundle that records the processor's refund.
pub fn late_payment(
    ids: (anshin_domain::LedgerTxId, anshin_domain::LedgerTxId),
    order: &OrderRecord,
    intent: &str,
    amount: Yen,
    at: Timestamp,
) -> Result<(LedgerTransaction, LedgerTransaction), Unbalanced> {
    let t = amount.amount();
    let moved = |sign: i64| {
        [
            posting(LedgerAccount::ProcessorClearing, None, sign * t),
            posting(LedgerAccount::RefundsPayable, None, -sign * t),
        ]
        .into_iter()
        .flatten()
        .collect()
    };
    let came = LedgerTransaction::balanced(
        ids.0,
        late_payment_key(order.id, intent),
        LedgerKind::LatePayment,
        Some(order.id),
        at,
        moved(1),
    )?;
    let went = LedgerTransaction::balanced(
        ids.1,
        late_refund_key(order.id, intent),
        LedgerKind::LateRefund,
        Some(order.id),
        at,
        moved(-1),
    )?;
    Ok((came, went))
}

/// What the platform owes a shop, from its postings.
pub async fn seller_balance(store: &dyn Store, shop: ShopId) -> Result<Yen, StoreError> {
    store.orders().seller_balance(shop).await
}

/// What [`check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerReport {
    pub transactions: u64,
    pub postings: u64,
    pub orders: u64,
    pub payouts: u64,
    /// One line per broken rule; empty when the ledger is sound. Lines
    /// name ids and amounts, never personal data.
    pub problems: Vec<String>,
    /// Balance per account as a person reads it (credit accounts
    /// positive when owed).
    pub balances: Vec<(LedgerAccount, Option<ShopId>, Yen)>,
}

impl LedgerReport {
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }
}

const PAGE: u32 = 500;

/// What one order's postings add up to.
#[derive(Debug, Clone, Copy, Default)]
struct Posted {
    payments: u32,
    refunds: u32,
    clearing: i64,
    payable: i64,
    fee: i64,
    /// Late payments and their returns, kept apart from the sale: they
    /// must pair up and cancel out.
    late_in: u32,
    late_out: u32,
    late_clearing: i64,
    late_owed: i64,
}

/// Verifies the whole ledger against itself and the orders (see the
/// module doc). Reads only.
pub async fn check(store: &dyn Store) -> Result<LedgerReport, StoreError> {
    use std::collections::HashMap;
    let repo = store.orders();
    let mut report = LedgerReport::default();
    let mut per_order: HashMap<OrderId, Posted> = HashMap::new();
    let mut per_payout: HashMap<anshin_domain::PayoutId, PayoutPostings> = HashMap::new();
    let mut after = None;
    loop {
        let page = repo.ledger_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for t in &page {
            report.transactions += 1;
            report.postings += t.postings.len() as u64;
            if let Err(e) = anshin_store::orders::check_balanced(&t.postings) {
                report
                    .problems
                    .push(format!("transaction {} ({}): {e}", t.id, t.key));
            }
            if matches!(
                t.kind,
                LedgerKind::PayoutHold | LedgerKind::PayoutPaid | LedgerKind::PayoutVoid
            ) {
                match crate::payouts::payout_of_key(&t.key) {
                    Some(p) if t.order.is_none() => {
                        let mut lines: Vec<(LedgerAccount, i64)> = t
                            .postings
                            .iter()
                            .map(|p| (p.account, p.amount.amount()))
                            .collect();
                        lines.sort_by_key(|(a, _)| a.as_str());
                        per_payout.entry(p).or_default().push((t.kind, lines));
                    }
                    _ => report
                        .problems
                        .push(format!("transaction {} ({}) names no payout", t.id, t.key)),
                }
                continue;
            }
            let Some(order) = t.order else {
                report
                    .problems
                    .push(format!("transaction {} names no order", t.id));
                continue;
            };
            let e = per_order.entry(order).or_default();
            let late = match t.kind {
                LedgerKind::Payment => {
                    e.payments += 1;
                    false
                }
                LedgerKind::Refund => {
                    e.refunds += 1;
                    false
                }
                LedgerKind::LatePayment => {
                    e.late_in += 1;
                    true
                }
                LedgerKind::LateRefund => {
                    e.late_out += 1;
                    true
                }
                LedgerKind::PayoutHold | LedgerKind::PayoutPaid | LedgerKind::PayoutVoid => {
                    continue;
                }
            };
            for p in &t.postings {
                let a = p.amount.amount();
                match (late, p.account) {
                    (false, LedgerAccount::ProcessorClearing) => e.clearing += a,
                    (false, LedgerAccount::SellerPayable) => e.payable += a,
                    (false, LedgerAccount::PlatformFeeRevenue) => e.fee += a,
                    (true, LedgerAccount::ProcessorClearing) => e.late_clearing += a,
                    (true, LedgerAccount::RefundsPayable) => e.late_owed += a,
                    (_, account) => report.problems.push(format!(
                        "transaction {} ({}) posts to {}, which a {} never does",
                        t.id,
                        t.key,
                        account.as_str(),
                        t.kind.as_str()
                    )),
                }
            }
        }
    }
    for s in repo.account_sums().await? {
        let balance = s.sum.amount().saturating_mul(s.account.normal_sign());
        if balance < 0 {
            report.problems.push(format!(
                "{}{} is below zero: {balance}",
                s.account.as_str(),
                s.shop.map(|x| format!(" of shop {x}")).unwrap_or_default()
            ));
        }
        report.balances.push((s.account, s.shop, Yen::new(balance)));
    }
    let mut after = None;
    loop {
        let page = repo.orders_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for o in &page {
            report.orders += 1;
            check_order(store, o, per_order.remove(&o.id), &mut report).await?;
        }
    }
    for order in per_order.keys() {
        report
            .problems
            .push(format!("postings name order {order}, which does not exist"));
    }
    let mut after = None;
    loop {
        let page = store.payouts().payouts_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for p in &page {
            report.payouts += 1;
            check_payout(p, per_payout.remove(&p.id).unwrap_or_default(), &mut report);
        }
    }
    for payout in per_payout.keys() {
        report.problems.push(format!(
            "postings name payout {payout}, which does not exist"
        ));
    }
    Ok(report)
}

fn check_payout(p: &anshin_store::PayoutRecord, posted: PayoutPostings, report: &mut LedgerReport) {
    use anshin_domain::PayoutStatus as S;
    let id = p.id;
    let count = |k: LedgerKind| posted.iter().filter(|(kind, _)| *kind == k).count();
    let (holds, paid, voids) = (
        count(LedgerKind::PayoutHold),
        count(LedgerKind::PayoutPaid),
        count(LedgerKind::PayoutVoid),
    );
    let want = match p.status {
        S::Requested | S::Batched => (1, 0, 0),
        S::Paid => (1, 1, 0),
        S::Failed => (1, 0, 1),
    };
    if (holds, paid, voids) != want {
        report.problems.push(format!(
            "payout {id} is {} but has {holds} hold(s), {paid} payment(s) and {voids} void(s)",
            p.status.as_str()
        ));
    }
    for (kind, lines) in &posted {
        let mut expected = crate::payouts::expected_postings(p, *kind);
        expected.sort_by_key(|(a, _)| a.as_str());
        if *lines != expected {
            report.problems.push(format!(
                "payout {id}: its {} posts {lines:?}, not {expected:?}",
                kind.as_str()
            ));
        }
    }
}

async fn check_order(
    store: &dyn Store,
    o: &OrderRecord,
    posted: Option<Posted>,
    report: &mut LedgerReport,
) -> Result<(), StoreError> {
    let Posted {
        payments,
        refunds,
        clearing,
        payable,
        fee,
        late_in,
        late_out,
        late_clearing,
        late_owed,
    } = posted.unwrap_or_default();
    let id = o.id;
    if late_in != late_out || late_clearing != 0 || late_owed != 0 {
        report.problems.push(format!(
            "order {id}: {late_in} late payment(s) and {late_out} return(s) do not cancel out \
             (clearing {late_clearing}, refunds payable {late_owed})"
        ));
    }
    if !o.status.was_paid() {
        if payments + refunds > 0 {
            report.problems.push(format!(
                "order {id} is {} but has postings",
                o.status.as_str()
            ));
        }
        return Ok(());
    }
    if payments != 1 {
        report
            .problems
            .push(format!("order {id} is paid but posted {payments} times"));
    }
    let settled = store
        .orders()
        .refunds(id)
        .await?
        .iter()
        .filter(|r| r.status == RefundStatus::Succeeded)
        .count() as u32;
    if settled != refunds {
        report.problems.push(format!(
            "order {id} has {settled} refunds but {refunds} refund transactions"
        ));
    }
    let kept = fee_kept(o.fee, o.total, o.refunded).amount();
    let remaining = o.total.amount() - o.refunded.amount();
    let want = (remaining, kept - remaining, -kept);
    if (clearing, payable, fee) != want {
        report.problems.push(format!(
            "order {id}: postings (clearing {clearing}, seller {payable}, fee {fee}) \
             differ from its total {}, fee {} and refunds {} (want {want:?})",
            o.total.amount(),
            o.fee.amount(),
            o.refunded.amount()
        ));
    }
    if o.status == OrderStatus::Refunded && o.refunded != o.total {
        report.problems.push(format!(
            "order {id} is refunded but {} of {} went back",
            o.refunded.amount(),
            o.total.amount()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anshin_domain::{LedgerTxId, MemberId};

    fn order(total: i64, fee: i64) -> OrderRecord {
        let id = |n: u128| uuid::Uuid::from_u128(n);
        OrderRecord {
            id: OrderId::from_uuid(id(1)),
            buyer_id: MemberId::from_uuid(id(2)),
            shop_id: ShopId::from_uuid(id(3)),
            seller_id: MemberId::from_uuid(id(4)),
            status: OrderStatus::Paid,
            subtotal: Yen::new(total),
            fee: Yen::new(fee),
            total: Yen::new(total),
            refunded: Yen::ZERO,
            shipping_address_id: None,
            reserved_until: Timestamp::EPOCH,
            card_brand: None,
            card_last4: None,
            paid_intent_id: None,
            cancel_reason: None,
            created_at: Timestamp::EPOCH,
            updated_at: Timestamp::EPOCH,
            paid_at: None,
            shipped_at: None,
            delivered_at: None,
            completed_at: None,
            closed_at: None,
        }
    }

    #[test]
    fn a_payment_and_its_full_refund_cancel_out() {
        let o = order(1000, 78);
        let tx = LedgerTxId::from_uuid(uuid::Uuid::from_u128(9));
        let p = payment(tx, &o, Timestamp::EPOCH).unwrap();
        let amounts: Vec<i64> = p.postings().iter().map(|p| p.amount.amount()).collect();
        assert_eq!(amounts, [1000, -922, -78]);
        let rid = RefundId::from_uuid(uuid::Uuid::from_u128(10));
        let r = refund(tx, &o, rid, Yen::ZERO, Yen::new(1000), Timestamp::EPOCH).unwrap();
        let back: Vec<i64> = r.postings().iter().map(|p| p.amount.amount()).collect();
        assert_eq!(back, [-1000, 922, 78]);
        assert_eq!(r.key(), format!("refund:{rid}"));
    }

    #[test]
    fn a_late_payment_and_its_return_cancel_out_on_every_account() {
        let mut o = order(1000, 78);
        o.status = OrderStatus::Cancelled;
        let id = |n| LedgerTxId::from_uuid(uuid::Uuid::from_u128(n));
        let (came, went) =
            late_payment((id(1), id(2)), &o, "pi_1", Yen::new(1000), Timestamp::EPOCH).unwrap();
        let amounts = |t: &LedgerTransaction| {
            t.postings()
                .iter()
                .map(|p| (p.account, p.amount.amount()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            amounts(&came),
            [
                (LedgerAccount::ProcessorClearing, 1000),
                (LedgerAccount::RefundsPayable, -1000)
            ]
        );
        assert_eq!(
            amounts(&went),
            [
                (LedgerAccount::ProcessorClearing, -1000),
                (LedgerAccount::RefundsPayable, 1000)
            ]
        );
        assert_ne!(came.key(), went.key());
        assert!(came.key().ends_with(":pi_1"));
    }
}

//! A buyer charged twice for one order (C15, issue 13): the order is
//! paid through one intent, then another intent of the same order
//! succeeds too (with a real processor, a browser confirming an old,
//! declined intent again with its client secret and another card). The
//! second payment must go back, once, and the ledger must show it coming
//! in and going out (`late_payment` / `late_refund`, as for a payment
//! that arrives after its order was cancelled); the order stays paid
//! once, the seller's balance and the fee revenue unchanged. A report of
//! the intent that paid stays a harmless repetition.
//!
//! The processor is the core's in-memory fake, which keeps the contract
//! of `PaymentProcessor` (idempotency keys replay, refunds never pass
//! the amount) and can confirm an old intent again, which localstripe
//! cannot.

use anshin_core::orders::PayOutcome;
use anshin_core::orders::transitions::{EventRef, apply_intent};
use anshin_core::payments::{IntentStatus, PaymentProcessor};
use anshin_domain::{ItemStatus, LedgerAccount, OrderId, Quantity, Yen};
use anshin_store::{AttemptRecord, LedgerKind};

use crate::Backend;
use crate::ledger::{T0, World, world};

crate::on_both!(
    c15_a_second_intent_paying_a_paid_order_is_refunded_once_and_posted_in_and_out,
    c15_two_intents_succeeding_together_pay_the_order_once_and_the_other_goes_back,
);

const PRICE: i64 = 3000;

/// An order of one item at [`PRICE`], placed by the world's buyer.
async fn placed(w: &World) -> OrderId {
    let session = w
        .svc
        .store
        .sessions()
        .find_live(&[7; 32], T0)
        .await
        .unwrap()
        .unwrap();
    let item = anshin_core::shops::add_item(
        &w.svc,
        w.seller,
        &anshin_core::shops::ItemInput::parse(&anshin_core::shops::RawItem {
            title: "湯呑".into(),
            description: String::new(),
            price: PRICE.to_string(),
            stock: "5".into(),
        })
        .unwrap(),
        ItemStatus::OnSale,
    )
    .await
    .unwrap();
    anshin_core::checkout::add_to_cart(&w.svc, &session, item, Quantity::ONE)
        .await
        .unwrap();
    anshin_core::checkout::place_order(&w.svc, &session, w.shop, w.address)
        .await
        .unwrap()
}

async fn attempts(w: &World, order: OrderId) -> Vec<AttemptRecord> {
    w.svc.store.orders().attempts(order).await.unwrap()
}

/// A webhook about `attempt`'s intent, under event id `evt`.
async fn webhook(w: &World, attempt: &AttemptRecord, evt: &str) -> (PayOutcome, bool) {
    let intent = w
        .fake
        .intent(attempt.intent_id.as_deref().unwrap())
        .await
        .unwrap();
    let applied = apply_intent(
        &w.svc,
        attempt,
        &intent,
        Some(EventRef {
            id: evt,
            kind: "payment_intent.succeeded",
        }),
    )
    .await
    .unwrap();
    (applied.outcome, applied.duplicate)
}

/// Seller balance, fee revenue and refunds payable.
async fn balances(w: &World) -> (i64, i64, i64) {
    let seller = anshin_core::ledger::seller_balance(w.svc.store.as_ref(), w.shop)
        .await
        .unwrap()
        .amount();
    let sum = |a: LedgerAccount, sums: &[anshin_store::AccountSum]| -> i64 {
        sums.iter()
            .filter(|s| s.account == a)
            .map(|s| s.sum.amount())
            .sum()
    };
    let sums = w.svc.store.orders().account_sums().await.unwrap();
    (
        seller,
        sum(LedgerAccount::PlatformFeeRevenue, &sums),
        sum(LedgerAccount::RefundsPayable, &sums),
    )
}

fn sound(report: &anshin_core::ledger::LedgerReport) {
    assert!(report.is_sound(), "{:#?}", report.problems);
}

/// The order is paid once, through `paid`; `other` was given back in
/// full, once; the ledger holds the payment and the late pair of
/// `other`, each once, and is sound.
async fn paid_once_and_other_returned(w: &World, order: OrderId, paid: &str, other: &str) {
    let o = w.svc.store.orders().order(order).await.unwrap().unwrap();
    assert_eq!(o.status.as_str(), "paid");
    assert_eq!(o.paid_intent_id.as_deref(), Some(paid));
    assert_eq!(o.refunded, Yen::ZERO, "the order itself was not refunded");
    assert_eq!(w.fake.charges_for(order), 2, "the buyer was charged twice…");
    assert_eq!(
        w.fake.refunds_of(other),
        [Yen::new(PRICE)],
        "…and the second charge went back once, in full"
    );
    assert!(w.fake.refunds_of(paid).is_empty(), "the payment is kept");
    let txs = w.svc.store.orders().ledger_of_order(order).await.unwrap();
    let mut keys: Vec<(LedgerKind, String)> = txs.iter().map(|t| (t.kind, t.key.clone())).collect();
    keys.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        keys,
        [
            (
                LedgerKind::LatePayment,
                format!("late_payment:{order}:{other}")
            ),
            (
                LedgerKind::LateRefund,
                format!("late_refund:{order}:{other}")
            ),
            (LedgerKind::Payment, format!("payment:{order}")),
        ],
        "{txs:#?}"
    );
    sound(
        &anshin_core::ledger::check(w.svc.store.as_ref())
            .await
            .unwrap(),
    );
}

async fn c15_a_second_intent_paying_a_paid_order_is_refunded_once_and_posted_in_and_out(
    b: Backend,
) {
    let w = world(b, &[]).await;
    let order = placed(&w).await;
    // The first card is declined; the second pays.
    let first = anshin_core::checkout::pay(&w.svc, w.buyer, order, "card_declined1")
        .await
        .unwrap();
    assert!(matches!(first, PayOutcome::Declined(_)), "{first:?}");
    let second = anshin_core::checkout::pay(&w.svc, w.buyer, order, "card_visa2")
        .await
        .unwrap();
    assert_eq!(second, PayOutcome::Paid);
    let [declined, paid] = <[AttemptRecord; 2]>::try_from(attempts(&w, order).await).unwrap();
    let (old, good) = (
        declined.intent_id.clone().unwrap(),
        paid.intent_id.clone().unwrap(),
    );
    let before = balances(&w).await;
    assert!(before.0 > 0, "the seller is owed the sale");
    sound(
        &anshin_core::ledger::check(w.svc.store.as_ref())
            .await
            .unwrap(),
    );

    // The paying intent reported again (a webhook, twice): a harmless
    // repetition, nothing refunded, nothing posted.
    assert_eq!(
        webhook(&w, &paid, "evt_good1").await,
        (PayOutcome::Paid, false)
    );
    assert_eq!(
        webhook(&w, &paid, "evt_good1").await,
        (PayOutcome::Paid, true)
    );
    assert!(w.fake.refunds_of(&good).is_empty());
    assert_eq!(
        w.svc
            .store
            .orders()
            .ledger_of_order(order)
            .await
            .unwrap()
            .len(),
        1
    );

    // The browser confirms the old, declined intent again with another
    // card: the processor takes the money a second time.
    assert_eq!(
        w.fake.confirm_again(&old, "card_visa3"),
        Some(IntentStatus::Succeeded)
    );
    assert_eq!(w.fake.charges_for(order), 2);

    // Its success reported three times (one event delivered twice, then
    // another), by the browser's refresh and by reconciliation too.
    assert_eq!(
        webhook(&w, &declined, "evt_old1").await,
        (PayOutcome::Paid, false)
    );
    assert_eq!(
        webhook(&w, &declined, "evt_old1").await,
        (PayOutcome::Paid, true)
    );
    assert_eq!(
        webhook(&w, &declined, "evt_old2").await,
        (PayOutcome::Paid, false)
    );
    assert_eq!(
        anshin_core::checkout::refresh(&w.svc, w.buyer, order)
            .await
            .unwrap(),
        PayOutcome::Paid
    );
    w.clock.advance(anshin_domain::Duration::from_secs(3600));
    anshin_core::orders::reconcile(&w.svc, &Default::default())
        .await
        .unwrap();

    paid_once_and_other_returned(&w, order, &good, &old).await;
    let after = balances(&w).await;
    assert_eq!(
        after, before,
        "seller, fee revenue and refunds payable unchanged"
    );
    assert_eq!(after.2, 0, "nothing left owed to the buyer");
}

/// Both intents of one order succeed at the processor before anshin
/// hears of either, and both reports race: whichever wins pays the
/// order, the other goes back.
async fn c15_two_intents_succeeding_together_pay_the_order_once_and_the_other_goes_back(
    b: Backend,
) {
    for round in 0..4 {
        let w = world(b, &[]).await;
        let order = placed(&w).await;
        let first = anshin_core::checkout::pay(&w.svc, w.buyer, order, "card_declined1")
            .await
            .unwrap();
        assert!(matches!(first, PayOutcome::Declined(_)), "{first:?}");
        // The second card needs 3-D Secure: the attempt stays open.
        let second = anshin_core::checkout::pay(&w.svc, w.buyer, order, "card_3ds2")
            .await
            .unwrap();
        assert!(matches!(second, PayOutcome::NeedsAction(_)), "{second:?}");
        let [a1, a2] = <[AttemptRecord; 2]>::try_from(attempts(&w, order).await).unwrap();
        let (i1, i2) = (a1.intent_id.clone().unwrap(), a2.intent_id.clone().unwrap());
        assert_eq!(
            w.fake.confirm_again(&i1, "card_visa3"),
            Some(IntentStatus::Succeeded)
        );
        w.fake.authenticate(&i2, true);
        assert_eq!(w.fake.charges_for(order), 2);

        // Both reports at once (alternating which one starts first).
        let (e1, e2) = (format!("evt_a{round}"), format!("evt_b{round}"));
        let (r1, r2) = if round % 2 == 0 {
            tokio::join!(webhook(&w, &a1, &e1), webhook(&w, &a2, &e2))
        } else {
            let (r2, r1) = tokio::join!(webhook(&w, &a2, &e2), webhook(&w, &a1, &e1));
            (r1, r2)
        };
        assert_eq!((r1.0, r2.0), (PayOutcome::Paid, PayOutcome::Paid));
        let o = w.svc.store.orders().order(order).await.unwrap().unwrap();
        let winner = o.paid_intent_id.clone().unwrap();
        let loser = if winner == i1 { &i2 } else { &i1 };
        paid_once_and_other_returned(&w, order, &winner, loser).await;
        // Reported again, each: nothing more.
        webhook(&w, &a1, "evt_again1").await;
        webhook(&w, &a2, "evt_again2").await;
        paid_once_and_other_returned(&w, order, &winner, loser).await;
    }
}

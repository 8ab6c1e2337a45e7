//! Carts, orders, payments, refunds and the ledger: the last item goes to
//! exactly one of many parallel buyers, an order transition happens once
//! whoever reports it, a processor event takes effect once, refunds never
//! pass the total even in parallel, and the ledger keeps one balanced
//! transaction per business event.

use super::fixtures::{
    at, commit, commit_fails, join_all, member_session, new_id, sign_up, try_commit,
};
use crate::{
    AttemptStatus, Changes, ItemDescription, ItemStatus, ItemTitle, LedgerAccount, LedgerKind,
    LedgerTransaction, LoginMethod, MemberId, NewAttempt, NewItem, NewOrder, NewOrderLine,
    NewRefund, OrderId, OrderParty, OrderStatus, Posting, Price, Quantity, SessionId,
    ShopDescription, ShopId, ShopName, ShopRecord, ShopStatus, Stock, Store, Timestamp, Write, Yen,
    guards,
};

pub(super) struct Shop {
    pub(super) owner: MemberId,
    pub(super) shop: ShopId,
}

pub(super) async fn open_shop(store: &dyn Store, address: &str, seed: u8) -> Shop {
    let owner = sign_up(store, address, at(0), seed).await;
    let shop = ShopRecord {
        id: new_id(),
        owner_id: owner,
        name: ShopName::parse("工房").expect("name"),
        description: ShopDescription::parse("").expect("description"),
        icon_key: None,
        status: ShopStatus::Open,
        created_at: at(0),
        updated_at: at(0),
    };
    let id = shop.id;
    commit(store, Changes::new().with(Write::OpenShop(shop))).await;
    Shop { owner, shop: id }
}

pub(super) async fn add_item(
    store: &dyn Store,
    s: &Shop,
    yen: i64,
    stock: Option<u32>,
) -> crate::ItemId {
    let item = NewItem {
        id: new_id(),
        shop_id: s.shop,
        title: ItemTitle::parse("湯呑み").expect("title"),
        description: ItemDescription::parse("").expect("description"),
        price: Price::new(Yen::new(yen)).expect("price"),
        stock: stock.map_or(Stock::UNLIMITED, |n| Stock::limited(n).expect("stock")),
        status: ItemStatus::OnSale,
        search_text: "湯呑み".into(),
        created_at: at(0),
    };
    let id = item.id;
    commit(
        store,
        Changes::new().with(Write::AddItem {
            owner: s.owner,
            item,
            max_items: 100,
        }),
    )
    .await;
    id
}

/// A buyer with a data key and a session; returns (member, session).
pub(super) async fn buyer(store: &dyn Store, address: &str, seed: u8) -> (MemberId, SessionId) {
    let m = sign_up(store, address, at(0), seed).await;
    store
        .member_data()
        .create_member_key(m, b"wrapped", 1, at(0))
        .await
        .expect("key");
    let session = member_session(m, seed.wrapping_add(100), at(0), LoginMethod::Code);
    let id = session.id;
    commit(store, Changes::new().with(Write::CreateSession(session))).await;
    (m, id)
}

pub(super) fn order(
    buyer: (MemberId, SessionId),
    s: &Shop,
    item: crate::ItemId,
    yen: i64,
    n: u32,
    now: Timestamp,
) -> NewOrder {
    let q = Quantity::new(n).expect("quantity");
    let total = Yen::new(yen * i64::from(n));
    NewOrder {
        id: new_id(),
        buyer_id: buyer.0,
        session_id: buyer.1,
        shop_id: s.shop,
        seller_id: s.owner,
        subtotal: total,
        fee: Yen::new(22),
        total,
        shipping_address_id: new_id(),
        shipping_ciphertext: vec![9; 40],
        reserved_until: now + crate::Duration::from_secs(1800),
        lines: vec![NewOrderLine {
            item_id: item,
            title: "湯呑み".into(),
            unit_price: Yen::new(yen),
            quantity: q,
        }],
        created_at: now,
    }
}

async fn stock_of(store: &dyn Store, item: crate::ItemId) -> Option<u32> {
    store
        .shops()
        .item(item)
        .await
        .expect("item")
        .expect("exists")
        .stock
        .count()
}

fn attempt(order: &NewOrder, no: i64, now: Timestamp) -> NewAttempt {
    NewAttempt {
        id: new_id(),
        order_id: order.id,
        buyer_id: order.buyer_id,
        attempt_no: no,
        idempotency_key: format!("anshin-{}-{no}", order.id),
        payment_method: "card_test".into(),
        created_at: now,
    }
}

fn payment_tx(order: &NewOrder, s: &Shop, now: Timestamp) -> LedgerTransaction {
    let fee = Yen::new(22);
    LedgerTransaction::balanced(
        new_id(),
        format!("payment:{}", order.id),
        LedgerKind::Payment,
        Some(order.id),
        now,
        vec![
            Posting {
                account: LedgerAccount::ProcessorClearing,
                shop: None,
                amount: order.total,
            },
            Posting {
                account: LedgerAccount::SellerPayable,
                shop: Some(s.shop),
                amount: Yen::new(fee.amount() - order.total.amount()),
            },
            Posting {
                account: LedgerAccount::PlatformFeeRevenue,
                shop: None,
                amount: Yen::new(-fee.amount()),
            },
        ],
    )
    .expect("balanced")
}

fn paid(order: &NewOrder, a: &NewAttempt, intent: &str, now: Timestamp) -> Write {
    Write::MarkPaid {
        order: order.id,
        attempt: a.id,
        intent_id: intent.into(),
        card_brand: Some("visa".into()),
        card_last4: Some("4242".into()),
        at: now,
    }
}

/// An order placed and paid, ready for fulfilment and refunds.
pub(super) async fn paid_order(
    store: &dyn Store,
    s: &Shop,
    b: (MemberId, SessionId),
    yen: i64,
) -> NewOrder {
    let item = add_item(store, s, yen, Some(5)).await;
    let o = order(b, s, item, yen, 1, at(10));
    commit(store, Changes::new().with(Write::CreateOrder(o.clone()))).await;
    let a = attempt(&o, 1, at(11));
    commit(store, Changes::new().with(Write::StartAttempt(a.clone()))).await;
    let intent = format!("pi_{}", o.id.as_uuid().simple());
    commit(
        store,
        Changes::new()
            .with(paid(&o, &a, &intent, at(12)))
            .post(payment_tx(&o, s, at(12))),
    )
    .await;
    o
}

pub async fn orders_the_last_items_go_to_exactly_as_many_parallel_buyers(store: &dyn Store) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let item = add_item(store, &s, 1000, Some(3)).await;
    let mut buyers = Vec::new();
    for i in 0..8u8 {
        buyers.push(buyer(store, &format!("b{i}@example.jp"), 10 + i).await);
    }
    let orders: Vec<NewOrder> = buyers
        .iter()
        .map(|b| order(*b, &s, item, 1000, 1, at(5)))
        .collect();
    let results = join_all(
        orders
            .iter()
            .map(|o| try_commit(store, Changes::new().with(Write::CreateOrder(o.clone())))),
    )
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 3, "exactly the stock: {results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(r.is_precondition(guards::SOLD_OUT), "{r:?}");
    }
    assert_eq!(stock_of(store, item).await, Some(0));
    // The losers wrote nothing: no order, no shipping snapshot.
    for (o, r) in orders.iter().zip(&results) {
        let stored = store.orders().order(o.id).await.expect("read");
        assert_eq!(stored.is_some(), r.is_ok());
        assert_eq!(
            store
                .orders()
                .order_shipping(o.id)
                .await
                .expect("read")
                .is_some(),
            r.is_ok()
        );
    }
    // Unlimited stock stays unlimited.
    let free = add_item(store, &s, 500, None).await;
    commit(
        store,
        Changes::new().with(Write::CreateOrder(order(
            buyers[0],
            &s,
            free,
            500,
            99,
            at(6),
        ))),
    )
    .await;
    assert_eq!(stock_of(store, free).await, None);
}

pub async fn orders_a_changed_price_or_a_hidden_item_fails_the_order_and_changes_nothing(
    store: &dyn Store,
) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let item = add_item(store, &s, 1000, Some(3)).await;
    let b = buyer(store, "b@example.jp", 2).await;
    // The browser says ¥1; the store compares with the price read.
    let cheap = order(b, &s, item, 1, 1, at(5));
    let e = commit_fails(store, Changes::new().with(Write::CreateOrder(cheap))).await;
    assert!(e.is_precondition(guards::ITEM_CHANGED), "{e:?}");
    commit(
        store,
        Changes::new().with(Write::SetItemStatus {
            owner: s.owner,
            item,
            status: ItemStatus::Hidden,
            at: at(6),
        }),
    )
    .await;
    let e = commit_fails(
        store,
        Changes::new().with(Write::CreateOrder(order(b, &s, item, 1000, 1, at(7)))),
    )
    .await;
    assert!(e.is_precondition(guards::ITEM_CHANGED), "{e:?}");
    assert_eq!(stock_of(store, item).await, Some(3));
    // An item of another shop cannot ride in this shop's order.
    let other = open_shop(store, "other@example.jp", 3).await;
    let foreign = add_item(store, &other, 1000, Some(3)).await;
    let e = commit_fails(
        store,
        Changes::new().with(Write::CreateOrder(order(b, &s, foreign, 1000, 1, at(8)))),
    )
    .await;
    assert!(e.is_precondition(guards::ITEM_CHANGED), "{e:?}");
    assert_eq!(stock_of(store, foreign).await, Some(3));
}

pub async fn orders_the_cart_is_the_sessions_and_holds_only_items_for_sale(store: &dyn Store) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let item = add_item(store, &s, 1000, Some(3)).await;
    let (_, mine) = buyer(store, "a@example.jp", 2).await;
    let (_, theirs) = buyer(store, "b@example.jp", 3).await;
    let put = |session, item, n| Write::PutInCart {
        session,
        item,
        quantity: Quantity::new(n).expect("q"),
        at: at(1),
    };
    commit(store, Changes::new().with(put(mine, item, 2))).await;
    commit(store, Changes::new().with(put(mine, item, 3))).await;
    let cart = store.orders().cart(mine).await.expect("cart");
    assert_eq!(cart.len(), 1);
    assert_eq!(cart[0].quantity.get(), 3, "a put replaces the quantity");
    assert_eq!(cart[0].price.yen(), Yen::new(1000));
    assert!(store.orders().cart(theirs).await.expect("cart").is_empty());
    commit(
        store,
        Changes::new().with(Write::SetItemStatus {
            owner: s.owner,
            item,
            status: ItemStatus::Draft,
            at: at(2),
        }),
    )
    .await;
    let e = commit_fails(store, Changes::new().with(put(theirs, item, 1))).await;
    assert!(e.is_precondition(guards::ITEM_NOT_FOR_SALE), "{e:?}");
    commit(
        store,
        Changes::new().with(Write::RemoveFromCart {
            session: mine,
            item,
        }),
    )
    .await;
    assert!(store.orders().cart(mine).await.expect("cart").is_empty());
}

pub async fn orders_cancelling_an_unpaid_order_gives_the_stock_back_once(store: &dyn Store) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let item = add_item(store, &s, 800, Some(5)).await;
    let b = buyer(store, "b@example.jp", 2).await;
    let mut changes = Changes::new().with(Write::PutInCart {
        session: b.1,
        item,
        quantity: Quantity::new(2).expect("q"),
        at: at(1),
    });
    let o = order(b, &s, item, 800, 2, at(2));
    changes.push(Write::CreateOrder(o.clone()));
    commit(store, changes).await;
    assert_eq!(stock_of(store, item).await, Some(3));
    assert!(
        store.orders().cart(b.1).await.expect("cart").is_empty(),
        "ordered lines leave the cart"
    );
    let cancel = || Write::CancelOrder {
        order: o.id,
        reason: "expired".into(),
        at: at(3),
    };
    let results = join_all([
        try_commit(store, Changes::new().with(cancel())),
        try_commit(store, Changes::new().with(cancel())),
    ])
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(stock_of(store, item).await, Some(5), "given back once");
    let stored = store
        .orders()
        .order(o.id)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(stored.status, OrderStatus::Cancelled);
    assert_eq!(stored.closed_at, Some(at(3)));
    // A cancelled order is never paid.
    let e = commit_fails(
        store,
        Changes::new().with(Write::StartAttempt(attempt(&o, 1, at(4)))),
    )
    .await;
    assert!(e.is_precondition(guards::ORDER_NOT_PAYABLE), "{e:?}");
}

pub async fn orders_only_the_buyer_pays_while_reserved_with_one_live_attempt(store: &dyn Store) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let item = add_item(store, &s, 800, Some(5)).await;
    let b = buyer(store, "b@example.jp", 2).await;
    let thief = buyer(store, "t@example.jp", 3).await;
    let o = order(b, &s, item, 800, 1, at(2));
    commit(store, Changes::new().with(Write::CreateOrder(o.clone()))).await;
    // Another member's attempt on this order: as if the order did not exist.
    let mut foreign = attempt(&o, 1, at(3));
    foreign.buyer_id = thief.0;
    let e = commit_fails(store, Changes::new().with(Write::StartAttempt(foreign))).await;
    assert!(e.is_precondition(guards::ORDER_NOT_PAYABLE), "{e:?}");
    // Two attempts at once (a double click): one starts.
    let (a1, a2) = (attempt(&o, 1, at(3)), attempt(&o, 2, at(3)));
    let results = join_all([
        try_commit(store, Changes::new().with(Write::StartAttempt(a1.clone()))),
        try_commit(store, Changes::new().with(Write::StartAttempt(a2.clone()))),
    ])
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let live = if results[0].is_ok() { &a1 } else { &a2 };
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(e.is_precondition(guards::ATTEMPT_LIVE), "{e:?}");
    }
    commit(
        store,
        Changes::new()
            .with(Write::SetAttemptIntent {
                attempt: live.id,
                intent_id: "pi_1".into(),
                at: at(4),
            })
            .with(Write::SettleAttempt {
                attempt: live.id,
                status: AttemptStatus::Failed,
                failure_code: Some("card_declined".into()),
                at: at(4),
            }),
    )
    .await;
    let stored = store
        .orders()
        .attempt_by_intent("pi_1")
        .await
        .expect("read");
    assert_eq!(stored.map(|a| a.status), Some(AttemptStatus::Failed));
    let e = commit_fails(
        store,
        Changes::new().with(Write::SettleAttempt {
            attempt: live.id,
            status: AttemptStatus::Abandoned,
            failure_code: None,
            at: at(5),
        }),
    )
    .await;
    assert!(e.is_precondition(guards::ATTEMPT_SETTLED), "{e:?}");
    // After a failure another card may be tried; after the reservation, not.
    commit(
        store,
        Changes::new().with(Write::StartAttempt(attempt(&o, 3, at(5)))),
    )
    .await;
    let mut late = attempt(&o, 4, o.reserved_until);
    late.created_at = o.reserved_until;
    let e = commit_fails(store, Changes::new().with(Write::StartAttempt(late))).await;
    assert!(e.is_precondition(guards::ORDER_NOT_PAYABLE), "{e:?}");
}

pub async fn orders_a_payment_takes_effect_once_whoever_reports_it(store: &dyn Store) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let item = add_item(store, &s, 3000, Some(5)).await;
    let b = buyer(store, "b@example.jp", 2).await;
    let o = order(b, &s, item, 3000, 1, at(2));
    commit(store, Changes::new().with(Write::CreateOrder(o.clone()))).await;
    let a = attempt(&o, 1, at(3));
    commit(store, Changes::new().with(Write::StartAttempt(a.clone()))).await;
    // The webhook, the browser and the reconciliation job report the
    // same payment at once, each with its event and postings.
    let report = |event: &str| {
        Changes::new()
            .with(Write::RecordEvent {
                event_id: event.into(),
                kind: "payment_intent.succeeded".into(),
                order: Some(o.id),
                at: at(4),
            })
            .with(paid(&o, &a, "pi_x", at(4)))
            .post(payment_tx(&o, &s, at(4)))
    };
    let results = join_all([
        try_commit(store, report("evt_1")),
        try_commit(store, report("evt_2")),
        try_commit(store, report("evt_3")),
    ])
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    // The losers rolled back entirely, their event ids included.
    let seen: usize = join_all(["evt_1", "evt_2", "evt_3"].map(|e| store.orders().event_seen(e)))
        .await
        .into_iter()
        .filter(|r| *r.as_ref().expect("read"))
        .count();
    assert_eq!(seen, 1);
    // A redelivered event is refused by its id.
    let winner = ["evt_1", "evt_2", "evt_3"]
        .into_iter()
        .zip(&results)
        .find(|(_, r)| r.is_ok())
        .map(|(e, _)| e)
        .expect("a winner");
    let e = commit_fails(
        store,
        Changes::new().with(Write::RecordEvent {
            event_id: winner.into(),
            kind: "payment_intent.succeeded".into(),
            order: Some(o.id),
            at: at(5),
        }),
    )
    .await;
    assert!(e.is_precondition(guards::EVENT_SEEN), "{e:?}");
    // The same payment posted again (another path, no state change) is
    // refused by its key.
    let e = commit_fails(store, Changes::new().post(payment_tx(&o, &s, at(6)))).await;
    assert!(e.is_precondition(guards::LEDGER_POSTED), "{e:?}");
    let stored = store
        .orders()
        .order(o.id)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(stored.status, OrderStatus::Paid);
    assert_eq!(stored.card_last4.as_deref(), Some("4242"));
    assert_eq!(
        store
            .orders()
            .ledger_of_order(o.id)
            .await
            .expect("ledger")
            .len(),
        1
    );
    assert_eq!(
        store
            .orders()
            .seller_balance(s.shop)
            .await
            .expect("balance"),
        Yen::new(3000 - 22)
    );
    let a = store
        .orders()
        .attempt(a.id)
        .await
        .expect("read")
        .expect("attempt");
    assert_eq!(a.status, AttemptStatus::Succeeded);
    assert_eq!(a.intent_id.as_deref(), Some("pi_x"));
}

pub async fn orders_refunds_never_pass_the_total_even_in_parallel(store: &dyn Store) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let b = buyer(store, "b@example.jp", 2).await;
    let o = paid_order(store, &s, b, 1000).await;
    let refund = |seq: i64, yen: i64, by: MemberId| NewRefund {
        id: new_id(),
        order_id: o.id,
        seq,
        amount: Yen::new(yen),
        idempotency_key: format!("anshin-refund-{}-{seq}", o.id),
        requested_by: by,
        created_at: at(20),
    };
    // Not the seller: refused like an order that is not there.
    let e = commit_fails(
        store,
        Changes::new().with(Write::StartRefund(refund(1, 100, b.0))),
    )
    .await;
    assert!(e.is_precondition(guards::REFUND_TOO_LARGE), "{e:?}");
    // More than the total at once.
    let e = commit_fails(
        store,
        Changes::new().with(Write::StartRefund(refund(1, 1001, s.owner))),
    )
    .await;
    assert!(e.is_precondition(guards::REFUND_TOO_LARGE), "{e:?}");
    // A double click: the same number twice, one wins.
    let r1 = refund(1, 600, s.owner);
    let r1b = refund(1, 600, s.owner);
    let results = join_all([
        try_commit(store, Changes::new().with(Write::StartRefund(r1.clone()))),
        try_commit(store, Changes::new().with(Write::StartRefund(r1b.clone()))),
    ])
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let first = if results[0].is_ok() { r1 } else { r1b };
    // Pending 600 is held: 500 more would pass the total.
    let e = commit_fails(
        store,
        Changes::new().with(Write::StartRefund(refund(2, 500, s.owner))),
    )
    .await;
    assert!(e.is_precondition(guards::REFUND_TOO_LARGE), "{e:?}");
    // Parallel refunds with fresh numbers: never past the total.
    let many: Vec<NewRefund> = (2..6).map(|seq| refund(seq, 200, s.owner)).collect();
    let results = join_all(
        many.iter()
            .map(|r| try_commit(store, Changes::new().with(Write::StartRefund(r.clone())))),
    )
    .await;
    let started: Vec<&NewRefund> = many
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(r, _)| r)
        .collect();
    assert_eq!(started.len(), 2, "400 of 1000 were left: {results:?}");
    let settle = |id, ok: bool, before: i64| Write::SettleRefund {
        refund: id,
        succeeded: ok,
        processor_refund_id: ok.then(|| format!("re_{id}")),
        refunded_before: Yen::new(before),
        at: at(21),
    };
    // Settled against a stale refunded total: refused, nothing changes.
    let e = commit_fails(store, Changes::new().with(settle(first.id, true, 5))).await;
    assert!(e.is_precondition(guards::ORDER_STATE), "{e:?}");
    commit(store, Changes::new().with(settle(first.id, true, 0))).await;
    let e = commit_fails(store, Changes::new().with(settle(first.id, true, 600))).await;
    assert!(
        e.is_precondition(guards::REFUND_SETTLED),
        "settled twice: {e:?}"
    );
    commit(
        store,
        Changes::new().with(settle(started[0].id, false, 600)),
    )
    .await;
    let stored = store
        .orders()
        .order(o.id)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(stored.refunded, Yen::new(600));
    assert_eq!(
        stored.status,
        OrderStatus::Paid,
        "a partial refund keeps the status"
    );
    commit(store, Changes::new().with(settle(started[1].id, true, 600))).await;
    commit(
        store,
        Changes::new().with(Write::StartRefund(refund(8, 200, s.owner))),
    )
    .await;
    let last = store.orders().refunds(o.id).await.expect("refunds");
    let pending = last
        .iter()
        .find(|r| r.status == crate::RefundStatus::Pending)
        .expect("pending");
    commit(store, Changes::new().with(settle(pending.id, true, 800))).await;
    let stored = store
        .orders()
        .order(o.id)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(stored.refunded, Yen::new(1000));
    assert_eq!(
        stored.status,
        OrderStatus::Refunded,
        "the last yen closes it"
    );
    let e = commit_fails(
        store,
        Changes::new().with(Write::StartRefund(refund(9, 1, s.owner))),
    )
    .await;
    assert!(e.is_precondition(guards::REFUND_TOO_LARGE), "{e:?}");
}

pub async fn orders_fulfilment_steps_follow_the_machine_and_their_party(store: &dyn Store) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let b = buyer(store, "b@example.jp", 2).await;
    let o = paid_order(store, &s, b, 1000).await;
    let step = |party, from, to, t| Write::AdvanceOrder {
        order: o.id,
        party,
        from,
        to,
        at: at(t),
    };
    use OrderStatus as S;
    // The buyer cannot ship; the seller cannot skip a step.
    for w in [
        step(Some(OrderParty::Buyer(b.0)), S::Paid, S::Shipped, 30),
        step(Some(OrderParty::Seller(s.owner)), S::Paid, S::Delivered, 30),
        step(Some(OrderParty::Seller(b.0)), S::Paid, S::Shipped, 30),
        step(
            Some(OrderParty::Seller(s.owner)),
            S::Shipped,
            S::Delivered,
            30,
        ),
        step(Some(OrderParty::Seller(s.owner)), S::Paid, S::Cancelled, 30),
    ] {
        let e = commit_fails(store, Changes::new().with(w)).await;
        assert!(e.is_precondition(guards::ORDER_STATE), "{e:?}");
    }
    commit(
        store,
        Changes::new().with(step(
            Some(OrderParty::Seller(s.owner)),
            S::Paid,
            S::Shipped,
            31,
        )),
    )
    .await;
    commit(
        store,
        Changes::new().with(step(
            Some(OrderParty::Buyer(b.0)),
            S::Shipped,
            S::Delivered,
            32,
        )),
    )
    .await;
    assert_eq!(
        store
            .orders()
            .delivered_before(at(33), 10)
            .await
            .expect("due")
            .len(),
        1
    );
    commit(
        store,
        Changes::new().with(step(None, S::Delivered, S::Completed, 40)),
    )
    .await;
    let stored = store
        .orders()
        .order(o.id)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(stored.status, S::Completed);
    assert_eq!(
        (stored.shipped_at, stored.delivered_at, stored.completed_at),
        (Some(at(31)), Some(at(32)), Some(at(40)))
    );
    // Only the parties see it.
    let orders = store.orders();
    assert!(
        orders
            .order_for(o.id, OrderParty::Buyer(b.0))
            .await
            .expect("r")
            .is_some()
    );
    assert!(
        orders
            .order_for(o.id, OrderParty::Seller(s.owner))
            .await
            .expect("r")
            .is_some()
    );
    assert!(
        orders
            .order_for(o.id, OrderParty::Buyer(s.owner))
            .await
            .expect("r")
            .is_none()
    );
    assert!(
        orders
            .order_for(o.id, OrderParty::Seller(b.0))
            .await
            .expect("r")
            .is_none()
    );
    assert_eq!(
        orders
            .orders_of(OrderParty::Buyer(b.0), 0, 10)
            .await
            .expect("r")
            .len(),
        1
    );
    assert!(
        orders
            .orders_of(OrderParty::Buyer(s.owner), 0, 10)
            .await
            .expect("r")
            .is_empty()
    );
}

/// A seller's page of orders is full of paid orders however many unpaid
/// ones were placed after them (the filter is in the query, not after the
/// page is cut): four paid orders, then six unpaid (one cancelled) placed
/// later, read three at a time, give three and one.
pub async fn orders_a_sellers_pages_hold_only_paid_orders_and_stay_full(store: &dyn Store) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let b = buyer(store, "b@example.jp", 2).await;
    let mut paid = Vec::new();
    for _ in 0..4 {
        paid.push(paid_order(store, &s, b, 1000).await.id);
    }
    let item = add_item(store, &s, 500, None).await;
    let mut unpaid = Vec::new();
    for n in 0..6 {
        let o = order(b, &s, item, 500, 1, at(20 + n));
        unpaid.push(o.id);
        commit(store, Changes::new().with(Write::CreateOrder(o))).await;
    }
    commit(
        store,
        Changes::new().with(Write::CancelOrder {
            order: unpaid[0],
            reason: "reservation_expired".into(),
            at: at(40),
        }),
    )
    .await;
    let orders = store.orders();
    let first = orders
        .orders_of(OrderParty::Seller(s.owner), 0, 3)
        .await
        .expect("r");
    let second = orders
        .orders_of(OrderParty::Seller(s.owner), 3, 3)
        .await
        .expect("r");
    assert_eq!(first.len(), 3, "a full first page");
    assert_eq!(second.len(), 1, "the fourth paid order on the next");
    let mut seen: Vec<_> = first.iter().chain(&second).map(|o| o.id).collect();
    seen.sort();
    paid.sort();
    assert_eq!(seen, paid, "the unpaid orders are not the seller's to see");
    let buyer_sees = orders
        .orders_of(OrderParty::Buyer(b.0), 0, 20)
        .await
        .expect("r");
    assert_eq!(buyer_sees.len(), 10, "the buyer sees all of theirs");
}

pub async fn orders_the_ledger_keeps_balanced_transactions_and_pages_them(store: &dyn Store) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let b = buyer(store, "b@example.jp", 2).await;
    let mut ids: Vec<OrderId> = Vec::new();
    for yen in [1000, 2500, 700] {
        ids.push(paid_order(store, &s, b, yen).await.id);
    }
    let sums = store.orders().account_sums().await.expect("sums");
    let total: i64 = sums.iter().map(|a| a.sum.amount()).sum();
    assert_eq!(total, 0, "every transaction sums to zero, so all do");
    let clearing = sums
        .iter()
        .find(|a| a.account == LedgerAccount::ProcessorClearing)
        .expect("clearing");
    assert_eq!(clearing.sum, Yen::new(4200));
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.orders().ledger_page(after, 2).await.expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for t in &page {
            assert_eq!(crate::orders::check_balanced(&t.postings), Ok(()));
            assert_eq!(t.kind, LedgerKind::Payment);
            seen.push(t.order.expect("order"));
        }
    }
    assert_eq!(seen, ids, "in id order, each once");
    // Unbalanced postings cannot be made into a transaction at all.
    let bad = LedgerTransaction::balanced(
        new_id(),
        "x".into(),
        LedgerKind::Payment,
        None,
        at(1),
        vec![Posting {
            account: LedgerAccount::ProcessorClearing,
            shop: None,
            amount: Yen::new(1),
        }],
    );
    assert!(bad.is_err());
}

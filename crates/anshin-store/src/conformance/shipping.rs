//! Anonymous shipping (C19): a shipment exists only for a paid order and
//! once per order, a drop-off code is accepted once, a void replaces the
//! live code exactly once even when approved twice at the same moment,
//! parcel events follow the parcel, and a shop's shipping choice names
//! only the owner's own addresses.

use super::fixtures::{address, at, commit, commit_fails, join_all, new_id, sign_up, try_commit};
use super::orders::{Shop, add_item, buyer, open_shop, order, paid_order};
use crate::{
    Changes, DropoffCodeStatus, NewShipment, OrderStatus, ParcelEventKind, ShipmentStatus, Store,
    StoreError, Write, guards,
};

fn shipment(o: &crate::NewOrder, hash: [u8; 32], sender: bool) -> NewShipment {
    NewShipment {
        id: new_id(),
        order_id: o.id,
        shop_id: o.shop_id,
        seller_id: o.seller_id,
        buyer_id: o.buyer_id,
        wrapped_key: vec![1; 65],
        kek_version: 1,
        recipient: vec![2; 80],
        sender: sender.then(|| vec![3; 80]),
        code_hash: hash,
        created_at: at(12),
    }
}

async fn shipped(store: &dyn Store, seed: u8) -> (Shop, crate::NewOrder, NewShipment) {
    let s = open_shop(store, &format!("seller{seed}@example.jp"), seed).await;
    let b = buyer(
        store,
        &format!("buyer{seed}@example.jp"),
        seed.wrapping_add(50),
    )
    .await;
    let o = paid_order(store, &s, b, 1200).await;
    let n = shipment(&o, [seed; 32], true);
    commit(store, Changes::new().with(Write::CreateShipment(n.clone()))).await;
    (s, o, n)
}

/// A paid order's shipment with a live drop-off code (generation 0),
/// for tests of the shipping centre above the store (void requests):
/// `seed` keeps its seller, buyer and code apart from others'. (Not a
/// `pub async fn`: those are the checks this file lists.)
#[allow(clippy::manual_async_fn)] // see above: the check list reads `pub async fn`
pub fn a_shipment(
    store: &dyn Store,
    seed: u8,
) -> impl std::future::Future<Output = anshin_domain::ShipmentId> + '_ {
    async move { shipped(store, seed).await.2.id }
}

fn accept(n: &NewShipment, hash: [u8; 32], secs: i64) -> Write {
    Write::AcceptDropoff {
        code_hash: hash,
        shipment: n.id,
        event: new_id(),
        at: at(secs),
    }
}

fn is(e: &StoreError, guard: &str) -> bool {
    e.is_precondition(guard)
}

pub async fn c19_a_shipment_is_made_once_for_a_paid_order_and_its_code_is_accepted_once(
    store: &dyn Store,
) {
    let s = open_shop(store, "seller@example.jp", 1).await;
    let b = buyer(store, "buyer@example.jp", 2).await;
    // Not paid yet: no shipment.
    let item = add_item(store, &s, 900, Some(3)).await;
    let unpaid = order(b, &s, item, 900, 1, at(10));
    commit(
        store,
        Changes::new().with(Write::CreateOrder(unpaid.clone())),
    )
    .await;
    let e = commit_fails(
        store,
        Changes::new().with(Write::CreateShipment(shipment(&unpaid, [7; 32], true))),
    )
    .await;
    assert!(is(&e, guards::ORDER_STATE), "{e}");
    assert!(
        store
            .shipping()
            .shipment_of_order(unpaid.id)
            .await
            .expect("read")
            .is_none()
    );

    let o = paid_order(store, &s, b, 1200).await;
    let n = shipment(&o, [8; 32], true);
    commit(store, Changes::new().with(Write::CreateShipment(n.clone()))).await;
    // A second shipment of the same order (a payment reported twice).
    let e = commit_fails(
        store,
        Changes::new().with(Write::CreateShipment(shipment(&o, [9; 32], true))),
    )
    .await;
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");

    let r = store
        .shipping()
        .shipment_of_order(o.id)
        .await
        .expect("read")
        .expect("made");
    assert_eq!(r.id, n.id);
    assert_eq!(r.status, ShipmentStatus::AwaitingDropoff);
    assert_eq!(r.generation, 0);
    assert!(r.has_sender);
    assert_eq!((r.seller_id, r.buyer_id), (s.owner, b.0));
    let label = store
        .shipping()
        .sealed_label(n.id)
        .await
        .expect("read")
        .expect("label");
    assert_eq!(label.recipient, n.recipient);
    assert_eq!(label.sender, n.sender);
    assert_eq!(label.wrapped_key, n.wrapped_key);
    let code = store
        .shipping()
        .dropoff_code(&[8; 32])
        .await
        .expect("read")
        .expect("code");
    assert_eq!(
        (code.shipment_id, code.generation, code.status),
        (n.id, 0, DropoffCodeStatus::Live)
    );

    // An unknown code accepts nothing.
    let e = commit_fails(store, Changes::new().with(accept(&n, [1; 32], 20))).await;
    assert!(is(&e, guards::DROPOFF_NOT_LIVE), "{e}");
    commit(store, Changes::new().with(accept(&n, [8; 32], 20))).await;
    // Single use: the same code again, in another bundle.
    let e = commit_fails(store, Changes::new().with(accept(&n, [8; 32], 21))).await;
    assert!(is(&e, guards::DROPOFF_NOT_LIVE), "{e}");
    let code = store
        .shipping()
        .dropoff_code(&[8; 32])
        .await
        .expect("read")
        .expect("code");
    assert_eq!(code.status, DropoffCodeStatus::Accepted);
    assert_eq!(code.ended_at, Some(at(20)));
    let r = store
        .shipping()
        .shipment(n.id)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(r.status, ShipmentStatus::Accepted);
    let events = store.shipping().parcel_events(n.id).await.expect("read");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, ParcelEventKind::Accepted);
}

pub async fn c19_parallel_accepts_of_one_code_take_it_once(store: &dyn Store) {
    let (_, _, n) = shipped(store, 3).await;
    let results = join_all(
        (0..6).map(|i| try_commit(store, Changes::new().with(accept(&n, [3; 32], 20 + i)))),
    )
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            is(r, guards::DROPOFF_NOT_LIVE) || is(r, guards::SHIPMENT_STATE),
            "{r}"
        );
    }
    assert_eq!(
        store
            .shipping()
            .parcel_events(n.id)
            .await
            .expect("read")
            .len(),
        1
    );
}

pub async fn c25_a_void_replaces_the_live_code_once_even_if_approved_twice(store: &dyn Store) {
    let (_, _, n) = shipped(store, 4).await;
    let void = |hash: u8| Write::VoidDropoffCode {
        shipment: n.id,
        generation: 0,
        new_code_hash: [hash; 32],
        at: at(30),
    };
    // Two approvals at the same moment: one void, one new code.
    let results = join_all([
        try_commit(store, Changes::new().with(void(40))),
        try_commit(store, Changes::new().with(void(41))),
    ])
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let r = store
        .shipping()
        .shipment(n.id)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(r.generation, 1);
    let old = store
        .shipping()
        .dropoff_code(&[4; 32])
        .await
        .expect("read")
        .expect("old");
    assert_eq!(old.status, DropoffCodeStatus::Voided);
    let new_hash = if results[0].is_ok() {
        [40; 32]
    } else {
        [41; 32]
    };
    let new = store
        .shipping()
        .dropoff_code(&new_hash)
        .await
        .expect("read")
        .expect("new");
    assert_eq!((new.generation, new.status), (1, DropoffCodeStatus::Live));
    // The voided code is dead at the counter; the new one works.
    let e = commit_fails(store, Changes::new().with(accept(&n, [4; 32], 31))).await;
    assert!(is(&e, guards::DROPOFF_NOT_LIVE), "{e}");
    commit(store, Changes::new().with(accept(&n, new_hash, 32))).await;
    // After the drop-off, nothing is voided any more.
    let e = commit_fails(
        store,
        Changes::new().with(Write::VoidDropoffCode {
            shipment: n.id,
            generation: 1,
            new_code_hash: [42; 32],
            at: at(33),
        }),
    )
    .await;
    assert!(is(&e, guards::DROPOFF_NOT_LIVE), "{e}");
}

pub async fn c19_parcel_events_follow_the_parcel(store: &dyn Store) {
    let (_, o, n) = shipped(store, 5).await;
    let event = |kind, secs| Write::AddParcelEvent {
        event: new_id(),
        shipment: n.id,
        kind,
        at: at(secs),
    };
    // Nothing moves before the centre has the parcel.
    for kind in [ParcelEventKind::InTransit, ParcelEventKind::Delivered] {
        let e = commit_fails(store, Changes::new().with(event(kind, 15))).await;
        assert!(is(&e, guards::SHIPMENT_STATE), "{e}");
    }
    commit(
        store,
        Changes::new()
            .with(accept(&n, [5; 32], 20))
            .with(Write::AdvanceOrder {
                order: o.id,
                party: None,
                from: OrderStatus::Paid,
                to: OrderStatus::Shipped,
                at: at(20),
            }),
    )
    .await;
    commit(
        store,
        Changes::new().with(event(ParcelEventKind::InTransit, 21)),
    )
    .await;
    commit(
        store,
        Changes::new().with(event(ParcelEventKind::InTransit, 22)),
    )
    .await;
    commit(
        store,
        Changes::new().with(event(ParcelEventKind::Delivered, 23)),
    )
    .await;
    let e = commit_fails(
        store,
        Changes::new().with(event(ParcelEventKind::Delivered, 24)),
    )
    .await;
    assert!(is(&e, guards::SHIPMENT_STATE), "{e}");
    let e = commit_fails(
        store,
        Changes::new().with(event(ParcelEventKind::Accepted, 24)),
    )
    .await;
    assert!(is(&e, guards::SHIPMENT_STATE), "{e}");
    let kinds: Vec<_> = store
        .shipping()
        .parcel_events(n.id)
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            ParcelEventKind::Accepted,
            ParcelEventKind::InTransit,
            ParcelEventKind::InTransit,
            ParcelEventKind::Delivered
        ]
    );
    let r = store
        .shipping()
        .shipment(n.id)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(r.status, ShipmentStatus::Delivered);
    assert_eq!(
        store
            .orders()
            .order(o.id)
            .await
            .expect("read")
            .expect("order")
            .status,
        OrderStatus::Shipped
    );
}

pub async fn c19_only_the_seller_sets_the_sender_and_only_before_the_drop_off(store: &dyn Store) {
    let s = open_shop(store, "seller6@example.jp", 6).await;
    let b = buyer(store, "buyer6@example.jp", 56).await;
    let o = paid_order(store, &s, b, 1200).await;
    let n = shipment(&o, [6; 32], false);
    commit(store, Changes::new().with(Write::CreateShipment(n.clone()))).await;
    assert!(
        !store
            .shipping()
            .shipment(n.id)
            .await
            .expect("read")
            .expect("there")
            .has_sender
    );
    let set = |who, secs| Write::SetShipmentSender {
        shipment: n.id,
        seller: who,
        sender: vec![4; 80],
        at: at(secs),
    };
    // The buyer (or anyone but the seller) cannot.
    let e = commit_fails(store, Changes::new().with(set(b.0, 13))).await;
    assert!(is(&e, guards::SHIPMENT_STATE), "{e}");
    commit(store, Changes::new().with(set(s.owner, 14))).await;
    let r = store
        .shipping()
        .shipment(n.id)
        .await
        .expect("read")
        .expect("there");
    assert!(r.has_sender);
    let label = store
        .shipping()
        .sealed_label(n.id)
        .await
        .expect("read")
        .expect("label");
    assert_eq!(label.sender, Some(vec![4; 80]));
    commit(store, Changes::new().with(accept(&n, [6; 32], 20))).await;
    let e = commit_fails(store, Changes::new().with(set(s.owner, 21))).await;
    assert!(is(&e, guards::SHIPMENT_STATE), "{e}");
}

pub async fn c19_a_shops_shipping_choice_is_its_owners_with_their_own_address(store: &dyn Store) {
    let s = open_shop(store, "seller7@example.jp", 7).await;
    let other = sign_up(store, "other7@example.jp", at(0), 77).await;
    for m in [s.owner, other] {
        store
            .member_data()
            .create_member_key(m, b"wrapped", 1, at(0))
            .await
            .expect("key");
    }
    let mine = address(s.owner, vec![1; 40], true, at(1));
    let theirs = address(other, vec![2; 40], true, at(1));
    commit(
        store,
        Changes::new()
            .with(Write::AddAddress(mine.clone()))
            .with(Write::AddAddress(theirs.clone())),
    )
    .await;
    assert!(
        store
            .shipping()
            .shop_shipping(s.shop)
            .await
            .expect("read")
            .is_none()
    );
    let set = |owner, sender, anonymous| Write::SetShopShipping {
        owner,
        shop: s.shop,
        anonymous,
        sender,
        at: at(5),
    };
    let e = commit_fails(store, Changes::new().with(set(other, None, false))).await;
    assert!(is(&e, guards::SHOP_NOT_FOUND), "{e}");
    let e = commit_fails(
        store,
        Changes::new().with(set(s.owner, Some(theirs.id), true)),
    )
    .await;
    assert!(is(&e, guards::ADDRESS_NOT_FOUND), "{e}");
    commit(
        store,
        Changes::new().with(set(s.owner, Some(mine.id), true)),
    )
    .await;
    let r = store
        .shipping()
        .shop_shipping(s.shop)
        .await
        .expect("read")
        .expect("saved");
    assert!(r.anonymous);
    assert_eq!(r.sender_address_id, Some(mine.id));
    commit(store, Changes::new().with(set(s.owner, None, false))).await;
    let r = store
        .shipping()
        .shop_shipping(s.shop)
        .await
        .expect("read")
        .expect("saved");
    assert!(!r.anonymous);
    assert_eq!(r.sender_address_id, None);
}

/// C17: only delivered shipments are listed for the retention purge, in
/// delivery order, by position; the purge deletes the key (the label
/// goes with it), the drop-off codes and the parcel events, marks the
/// row purged (not listed again) and leaves a shipment in transit alone;
/// purging twice is harmless.
pub async fn c17_a_purge_destroys_a_delivered_shipments_key_and_history_once(store: &dyn Store) {
    let deliver = |n: &NewShipment, o: &crate::NewOrder, hash: [u8; 32], secs: i64| {
        Changes::new()
            .with(accept(n, hash, secs))
            .with(Write::AdvanceOrder {
                order: o.id,
                party: None,
                from: OrderStatus::Paid,
                to: OrderStatus::Shipped,
                at: at(secs),
            })
            .with(Write::AddParcelEvent {
                event: new_id(),
                shipment: n.id,
                kind: ParcelEventKind::Delivered,
                at: at(secs + 1),
            })
    };
    let (_, o1, n1) = shipped(store, 7).await;
    let (_, o2, n2) = shipped(store, 8).await;
    let (_, _, n3) = shipped(store, 9).await;
    commit(store, deliver(&n2, &o2, [8; 32], 30)).await;
    commit(store, deliver(&n1, &o1, [7; 32], 40)).await;
    commit(store, Changes::new().with(accept(&n3, [9; 32], 20))).await;
    let listed = |not_after, after, limit| async move {
        store
            .shipping()
            .delivered_unpurged(at(not_after), after, limit)
            .await
            .expect("list")
    };
    assert_eq!(
        listed(100, None, 10).await,
        [(n2.id, at(31)), (n1.id, at(41))],
        "delivered ones only, oldest delivery first"
    );
    assert_eq!(listed(40, None, 10).await, [(n2.id, at(31))]);
    assert_eq!(listed(100, None, 1).await, [(n2.id, at(31))]);
    assert_eq!(
        listed(100, Some((at(31), n2.id)), 10).await,
        [(n1.id, at(41))],
        "after a position"
    );
    for _ in 0..2 {
        commit(
            store,
            Changes::new()
                .with(Write::PurgeShipment {
                    shipment: n2.id,
                    at: at(100),
                })
                .with(Write::PurgeShipment {
                    shipment: n3.id,
                    at: at(100),
                }),
        )
        .await;
    }
    let shipping = store.shipping();
    assert!(shipping.sealed_label(n2.id).await.expect("read").is_none());
    assert!(
        shipping
            .parcel_events(n2.id)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(
        shipping
            .dropoff_code(&[8; 32])
            .await
            .expect("read")
            .is_none()
    );
    let r = shipping
        .shipment(n2.id)
        .await
        .expect("read")
        .expect("row stays");
    assert_eq!(r.status, ShipmentStatus::Delivered);
    assert!(!r.has_sender);
    assert_eq!(listed(100, None, 10).await, [(n1.id, at(41))]);
    // Not delivered (n3) and not purged (n1): untouched.
    for (n, hash) in [(&n3, [9; 32]), (&n1, [7; 32])] {
        assert!(shipping.sealed_label(n.id).await.expect("read").is_some());
        assert!(!shipping.parcel_events(n.id).await.expect("read").is_empty());
        assert!(shipping.dropoff_code(&hash).await.expect("read").is_some());
    }
}

//! Racing for the last items (acceptance 4 of issue 13): 50 buyers check
//! out at the same moment for an item with 10 in stock, through two
//! server instances on one database (PostgreSQL; and SQLite, two
//! instances on one file), then pay. Exactly 10 orders are placed and
//! paid, the stock ends at 0 and never below, the other 40 are told it is
//! sold out, and the processor charged 10 times.

use std::sync::Arc;

use anshin_core::clock::{Clock, SystemClock};
use anshin_testkit::reqwest::StatusCode;
use anshin_testkit::{Backend, TestApp, backends};
use futures_util::future::join_all;

use crate::commerce::*;

backends!(c15_fifty_buyers_ten_items_two_instances);

const BUYERS: usize = 50;
const STOCK: &str = "10";

async fn c15_fifty_buyers_ten_items_two_instances(b: Backend) {
    let m = Market::start(b).await;
    let one = m.app.clone();
    let two: Arc<TestApp> = Arc::new(m.app.sibling_with(|s| m.stripe.configure(s)).await);
    two.clock.set(SystemClock.now());
    let s = seller(&one, "seller@example.jp").await;
    let mug = item(&one, &s, "限定の湯呑み", "3000", STOCK).await;
    // Fifty members, each with an address and the item in the cart (half
    // through each instance).
    let mut buyers = Vec::new();
    for chunk in (0..BUYERS).collect::<Vec<_>>().chunks(10) {
        let made = join_all(chunk.iter().map(|i| {
            let app = if i % 2 == 0 { one.clone() } else { two.clone() };
            async move {
                let b = buyer(&app, &format!("buyer{i}@example.jp")).await;
                expect(put_in_cart(&app, &b, mug, 1).await, StatusCode::NO_CONTENT).await;
                (app, b)
            }
        }))
        .await;
        buyers.extend(made);
    }
    // All at once.
    let placed = join_all(buyers.iter().map(|(app, b)| {
        let app = app.clone();
        async move {
            let res = place(&app, b, s.shop).await;
            let status = res.status();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }
    }))
    .await;
    let won: Vec<&serde_json::Value> = placed
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(won.len(), 10, "exactly the stock: {placed:?}");
    let t = anshin_core::i18n::Catalogs::load().unwrap();
    let sold_out_words = &t.get(anshin_core::i18n::Lang::Ja).flash["order_sold_out"];
    for (status, v) in placed.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"], "sold_out", "{v}");
        assert_eq!(&v["message"], sold_out_words.as_str(), "told in words");
    }
    let stock = one.store.shops().item(mug).await.unwrap().unwrap().stock;
    assert_eq!(stock.count(), Some(0), "no oversell, nothing left over");
    // The ten pay, again across both instances.
    let winners: Vec<(Arc<TestApp>, &Buyer, anshin_domain::OrderId)> = buyers
        .iter()
        .zip(&placed)
        .filter(|(_, (s, _))| *s == StatusCode::CREATED)
        .map(|((app, b), (_, v))| {
            (
                app.clone(),
                b,
                anshin_domain::OrderId::parse(v["order_id"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    let paid = join_all(winners.iter().map(|(app, b, order)| {
        let m = Market {
            app: app.clone(),
            stripe: m.stripe.clone(),
        };
        async move { pay_with(&m, b, *order, CARD_OK).await }
    }))
    .await;
    assert!(paid.iter().all(|p| p["status"] == "paid"), "{paid:?}");
    let charges = m.stripe.charges_per_order().await;
    assert_eq!(charges.values().sum::<u32>(), 10, "{charges:?}");
    assert!(charges.values().all(|n| *n <= 1));
    let report = ledger_sound(&one).await;
    assert_eq!(report.transactions, 10);
    assert_eq!(
        anshin_core::ledger::seller_balance(one.store.as_ref(), s.shop)
            .await
            .unwrap()
            .amount(),
        10 * (3000 - (168 + 22))
    );
}

//! The ledger under any sequence of reports (issue 13): property tests
//! with the in-memory processor on real databases.
//!
//! For random orders, payment reports (webhooks with repeated and fresh
//! event ids, the browser's refresh, the reconciliation job) and refunds:
//! after every step each transaction sums to zero and no balance is on
//! the wrong side of zero (`ledger::check`); and replaying the same
//! events in another order, each report several times, gives the same
//! ledger (the same balance of every account, per shop and per order, and
//! the same number of transactions).

use std::collections::BTreeMap;
use std::sync::Arc;

use anshin_core::clock::{Clock, ManualClock};
use anshin_core::member_data::{RawAddress, ShippingAddress};
use anshin_core::orders::transitions::{EventRef, apply_intent};
use anshin_core::payments::fake::FakeProcessor;
use anshin_core::random::Random;
use anshin_core::shops::{ItemInput, RawItem, RawShop, ShopInput};
use anshin_core::{CoreSettings, Services};
use anshin_domain::{
    Duration, EmailAddress, ItemStatus, Lang, LedgerAccount, MemberId, OrderId, SessionId, ShopId,
    Timestamp, Yen,
};
use anshin_store::{Changes, NewMember, NewSession, SessionLogin, Store, Write};
use proptest::prelude::*;

use crate::{Backend, Fresh, fresh, on_both};

on_both!(ledger_replayed_reports_and_refunds_give_the_same_ledger);

pub(crate) const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

/// One thing that happens to an order.
#[derive(Debug, Clone)]
enum Step {
    /// The processor's webhook about the order's intent, with this id.
    Webhook(usize, u8),
    /// The buyer's browser asks (after 3-D Secure).
    Refresh(usize),
    /// The reconciliation job runs.
    Reconcile,
    /// The seller refunds this much of the order.
    Refund(usize, i64),
}

pub(crate) struct World {
    pub(crate) db: Fresh,
    pub(crate) svc: Services,
    pub(crate) fake: Arc<FakeProcessor>,
    pub(crate) clock: ManualClock,
    pub(crate) seller: MemberId,
    pub(crate) shop: ShopId,
    pub(crate) buyer: MemberId,
    pub(crate) orders: Vec<OrderId>,
    pub(crate) address: anshin_domain::AddressId,
    pub(crate) keys_dir: tempfile::TempDir,
}

async fn member(store: &dyn Store, email: &str, id: MemberId, at: Timestamp) {
    let m = NewMember {
        id,
        email: EmailAddress::parse(email).unwrap(),
        display_name: anshin_domain::DisplayName::parse("Test").unwrap(),
        language: Lang::Ja,
        created_at: at,
        terms: anshin_store::accounts::TermsConsent {
            version: anshin_core::accounts::TERMS_VERSION.into(),
            accepted_at: at,
        },
    };
    store
        .commit(&Changes::new().with(Write::CreateMember(m)))
        .await
        .unwrap();
}

/// A shop selling one item per price, a buyer with an address and a
/// session (token `[7; 32]`), and one order (awaiting payment by 3-D
/// Secure, authenticated at the processor) per price.
pub(crate) async fn world(b: Backend, prices: &[i64]) -> World {
    let db = fresh(b).await;
    let dir = tempfile::tempdir().unwrap();
    let random = Random::os();
    let keys = Arc::new(
        anshin_core::keys::Keys::load_or_create(&dir.path().join("ring"), &random).unwrap(),
    );
    let clock = ManualClock::new(T0);
    let fake = Arc::new(FakeProcessor::new());
    let mut settings = CoreSettings::default();
    settings.payments.secret_key = Some("sk_test".to_owned().into());
    settings.payments.publishable_key = Some("pk_test".to_owned());
    settings.auth.argon2_memory_kib = 19_456;
    let svc = Services::offline_with(
        db.store.clone(),
        keys,
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        random,
        settings,
        "https://shop.example",
        fake.clone(),
    )
    .unwrap();
    let store = svc.store.clone();
    let seller: MemberId = svc.new_id();
    let buyer: MemberId = svc.new_id();
    member(store.as_ref(), "seller@example.jp", seller, T0).await;
    member(store.as_ref(), "buyer@example.jp", buyer, T0).await;
    let shop = anshin_core::shops::open_shop(
        &svc,
        seller,
        &ShopInput::parse(&RawShop {
            name: "窯".into(),
            description: String::new(),
        })
        .unwrap(),
    )
    .await
    .unwrap();
    let address = anshin_core::member_data::add_address(
        &svc,
        buyer,
        &ShippingAddress::parse(RawAddress {
            recipient_name: "山田 花子".into(),
            postal_code: "150-0001".into(),
            prefecture: "東京都".into(),
            city: "渋谷区".into(),
            line1: "神宮前1-2-3".into(),
            line2: None,
            phone: None,
        })
        .unwrap(),
        true,
    )
    .await
    .unwrap();
    let session_id: SessionId = svc.new_id();
    store
        .commit(&Changes::new().with(Write::CreateSession(NewSession {
            id: session_id,
            token_hash: [7; 32],
            created_at: T0,
            absolute_expires_at: T0 + Duration::from_secs(86_400 * 30),
            idle_expires_at: T0 + Duration::from_secs(86_400 * 30),
            login: Some(SessionLogin {
                member_id: buyer,
                authenticated_at: T0,
                ip: "192.0.2.1".into(),
                device: "test".into(),
                method: anshin_domain::LoginMethod::Code,
            }),
        })))
        .await
        .unwrap();
    let session = store
        .sessions()
        .find_live(&[7; 32], T0)
        .await
        .unwrap()
        .unwrap();
    let mut orders = Vec::new();
    for p in prices {
        let item = anshin_core::shops::add_item(
            &svc,
            seller,
            &ItemInput::parse(&RawItem {
                title: format!("器 {p}"),
                description: String::new(),
                price: p.to_string(),
                stock: "5".into(),
            })
            .unwrap(),
            ItemStatus::OnSale,
        )
        .await
        .unwrap();
        anshin_core::checkout::add_to_cart(&svc, &session, item, anshin_domain::Quantity::ONE)
            .await
            .unwrap();
        let order = anshin_core::checkout::place_order(&svc, &session, shop, address)
            .await
            .unwrap();
        let outcome = anshin_core::checkout::pay(&svc, buyer, order, "card_3ds1")
            .await
            .unwrap();
        assert!(matches!(
            outcome,
            anshin_core::orders::PayOutcome::NeedsAction(_)
        ));
        let attempt = &store.orders().attempts(order).await.unwrap()[0];
        fake.authenticate(attempt.intent_id.as_deref().unwrap(), true);
        orders.push(order);
    }
    World {
        db,
        svc,
        fake,
        clock,
        seller,
        shop,
        buyer,
        orders,
        address,
        keys_dir: dir,
    }
}

/// One more order of one item at `price`, by the world's buyer, awaiting
/// payment with 3-D Secure passed at the processor.
pub(crate) async fn world_order(w: &World, price: i64) -> OrderId {
    let session = w
        .svc
        .store
        .sessions()
        .find_live(&[7; 32], w.svc.now())
        .await
        .unwrap()
        .unwrap();
    let item = anshin_core::shops::add_item(
        &w.svc,
        w.seller,
        &ItemInput::parse(&RawItem {
            title: format!("皿 {price}"),
            description: String::new(),
            price: price.to_string(),
            stock: "5".into(),
        })
        .unwrap(),
        ItemStatus::OnSale,
    )
    .await
    .unwrap();
    anshin_core::checkout::add_to_cart(&w.svc, &session, item, anshin_domain::Quantity::ONE)
        .await
        .unwrap();
    let order = anshin_core::checkout::place_order(&w.svc, &session, w.shop, w.address)
        .await
        .unwrap();
    anshin_core::checkout::pay(&w.svc, w.buyer, order, "card_3ds1")
        .await
        .unwrap();
    let attempt = &w.svc.store.orders().attempts(order).await.unwrap()[0];
    w.fake
        .authenticate(attempt.intent_id.as_deref().unwrap(), true);
    order
}

async fn run(w: &World, step: &Step) {
    let store = w.svc.store.clone();
    match step {
        Step::Webhook(i, evt) => {
            let order = w.orders[*i];
            let attempt = store.orders().attempts(order).await.unwrap().remove(0);
            let intent = anshin_core::payments::PaymentProcessor::intent(
                w.fake.as_ref(),
                attempt.intent_id.as_deref().unwrap(),
            )
            .await
            .unwrap();
            let id = format!("evt_{order}_{evt}").replace('-', "");
            apply_intent(
                &w.svc,
                &attempt,
                &intent,
                Some(EventRef {
                    id: &id,
                    kind: "payment_intent.succeeded",
                }),
            )
            .await
            .unwrap();
        }
        Step::Refresh(i) => {
            anshin_core::checkout::refresh(&w.svc, w.buyer, w.orders[*i])
                .await
                .unwrap();
        }
        Step::Reconcile => {
            w.clock.advance(Duration::from_secs(301));
            anshin_core::orders::reconcile(&w.svc, &Default::default())
                .await
                .unwrap();
        }
        Step::Refund(i, amount) => {
            // Refused when the order is not paid yet or the amount passes
            // what is left: the ledger must not change then.
            let _ = anshin_core::orders::refund(&w.svc, w.seller, w.orders[*i], Yen::new(*amount))
                .await;
        }
    }
    let report = anshin_core::ledger::check(store.as_ref()).await.unwrap();
    assert!(report.is_sound(), "after {step:?}: {:#?}", report.problems);
}

/// The ledger as balances: per account (and shop), per order, and the
/// number of transactions of each kind.
async fn ledger_of(
    w: &World,
) -> (
    BTreeMap<(String, bool), i64>,
    BTreeMap<usize, (i64, i64, i64, i64)>,
    (usize, usize, usize),
) {
    let store = w.svc.store.clone();
    let mut accounts = BTreeMap::new();
    for s in store.orders().account_sums().await.unwrap() {
        accounts.insert(
            (s.account.as_str().to_owned(), s.shop == Some(w.shop)),
            s.sum.amount(),
        );
    }
    let mut per_order = BTreeMap::new();
    let mut kinds = (0, 0, 0);
    for (i, o) in w.orders.iter().enumerate() {
        let mut sums = (0, 0, 0, 0);
        for t in store.orders().ledger_of_order(*o).await.unwrap() {
            match t.kind {
                anshin_store::LedgerKind::Payment => kinds.0 += 1,
                anshin_store::LedgerKind::Refund => kinds.1 += 1,
                anshin_store::LedgerKind::LatePayment | anshin_store::LedgerKind::LateRefund => {
                    kinds.2 += 1
                }
                k => panic!("an order's transaction of kind {k:?}"),
            }
            for p in t.postings {
                match p.account {
                    LedgerAccount::ProcessorClearing => sums.0 += p.amount.amount(),
                    LedgerAccount::SellerPayable => sums.1 += p.amount.amount(),
                    LedgerAccount::PlatformFeeRevenue => sums.2 += p.amount.amount(),
                    LedgerAccount::RefundsPayable => sums.3 += p.amount.amount(),
                    a => panic!("an order's posting to {a:?}"),
                }
            }
        }
        per_order.insert(i, sums);
    }
    (accounts, per_order, kinds)
}

/// The events of one case: reports first (in `reports` order), then
/// refunds whose sum per order is within the order's total.
fn case() -> impl Strategy<Value = (Vec<i64>, Vec<Step>, Vec<Step>, Vec<u32>)> {
    proptest::collection::vec(50i64..=20_000, 1..=3).prop_flat_map(|prices| {
        let n = prices.len();
        let report = prop_oneof![
            (0..n, 0u8..3).prop_map(|(i, e)| Step::Webhook(i, e)),
            (0..n).prop_map(Step::Refresh),
            Just(Step::Reconcile),
        ];
        let refunds = proptest::collection::vec((0..n, 1i64..=20_000), 0..5);
        (
            Just(prices),
            proptest::collection::vec(report, 1..8),
            refunds,
            proptest::collection::vec(any::<u32>(), 64),
        )
            .prop_map(|(prices, reports, refunds, keys)| {
                let mut left: Vec<i64> = prices.clone();
                let refunds = refunds
                    .into_iter()
                    .filter_map(|(i, a)| {
                        let a = a.min(left[i]);
                        left[i] -= a;
                        (a > 0).then_some(Step::Refund(i, a))
                    })
                    .collect();
                (prices, reports, refunds, keys)
            })
    })
}

/// Each order reported paid at least once (so the refunds apply), in
/// the generated order; then the refunds.
fn first_run(prices: &[i64], reports: &[Step], refunds: &[Step]) -> Vec<Step> {
    let mut steps: Vec<Step> = reports.to_vec();
    for i in 0..prices.len() {
        steps.push(Step::Webhook(i, 9));
    }
    steps.extend_from_slice(refunds);
    steps
}

/// The same events shuffled by `keys`, every report twice; then the
/// refunds, shuffled too.
fn replay(first: &[Step], keys: &[u32]) -> Vec<Step> {
    let (mut reports, mut refunds): (Vec<Step>, Vec<Step>) = first
        .iter()
        .cloned()
        .partition(|s| !matches!(s, Step::Refund(..)));
    reports.extend(reports.clone());
    let mut keyed: Vec<(u32, Step)> = reports
        .into_iter()
        .enumerate()
        .map(|(i, s)| (keys[i % keys.len()].rotate_left(i as u32), s))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    let mut keyed_refunds: Vec<(u32, Step)> = refunds
        .drain(..)
        .enumerate()
        .map(|(i, s)| (keys[(i + 7) % keys.len()], s))
        .collect();
    keyed_refunds.sort_by_key(|(k, _)| *k);
    keyed
        .into_iter()
        .chain(keyed_refunds)
        .map(|(_, s)| s)
        .collect()
}

async fn check_case(
    b: Backend,
    prices: Vec<i64>,
    reports: Vec<Step>,
    refunds: Vec<Step>,
    keys: Vec<u32>,
) {
    let steps = first_run(&prices, &reports, &refunds);
    let a = world(b, &prices).await;
    for s in &steps {
        run(&a, s).await;
    }
    let b_world = world(b, &prices).await;
    for s in replay(&steps, &keys) {
        run(&b_world, &s).await;
    }
    let (la, lb) = (ledger_of(&a).await, ledger_of(&b_world).await);
    assert_eq!(la, lb, "replaying {steps:?} gave another ledger");
    // Every order is paid once, charged once.
    for o in &a.orders {
        assert_eq!(a.fake.charges_for(*o), 1);
    }
    assert_eq!(la.2.0, prices.len(), "one payment transaction per order");
}

async fn ledger_replayed_reports_and_refunds_give_the_same_ledger(b: Backend) {
    // A fixed case on both databases…
    check_case(
        b,
        vec![1000, 1999],
        vec![
            Step::Webhook(0, 0),
            Step::Webhook(0, 0),
            Step::Refresh(1),
            Step::Reconcile,
        ],
        vec![
            Step::Refund(0, 300),
            Step::Refund(0, 700),
            Step::Refund(1, 1),
        ],
        (0..64u32)
            .map(|i| i.wrapping_mul(2_654_435_761) ^ 0x5bd1)
            .collect(),
    )
    .await;
    // …and random ones on SQLite (each case builds two databases).
    if matches!(b, Backend::Sqlite) {
        let config = ProptestConfig {
            cases: 16,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        let handle = tokio::runtime::Handle::current();
        let result = tokio::task::spawn_blocking(move || {
            let mut runner = proptest::test_runner::TestRunner::new(config);
            runner.run(&case(), |(prices, reports, refunds, keys)| {
                handle.block_on(check_case(Backend::Sqlite, prices, reports, refunds, keys));
                Ok(())
            })
        })
        .await
        .unwrap();
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}

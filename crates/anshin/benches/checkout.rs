//! Checkout throughput and latency (issue 13, acceptance 7): the core's
//! checkout path as the site runs it (cart line written, order placed
//! with its stock reserved, address sealed, payment attempt written,
//! intent created and confirmed, order paid with its ledger postings and
//! two letters), by C buyers at once, on SQLite and PostgreSQL, without
//! and with stock contention:
//!
//! - `spread`: every buyer buys their own item (no two checkouts touch
//!   the same item row);
//! - `one item`: every buyer buys the same item (every reservation
//!   updates one row: the guarded `UPDATE items SET stock = stock - n
//!   WHERE … AND stock >= n` queues on its lock).
//!
//! The processor is the in-memory one (`anshin_core::payments::fake`): the
//! figures are anshin's own cost; a real processor adds its network round
//! trips (two per checkout) to the latency, not to the database's load.
//!
//! `cargo bench -p anshin --bench checkout [-- <seconds> <concurrency>]`
//! (PostgreSQL at `ANSHIN_TEST_POSTGRES_URL` or 127.0.0.1:5432).

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anshin_core::clock::SystemClock;
use anshin_core::member_data::{RawAddress, ShippingAddress};
use anshin_core::payments::fake::FakeProcessor;
use anshin_core::random::Random;
use anshin_core::shops::{ItemInput, RawItem, RawShop, ShopInput};
use anshin_core::{CoreSettings, Services};
use anshin_domain::{
    AddressId, EmailAddress, ItemId, ItemStatus, Lang, MemberId, Quantity, ShopId,
};
use anshin_store::{Changes, NewMember, NewSession, SessionLogin, SessionRecord, Store, Write};

struct Buyer {
    member: MemberId,
    session: SessionRecord,
    address: AddressId,
}

async fn setup(
    store: Arc<dyn Store>,
    concurrency: usize,
    dir: &std::path::Path,
) -> (Services, ShopId, Vec<Buyer>, Vec<ItemId>, ItemId) {
    let random = Random::os();
    let keys =
        Arc::new(anshin_core::keys::Keys::load_or_create(&dir.join("ring"), &random).unwrap());
    let mut settings = CoreSettings::default();
    settings.payments.secret_key = Some("sk_bench".to_owned().into());
    settings.payments.publishable_key = Some("pk_bench".to_owned());
    let svc = Services::offline_with(
        store.clone(),
        keys,
        Arc::new(SystemClock),
        random,
        settings,
        "https://localhost",
        Arc::new(FakeProcessor::new()),
    )
    .unwrap();
    let now = svc.now();
    let member = |email: String| {
        let svc = svc.clone();
        async move {
            let id: MemberId = svc.new_id();
            let m = NewMember {
                id,
                email: EmailAddress::parse(&email).unwrap(),
                display_name: anshin_domain::DisplayName::parse("Bench").unwrap(),
                language: Lang::Ja,
                created_at: svc.now(),
                terms: anshin_store::accounts::TermsConsent {
                    version: anshin_core::accounts::TERMS_VERSION.into(),
                    accepted_at: svc.now(),
                },
            };
            svc.store
                .commit(&Changes::new().with(Write::CreateMember(m)))
                .await
                .unwrap();
            id
        }
    };
    let seller = member("seller@bench.example".into()).await;
    let shop = anshin_core::shops::open_shop(
        &svc,
        seller,
        &ShopInput::parse(&RawShop {
            name: "ベンチ工房".into(),
            description: String::new(),
        })
        .unwrap(),
    )
    .await
    .unwrap();
    let item = |title: String| {
        let svc = svc.clone();
        async move {
            anshin_core::shops::add_item(
                &svc,
                seller,
                &ItemInput::parse(&RawItem {
                    title,
                    description: String::new(),
                    price: "1800".into(),
                    stock: "99999".into(),
                })
                .unwrap(),
                ItemStatus::OnSale,
            )
            .await
            .unwrap()
        }
    };
    let shared = item("みんなの湯呑み".into()).await;
    let address = ShippingAddress::parse(RawAddress {
        recipient_name: "山田 花子".into(),
        postal_code: "150-0001".into(),
        prefecture: "東京都".into(),
        city: "渋谷区".into(),
        line1: "神宮前1-2-3".into(),
        line2: None,
        phone: None,
    })
    .unwrap();
    let mut buyers = Vec::new();
    let mut own = Vec::new();
    for i in 0..concurrency {
        let m = member(format!("b{i}@bench.example")).await;
        let a = anshin_core::member_data::add_address(&svc, m, &address, true)
            .await
            .unwrap();
        let hash = [i as u8; 32];
        store
            .commit(&Changes::new().with(Write::CreateSession(NewSession {
                id: svc.new_id(),
                token_hash: hash,
                created_at: now,
                absolute_expires_at: now + anshin_domain::Duration::from_secs(86_400),
                idle_expires_at: now + anshin_domain::Duration::from_secs(86_400),
                login: Some(SessionLogin {
                    member_id: m,
                    authenticated_at: now,
                    ip: "192.0.2.1".into(),
                    device: "bench".into(),
                    method: anshin_domain::LoginMethod::Code,
                }),
            })))
            .await
            .unwrap();
        let session = store
            .sessions()
            .find_live(&hash, now)
            .await
            .unwrap()
            .unwrap();
        buyers.push(Buyer {
            member: m,
            session,
            address: a,
        });
        own.push(item(format!("湯呑み {i}")).await);
    }
    (svc, shop, buyers, own, shared)
}

/// One checkout: cart line, order, payment. Returns how long it took.
async fn checkout(svc: &Services, shop: ShopId, b: &Buyer, item: ItemId) -> Duration {
    let t = Instant::now();
    anshin_core::checkout::add_to_cart(svc, &b.session, item, Quantity::ONE)
        .await
        .unwrap();
    let order = anshin_core::checkout::place_order(svc, &b.session, shop, b.address)
        .await
        .unwrap();
    let paid = anshin_core::checkout::pay(svc, b.member, order, "card_bench")
        .await
        .unwrap();
    assert_eq!(paid, anshin_core::orders::PayOutcome::Paid);
    t.elapsed()
}

struct Figures {
    checkouts: usize,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

async fn run(
    svc: &Services,
    shop: ShopId,
    buyers: &Arc<Vec<Buyer>>,
    items: Vec<ItemId>,
    secs: u64,
) -> Figures {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..buyers.len())
        .map(|i| {
            let (svc, buyers, item) = (svc.clone(), buyers.clone(), items[i]);
            tokio::spawn(async move {
                let mut times = Vec::new();
                while Instant::now() < deadline {
                    times.push(checkout(&svc, shop, &buyers[i], item).await);
                }
                times
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let took = start.elapsed();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Figures {
        checkouts: all.len(),
        per_sec: all.len() as f64 / took.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with("--")).collect();
    let secs: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let concurrency: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    anshin::tls::install_default_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "checkout = cart line + order (stock reserved, address sealed) + attempt + create + confirm + paid with postings and 2 letters"
    );
    println!("{secs} s per case, {concurrency} buyers at once, in-memory processor");
    println!(
        "{:<11} {:<10} {:>10} {:>14} {:>10} {:>10}",
        "database", "stock", "checkouts", "checkouts/s", "p50 ms", "p99 ms"
    );
    rt.block_on(async {
        for db in ["sqlite", "postgres"] {
            for contention in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                let (store, _guard): (
                    Arc<dyn Store>,
                    Option<anshin_store_postgres::scratch::ScratchDatabase>,
                ) = match db {
                    "sqlite" => {
                        let s = anshin_store_sqlite::SqliteStore::open_file(
                            &dir.path().join("bench.db"),
                        )
                        .await
                        .unwrap();
                        s.migrate().await.unwrap();
                        (Arc::new(s), None)
                    }
                    _ => {
                        let scratch = anshin_store_postgres::scratch::ScratchDatabase::migrated()
                            .await
                            .unwrap();
                        let s =
                            anshin_store_postgres::PostgresStore::connect_lazy(scratch.url(), 10)
                                .unwrap();
                        (Arc::new(s), Some(scratch))
                    }
                };
                let (svc, shop, buyers, own, shared) =
                    setup(store.clone(), concurrency, dir.path()).await;
                let items = if contention {
                    vec![shared; concurrency]
                } else {
                    own
                };
                let f = run(&svc, shop, &Arc::new(buyers), items, secs).await;
                let report = anshin_core::ledger::check(store.as_ref()).await.unwrap();
                assert!(report.is_sound(), "{:?}", report.problems);
                println!(
                    "{:<11} {:<10} {:>10} {:>14.1} {:>10.1} {:>10.1}",
                    db,
                    if contention { "one item" } else { "spread" },
                    f.checkouts,
                    f.per_sec,
                    f.p50.as_secs_f64() * 1000.0,
                    f.p99.as_secs_f64() * 1000.0
                );
                store.close().await;
            }
        }
    });
}

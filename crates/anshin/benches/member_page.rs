//! What decrypting a member's data costs a page (C13): the addresses page's
//! data access with N addresses, fetched as stored (ciphertext only) and
//! fetched + unwrapped + decrypted + parsed, on the embedded SQLite store.
//! The ratio is the price of encryption at rest for that page.
//!
//! `cargo bench -p anshin --bench member_page` (release profile).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use std::sync::Arc;

use anshin_core::clock::SystemClock;
use anshin_core::keys::Keys;
use anshin_core::member_data::{self, PhoneNumber, RawAddress, ShippingAddress};
use anshin_core::random::Random;
use anshin_core::{CoreSettings, Services};
use anshin_domain::MemberId;
use anshin_store::Store;
use anshin_store_sqlite::SqliteStore;

fn measure(budget: Duration, mut op: impl FnMut()) -> f64 {
    let warm = Instant::now();
    while warm.elapsed() < budget / 10 {
        op();
    }
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < budget {
        op();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = rt.block_on(async {
        let s = SqliteStore::open_file(&dir.path().join("bench.db"))
            .await
            .unwrap();
        s.migrate().await.unwrap();
        s
    });
    let random = Random::os();
    let keys = Keys::load_or_create(&dir.path().join("keyring"), &random).unwrap();
    let svc = Services::offline(
        Arc::new(store.clone()),
        Arc::new(keys),
        Arc::new(SystemClock),
        random,
        CoreSettings::default(),
        "https://localhost",
    )
    .unwrap();
    let budget = Duration::from_secs(2);
    let address = ShippingAddress::parse(RawAddress {
        recipient_name: "山田 花子".into(),
        postal_code: "150-0001".into(),
        prefecture: "東京都".into(),
        city: "渋谷区".into(),
        line1: "神宮前六丁目二十三番四号".into(),
        line2: Some("安心ハイツ九〇八号室".into()),
        phone: Some("090-1234-5678".into()),
    })
    .unwrap();
    let phone = PhoneNumber::parse("090-1234-5678").unwrap();

    println!(
        "{:<12} {:>20} {:>24} {:>8}",
        "addresses", "fetch only (ops/s)", "fetch+decrypt (ops/s)", "ratio"
    );
    for n in [1usize, 5, 20] {
        let member: MemberId = svc.new_id();
        rt.block_on(async {
            sqlx::query(
                "INSERT INTO members (id, email, display_name, language, created_at) \
                 VALUES ($1, $2, 'bench', 'ja', 0)",
            )
            .bind(member.as_uuid())
            .bind(format!("{member}@example.jp"))
            .execute(store.pool())
            .await
            .unwrap();
            member_data::set_phone(&svc, member, &phone).await.unwrap();
            for _ in 0..n {
                member_data::add_address(&svc, member, &address, false)
                    .await
                    .unwrap();
            }
        });
        let raw = measure(budget, || {
            let rows = rt
                .block_on(store.member_data().list_addresses(member))
                .unwrap();
            assert_eq!(rows.len(), n);
            black_box(rows);
        });
        let dec = measure(budget, || {
            let list = rt
                .block_on(member_data::list_addresses(&svc, member))
                .unwrap();
            assert_eq!(list.len(), n);
            black_box(list);
        });
        println!("{n:<12} {raw:>20.0} {dec:>24.0} {:>8.2}", raw / dec);
    }
}

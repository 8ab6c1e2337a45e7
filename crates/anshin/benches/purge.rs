//! Purging N expired records (default 1,000,000) on one database, and what
//! it does to ordinary requests (issue 16, acceptance 6; C16, C17). Not a
//! test: it prints figures for `bench/README.md`.
//!
//! `cargo bench -p anshin --bench purge` (SQLite), with
//! `ANSHIN_BENCH_BACKEND=postgres` for PostgreSQL (127.0.0.1:5432 or
//! `ANSHIN_TEST_POSTGRES_URL`), `ANSHIN_BENCH_RECORDS=20000` for a quick
//! try, `ANSHIN_BENCH_CLIENTS` (default 4) and `ANSHIN_BENCH_SECS`
//! (default 30: the period of load without a purge). Needs aiosmtpd (the
//! load's member signs up with a code).
//!
//! What it does, on one real server (HTTPS, the production pool size;
//! PostgreSQL with `synchronous_commit` on, as in production, not the test
//! kit's `off`):
//!
//! 1. **Templates through the real flows**, on the moved clock
//!    (2026-10-01 JST): a seller with a shop, an item and a sender
//!    address; a buyer with an address who checks out through the core
//!    (in-memory processor, as `benches/checkout.rs`); the shipment made
//!    with the payment (its own data key wrapped by the key ring, both
//!    addresses sealed under it), accepted at the counter with its
//!    drop-off code, in transit, delivered; a label view's audit entry
//!    about it (a centre worker's, with its details). The seller sets a
//!    bank account, requests a payout (its own data key, the bank
//!    snapshot sealed under it), the shell batches it and marks it paid.
//! 2. **The fill** (timed apart; not the figure): N records, 90 %
//!    delivered shipments and 10 % completed payouts (a marketplace has
//!    many sales per payout), completed evenly over 60 days, all more
//!    than a month before the purge's time. Each record is a copy of its
//!    template's rows in every table the purge touches, made by
//!    `INSERT … SELECT` (every column copied from the row the real flow
//!    wrote, with new ids, a new drop-off code hash and the record's own
//!    completion time): for a shipment its order, the order's sealed
//!    address snapshot, the shipment, its key, its label, its drop-off
//!    code and its three parcel events; for a payout the payout (next
//!    line of the same batch), its key and its bank snapshot. The
//!    wrapped keys and ciphertexts are the template's bytes (sealed once,
//!    the real way): the purge never reads them, it deletes them, so
//!    their size is what matters and it is the real one. Each record also
//!    gets copies of the template's audit entries about it (target and
//!    ids in the details replaced, the details' keyed hash recomputed),
//!    appended with multi-row INSERTs that compute every leaf and every
//!    recorded head as the store does (`Frontier`, `leaf_hash`), so
//!    `anshin audit verify` checks them. Not copied (the purge never
//!    touches them): order lines, payment attempts, ledger postings.
//! 3. **Load without a purge**: C clients send a fixed mix through the
//!    HTTPS server (`GET /`, the item's page, `GET /api/v1/me` with a
//!    session) for `ANSHIN_BENCH_SECS`; p50 / p99 / max.
//! 4. **Load during the purge**: the same clients while
//!    `retention::purge_records` (what the retention job and `anshin
//!    retention run` call: batches of `retention::BATCH`, one
//!    transaction each with its audit entry, then the store's flush) runs
//!    in the server's process on the server's store, at the moved clock.
//! 5. **Checks**: no row of any purged kind left (counted), one
//!    `records_purged` entry per batch, `anshin audit verify` passes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anshin_core::Services;
use anshin_core::member_data::{RawAddress, RawBankAccount, ShippingAddress};
use anshin_core::payments::fake::FakeProcessor;
use anshin_core::payouts::{self, Doer};
use anshin_core::random::Random;
use anshin_core::retention;
use anshin_core::shops::{ItemInput, RawItem, RawShop, ShopInput};
use anshin_domain::{
    EmailAddress, ItemStatus, Lang, MemberId, OrderId, ParcelEventKind, PayoutId, Quantity,
    ShipmentId, Timestamp,
};
use anshin_store::audit::{Actor, AuditAction, AuditEntry, AuditTarget, Frontier, leaf_hash};
use anshin_store::{Changes, NewMember, NewSession, SessionLogin, SessionRecord, Write};
use anshin_testkit::reqwest::header;
use anshin_testkit::{Backend, TestApp};
use uuid::Uuid;

const DAY: i64 = 86_400 * 1_000_000;
const ORIGIN: &str = "bench.example/audit";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.replace(['_', ','], "").parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn at(text: &str) -> Timestamp {
    retention::parse_time(text).unwrap()
}

/// The templates' ids, and when their records completed.
struct Templates {
    order: OrderId,
    shipment: ShipmentId,
    payout: PayoutId,
    item: anshin_domain::ItemId,
    delivered: Timestamp,
}

/// The core on the server's store, key ring and clock, paying through the
/// in-memory processor (the server's own is not configured).
fn core_of(app: &TestApp) -> Services {
    let random = Random::os();
    let keys = anshin_core::keys::Keys::load_or_create(&app.keys_file, &random).unwrap();
    let mut settings = app.services.settings.clone();
    settings.payments.secret_key = Some("sk_bench".to_owned().into());
    settings.payments.publishable_key = Some("pk_bench".to_owned());
    Services::offline_with(
        app.store.clone(),
        Arc::new(keys),
        Arc::new(app.clock.clone()),
        random,
        settings,
        &app.origin,
        Arc::new(FakeProcessor::new()),
    )
    .unwrap()
}

async fn member(svc: &Services, email: &str) -> (MemberId, SessionRecord) {
    let id: MemberId = svc.new_id();
    let now = svc.now();
    svc.store
        .commit(&Changes::new().with(Write::CreateMember(NewMember {
            id,
            email: EmailAddress::parse(email).unwrap(),
            display_name: anshin_domain::DisplayName::parse("Bench").unwrap(),
            language: Lang::Ja,
            created_at: now,
            terms: anshin_store::accounts::TermsConsent {
                version: anshin_core::accounts::TERMS_VERSION.into(),
                accepted_at: now,
            },
        })))
        .await
        .unwrap();
    (id, session(svc, id).await)
}

/// A session of `member`, signed in now (recent enough for a bank change).
async fn session(svc: &Services, member: MemberId) -> SessionRecord {
    let now = svc.now();
    let hash: [u8; 32] = *Uuid::now_v7().as_bytes().repeat(2).first_chunk().unwrap();
    svc.store
        .commit(&Changes::new().with(Write::CreateSession(NewSession {
            id: svc.new_id(),
            token_hash: hash,
            created_at: now,
            absolute_expires_at: now + anshin_domain::Duration::from_secs(86_400),
            idle_expires_at: now + anshin_domain::Duration::from_secs(86_400),
            login: Some(SessionLogin {
                member_id: member,
                authenticated_at: now,
                ip: "192.0.2.1".into(),
                device: "bench".into(),
                method: anshin_domain::LoginMethod::Code,
            }),
        })))
        .await
        .unwrap();
    svc.store
        .sessions()
        .find_live(&hash, now)
        .await
        .unwrap()
        .unwrap()
}

fn address(name: &str) -> ShippingAddress {
    ShippingAddress::parse(RawAddress {
        recipient_name: name.into(),
        postal_code: "150-0001".into(),
        prefecture: "東京都".into(),
        city: "渋谷区".into(),
        line1: "神宮前1-2-3".into(),
        line2: Some("コーポ神宮前 101".into()),
        phone: Some("03-1234-5678".into()),
    })
    .unwrap()
}

/// One delivered shipment and one paid payout, through the real flows.
async fn templates(app: &TestApp) -> Templates {
    let svc = core_of(app);
    let start = at("2026-10-01T10:00:00+09:00");
    app.clock.set(start);
    let (seller, _) = member(&svc, "seller@bench.example").await;
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
    let item = anshin_core::shops::add_item(
        &svc,
        seller,
        &ItemInput::parse(&RawItem {
            title: "みんなの湯呑み".into(),
            description: "手びねりの湯呑みです。".into(),
            price: "4800".into(),
            stock: "99".into(),
        })
        .unwrap(),
        ItemStatus::OnSale,
    )
    .await
    .unwrap();
    anshin_core::member_data::add_address(&svc, seller, &address("工房 太郎"), true)
        .await
        .unwrap();
    let (buyer, buyer_session) = member(&svc, "buyer@bench.example").await;
    let to = anshin_core::member_data::add_address(&svc, buyer, &address("山田 花子"), true)
        .await
        .unwrap();
    anshin_core::checkout::add_to_cart(&svc, &buyer_session, item, Quantity::ONE)
        .await
        .unwrap();
    let order = anshin_core::checkout::place_order(&svc, &buyer_session, shop, to)
        .await
        .unwrap();
    let paid = anshin_core::checkout::pay(&svc, buyer, order, "card_bench")
        .await
        .unwrap();
    assert_eq!(paid, anshin_core::orders::PayOutcome::Paid);
    let shipment = svc
        .store
        .shipping()
        .shipment_of_order(order)
        .await
        .unwrap()
        .expect("the anonymous shop's paid order has a shipment")
        .id;
    let code = anshin_core::shipping::code_of(&svc, shipment, 0);
    app.clock
        .set(start + anshin_domain::Duration::from_secs(86_400));
    anshin_core::shipping::accept(&svc, code.expose())
        .await
        .unwrap();
    // The centre views the label once (the entry `counter::view_label`
    // writes: a worker, the terminal's network, terminal, shift, why).
    let view = anshin_core::audit::entry(
        &svc,
        Actor::Staff(Uuid::now_v7()),
        AuditAction::LabelViewed,
        Some(AuditTarget::shipment(shipment)),
        Some("198.51.100.7".parse().unwrap()),
        "policy_allow",
        serde_json::json!({"terminal": Uuid::now_v7(), "shift": Uuid::now_v7(), "why": "label"}),
    );
    svc.store
        .commit(&Changes::new().audited(view))
        .await
        .unwrap();
    app.clock
        .set(start + anshin_domain::Duration::from_secs(2 * 86_400));
    anshin_core::shipping::record_event(&svc, &order.to_string(), ParcelEventKind::InTransit)
        .await
        .unwrap();
    let delivered = start + anshin_domain::Duration::from_secs(3 * 86_400);
    app.clock.set(delivered);
    anshin_core::shipping::record_event(&svc, &order.to_string(), ParcelEventKind::Delivered)
        .await
        .unwrap();

    anshin_core::member_data::change_bank_account(
        &svc,
        &session(&svc, seller).await,
        RawBankAccount {
            bank_code: "0001".into(),
            branch_code: "210".into(),
            account_type: "ordinary".into(),
            account_number: "8273645".into(),
            holder_kana: "ヤマダ　サクラコ".into(),
        },
    )
    .await
    .unwrap();
    let payout: PayoutId = svc.new_id();
    payouts::request_payout(&svc, seller, payout, None)
        .await
        .unwrap();
    payouts::build_batch(&svc, Doer::Shell, None).await.unwrap();
    payouts::settle_by_hand(&svc, Doer::Shell, payout, true)
        .await
        .unwrap();
    Templates {
        order,
        shipment,
        payout,
        item,
        delivered,
    }
}

/// The fill: mapping tables of new ids, then `INSERT … SELECT` copies of
/// the templates' rows, then the audit entries. `$pool` is a sqlx pool of
/// the app's database; `$pg` whether it is PostgreSQL.
macro_rules! fill {
    ($pool:expr, $pg:expr, $app:expr, $t:expr, $ships:expr, $pays:expr) => {{
        let pool = $pool;
        let (ships, pays): (u64, u64) = ($ships, $pays);
        let t: &Templates = $t;
        let (uuid, bytes, int) = if $pg {
            ("UUID", "BYTEA", "BIGINT")
        } else {
            ("BLOB", "BLOB", "INTEGER")
        };
        for sql in [
            "DROP TABLE IF EXISTS bench_ship".to_owned(),
            "DROP TABLE IF EXISTS bench_pay".to_owned(),
            format!(
                "CREATE TABLE bench_ship (i {int} NOT NULL PRIMARY KEY, shipment_id {uuid} NOT NULL, \
                 order_id {uuid} NOT NULL, code_hash {bytes} NOT NULL, ev_a {uuid} NOT NULL, \
                 ev_t {uuid} NOT NULL, ev_d {uuid} NOT NULL, void_id {uuid} NOT NULL, \
                 done {int} NOT NULL)"
            ),
            format!(
                "CREATE TABLE bench_pay (i {int} NOT NULL PRIMARY KEY, payout_id {uuid} NOT NULL, \
                 line {int} NOT NULL, done {int} NOT NULL)"
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .unwrap();
        }
        // Completion times: evenly over 60 days from a day after the
        // templates', so the last is still more than a month before the
        // purge.
        let first = t.delivered.micros() + DAY;
        let done = |i: u64, n: u64| first + (60 * DAY / n.max(1) as i64) * i as i64;
        let mut ids: Vec<(Uuid, Uuid)> = Vec::with_capacity(ships as usize);
        let mut i = 0;
        while i < ships {
            let rows: Vec<u64> = (i..ships.min(i + 2_000)).collect();
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO bench_ship (i, shipment_id, order_id, code_hash, ev_a, ev_t, ev_d, \
                 void_id, done) ",
            );
            q.push_values(&rows, |mut b, k| {
                let (s, o) = (Uuid::now_v7(), Uuid::now_v7());
                ids.push((s, o));
                let hash: Vec<u8> = [Uuid::new_v4().into_bytes(), Uuid::new_v4().into_bytes()].concat();
                b.push_bind(*k as i64)
                    .push_bind(s)
                    .push_bind(o)
                    .push_bind(hash)
                    .push_bind(Uuid::now_v7())
                    .push_bind(Uuid::now_v7())
                    .push_bind(Uuid::now_v7())
                    .push_bind(Uuid::now_v7())
                    .push_bind(done(*k, ships));
            });
            q.build().execute(pool).await.unwrap();
            i += rows.len() as u64;
        }
        let mut payout_ids: Vec<Uuid> = Vec::with_capacity(pays as usize);
        let tpl_line = $app
            .store
            .payouts()
            .payout(t.payout)
            .await
            .unwrap()
            .unwrap()
            .batch_line
            .unwrap();
        let mut i = 0;
        while i < pays {
            let rows: Vec<u64> = (i..pays.min(i + 2_000)).collect();
            let mut q =
                sqlx::QueryBuilder::new("INSERT INTO bench_pay (i, payout_id, line, done) ");
            q.push_values(&rows, |mut b, k| {
                let p = Uuid::now_v7();
                payout_ids.push(p);
                b.push_bind(*k as i64)
                    .push_bind(p)
                    .push_bind(i64::from(tpl_line) + 1 + *k as i64)
                    .push_bind(done(*k, pays));
            });
            q.build().execute(pool).await.unwrap();
            i += rows.len() as u64;
        }

        let columns = |table: &'static str| async move {
            let sql = if $pg {
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
            } else {
                "SELECT name FROM pragma_table_info($1) ORDER BY cid"
            };
            let cols: Vec<(String,)> = sqlx::query_as(sql).bind(table).fetch_all(pool).await.unwrap();
            assert!(!cols.is_empty(), "no columns for {table}");
            cols.into_iter().map(|(c,)| c).collect::<Vec<_>>()
        };
        let tpl_done = t.delivered.micros();
        // (table, key column, template id, mapping table, count, overrides)
        let copies: Vec<(&'static str, &'static str, Uuid, &'static str, u64, Vec<(&'static str, String)>)> = vec![
            ("orders", "id", t.order.as_uuid(), "bench_ship", ships, vec![("id", "m.order_id".into())]),
            ("order_shipping", "order_id", t.order.as_uuid(), "bench_ship", ships,
                vec![("order_id", "m.order_id".into())]),
            ("shipments", "id", t.shipment.as_uuid(), "bench_ship", ships, vec![
                ("id", "m.shipment_id".into()),
                ("order_id", "m.order_id".into()),
                ("delivered_at", "m.done".into()),
                ("updated_at", "m.done".into()),
            ]),
            ("shipment_keys", "shipment_id", t.shipment.as_uuid(), "bench_ship", ships,
                vec![("shipment_id", "m.shipment_id".into())]),
            ("shipment_labels", "shipment_id", t.shipment.as_uuid(), "bench_ship", ships,
                vec![("shipment_id", "m.shipment_id".into())]),
            ("dropoff_codes", "shipment_id", t.shipment.as_uuid(), "bench_ship", ships, vec![
                ("shipment_id", "m.shipment_id".into()),
                ("code_hash", "m.code_hash".into()),
            ]),
            ("parcel_events", "shipment_id", t.shipment.as_uuid(), "bench_ship", ships, vec![
                ("id", "CASE tpl.kind WHEN 'accepted' THEN m.ev_a WHEN 'in_transit' THEN m.ev_t ELSE m.ev_d END".into()),
                ("shipment_id", "m.shipment_id".into()),
                ("at", format!("m.done - ({tpl_done} - tpl.at)")),
            ]),
            ("payouts", "id", t.payout.as_uuid(), "bench_pay", pays, vec![
                ("id", "m.payout_id".into()),
                ("batch_line", "m.line".into()),
                ("completed_at", "m.done".into()),
                ("updated_at", "m.done".into()),
            ]),
            ("payout_keys", "payout_id", t.payout.as_uuid(), "bench_pay", pays,
                vec![("payout_id", "m.payout_id".into())]),
            ("payout_banks", "payout_id", t.payout.as_uuid(), "bench_pay", pays,
                vec![("payout_id", "m.payout_id".into())]),
        ];
        let mut rows_made = 0u64;
        for (table, key, tpl, map, n, overrides) in copies {
            let cols = columns(table).await;
            let exprs: Vec<String> = cols
                .iter()
                .map(|c| {
                    overrides
                        .iter()
                        .find(|(o, _)| o == c)
                        .map_or_else(|| format!("tpl.{c}"), |(_, e)| e.clone())
                })
                .collect();
            let sql = format!(
                "INSERT INTO {table} ({}) SELECT {} FROM {table} AS tpl, {map} AS m \
                 WHERE tpl.{key} = $1 AND m.i >= $2 AND m.i < $3",
                cols.join(", "),
                exprs.join(", ")
            );
            let mut from = 0u64;
            while from < n {
                let to = n.min(from + 100_000);
                let mut tx = pool.begin().await.unwrap();
                let r = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(tpl)
                    .bind(from as i64)
                    .bind(to as i64)
                    .execute(&mut *tx)
                    .await
                    .unwrap_or_else(|e| panic!("{table}: {e}"));
                tx.commit().await.unwrap();
                rows_made += r.rows_affected();
                from = to;
            }
        }

        // One shipment in 200 had its waybill voided at the centre: the
        // worker's request with its words, approved by a manager (two
        // staff accounts, a terminal, their shifts).
        let (worker, manager, terminal) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let (shift_w, shift_m) = (Uuid::now_v7(), Uuid::now_v7());
        let t0 = t.delivered.micros() - 3 * DAY;
        sqlx::query(
            "INSERT INTO staff_accounts (id, email, role, status, created_at, updated_at) \
             VALUES ($1, 'worker@bench.example', 'shipping_worker', 'active', $3, $3), \
             ($2, 'manager@bench.example', 'shipping_manager', 'active', $3, $3)",
        )
        .bind(worker)
        .bind(manager)
        .bind(t0)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO shipping_terminals (id, label, serial, status, registered_at, \
             registered_by) VALUES ($1, 'T-01', 'SN-0001', 'active', $2, $3)",
        )
        .bind(terminal)
        .bind(t0)
        .bind(manager)
        .execute(pool)
        .await
        .unwrap();
        for (shift, staff, from) in [(shift_w, worker, t0), (shift_m, manager, t0 + 10)] {
            sqlx::query(
                "INSERT INTO shipping_shifts (id, staff_id, terminal_id, session_id, started_at, \
                 ended_at, end_reason) VALUES ($1, $2, $3, $4, $5, $6, 'checked_out')",
            )
            .bind(shift)
            .bind(staff)
            .bind(terminal)
            .bind(Uuid::now_v7())
            .bind(from)
            .bind(from + 5)
            .execute(pool)
            .await
            .unwrap();
        }
        let voids = sqlx::query(
            "INSERT INTO waybill_void_requests (id, shipment_id, requested_by, requested_shift, \
             reason, requested_at, status, decided_by, decided_shift, decided_at) \
             SELECT m.void_id, m.shipment_id, $1, $2, 'ラベルが濡れて読めない（宛名がにじんだ）', \
             m.done - $4, 'approved', $3, $5, m.done - $4 + 1 FROM bench_ship AS m WHERE m.i % 200 = 0",
        )
        .bind(worker)
        .bind(shift_w)
        .bind(manager)
        .bind(2 * DAY)
        .bind(shift_m)
        .execute(pool)
        .await
        .unwrap();
        rows_made += voids.rows_affected();
        println!("void requests: {}", voids.rows_affected());

        // The audit entries about each record: the templates' own,
        // re-targeted, appended as the store appends (same leaf bytes,
        // same recorded heads, same head row), in transactions that hold
        // the head row while they add.
        let key = $app.services.keys.audit_key();
        let all = $app.store.audit().entries(0, 100_000).await.unwrap();
        let about = |ids: &[String]| -> Vec<AuditEntry> {
            all.iter()
                .filter(|e| e.entry.target.as_ref().is_some_and(|t| ids.contains(&t.id)))
                .map(|e| e.entry.clone())
                .collect()
        };
        let (tpl_s, tpl_o, tpl_p) = (
            t.shipment.as_uuid().to_string(),
            t.order.as_uuid().to_string(),
            t.payout.as_uuid().to_string(),
        );
        let ship_entries = about(&[tpl_s.clone(), tpl_o.clone()]);
        let pay_entries = about(std::slice::from_ref(&tpl_p));
        let name = |e: &AuditEntry| {
            format!(
                "{}({}{})",
                e.action.as_str(),
                e.target.as_ref().map_or("-", |t| t.kind.as_str()),
                if e.details.is_some() { ", details" } else { "" }
            )
        };
        println!(
            "audit entries per shipment: {} [{}]; per payout: {} [{}]",
            ship_entries.len(),
            ship_entries.iter().map(name).collect::<Vec<_>>().join(" "),
            pay_entries.len(),
            pay_entries.iter().map(name).collect::<Vec<_>>().join(" ")
        );
        let audit_at = t.delivered.micros() + DAY / 2;
        let retarget = |e: &AuditEntry, swaps: &[(&str, String)], seq: u64| -> AuditEntry {
            let mut e = e.clone();
            if let Some(target) = e.target.as_mut() {
                for (from, to) in swaps {
                    if target.id == *from {
                        target.id = to.clone();
                    }
                }
            }
            if let Some(d) = e.details.as_mut() {
                for (from, to) in swaps {
                    *d = d.replace(from, to);
                }
                e.details_mac = key.mac(d);
            }
            e.at = Timestamp::from_micros(audit_at + seq as i64);
            e
        };
        let mut pending: Vec<AuditEntry> = Vec::new();
        let mut seq = 0u64;
        let mut audited = 0u64;
        let total = ships * ship_entries.len() as u64 + pays * pay_entries.len() as u64;
        let mut k = 0usize;
        while (audited as usize) < total as usize {
            // Make the next chunk of entries.
            while pending.len() < 5_000 && k < (ships + pays) as usize {
                if k < ships as usize {
                    let (s, o) = ids[k];
                    let swaps = [(tpl_s.as_str(), s.to_string()), (tpl_o.as_str(), o.to_string())];
                    for e in &ship_entries {
                        pending.push(retarget(e, &swaps, seq));
                        seq += 1;
                    }
                } else {
                    let p = payout_ids[k - ships as usize];
                    let swaps = [(tpl_p.as_str(), p.to_string())];
                    for e in &pay_entries {
                        pending.push(retarget(e, &swaps, seq));
                        seq += 1;
                    }
                }
                k += 1;
            }
            let mut tx = pool.begin().await.unwrap();
            let (size, frontier): (i64, Vec<u8>) = sqlx::query_as(
                "UPDATE audit_head SET size = size WHERE id = 1 RETURNING size, frontier",
            )
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            let mut tree = Frontier::from_parts(size as u64, &frontier).unwrap();
            let mut rows = Vec::with_capacity(pending.len());
            for e in &pending {
                let idx = tree.size();
                tree.push(leaf_hash(&e.leaf_bytes(idx)));
                rows.push((idx, e, tree.root()));
            }
            for part in rows.chunks(2_000) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_entries (idx, at, actor_kind, actor_id, action, target_kind, \
                     target_id, origin, reason, details_mac, root) ",
                );
                q.push_values(part, |mut b, (idx, e, root)| {
                    b.push_bind(*idx as i64)
                        .push_bind(e.at.micros())
                        .push_bind(e.actor.kind().as_str())
                        .push_bind(e.actor.id())
                        .push_bind(e.action.as_str())
                        .push_bind(e.target.as_ref().map(|t| t.kind.as_str()))
                        .push_bind(e.target.as_ref().map(|t| t.id.clone()))
                        .push_bind(e.origin.clone())
                        .push_bind(e.reason.clone())
                        .push_bind(e.details_mac.to_vec())
                        .push_bind(root.to_vec());
                });
                q.build().execute(&mut *tx).await.unwrap();
                let with: Vec<_> = part.iter().filter(|(_, e, _)| e.details.is_some()).collect();
                if !with.is_empty() {
                    let mut q = sqlx::QueryBuilder::new("INSERT INTO audit_details (idx, details) ");
                    q.push_values(with, |mut b, (idx, e, _)| {
                        b.push_bind(*idx as i64).push_bind(e.details.clone());
                    });
                    q.build().execute(&mut *tx).await.unwrap();
                }
            }
            sqlx::query("UPDATE audit_head SET size = $1, frontier = $2 WHERE id = 1")
                .bind(tree.size() as i64)
                .bind(tree.to_bytes())
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            audited += pending.len() as u64;
            pending.clear();
        }
        for sql in ["DROP TABLE bench_ship", "DROP TABLE bench_pay"] {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        // What autovacuum would have done over the months these records
        // took to arrive (the planner's statistics); SQLite's planner
        // does not need them.
        if $pg {
            sqlx::query("ANALYZE").execute(pool).await.unwrap();
        }
        (rows_made, audited)
    }};
}

/// What is left of the purged kinds: (label, value).
macro_rules! left {
    ($pool:expr) => {{
        let mut out = Vec::new();
        for (label, sql) in [
            (
                "shipments not purged",
                "SELECT COUNT(*) FROM shipments WHERE purged_at IS NULL",
            ),
            ("shipment_keys", "SELECT COUNT(*) FROM shipment_keys"),
            ("shipment_labels", "SELECT COUNT(*) FROM shipment_labels"),
            ("dropoff_codes", "SELECT COUNT(*) FROM dropoff_codes"),
            ("parcel_events", "SELECT COUNT(*) FROM parcel_events"),
            ("order_shipping", "SELECT COUNT(*) FROM order_shipping"),
            (
                "payouts not purged",
                "SELECT COUNT(*) FROM payouts WHERE purged_at IS NULL",
            ),
            ("payout_keys", "SELECT COUNT(*) FROM payout_keys"),
            ("payout_banks", "SELECT COUNT(*) FROM payout_banks"),
            (
                "audit details about them",
                "SELECT COUNT(*) FROM audit_details d JOIN audit_entries e ON e.idx = d.idx \
                 WHERE e.target_kind IN ('shipment', 'order', 'payout')",
            ),
            (
                "records_purged entries",
                "SELECT COUNT(*) FROM audit_entries WHERE action = 'records_purged'",
            ),
            (
                "void request words",
                "SELECT COUNT(*) FROM waybill_void_requests WHERE reason <> ''",
            ),
            ("shipments", "SELECT COUNT(*) FROM shipments"),
            ("payouts", "SELECT COUNT(*) FROM payouts"),
        ] {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one($pool).await.unwrap();
            out.push((label, n));
        }
        out
    }};
}

enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Pool {
    async fn open(app: &TestApp) -> Self {
        match app.backend {
            Backend::Postgres => Pool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&app.database_url)
                    .await
                    .unwrap(),
            ),
            Backend::Sqlite => {
                use std::str::FromStr;
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&app.database_url)
                    .unwrap()
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(30));
                Pool::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(opts)
                        .await
                        .unwrap(),
                )
            }
        }
    }

    /// PostgreSQL's count of whole-table reads per table: (table,
    /// sequential scans, rows they read, index scans).
    async fn scans(&self) -> Vec<(String, i64, i64, i64)> {
        match self {
            Pool::Sqlite(_) => Vec::new(),
            Pool::Postgres(p) => {
                sqlx::query("SELECT pg_stat_force_next_flush()")
                    .execute(p)
                    .await
                    .ok();
                sqlx::query_as(
                    "SELECT CAST(relname AS TEXT), COALESCE(seq_scan, 0), COALESCE(seq_tup_read, 0), \
                     COALESCE(idx_scan, 0) FROM pg_stat_user_tables \
                     WHERE schemaname = current_schema() ORDER BY relname",
                )
                .fetch_all(p)
                .await
                .unwrap()
            }
        }
    }

    async fn left(&self) -> Vec<(&'static str, i64)> {
        match self {
            Pool::Sqlite(p) => left!(p),
            Pool::Postgres(p) => left!(p),
        }
    }
}

/// Latencies of one phase.
struct Phase {
    all: Vec<Duration>,
    by_kind: [Vec<Duration>; 3],
    secs: f64,
}

const KINDS: [&str; 3] = ["GET /", "GET /items/{id}", "GET /api/v1/me"];

fn pct(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

impl Phase {
    fn line(&self, label: &str) -> String {
        let per = |k: usize| {
            let v = &self.by_kind[k];
            format!(
                "{} p50 {:.1} / p99 {:.1} ms",
                KINDS[k],
                ms(pct(v, 0.5)),
                ms(pct(v, 0.99))
            )
        };
        format!(
            "{label}: {} requests in {:.1} s ({:.0}/s); p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, over 1 s: {}; [{}; {}; {}]",
            self.all.len(),
            self.secs,
            self.all.len() as f64 / self.secs,
            ms(pct(&self.all, 0.5)),
            ms(pct(&self.all, 0.99)),
            ms(self.all.last().copied().unwrap_or_default()),
            self.all
                .iter()
                .filter(|d| **d > Duration::from_secs(1))
                .count(),
            per(0),
            per(1),
            per(2)
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// C clients send the mix until `stop` is set (or `secs` pass).
async fn load(
    app: Arc<TestApp>,
    item: String,
    cookie: String,
    stop: Arc<AtomicBool>,
    secs: Option<u64>,
) -> Phase {
    let clients = env_num("ANSHIN_BENCH_CLIENTS", 4) as usize;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (app, item, cookie, stop) = (app.clone(), item.clone(), cookie.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<(usize, Duration)> = Vec::new();
            let mut n = c;
            loop {
                if stop.load(Ordering::Relaxed)
                    || secs.is_some_and(|s| started.elapsed() >= Duration::from_secs(s))
                {
                    break;
                }
                let kind = n % 3;
                n += 1;
                let req = match kind {
                    0 => app.client.get(app.url("/")),
                    1 => app.client.get(app.url(&item)),
                    _ => app
                        .client
                        .get(app.url("/api/v1/me"))
                        .header(header::COOKIE, &cookie),
                };
                let t = Instant::now();
                let res = req.send().await.expect("an answer");
                let status = res.status();
                let _ = res.bytes().await;
                lat.push((kind, t.elapsed()));
                assert!(status.is_success(), "{} answered {status}", KINDS[kind]);
            }
            lat
        }));
    }
    let mut phase = Phase {
        all: Vec::new(),
        by_kind: [Vec::new(), Vec::new(), Vec::new()],
        secs: 0.0,
    };
    for t in tasks {
        for (k, d) in t.await.unwrap() {
            phase.all.push(d);
            phase.by_kind[k].push(d);
        }
    }
    phase.secs = started.elapsed().as_secs_f64();
    phase.all.sort();
    for v in &mut phase.by_kind {
        v.sort();
    }
    phase
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = match std::env::var("ANSHIN_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let n = env_num("ANSHIN_BENCH_RECORDS", 1_000_000);
    let ships = n * 9 / 10;
    let pays = n - ships;
    let secs = env_num("ANSHIN_BENCH_SECS", 30);
    println!(
        "machine: {} cores, {}; load average at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        uptime()
    );
    println!(
        "backend: {backend:?}; {n} records = {ships} delivered shipments + {pays} completed payouts; {} clients",
        env_num("ANSHIN_BENCH_CLIENTS", 4)
    );
    let witness = tempfile::tempdir().unwrap();
    let witness_dir = witness.path().to_owned();
    let app = Arc::new(
        TestApp::spawn_mail_with(backend, move |s| {
            s.log.level = "warn".into();
            s.audit.origin = Some(ORIGIN.into());
            s.audit.witness_dir = Some(witness_dir);
            // The production pool, not the test kit's 5.
            s.database.max_connections =
                anshin::config::Settings::default().database.max_connections;
            // The job would run at its own time: here the bench runs it.
            s.retention.every_secs = 86_400;
            // Commits as in production (the scratch URL turns this off).
            if let Some(url) = &s.database.url {
                let text = url.expose().replace("%20-c%20synchronous_commit%3Doff", "");
                s.database.url = Some(anshin::config::DatabaseUrl::parse(&text).unwrap());
            }
        })
        .await,
    );
    let t = templates(&app).await;
    let pool = Pool::open(&app).await;

    let started = Instant::now();
    let (rows, entries) = match &pool {
        Pool::Sqlite(p) => fill!(p, false, app, &t, ships, pays),
        Pool::Postgres(p) => fill!(p, true, app, &t, ships, pays),
    };
    let fill = started.elapsed().as_secs_f64();
    println!(
        "fill: {rows} record rows and {entries} audit entries in {fill:.1} s (not the figure); load average {}",
        uptime()
    );
    let before = pool.left().await;
    println!("before the purge: {before:?}");

    // The purge's time: a day after the last record's month ended.
    let last = t.delivered.micros() + DAY + 60 * DAY;
    let as_of =
        Timestamp::from_micros(last).one_month_later() + anshin_domain::Duration::from_secs(86_400);
    app.clock.set(as_of);
    let cookie = app.sign_up("load@bench.example", "Load", 0).await.session;
    let item = format!("/items/{}", t.item);

    // Warm up, then the load without a purge.
    let quiet = Arc::new(AtomicBool::new(false));
    load(
        app.clone(),
        item.clone(),
        cookie.clone(),
        quiet.clone(),
        Some(2),
    )
    .await;
    let without = load(app.clone(), item.clone(), cookie.clone(), quiet, Some(secs)).await;
    println!("{}", without.line("without a purge"));
    println!("load average {}", uptime());

    // The same load during the purge.
    let stop = Arc::new(AtomicBool::new(false));
    let during = tokio::spawn(load(
        app.clone(),
        item.clone(),
        cookie.clone(),
        stop.clone(),
        None,
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let scans_before = pool.scans().await;
    let t0 = Instant::now();
    let counts = retention::purge_records(&app.services, as_of, false)
        .await
        .unwrap();
    let purge = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let during = during.await.unwrap();
    let batches = counts.shipments.div_ceil(u64::from(retention::BATCH))
        + counts.payouts.div_ceil(u64::from(retention::BATCH));
    println!(
        "purge: {} records ({} shipments, {} payouts) in {purge:.1} s = {:.0} records/s; {batches} batches of up to {} ({:.1} ms per batch on average); load average {}",
        counts.total(),
        counts.shipments,
        counts.payouts,
        counts.total() as f64 / purge,
        retention::BATCH,
        purge * 1000.0 / batches.max(1) as f64,
        uptime()
    );
    println!(
        "flush after the purge: {:?} (Pending: a reader kept the WAL busy for {} s)",
        counts.flush,
        retention::FLUSH_PATIENCE.as_secs()
    );
    println!("{}", during.line("during the purge"));
    println!(
        "ratio during / without: p50 {:.2}, p99 {:.2}, max {:.2}",
        ms(pct(&during.all, 0.5)) / ms(pct(&without.all, 0.5)),
        ms(pct(&during.all, 0.99)) / ms(pct(&without.all, 0.99)),
        ms(during.all.last().copied().unwrap_or_default())
            / ms(without.all.last().copied().unwrap_or_default())
    );

    // An idle PostgreSQL backend flushes its statistics within 10 s.
    if backend == Backend::Postgres {
        tokio::time::sleep(Duration::from_secs(11)).await;
    }
    let scans_after = pool.scans().await;
    let whole: Vec<String> = scans_after
        .iter()
        .filter_map(|(t, s, r, i)| {
            let (_, s0, r0, i0) = scans_before.iter().find(|b| b.0 == *t)?;
            (r - r0 > 0).then(|| {
                format!(
                    "{t}: {} seq scans reading {} rows, {} index scans",
                    s - s0,
                    r - r0,
                    i - i0
                )
            })
        })
        .collect();
    if backend == Backend::Postgres {
        println!("whole-table reads during the purge (pg_stat_user_tables): {whole:?}");
    }
    let after = pool.left().await;
    println!("after the purge: {after:?}");
    let get = |label: &str| after.iter().find(|(l, _)| *l == label).unwrap().1;
    for label in [
        "shipments not purged",
        "shipment_keys",
        "shipment_labels",
        "dropoff_codes",
        "parcel_events",
        "order_shipping",
        "payouts not purged",
        "payout_keys",
        "payout_banks",
        "audit details about them",
        "void request words",
    ] {
        assert_eq!(get(label), 0, "{label} left after the purge");
    }
    assert_eq!(
        counts.total(),
        n + 2,
        "every record and both templates purged"
    );
    assert_eq!(get("records_purged entries") as u64, batches);
    println!(
        "check: all {} records gone (0 rows of every purged kind), one records_purged entry per batch",
        n + 2
    );

    let t0 = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_anshin"))
        .args(["audit", "verify"])
        .env("ANSHIN_DATA_DIR", &app.data_dir)
        .env("ANSHIN_DATABASE__URL", &app.database_url)
        .env("ANSHIN_KEYS__FILE", &app.keys_file)
        .env("ANSHIN_AUDIT__ORIGIN", ORIGIN)
        .env("ANSHIN_AUDIT__WITNESS_DIR", witness.path())
        .env("ANSHIN_LOG__LEVEL", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "check: `anshin audit verify` in {:.1} s: {}",
        t0.elapsed().as_secs_f64(),
        text.trim().replace('\n', "; ")
    );
}

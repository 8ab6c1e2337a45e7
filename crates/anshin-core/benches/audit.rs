//! The audit log's costs (C22; issue 14, acceptance 7):
//!
//! 1. `audit verify` throughput: N entries (default 1,000,000) loaded with
//!    multi-row INSERTs exactly as the store writes them (leaf bytes,
//!    recorded heads, head row), then
//!    `audit::verify::verify` over the whole log (reading every row in
//!    pages of one JSON text each, recomputing every leaf and every
//!    recorded head, checking the keyed hash of every details row) with
//!    one signed checkpoint at the end. The time of reading alone is
//!    printed both ways (a row per entry, and as verify reads).
//! 2. Append cost: the same small bundle (one session row, as a login
//!    writes) committed with and without one audit entry, interleaved,
//!    RUNS times each; p50/p99 per backend.
//!
//! `cargo bench -p anshin-core --bench audit [-- ENTRIES RUNS BACKENDS]`
//! (defaults 1000000, 2000, `sqlite,postgres`). PostgreSQL from
//! `ANSHIN_TEST_POSTGRES_URL` or the test default (a scratch database,
//! dropped at the end). Figures and the machine: bench/README.md.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods
)]

use std::time::{Duration, Instant};

use anshin_core::audit::AuditKey;
use anshin_core::audit::note::{AuditSigner, Checkpoint};
use anshin_domain::{MemberId, SessionId, Timestamp};
use anshin_store::audit::{Frontier, leaf_hash};
use anshin_store::{
    Actor, AuditAction, AuditEntry, AuditTarget, Changes, NewSession, Store, StoredCheckpoint,
    Write,
};
use anshin_store_postgres::PostgresStore;
use anshin_store_postgres::scratch::ScratchDatabase;
use anshin_store_sqlite::SqliteStore;
use uuid::Uuid;

const T0: i64 = 1_767_225_600_000_000;

fn entry(key: &AuditKey, member: MemberId, i: u64) -> AuditEntry {
    let details = format!("{{\"method\":\"code\",\"n\":{i}}}");
    AuditEntry {
        actor: Actor::Member(member),
        action: AuditAction::LoginSucceeded,
        target: Some(AuditTarget::member(member)),
        at: Timestamp::from_micros(T0 + i as i64),
        origin: Some("203.0.113.0/24".into()),
        reason: "own_account".into(),
        details_mac: key.mac(&details),
        details: Some(details),
    }
}

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

/// Loads `n` entries as the store would write them (same leaf bytes, same
/// recorded heads, same head row), with multi-row INSERTs: appending a
/// million through `Store::commit` one statement at a time takes too long
/// for a benchmark (the append cost is measured separately). `verify`
/// then recomputing every leaf and head from these rows is the check that
/// they are what the store writes.
macro_rules! load {
    ($pool:expr, $n:expr) => {{
        let key = AuditKey::from_bytes([7; 32]);
        let member = MemberId::from_uuid(Uuid::now_v7());
        let mut tree = Frontier::new();
        let mut i = 0u64;
        while i < $n {
            let batch: Vec<(u64, AuditEntry)> = (i..($n).min(i + 1_000))
                .map(|k| (k, entry(&key, member, k)))
                .collect();
            i += batch.len() as u64;
            let mut rows = Vec::new();
            for (k, e) in &batch {
                tree.push(leaf_hash(&e.leaf_bytes(*k)));
                rows.push((*k, e, tree.root()));
            }
            let mut tx = $pool.begin().await.unwrap();
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO audit_entries (idx, at, actor_kind, actor_id, action, target_kind, \
                 target_id, origin, reason, details_mac, root) ",
            );
            q.push_values(&rows, |mut b, (k, e, root)| {
                b.push_bind(*k as i64)
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
            let mut q = sqlx::QueryBuilder::new("INSERT INTO audit_details (idx, details) ");
            q.push_values(&rows, |mut b, (k, e, _)| {
                b.push_bind(*k as i64).push_bind(e.details.clone());
            });
            q.build().execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
        sqlx::query("UPDATE audit_head SET size = $1, frontier = $2 WHERE id = 1")
            .bind(tree.size() as i64)
            .bind(tree.to_bytes())
            .execute($pool)
            .await
            .unwrap();
    }};
}

async fn verify_throughput(label: &str, store: &dyn Store, n: u64, load_secs: f64) {
    let key = AuditKey::from_bytes([7; 32]);
    println!("{label}: loaded {n} entries in {load_secs:.1} s");
    let signer = AuditSigner::from_seed("bench.example/audit", [1; 32]).unwrap();
    let head = store.audit().head().await.unwrap();
    let cp = Checkpoint {
        origin: "bench.example/audit".into(),
        size: head.size,
        root: head.frontier.unwrap().root(),
    };
    store
        .audit()
        .add_checkpoint(&StoredCheckpoint {
            size: cp.size,
            root: cp.root,
            at: Timestamp::from_micros(T0),
            note: signer.sign(&cp),
        })
        .await
        .unwrap();
    // Where the time goes: reading the rows alone.
    let t = Instant::now();
    let mut from = 0;
    loop {
        let page = store.audit().entries(from, 10_000).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.index + 1;
    }
    println!(
        "{label}: reading the {n} rows alone (entries, a row each) takes {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let mut from = 0;
    while let Some(last) = store.audit().scan(from, 10_000).await.unwrap().last_index() {
        from = last + 1;
    }
    println!(
        "{label}: reading them as verify does (scan, a JSON text per 10,000) takes {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let report =
        anshin_core::audit::verify::verify(store, &key, &signer.verifier(), &[], &mut |_| {})
            .await
            .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(report.is_sound(), "{report:?}");
    assert_eq!(report.entries, n);
    println!(
        "{label}: verify {n} entries in {secs:.2} s ({:.0} entries/s)",
        n as f64 / secs
    );
}

async fn append_cost(label: &str, store: &dyn Store, runs: usize) {
    let key = AuditKey::from_bytes([7; 32]);
    let member = MemberId::from_uuid(Uuid::now_v7());
    let bundle = |i: usize| {
        Changes::new().with(Write::CreateSession(NewSession {
            id: SessionId::from_uuid(Uuid::now_v7()),
            token_hash: *Uuid::now_v7().as_bytes().repeat(2).first_chunk().unwrap(),
            created_at: Timestamp::from_micros(T0 + i as i64),
            absolute_expires_at: Timestamp::from_micros(T0 + 1_000_000_000),
            idle_expires_at: Timestamp::from_micros(T0 + 1_000_000_000),
            login: None,
        }))
    };
    let (mut plain, mut audited) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let c = bundle(i);
        let t = Instant::now();
        store.commit(&c).await.unwrap();
        plain.push(t.elapsed());
        let c = bundle(i).audited(entry(&key, member, i as u64));
        let t = Instant::now();
        store.commit(&c).await.unwrap();
        audited.push(t.elapsed());
    }
    println!(
        "{label}: commit p50/p99 without audit {:.3}/{:.3} ms, with one entry {:.3}/{:.3} ms ({runs} runs each, interleaved)",
        pct(plain.clone(), 0.5),
        pct(plain, 0.99),
        pct(audited.clone(), 0.5),
        pct(audited, 0.99),
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let n: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let backends = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "sqlite,postgres".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if backends.contains("sqlite") {
            let dir = tempfile::tempdir().unwrap();
            let lite = SqliteStore::open_file(&dir.path().join("bench.db"))
                .await
                .unwrap();
            lite.migrate().await.unwrap();
            append_cost("SQLite", &lite, runs).await;
            lite.close().await;
            let lite = SqliteStore::open_file(&dir.path().join("verify.db"))
                .await
                .unwrap();
            lite.migrate().await.unwrap();
            let t = Instant::now();
            load!(lite.pool(), n);
            let secs = t.elapsed().as_secs_f64();
            verify_throughput("SQLite", &lite, n, secs).await;
            lite.close().await;
        }
        if backends.contains("postgres") {
            let db = ScratchDatabase::migrated().await.unwrap();
            let pg = PostgresStore::connect_lazy(db.url(), 4).unwrap();
            append_cost("PostgreSQL", &pg, runs).await;
            pg.close().await;
            let db2 = ScratchDatabase::migrated().await.unwrap();
            let pg = PostgresStore::connect_lazy(db2.url(), 4).unwrap();
            let t = Instant::now();
            load!(pg.pool(), n);
            let secs = t.elapsed().as_secs_f64();
            verify_throughput("PostgreSQL", &pg, n, secs).await;
            pg.close().await;
        }
    });
}

//! Retention of shipping history (issue 16, C17; ADR 0021), on SQLite
//! and PostgreSQL, with a moved clock:
//!
//! - acceptance 1: a shipment delivered at T (2027-01-31 10:00 JST, a
//!   month end before a short February) is readable at T + 1 month − 1 s
//!   (2027-02-28 09:59:59 JST) after a run of the retention job, and gone
//!   after the job's run at T + 1 month + 1 day; `anshin retention run
//!   --dry-run` counts without deleting, `--as-of` purges exactly at the
//!   month's end;
//! - acceptance 2, the canary: afterwards the shipment's sealed label
//!   bytes, its wrapped key and the details of an audit entry about it are
//!   in neither the SQLite file nor its WAL, nor a `pg_dump`; the
//!   addresses typed are in no log line and no metric; `anshin audit
//!   verify` passes.
//!
//! The same for a completed payout (C16): paid (or failed) at T, its
//! sealed bank snapshot is readable at T + 1 month − 1 s and gone after
//! the job's run at T + 1 month + 1 day, with the same canary (the
//! snapshot's ciphertext and wrapped key, the holder's name and account
//! number typed), `anshin ledger check` and `anshin audit verify`
//! passing afterwards; a dry run counts it and deletes nothing.

use std::sync::Arc;

use anshin_core::jobs::Runner;
use anshin_core::member_data::RawBankAccount;
use anshin_core::payouts::{self, Doer};
use anshin_core::retention::{RetentionJob, RetentionSettings};
use anshin_core::shipping;
use anshin_domain::{
    Duration, ParcelEventKind, PayoutId, PayoutStatus, ShipmentId, ShipmentStatus, Timestamp,
};
use anshin_store::Changes;
use anshin_store::audit::{Actor, AuditAction, AuditTarget};
use anshin_testkit::{Backend, TestApp, backends, captured_logs};

use crate::audit::{ORIGIN, cli, entries};
use crate::commerce::Market;
use crate::member_data::{contains, database_bytes, encodings};
use crate::shipping::{BUYER_FIELDS, SELLER_FIELDS, Sale, code_of, paid_sale_in};

backends!(
    c17_a_delivered_shipment_is_kept_one_month_and_purged_after,
    c17_retention_run_dry_run_counts_and_deletes_nothing,
    c16_a_completed_payout_is_kept_one_month_and_purged_after,
    c16_retention_run_dry_run_counts_payouts_and_deletes_nothing,
    c18_withdrawal_waits_for_a_payout_on_its_way_then_destroys_its_bank_snapshot,
    c17_a_reader_holding_a_snapshot_does_not_fail_the_purge_and_the_flush_waits_for_it,
    c17_a_flush_a_reader_outlasts_is_pending_and_the_next_job_run_truncates_the_wal,
);

const SECOND: i64 = 1_000_000;
/// 2027-01-31 10:00 JST (01:00 UTC): delivered on a month's last day.
const T: Timestamp = Timestamp::from_micros(1_801_357_200 * SECOND);
/// T + one month: 2027-02-28 10:00 JST (February has no 31st).
const T_MONTH: Timestamp = Timestamp::from_micros(1_803_776_400 * SECOND);
/// T + one month + one day: 2027-03-01 10:00 JST.
const T_MONTH_DAY: Timestamp = Timestamp::from_micros(1_803_862_800 * SECOND);

const METRIC: &str = "anshin_retention_purged_total{kind=\"shipment\"}";
const DETAIL_CANARY: &str = "canary-detail-7f3a9c";

/// A paid sale whose market signs audit checkpoints for `cli`'s verify.
pub(crate) async fn sale(b: Backend, witness: &std::path::Path) -> Sale {
    let witness = witness.to_owned();
    let m = Market::start_with(b, move |s| {
        s.audit.origin = Some(ORIGIN.into());
        s.audit.witness_dir = Some(witness);
    })
    .await;
    paid_sale_in(m).await
}

/// The centre accepts the parcel, and it is delivered at `at`; an audit
/// entry about the shipment carries a canary in its details (as a
/// centre act's would).
async fn deliver(sale: &Sale, at: Timestamp) -> ShipmentId {
    let app = &sale.m.app;
    let code = code_of(app, &sale.s, sale.order).await;
    shipping::accept(&app.services, &code).await.unwrap();
    app.clock.set(at);
    shipping::record_event(
        &app.services,
        &sale.order.to_string(),
        ParcelEventKind::Delivered,
    )
    .await
    .unwrap();
    let id = app
        .store
        .shipping()
        .shipment_of_order(sale.order)
        .await
        .unwrap()
        .unwrap()
        .id;
    let entry = anshin_core::audit::entry(
        &app.services,
        Actor::System,
        AuditAction::VoidRequested,
        Some(AuditTarget::shipment(id)),
        None,
        "test",
        serde_json::json!({ "note": DETAIL_CANARY }),
    );
    app.store
        .commit(&Changes::new().audited(entry))
        .await
        .unwrap();
    id
}

/// What is left of the shipment's history: (label, parcel events, the
/// order's address snapshot).
async fn history(sale: &Sale, id: ShipmentId) -> (bool, usize, bool) {
    let store = &sale.m.app.store;
    (
        store.shipping().sealed_label(id).await.unwrap().is_some(),
        store.shipping().parcel_events(id).await.unwrap().len(),
        store
            .orders()
            .order_shipping(sale.order)
            .await
            .unwrap()
            .is_some(),
    )
}

/// `bytes` as the database file holds them, and as `pg_dump` prints a
/// bytea (hex).
fn forms(bytes: &[u8]) -> Vec<Vec<u8>> {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    vec![bytes.to_vec(), hex.into_bytes()]
}

fn holds(db: &[u8], bytes: &[u8]) -> bool {
    forms(bytes).iter().any(|f| contains(db, f))
}

async fn c17_a_delivered_shipment_is_kept_one_month_and_purged_after(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    let sale = sale(b, witness.path()).await;
    let app = &sale.m.app;
    let id = deliver(&sale, T).await;
    let sealed = app
        .store
        .shipping()
        .sealed_label(id)
        .await
        .unwrap()
        .unwrap();
    let secrets = [
        sealed.recipient.clone(),
        sealed.sender.clone().unwrap(),
        sealed.wrapped_key.clone(),
    ];
    let wal_before = canary_before(app, &secrets);
    let (runner, job, stop) = retention_job(app);

    // T + 1 month − 1 s: the job runs and keeps everything.
    app.clock.set(T_MONTH - Duration::SECOND);
    runner.tick(&job, &stop).await;
    assert_eq!(history(&sale, id).await, (true, 2, true));
    assert_eq!(app.metric(METRIC).await, 0);

    // The job's run at T + 1 month + 1 day: gone.
    app.clock.set(T_MONTH_DAY);
    runner.tick(&job, &stop).await;
    assert_eq!(history(&sale, id).await, (false, 0, false));
    let row = app.store.shipping().shipment(id).await.unwrap().unwrap();
    assert_eq!(row.status, ShipmentStatus::Delivered, "the row stays");
    assert!(!row.has_sender);
    assert!(
        shipping::label(&app.services, id).await.is_err(),
        "no label can be printed any more"
    );
    assert_eq!(app.metric(METRIC).await, 1);
    let log = entries(app).await;
    let purge = log
        .iter()
        .find(|e| e.entry.action == AuditAction::RecordsPurged)
        .expect("the purge is audited");
    let details = purge.entry.details.as_ref().unwrap().to_string();
    assert!(
        details.contains("\"count\":1") && details.contains("\"shipment\""),
        "{details}"
    );
    assert!(
        !details.contains(&id.to_string()),
        "no record id in the details"
    );
    for e in &log {
        if e.entry.target == Some(AuditTarget::shipment(id)) {
            assert!(e.entry.details.is_none(), "details about it purged");
        }
    }

    // The canary: nothing of it in the files, a dump, the logs or metrics.
    let fields: Vec<&str> = BUYER_FIELDS
        .iter()
        .chain(SELLER_FIELDS.iter())
        .copied()
        .collect();
    no_copy_left(app, &secrets, &fields, wal_before, witness.path()).await;
}

/// The size of the SQLite database's WAL (0 on PostgreSQL).
fn wal_size(app: &TestApp) -> u64 {
    let path = app.database_url.trim_start_matches("sqlite://");
    let path = path.split('?').next().unwrap_or(path);
    std::fs::metadata(format!("{path}-wal"))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Before the purge: each secret is in the database (so the canary can
/// fail); returns the WAL's size then.
fn canary_before(app: &TestApp, secrets: &[Vec<u8>]) -> u64 {
    let before = database_bytes(app);
    for s in secrets {
        assert!(holds(&before, s), "the canary is in the database before");
    }
    wal_size(app)
}

/// The retention job with default settings, on the app's clock, and a
/// runner to tick it.
fn retention_job(app: &TestApp) -> (Runner, RetentionJob, tokio_util::sync::CancellationToken) {
    let runner = Runner::new(
        app.store.clone(),
        Arc::new(app.clock.clone()),
        "retention-test",
    );
    let job = RetentionJob {
        svc: app.services.clone(),
        settings: RetentionSettings::default(),
        lease: Duration::from_secs(60),
    };
    (runner, job, tokio_util::sync::CancellationToken::new())
}

/// After the purge, the canary (acceptance 2): the purged ciphertexts
/// (`secrets`) are in neither the SQLite file nor its WAL nor a
/// `pg_dump`; the personal values typed (`fields`) and the audit detail
/// canary are in no database form, log line or metric; the WAL was
/// truncated; `anshin audit verify` passes.
async fn no_copy_left(
    app: &TestApp,
    secrets: &[Vec<u8>],
    fields: &[&str],
    wal_before: u64,
    witness: &std::path::Path,
) {
    let after = database_bytes(app);
    for s in secrets {
        assert!(
            !holds(&after, s),
            "a purged ciphertext is still in the database"
        );
    }
    assert!(!contains(&after, DETAIL_CANARY.as_bytes()));
    if app.backend == Backend::Sqlite {
        // Truncated by the purge: the job's own bookkeeping after it (run
        // record, lease) starts a new, small WAL, so not 0; without the
        // truncation the file would keep its size (a checkpoint alone does
        // not shrink it).
        let wal = wal_size(app);
        assert!(
            wal < wal_before / 2,
            "the WAL is checkpointed and truncated ({wal_before} → {wal} bytes)"
        );
    }
    let logs = captured_logs();
    let metrics = reqwest_text(&app.ops_url("/metrics")).await;
    for field in fields {
        for form in encodings(field) {
            assert!(!contains(&after, &form), "{field} in the database");
        }
        assert!(!logs.contains(field), "{field} in the logs");
        assert!(!metrics.contains(field), "{field} in the metrics");
    }
    assert!(!logs.contains(DETAIL_CANARY));
    let (ok, out) = cli(app, witness, &["audit", "verify"]);
    assert!(ok, "the chain verifies after the purge: {out}");
}

async fn reqwest_text(url: &str) -> String {
    anshin_testkit::reqwest::get(url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn c17_retention_run_dry_run_counts_and_deletes_nothing(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    let sale = sale(b, witness.path()).await;
    let app = &sale.m.app;
    let id = deliver(&sale, T).await;
    let run = |args: &[&str]| {
        let mut all = vec!["retention", "run"];
        all.extend_from_slice(args);
        let (ok, out) = cli(app, witness.path(), &all);
        assert!(ok, "{out}");
        out
    };
    // One second short of the month (in JST, as written): nothing is due.
    let out = run(&["--as-of", "2027-02-28T09:59:59+09:00", "--dry-run"]);
    assert!(out.contains("shipment: 0 would purge"), "{out}");
    // At the month: one would go; a dry run deletes nothing.
    let out = run(&["--as-of", "2027-02-28T10:00:00+09:00", "--dry-run"]);
    assert!(out.contains("shipment: 1 would purge"), "{out}");
    assert_eq!(history(&sale, id).await, (true, 2, true));
    assert!(
        !entries(app)
            .await
            .iter()
            .any(|e| e.entry.action == AuditAction::RecordsPurged),
        "a dry run records no purge"
    );
    let out = run(&["--as-of", "2027-02-28T00:59:59Z"]);
    assert!(out.contains("shipment: 0 purged"), "{out}");
    assert_eq!(history(&sale, id).await, (true, 2, true));
    // Exactly at T + 1 month (UTC spelling): purged, once.
    let out = run(&["--as-of", "2027-02-28T01:00:00Z"]);
    assert!(out.contains("shipment: 1 purged"), "{out}");
    assert_eq!(history(&sale, id).await, (false, 0, false));
    let out = run(&["--as-of", "2027-03-31T00:00:00Z"]);
    assert!(out.contains("shipment: 0 purged"), "purged once: {out}");
    // A bad time is refused with a clear message.
    let (ok, out) = cli(
        app,
        witness.path(),
        &["retention", "run", "--as-of", "next tuesday"],
    );
    assert!(!ok && out.contains("RFC 3339"), "{out}");
    let (ok, out) = cli(app, witness.path(), &["audit", "verify"]);
    assert!(ok, "{out}");
}

// ---------------------------------------------------------------- payouts (C16)

const PAYOUT_METRIC: &str = "anshin_retention_purged_total{kind=\"payout\"}";
/// The bank account typed for the payouts: the holder's name and the
/// number are the canary.
const HOLDER: &str = "ヤマダ　サクラコ";
const ACCOUNT_NUMBER: &str = "8273645";

/// A server (checkout keys set, audit checkpoints signed for `cli`) with
/// a seller whose sale is paid and whose bank account is set; the
/// seller's payout of the whole balance, batched, completed at `at`
/// (`paid` or failed) by hand from the shell. An audit entry about the
/// payout carries a canary in its details.
async fn completed_payout(
    b: Backend,
    witness: &std::path::Path,
    at: Timestamp,
    paid: bool,
) -> (TestApp, PayoutId) {
    let (app, id, _) = batched_payout(b, witness).await;
    app.clock.set(at);
    payouts::settle_by_hand(&app.services, Doer::Shell, id, paid)
        .await
        .unwrap();
    let entry = anshin_core::audit::entry(
        &app.services,
        Actor::System,
        AuditAction::PayoutPaid,
        Some(AuditTarget::payout(id)),
        None,
        "test",
        serde_json::json!({ "note": DETAIL_CANARY }),
    );
    app.store
        .commit(&Changes::new().audited(entry))
        .await
        .unwrap();
    (app, id)
}

/// The server and seller of [`completed_payout`], the payout batched (on
/// its way to the bank); with the seller's member id.
async fn batched_payout(
    b: Backend,
    witness: &std::path::Path,
) -> (TestApp, PayoutId, anshin_domain::MemberId) {
    use crate::commerce::{buyer, force_paid, item, order, seller};
    let witness = witness.to_owned();
    let app = TestApp::spawn_mail_with(b, move |s| {
        s.audit.origin = Some(ORIGIN.into());
        s.audit.witness_dir = Some(witness);
        s.payments.api_base = "http://127.0.0.1:9/".parse().unwrap();
        s.payments.js_url = "http://127.0.0.1:9/js.stripe.com/v3/".parse().unwrap();
        s.payments.secret_key = Some("sk_test_payret".to_owned().into());
        s.payments.publishable_key = Some("pk_test_payret".to_owned());
    })
    .await;
    let s = seller(&app, "payret-seller@example.jp").await;
    let cup = item(&app, &s, "湯呑み", "4800", "5").await;
    let buyer = buyer(&app, "payret-buyer@example.jp").await;
    let o = order(&app, &buyer, s.shop, cup, 1).await;
    force_paid(&app, o).await;
    let id = bank_and_payout(&app, s.member).await;
    (app, id, s.member)
}

/// The seller sets the bank account (the canary), asks for a payout of
/// the whole balance, and the shell batches it.
async fn bank_and_payout(app: &TestApp, member: anshin_domain::MemberId) -> PayoutId {
    let session = app
        .store
        .sessions()
        .list_for_member(member, app.services.now())
        .await
        .unwrap()
        .remove(0);
    anshin_core::member_data::change_bank_account(
        &app.services,
        &session,
        RawBankAccount {
            bank_code: "0001".into(),
            branch_code: "210".into(),
            account_type: "ordinary".into(),
            account_number: ACCOUNT_NUMBER.into(),
            holder_kana: HOLDER.into(),
        },
    )
    .await
    .unwrap();
    let id: PayoutId = app.services.new_id();
    payouts::request_payout(&app.services, member, id, None)
        .await
        .unwrap();
    payouts::build_batch(&app.services, Doer::Shell, None)
        .await
        .unwrap();
    id
}

/// Whether the payout's bank snapshot still opens (what an export, the
/// console and the mails read).
async fn snapshot_readable(app: &TestApp, id: PayoutId) -> bool {
    match payouts::bank_snapshot(&app.services, id).await {
        Ok(raw) => {
            assert_eq!(raw.holder_kana, HOLDER);
            true
        }
        Err(_) => false,
    }
}

async fn c16_a_completed_payout_is_kept_one_month_and_purged_after(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    let (app, id) = completed_payout(b, witness.path(), T, true).await;
    let app = &app;
    let before = app.store.payouts().payout(id).await.unwrap().unwrap();
    assert_eq!(before.status, PayoutStatus::Paid);
    assert_eq!(before.completed_at, Some(T));
    let sealed = app.store.payouts().sealed_bank(id).await.unwrap().unwrap();
    let secrets = [sealed.account.clone(), sealed.wrapped_key.clone()];
    let wal_before = canary_before(app, &secrets);
    let (runner, job, stop) = retention_job(app);

    // T + 1 month − 1 s: the job runs and keeps the snapshot.
    app.clock.set(T_MONTH - Duration::SECOND);
    runner.tick(&job, &stop).await;
    assert!(
        snapshot_readable(app, id).await,
        "kept until its month ends"
    );
    assert_eq!(app.metric(PAYOUT_METRIC).await, 0);

    // The job's run at T + 1 month + 1 day: gone.
    app.clock.set(T_MONTH_DAY);
    runner.tick(&job, &stop).await;
    assert!(!snapshot_readable(app, id).await, "the snapshot is purged");
    assert!(app.store.payouts().sealed_bank(id).await.unwrap().is_none());
    let after = app.store.payouts().payout(id).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.amount, after.fee, after.completed_at),
        (
            before.status,
            before.amount,
            before.fee,
            before.completed_at
        ),
        "the row keeps what the ledger needs"
    );
    assert_eq!(app.metric(PAYOUT_METRIC).await, 1);
    let log = entries(app).await;
    let purge = log
        .iter()
        .find(|e| e.entry.action == AuditAction::RecordsPurged)
        .expect("the purge is audited");
    let details = purge.entry.details.as_ref().unwrap().to_string();
    assert!(
        details.contains("\"count\":1") && details.contains("\"payout\""),
        "{details}"
    );
    assert!(
        !details.contains(&id.to_string()),
        "no record id in the details"
    );
    let about: Vec<_> = log
        .iter()
        .filter(|e| e.entry.target == Some(AuditTarget::payout(id)))
        .collect();
    assert!(about.len() >= 3, "requested, paid, the canary entry");
    for e in about {
        assert!(e.entry.details.is_none(), "details about it purged");
    }
    // The next run finds nothing more.
    app.clock.set(T_MONTH_DAY + Duration::from_secs(86_400));
    runner.tick(&job, &stop).await;
    assert_eq!(app.metric(PAYOUT_METRIC).await, 1, "purged once");

    no_copy_left(app, &secrets, &[HOLDER], wal_before, witness.path()).await;
    // The account number: seven digits, which a `pg_dump`'s hex of random
    // bytes may hold by chance; the SQLite file (binary) may not.
    if b == Backend::Sqlite {
        assert!(!contains(&database_bytes(app), ACCOUNT_NUMBER.as_bytes()));
    }
    assert!(!captured_logs().contains(ACCOUNT_NUMBER), "in the logs");
    let metrics = reqwest_text(&app.ops_url("/metrics")).await;
    assert!(!metrics.contains(ACCOUNT_NUMBER), "in the metrics");
    let (ok, out) = cli(app, witness.path(), &["ledger", "check"]);
    assert!(ok, "the ledger is sound after the purge: {out}");
}

async fn c16_retention_run_dry_run_counts_payouts_and_deletes_nothing(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    // A failed transfer completes too: its month counts from the failure.
    let (app, id) = completed_payout(b, witness.path(), T, false).await;
    let app = &app;
    let failed = app.store.payouts().payout(id).await.unwrap().unwrap();
    assert_eq!(failed.status, PayoutStatus::Failed);
    assert!(failed.failure_code.is_some());
    let run = |args: &[&str]| {
        let mut all = vec!["retention", "run"];
        all.extend_from_slice(args);
        let (ok, out) = cli(app, witness.path(), &all);
        assert!(ok, "{out}");
        out
    };
    let out = run(&["--as-of", "2027-02-28T09:59:59+09:00", "--dry-run"]);
    assert!(out.contains("payout: 0 would purge"), "{out}");
    let out = run(&["--as-of", "2027-02-28T10:00:00+09:00", "--dry-run"]);
    assert!(out.contains("payout: 1 would purge"), "{out}");
    assert!(
        snapshot_readable(app, id).await,
        "a dry run deletes nothing"
    );
    assert!(
        !entries(app)
            .await
            .iter()
            .any(|e| e.entry.action == AuditAction::RecordsPurged),
        "a dry run records no purge"
    );
    let out = run(&["--as-of", "2027-02-28T00:59:59Z"]);
    assert!(out.contains("payout: 0 purged"), "{out}");
    assert!(snapshot_readable(app, id).await);
    // Exactly at T + 1 month: purged, once; the bank's result code too.
    let out = run(&["--as-of", "2027-02-28T01:00:00Z"]);
    assert!(out.contains("payout: 1 purged"), "{out}");
    assert!(!snapshot_readable(app, id).await);
    let after = app.store.payouts().payout(id).await.unwrap().unwrap();
    assert_eq!(after.status, PayoutStatus::Failed);
    assert_eq!(after.failure_code, None, "the result code is history too");
    let out = run(&["--as-of", "2027-03-31T00:00:00Z"]);
    assert!(out.contains("payout: 0 purged"), "purged once: {out}");
    for args in [&["ledger", "check"][..], &["audit", "verify"][..]] {
        let (ok, out) = cli(app, witness.path(), args);
        assert!(ok, "{args:?}: {out}");
    }
}

/// A payout's bank snapshot is under the payout's own key, which the
/// member's shredded key does not reach: a withdrawal waits while a
/// payout is on its way to the bank (its amount is held, the balance
/// reads 0), and once the bank has answered it destroys the snapshot at
/// once, not a month later (C18 over C16). The store's guard refuses the
/// write itself too, as a second instance's withdrawal would meet it.
async fn c18_withdrawal_waits_for_a_payout_on_its_way_then_destroys_its_bank_snapshot(b: Backend) {
    use anshin_core::withdrawal::{self, Wait};
    let witness = tempfile::tempdir().unwrap();
    // A completed sale (nothing else open), then its payout batched.
    let sale = sale(b, witness.path()).await;
    crate::withdrawal::complete(&sale).await;
    let app = &sale.m.app;
    let member = sale.s.member;
    let id = bank_and_payout(app, member).await;
    let withdraw = || {
        Changes::new().with(anshin_store::Write::WithdrawMember {
            member,
            tombstone_email: withdrawal::tombstone_email(member).unwrap(),
            tombstone_name: anshin_domain::DisplayName::parse("-").unwrap(),
            counter_keys: vec![],
            at: app.services.now(),
        })
    };
    assert_eq!(
        withdrawal::waits(&app.services, member).await.unwrap(),
        [Wait::PayoutsUnderWay(1)]
    );
    let e = app.store.commit(&withdraw()).await.unwrap_err();
    assert!(
        e.is_precondition(anshin_store::guards::WITHDRAWAL_WAITS),
        "{e:?}"
    );
    assert!(snapshot_readable(app, id).await, "nothing was deleted");

    payouts::settle_by_hand(&app.services, Doer::Shell, id, true)
        .await
        .unwrap();
    assert!(
        withdrawal::waits(&app.services, member)
            .await
            .unwrap()
            .is_empty()
    );
    let sealed = app.store.payouts().sealed_bank(id).await.unwrap().unwrap();
    let secrets = [sealed.account.clone(), sealed.wrapped_key.clone()];
    let before = database_bytes(app);
    assert!(secrets.iter().all(|s| holds(&before, s)));
    app.store.commit(&withdraw()).await.unwrap();
    assert_eq!(
        app.store
            .flush_after_purge(std::time::Duration::from_secs(30))
            .await
            .unwrap(),
        anshin_store::Flushed::Done
    );
    assert!(!snapshot_readable(app, id).await, "destroyed at once");
    assert!(app.store.payouts().sealed_bank(id).await.unwrap().is_none());
    let after = database_bytes(app);
    for s in &secrets {
        assert!(!holds(&after, s), "a ciphertext of the snapshot is left");
    }
    let p = app.store.payouts().payout(id).await.unwrap().unwrap();
    assert_eq!(p.status, PayoutStatus::Paid, "the row stays for the ledger");
    let (ok, out) = cli(app, witness.path(), &["ledger", "check"]);
    assert!(ok, "{out}");
}

/// A separate connection to the app's database holding a read
/// transaction open (`BEGIN` and a `SELECT`), as a long report or a
/// backup's reader would: on SQLite it pins the WAL (a checkpoint cannot
/// copy frames past its snapshot, nor restart the WAL, until it ends).
enum Reader {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Reader {
    async fn hold(app: &TestApp) -> Reader {
        use sqlx::Connection;
        match app.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&app.database_url)
                    .await
                    .unwrap();
                sqlx::query("BEGIN").execute(&mut c).await.unwrap();
                let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM shipments")
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
                assert!(n > 0, "the reader sees the shipment");
                Reader::Sqlite(c)
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&app.database_url)
                    .await
                    .unwrap();
                let schema = app.database_schema().unwrap();
                sqlx::query("SELECT set_config('search_path', $1, false)")
                    .bind(schema)
                    .execute(&mut c)
                    .await
                    .unwrap();
                sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut c)
                    .await
                    .unwrap();
                let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM shipments")
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
                assert!(n > 0, "the reader sees the shipment");
                Reader::Postgres(c)
            }
        }
    }

    async fn end(self) {
        use sqlx::Connection;
        match self {
            Reader::Sqlite(mut c) => {
                sqlx::query("COMMIT").execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            Reader::Postgres(mut c) => {
                sqlx::query("COMMIT").execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }
}

/// The shipment's sealed label bytes and wrapped key (the canary).
async fn label_secrets(app: &TestApp, id: ShipmentId) -> Vec<Vec<u8>> {
    let sealed = app
        .store
        .shipping()
        .sealed_label(id)
        .await
        .unwrap()
        .unwrap();
    vec![
        sealed.recipient.clone(),
        sealed.sender.clone().unwrap(),
        sealed.wrapped_key.clone(),
    ]
}

/// A reader holding an old snapshot through the purge (SQLite: it keeps
/// the WAL from being checkpointed) does not fail the purge: the purge's
/// rows are committed before the flush, and the flush waits for the
/// reader (retrying with back-off, up to its patience) instead of giving
/// up. The reader ends after 18 s, past the three tries of the busy
/// timeout (5 s each) after which the flush used to fail the whole purge
/// with "readers kept it busy"; then the WAL is truncated and the canary
/// is in no file. On PostgreSQL the reader holds nothing up.
async fn c17_a_reader_holding_a_snapshot_does_not_fail_the_purge_and_the_flush_waits_for_it(
    b: Backend,
) {
    let witness = tempfile::tempdir().unwrap();
    let sale = sale(b, witness.path()).await;
    let app = &sale.m.app;
    let id = deliver(&sale, T).await;
    let secrets = label_secrets(app, id).await;
    let wal_before = canary_before(app, &secrets);
    let reader = Reader::hold(app).await;
    let held = std::time::Duration::from_secs(18);
    let release = tokio::spawn(async move {
        tokio::time::sleep(held).await;
        reader.end().await;
    });
    app.clock.set(T_MONTH_DAY);
    let started = std::time::Instant::now();
    let counts = anshin_core::retention::purge_records(&app.services, T_MONTH_DAY, false)
        .await
        .expect("a busy WAL does not fail the purge");
    assert_eq!(counts.shipments, 1);
    assert_eq!(counts.flush, Some(anshin_store::Flushed::Done));
    assert_eq!(app.metric(FLUSH_PENDING).await, 0);
    if b == Backend::Sqlite {
        assert!(
            started.elapsed() >= held - std::time::Duration::from_secs(1),
            "the flush waited for the reader ({:?})",
            started.elapsed()
        );
    }
    release.await.unwrap();
    assert_eq!(history(&sale, id).await, (false, 0, false));
    let fields: Vec<&str> = BUYER_FIELDS
        .iter()
        .chain(SELLER_FIELDS.iter())
        .copied()
        .collect();
    no_copy_left(app, &secrets, &fields, wal_before, witness.path()).await;
}

const FLUSH_PENDING: &str = "anshin_retention_flush_pending";

/// A reader that outlasts the flush's patience (1 s here, 30 s in
/// production): the purge still succeeds (its rows are gone for every
/// reader), the flush is reported pending (`Flushed::Pending`, the
/// `anshin_retention_flush_pending` gauge at 1, a warning without
/// personal data) and, honestly, the SQLite files still hold the canary
/// then. Once the reader ends, the retention job's next run (which has
/// nothing left to purge) flushes again: the WAL is truncated, the
/// canary is in no file, the gauge is back to 0. On PostgreSQL the flush
/// is never pending.
async fn c17_a_flush_a_reader_outlasts_is_pending_and_the_next_job_run_truncates_the_wal(
    b: Backend,
) {
    let witness = tempfile::tempdir().unwrap();
    let sale = sale(b, witness.path()).await;
    let app = &sale.m.app;
    let id = deliver(&sale, T).await;
    let secrets = label_secrets(app, id).await;
    let wal_before = canary_before(app, &secrets);
    let reader = Reader::hold(app).await;
    app.clock.set(T_MONTH_DAY);
    let counts = anshin_core::retention::purge_records_within(
        &app.services,
        T_MONTH_DAY,
        false,
        std::time::Duration::from_secs(1),
    )
    .await
    .expect("a busy WAL does not fail the purge");
    assert_eq!(counts.shipments, 1);
    assert_eq!(history(&sale, id).await, (false, 0, false), "rows gone");
    if b == Backend::Sqlite {
        assert_eq!(counts.flush, Some(anshin_store::Flushed::Pending));
        assert_eq!(app.metric(FLUSH_PENDING).await, 1);
        assert!(
            captured_logs().contains("the flush is pending"),
            "the pending flush is logged"
        );
        let now = database_bytes(app);
        assert!(
            secrets.iter().any(|s| holds(&now, s)),
            "while pending, the files may still hold the purged rows"
        );
    } else {
        assert_eq!(counts.flush, Some(anshin_store::Flushed::Done));
        assert_eq!(app.metric(FLUSH_PENDING).await, 0);
    }
    reader.end().await;

    // The job's next run: nothing to purge, the flush retried.
    let (runner, job, stop) = retention_job(app);
    app.clock.set(T_MONTH_DAY + Duration::from_secs(3600));
    runner.tick(&job, &stop).await;
    assert_eq!(
        app.metric(FLUSH_PENDING).await,
        0,
        "flushed at the next run"
    );
    let fields: Vec<&str> = BUYER_FIELDS
        .iter()
        .chain(SELLER_FIELDS.iter())
        .copied()
        .collect();
    no_copy_left(app, &secrets, &fields, wal_before, witness.path()).await;
}

//! Creator payouts (issue 16, C16; ADR 0020), on both databases.
//!
//! Acceptance 3: a payout requested from two instances at once (two
//! `Services` on two pools of the same database) is one payout held
//! once; its batch is exported, the bank's result imported twice (once
//! more from the other instance, and a second batch's result from both
//! instances at once): each payout is paid exactly once and the ledger
//! stays sound (`ledger::check`, what `anshin ledger check` runs). A
//! failed transfer gives the whole amount back to the balance.
//!
//! Acceptance 4: the transfer file is read by a parser written here,
//! from the Zengin layout, not by the project's writer: 120-byte records,
//! Shift_JIS, header / data / trailer / end, the trailer's count and
//! total; and a name that Zengin cannot carry stops the export before a
//! byte is written, naming the line and the payout.

use std::sync::Arc;

use anshin_core::clock::Clock;
use anshin_core::member_data::RawBankAccount;
use anshin_core::payouts::{self, Doer, PayoutError};
use anshin_core::random::Random;
use anshin_core::{CoreSettings, Services};
use anshin_domain::{Duration, LedgerAccount, PayoutId, PayoutStatus, SessionId, Timestamp, Yen};
use anshin_store::{Changes, LedgerKind, NewSession, SessionLogin, Write};

use crate::Backend;
use crate::ledger::{World, world};

crate::on_both!(
    c16_a_payout_retried_from_two_instances_is_paid_exactly_once_and_the_ledger_balances,
    c16_a_failed_transfer_gives_the_amount_back_and_a_second_request_races_cleanly,
    c16_names_zengin_cannot_carry_stop_the_export_before_a_byte_is_written,
    c16_a_purge_destroys_a_completed_payouts_key_and_snapshot_once,
);

/// The world's orders paid (3-D Secure passed; the buyer's browser
/// reports it) and the seller's payout account set.
async fn paid_world(b: Backend, prices: &[i64]) -> World {
    let w = world(b, prices).await;
    for o in &w.orders {
        anshin_core::checkout::refresh(&w.svc, w.buyer, *o)
            .await
            .unwrap();
    }
    set_bank(&w, "やまだ たろう").await;
    w
}

async fn set_bank(w: &World, holder: &str) {
    let id: SessionId = w.svc.new_id();
    let token = [9; 32];
    let now = w.svc.now();
    w.svc
        .store
        .commit(&Changes::new().with(Write::CreateSession(NewSession {
            id,
            token_hash: token,
            created_at: now,
            absolute_expires_at: now + Duration::from_secs(86_400),
            idle_expires_at: now + Duration::from_secs(86_400),
            login: Some(SessionLogin {
                member_id: w.seller,
                authenticated_at: now,
                ip: "192.0.2.9".into(),
                device: "test".into(),
                method: anshin_domain::LoginMethod::Code,
            }),
        })))
        .await
        .unwrap();
    let session = w
        .svc
        .store
        .sessions()
        .find_live(&token, now)
        .await
        .unwrap()
        .unwrap();
    anshin_core::member_data::change_bank_account(
        &w.svc,
        &session,
        RawBankAccount {
            bank_code: "0005".into(),
            branch_code: "123".into(),
            account_type: "ordinary".into(),
            account_number: "7654321".into(),
            holder_kana: holder.into(),
        },
    )
    .await
    .unwrap();
}

/// Another instance: its own pool on the same database, the same key
/// ring and clock.
async fn second_instance(w: &World) -> Services {
    let keys = Arc::new(
        anshin_core::keys::Keys::load_or_create(&w.keys_dir.path().join("ring"), &Random::os())
            .unwrap(),
    );
    Services::offline_with(
        w.db.another().await,
        keys,
        Arc::new(w.clock.clone()) as Arc<dyn Clock>,
        Random::os(),
        w.svc.settings.clone(),
        "https://shop.example",
        w.fake.clone(),
    )
    .unwrap()
}

async fn balance(w: &World) -> i64 {
    anshin_core::ledger::seller_balance(w.svc.store.as_ref(), w.shop)
        .await
        .unwrap()
        .amount()
}

async fn sound(svc: &Services) -> anshin_core::ledger::LedgerReport {
    let r = anshin_core::ledger::check(svc.store.as_ref())
        .await
        .unwrap();
    assert!(r.is_sound(), "{:#?}", r.problems);
    r
}

/// The ledger transactions of payout `id`, by kind.
async fn postings_of(svc: &Services, id: PayoutId) -> Vec<LedgerKind> {
    let mut kinds = Vec::new();
    let mut after = None;
    loop {
        let page = svc.store.orders().ledger_page(after, 500).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for t in page {
            if t.key.ends_with(&id.to_string()) {
                kinds.push(t.kind);
            }
        }
    }
    kinds.sort_by_key(|k| k.as_str());
    kinds
}

// ---------------------------------------------------------------- an
// independent reader of the Zengin layout (全銀協 総合振込), written from
// the format's table, not from the project's writer.

#[derive(Debug)]
struct Parsed {
    header: Vec<u8>,
    data: Vec<Vec<u8>>,
    trailer: Vec<u8>,
}

fn num(r: &[u8], from: usize, len: usize) -> i64 {
    let s = std::str::from_utf8(&r[from..from + len]).unwrap();
    assert!(s.bytes().all(|b| b.is_ascii_digit()), "not digits: {s:?}");
    s.parse().unwrap()
}

/// Single-byte Shift_JIS (JIS X 0201), decoded by hand from the
/// standard's table: 0x20–0x7E as ASCII, 0xA1–0xDF the half-width
/// katakana U+FF61–U+FF9F; anything else is not text of this file.
fn sjis(r: &[u8], from: usize, len: usize) -> String {
    let text: String = r[from..from + len]
        .iter()
        .map(|&b| match b {
            0x20..=0x7e => char::from(b),
            0xa1..=0xdf => char::from_u32(0xff61 + u32::from(b - 0xa1)).unwrap(),
            _ => panic!("byte {b:#x} is not single-byte Shift_JIS text"),
        })
        .collect();
    text.trim_end_matches(' ').to_owned()
}

fn parse_zengin(file: &[u8]) -> Parsed {
    // Records of exactly 120 bytes, each followed by CR LF.
    assert_eq!(file.len() % 122, 0, "whole 120-byte records with CR LF");
    let records: Vec<&[u8]> = file.chunks(122).collect();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(&r[120..], b"\r\n", "record {i} ends with CR LF");
        // Single-byte Shift_JIS only: ASCII or half-width katakana.
        for &b in &r[..120] {
            assert!(
                (0x20..0x7f).contains(&b) || (0xa1..=0xdf).contains(&b),
                "record {i}: byte {b:#x} is not single-byte Shift_JIS text"
            );
        }
    }
    let n = records.len();
    assert!(n >= 4, "header, data, trailer, end");
    let kinds: Vec<u8> = records.iter().map(|r| r[0]).collect();
    assert_eq!(kinds[0], b'1', "header first");
    assert!(kinds[1..n - 2].iter().all(|&k| k == b'2'), "data records");
    assert_eq!(kinds[n - 2], b'8', "trailer");
    assert_eq!(kinds[n - 1], b'9', "end");
    assert!(records[n - 1][1..120].iter().all(|&b| b == b' '));
    Parsed {
        header: records[0][..120].to_vec(),
        data: records[1..n - 2]
            .iter()
            .map(|r| r[..120].to_vec())
            .collect(),
        trailer: records[n - 2][..120].to_vec(),
    }
}

/// The bank's answer to `parsed`: the same records, each data record's
/// result byte (識別表示, byte 113) set to `codes[i]`.
fn bank_result(parsed: &Parsed, codes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut push = |r: &[u8]| {
        out.extend_from_slice(r);
        out.extend_from_slice(b"\r\n");
    };
    push(&parsed.header);
    for (r, code) in parsed.data.iter().zip(codes) {
        let mut r = r.clone();
        r[112] = *code;
        push(&r);
    }
    push(&parsed.trailer);
    let mut end = vec![b'9'];
    end.resize(120, b' ');
    push(&end);
    out
}

async fn c16_a_payout_retried_from_two_instances_is_paid_exactly_once_and_the_ledger_balances(
    b: Backend,
) {
    let w = paid_world(b, &[3000, 5000]).await;
    let other = second_instance(&w).await;
    let owed = balance(&w).await;
    assert!(owed > 1000, "the seller is owed the sales: {owed}");
    sound(&w.svc).await;

    // The member's page made the id; the request is sent twice at once,
    // through two instances.
    let id: PayoutId = w.svc.new_id();
    let (one, two) = tokio::join!(
        payouts::request_payout(&w.svc, w.seller, id, None),
        payouts::request_payout(&other, w.seller, id, None),
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!((one.id, two.id), (id, id));
    assert_eq!(one.amount, Yen::new(owed));
    assert_eq!(one.fee, Yen::new(250));
    assert_eq!(balance(&w).await, 0, "the whole balance is held, once");
    assert_eq!(postings_of(&w.svc, id).await, [LedgerKind::PayoutHold]);
    // And once more, later: the same payout, nothing new.
    let again = payouts::request_payout(&other, w.seller, id, None)
        .await
        .unwrap();
    assert_eq!(again.id, id);
    assert_eq!(
        w.svc
            .store
            .payouts()
            .payouts_of_shop(w.shop, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    sound(&w.svc).await;

    // Finance: a batch, its file.
    let batch = payouts::build_batch(&w.svc, Doer::Shell, Some("2026-01-05"))
        .await
        .unwrap();
    assert_eq!((batch.items, batch.total), (1, Yen::new(owed - 250)));
    assert!(matches!(
        payouts::build_batch(&other, Doer::Shell, None).await,
        Err(PayoutError::NothingToBatch)
    ));
    let file = payouts::export_batch(&w.svc, Doer::Shell, batch.id)
        .await
        .unwrap();
    let parsed = parse_zengin(&file.bytes);
    let h = &parsed.header;
    assert_eq!(&h[1..3], b"21", "総合振込");
    assert_eq!(h[3], b'0', "Shift_JIS");
    assert_eq!(num(h, 54, 4), 105, "transfer date MMDD");
    assert_eq!(sjis(h, 14, 40), "ｶ)ｱﾝｼﾝ");
    assert_eq!(parsed.data.len(), 1);
    let d = &parsed.data[0];
    assert_eq!(num(d, 1, 4), 5, "bank code");
    assert_eq!(num(d, 20, 3), 123, "branch code");
    assert_eq!(d[42], b'1', "ordinary account");
    assert_eq!(num(d, 43, 7), 7_654_321);
    assert_eq!(
        sjis(d, 50, 30),
        "ﾔﾏﾀﾞ ﾀﾛｳ",
        "half-width kana, voiced mark apart"
    );
    assert_eq!(num(d, 80, 10), owed - 250, "the amount less the fee");
    assert_eq!(num(d, 91, 10), 1, "customer code 1: the batch line");
    let t = &parsed.trailer;
    assert_eq!(num(t, 1, 6), 1, "trailer count");
    assert_eq!(num(t, 7, 12), owed - 250, "trailer total");

    // The bank paid. The result is imported, then imported again from
    // the other instance: paid once.
    let result = bank_result(&parsed, b"0");
    let first = payouts::import_result(&w.svc, Doer::Shell, batch.id, &result)
        .await
        .unwrap();
    assert_eq!((first.paid, first.failed, first.already), (1, 0, 0));
    let second = payouts::import_result(&other, Doer::Shell, batch.id, &result)
        .await
        .unwrap();
    assert_eq!((second.paid, second.already), (0, 1));
    let p = w.svc.store.payouts().payout(id).await.unwrap().unwrap();
    assert_eq!(p.status, PayoutStatus::Paid);
    assert!(p.completed_at.is_some(), "completion time for retention");
    assert_eq!(
        postings_of(&w.svc, id).await,
        [LedgerKind::PayoutHold, LedgerKind::PayoutPaid]
    );
    // Marking it paid by hand afterwards changes nothing either.
    assert_eq!(
        payouts::settle_by_hand(&other, Doer::Shell, id, true)
            .await
            .unwrap(),
        payouts::Settled::Already
    );
    let report = sound(&w.svc).await;
    let account = |a: LedgerAccount| {
        report
            .balances
            .iter()
            .filter(|(x, _, _)| *x == a)
            .map(|(_, _, y)| y.amount())
            .sum::<i64>()
    };
    assert_eq!(account(LedgerAccount::PayoutsPending), 0);
    assert_eq!(account(LedgerAccount::PayoutFeeRevenue), 250);
    assert_eq!(report.payouts, 1);

    // A second batch's result imported from both instances at once.
    w.clock.advance(Duration::from_secs(60));
    let order = crate::ledger::world_order(&w, 4000).await;
    anshin_core::checkout::refresh(&w.svc, w.buyer, order)
        .await
        .unwrap();
    let id2: PayoutId = w.svc.new_id();
    payouts::request_payout(&other, w.seller, id2, None)
        .await
        .unwrap();
    let batch2 = payouts::build_batch(&other, Doer::Shell, None)
        .await
        .unwrap();
    let file2 = payouts::export_batch(&other, Doer::Shell, batch2.id)
        .await
        .unwrap();
    let result2 = bank_result(&parse_zengin(&file2.bytes), b"0");
    let (a, b2) = tokio::join!(
        payouts::import_result(&w.svc, Doer::Shell, batch2.id, &result2),
        payouts::import_result(&other, Doer::Shell, batch2.id, &result2),
    );
    let (a, b2) = (a.unwrap(), b2.unwrap());
    assert_eq!(a.paid + b2.paid, 1, "{a:?} {b2:?}");
    assert_eq!(a.already + b2.already, 1);
    assert_eq!(
        postings_of(&w.svc, id2).await,
        [LedgerKind::PayoutHold, LedgerKind::PayoutPaid]
    );
    assert_eq!(sound(&w.svc).await.payouts, 2);

    // The creator heard of each step: asked and paid, twice.
    let mails = w
        .svc
        .store
        .mail()
        .claim_due_many(
            Timestamp::from_micros(i64::MAX / 2),
            Timestamp::from_micros(i64::MAX / 2),
            1000,
        )
        .await
        .unwrap();
    let count = |k: &str| mails.iter().filter(|m| m.kind == k).count();
    assert_eq!((count("payout_requested"), count("payout_paid")), (2, 2));
}

async fn c16_a_failed_transfer_gives_the_amount_back_and_a_second_request_races_cleanly(
    b: Backend,
) {
    let w = paid_world(b, &[6000]).await;
    let other = second_instance(&w).await;
    let owed = balance(&w).await;

    // Two different requests at once (two tabs, two instances): one
    // holds the balance, the other is refused; nothing is held twice.
    let (x, y): (PayoutId, PayoutId) = (w.svc.new_id(), w.svc.new_id());
    let (rx, ry) = tokio::join!(
        payouts::request_payout(&w.svc, w.seller, x, None),
        payouts::request_payout(&other, w.seller, y, None),
    );
    let won = match (&rx, &ry) {
        (Ok(p), Err(e)) | (Err(e), Ok(p)) => {
            assert!(
                matches!(
                    e,
                    PayoutError::BalanceChanged | PayoutError::BelowMinimum { .. }
                ),
                "{e:?}"
            );
            p.id
        }
        _ => panic!("exactly one of two requests for one balance: {rx:?} {ry:?}"),
    };
    assert_eq!(balance(&w).await, 0);
    assert_eq!(
        w.svc
            .store
            .payouts()
            .payouts_of_shop(w.shop, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    sound(&w.svc).await;

    // The bank refuses the transfer (code 4: no such account).
    let batch = payouts::build_batch(&w.svc, Doer::Shell, None)
        .await
        .unwrap();
    let file = payouts::export_batch(&w.svc, Doer::Shell, batch.id)
        .await
        .unwrap();
    let result = bank_result(&parse_zengin(&file.bytes), b"4");
    let r = payouts::import_result(&other, Doer::Shell, batch.id, &result)
        .await
        .unwrap();
    assert_eq!((r.paid, r.failed), (0, 1));
    let p = w.svc.store.payouts().payout(won).await.unwrap().unwrap();
    assert_eq!(p.status, PayoutStatus::Failed);
    assert_eq!(p.failure_code.as_deref(), Some("4"));
    assert!(p.completed_at.is_some());
    assert_eq!(balance(&w).await, owed, "the whole amount is back");
    // A "paid" result for it afterwards is a contradiction, left alone.
    let paid = bank_result(&parse_zengin(&file.bytes), b"0");
    let r = payouts::import_result(&w.svc, Doer::Shell, batch.id, &paid)
        .await
        .unwrap();
    assert_eq!((r.paid, r.contradicted), (0, 1));
    assert_eq!(
        postings_of(&w.svc, won).await,
        [LedgerKind::PayoutHold, LedgerKind::PayoutVoid]
    );
    // A result that does not match the batch settles nothing.
    let mut edited = parse_zengin(&file.bytes);
    edited.data[0][89] = b'9';
    let r =
        payouts::import_result(&w.svc, Doer::Shell, batch.id, &bank_result(&edited, b"0")).await;
    assert!(matches!(r, Err(PayoutError::BadResult(_))), "{r:?}");
    sound(&w.svc).await;

    // The balance can be asked for again.
    let again: PayoutId = w.svc.new_id();
    let p = payouts::request_payout(&w.svc, w.seller, again, None)
        .await
        .unwrap();
    assert_eq!(p.amount, Yen::new(owed));
    sound(&w.svc).await;
}

async fn c16_names_zengin_cannot_carry_stop_the_export_before_a_byte_is_written(b: Backend) {
    use anshin_vault::{DataKey, FieldContext, fields};
    let w = paid_world(b, &[5000]).await;
    // A payout whose snapshot holds a name in kanji (as an older form,
    // or a changed rule, could have left): sealed as the core seals it.
    let id: PayoutId = w.svc.new_id();
    let key = DataKey::generate(&mut w.svc.random.rng());
    let mut binding = b"payout/".to_vec();
    binding.extend_from_slice(id.as_bytes());
    let wrapped = w
        .svc
        .keys
        .wrap_member_key(&key, &binding, &w.svc.random)
        .unwrap();
    let plain = serde_json::json!({
        "bank_code": "0005", "branch_code": "123", "account_type": "ordinary",
        "account_number": "7654321", "holder_kana": "山田 太郎",
    })
    .to_string();
    let bank = fields::encrypt(
        &key,
        &FieldContext::new("payout_banks", "account", id.as_bytes()),
        plain.as_bytes(),
        &mut w.svc.random.rng(),
    )
    .unwrap();
    let amount = balance(&w).await;
    let hold = anshin_store::LedgerTransaction::balanced(
        w.svc.new_id(),
        payouts::hold_key(id),
        LedgerKind::PayoutHold,
        None,
        w.svc.now(),
        vec![
            anshin_store::Posting {
                account: LedgerAccount::SellerPayable,
                shop: Some(w.shop),
                amount: Yen::new(amount),
            },
            anshin_store::Posting {
                account: LedgerAccount::PayoutsPending,
                shop: None,
                amount: Yen::new(-amount),
            },
        ],
    )
    .unwrap();
    w.svc
        .store
        .commit(
            &Changes::new()
                .with(Write::CreatePayout(anshin_store::NewPayout {
                    id,
                    shop_id: w.shop,
                    member_id: w.seller,
                    amount: Yen::new(amount),
                    fee: Yen::new(250),
                    kek_version: i64::from(wrapped.kek_version()),
                    wrapped_key: wrapped.into_bytes(),
                    bank,
                    created_at: w.svc.now(),
                }))
                .post(hold),
        )
        .await
        .unwrap();
    let batch = payouts::build_batch(&w.svc, Doer::Shell, None)
        .await
        .unwrap();
    let refused = payouts::export_batch(&w.svc, Doer::Shell, batch.id).await;
    let Err(PayoutError::Unconvertible(problems)) = refused else {
        panic!("refused: {refused:?}");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    let message = &problems[0];
    assert!(message.contains("line 1"), "{message}");
    assert!(message.contains(&id.to_string()), "{message}");
    assert!(message.contains("kanji"), "{message}");
    assert!(!message.contains('山'), "the message never holds the name");
    let b2 = w
        .svc
        .store
        .payouts()
        .batch(batch.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b2.exported_at, None, "nothing was exported");

    // The platform's own name is checked the same way.
    let mut settings: CoreSettings = w.svc.settings.clone();
    settings.payouts.remitter_name = "安心株式会社".into();
    let strict = Services::offline_with(
        w.svc.store.clone(),
        w.svc.keys.clone(),
        Arc::new(w.clock.clone()) as Arc<dyn Clock>,
        Random::os(),
        settings,
        "https://shop.example",
        w.fake.clone(),
    )
    .unwrap();
    let refused = payouts::export_batch(&strict, Doer::Shell, batch.id).await;
    let Err(PayoutError::Unconvertible(problems)) = refused else {
        panic!("refused: {refused:?}");
    };
    assert!(
        problems[0].contains("payouts.remitter_name"),
        "{problems:?}"
    );
    // The member side never stores such a name in the first place.
    assert!(anshin_core::member_data::HolderKana::parse("山田 太郎").is_err());
}

/// C16, the store's purge write and listing: only completed (paid or
/// failed) payouts are listed for the retention purge; a payout still
/// on its way is left alone by the write; a completed one loses its key
/// and bank snapshot (and its result code), is listed no more, keeps its
/// row and ledger facts, and purging it twice (the job and the CLI at
/// once, two instances) is harmless.
async fn c16_a_purge_destroys_a_completed_payouts_key_and_snapshot_once(b: Backend) {
    let w = paid_world(b, &[6000]).await;
    let other = second_instance(&w).await;
    let id: PayoutId = w.svc.new_id();
    payouts::request_payout(&w.svc, w.seller, id, None)
        .await
        .unwrap();
    let purge = |at| Changes::new().with(Write::PurgePayout { payout: id, at });
    let listed = |svc: &Services| {
        let store = svc.store.clone();
        async move {
            store
                .payouts()
                .completed_unpurged(Timestamp::from_micros(i64::MAX), None, 10)
                .await
                .unwrap()
        }
    };
    // Requested, then batched: not listed, and the write leaves it alone.
    w.svc.store.commit(&purge(w.svc.now())).await.unwrap();
    assert!(listed(&w.svc).await.is_empty());
    let batch = payouts::build_batch(&w.svc, Doer::Shell, None)
        .await
        .unwrap();
    w.svc.store.commit(&purge(w.svc.now())).await.unwrap();
    assert!(
        payouts::bank_snapshot(&w.svc, id).await.is_ok(),
        "kept while on its way"
    );
    // The bank refuses it (code 4): completed, listed.
    let file = payouts::export_batch(&w.svc, Doer::Shell, batch.id)
        .await
        .unwrap();
    let result = bank_result(&parse_zengin(&file.bytes), b"4");
    payouts::import_result(&w.svc, Doer::Shell, batch.id, &result)
        .await
        .unwrap();
    let done = w.svc.store.payouts().payout(id).await.unwrap().unwrap();
    let completed = done.completed_at.unwrap();
    assert_eq!(listed(&w.svc).await, [(id, completed)]);
    assert!(
        w.svc
            .store
            .payouts()
            .completed_unpurged(Timestamp::from_micros(completed.micros() - 1), None, 10)
            .await
            .unwrap()
            .is_empty(),
        "not before its completion time"
    );
    // Purged from two instances at once, then once more.
    let (first, second) = (purge(w.svc.now()), purge(other.now()));
    let (x, y) = tokio::join!(w.svc.store.commit(&first), other.store.commit(&second));
    // One may lose the race on SQLite's write lock; the other purges.
    assert!(x.is_ok() || y.is_ok(), "{x:?} {y:?}");
    w.svc.store.commit(&purge(w.svc.now())).await.unwrap();
    assert!(
        w.svc
            .store
            .payouts()
            .sealed_bank(id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        payouts::bank_snapshot(&w.svc, id).await,
        Err(PayoutError::Unreadable)
    ));
    assert!(listed(&w.svc).await.is_empty(), "listed no more");
    let after = w.svc.store.payouts().payout(id).await.unwrap().unwrap();
    assert_eq!(after.status, PayoutStatus::Failed);
    assert_eq!((after.amount, after.fee), (done.amount, done.fee));
    assert_eq!(after.completed_at, Some(completed));
    assert_eq!(after.failure_code, None, "the bank's result code went too");
    sound(&w.svc).await;
}

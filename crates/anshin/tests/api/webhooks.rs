//! Processor webhooks, `POST /hooks/payments` (C15, acceptance 3 of issue
//! 13): a forged signature, a stale timestamp and a body changed after
//! signing are refused and change nothing; the same event delivered five
//! times at once and events delivered out of order leave one paid order
//! and one set of postings. The events are the processor's own (its
//! intent, read back from localstripe), signed here with the shared
//! secret as the processor signs them; localstripe's own deliveries are
//! switched off so that the test decides what arrives and when.

use anshin_core::clock::{Clock, SystemClock};
use anshin_core::payments::signature::sign;
use anshin_domain::OrderId;
use anshin_testkit::localstripe::WEBHOOK_SECRET;
use anshin_testkit::reqwest::StatusCode;
use anshin_testkit::{Backend, TestApp, backends};
use serde_json::{Value, json};

use crate::commerce::*;

backends!(
    c15_webhook_forged_stale_and_altered_requests_are_refused_and_change_nothing,
    c15_webhook_the_same_event_five_times_and_out_of_order_pay_once,
    c15_webhook_needs_no_csrf_token_but_only_its_signature_and_the_waf_lets_it_through,
    c15_webhook_a_payment_for_a_cancelled_order_is_refunded_and_posted_in_and_out,
    c15_webhook_a_second_intent_paying_a_paid_order_is_refunded_once_and_posted_in_and_out,
);

/// A server paying through localstripe that delivers no webhooks itself.
async fn quiet_market(b: Backend) -> (Market, Seller, Buyer) {
    let stripe = std::sync::Arc::new(anshin_testkit::localstripe::LocalStripe::start());
    let app = TestApp::spawn_mail_with(b, |s| stripe.configure(s)).await;
    app.clock.set(SystemClock.now());
    let m = Market {
        app: std::sync::Arc::new(app),
        stripe,
    };
    let s = seller(&m.app, "seller@example.jp").await;
    let buyer = buyer(&m.app, "buyer@example.jp").await;
    (m, s, buyer)
}

/// An order whose payment waits for 3-D Secure, then authenticated at
/// the processor: the processor has taken the money, anshin does not
/// know yet. Returns the order and the processor's intent.
async fn paid_at_the_processor(m: &Market, s: &Seller, b: &Buyer) -> (OrderId, Value) {
    let item = item(&m.app, s, "花瓶", "5000", "3").await;
    let order = order(&m.app, b, s.shop, item, 1).await;
    let answer = pay_with(m, b, order, CARD_3DS).await;
    assert_eq!(answer["status"], "requires_action");
    m.stripe
        .authenticate(answer["client_secret"].as_str().unwrap(), true)
        .await;
    let pi = m
        .stripe
        .intents()
        .await
        .into_iter()
        .find(|i| i["metadata"]["order_id"] == order.to_string())
        .unwrap();
    assert_eq!(pi["status"], "succeeded");
    (order, pi)
}

fn event(id: &str, kind: &str, pi: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "object": "event", "type": kind, "api_version": "2017-08-15",
        "created": 1_800_000_000, "livemode": false,
        "data": {"object": pi},
    }))
    .unwrap()
}

async fn deliver(app: &TestApp, signature: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut r = app
        .client
        .post(app.url("/hooks/payments"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body);
    if let Some(sig) = signature {
        r = r.header("stripe-signature", sig);
    }
    let res = r.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn now_secs(app: &TestApp) -> i64 {
    app.clock.now().secs()
}

/// What must not change: the order's status, the events and the ledger.
async fn snapshot(app: &TestApp, order: OrderId) -> (String, u64, bool) {
    let o = app.store.orders().order(order).await.unwrap().unwrap();
    let report = anshin_core::ledger::check(app.store.as_ref())
        .await
        .unwrap();
    let seen = app.store.orders().event_seen("evt_forged1").await.unwrap()
        || app.store.orders().event_seen("evt_stale1").await.unwrap()
        || app.store.orders().event_seen("evt_altered1").await.unwrap();
    (o.status.as_str().to_owned(), report.transactions, seen)
}

async fn c15_webhook_forged_stale_and_altered_requests_are_refused_and_change_nothing(b: Backend) {
    let (m, s, buyer) = quiet_market(b).await;
    let app = &m.app;
    let (order, pi) = paid_at_the_processor(&m, &s, &buyer).await;
    let before = snapshot(app, order).await;
    assert_eq!(before, ("awaiting_payment".into(), 0, false));
    let now = now_secs(app);
    let secret = WEBHOOK_SECRET.as_bytes();

    // Forged: signed with another secret; no signature; a made-up MAC.
    let body = event("evt_forged1", "payment_intent.succeeded", &pi);
    let forged = sign(b"whsec_attacker", now, &body);
    for sig in [
        Some(forged.as_str()),
        None,
        Some(&*format!("t={now},v1={}", "ab".repeat(32))),
        Some("t=abc,v1=zz"),
        Some(""),
    ] {
        let (status, v) = deliver(app, sig, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sig:?}");
        assert_eq!(
            v["error"], "invalid_signature",
            "{sig:?}: JSON, with a stable code"
        );
    }
    // Stale: a genuine signature from 301 s ago, or from the future.
    let body = event("evt_stale1", "payment_intent.succeeded", &pi);
    for t in [now - 301, now + 301, now - 86_400] {
        let (status, _) = deliver(app, Some(&sign(secret, t, &body)), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "t = now {:+}", t - now);
    }
    // Altered after signing: one byte, or the intent swapped.
    let body = event("evt_altered1", "payment_intent.succeeded", &pi);
    let sig = sign(secret, now, &body);
    let mut changed = body.clone();
    let last = changed.len() - 2;
    changed[last] = b' ';
    let (status, _) = deliver(app, Some(&sig), changed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let swapped = String::from_utf8(body.clone())
        .unwrap()
        .replace("evt_altered1", "evt_altered2")
        .into_bytes();
    let (status, _) = deliver(app, Some(&sig), swapped).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Nothing changed: not paid, no event recorded, no postings.
    assert_eq!(snapshot(app, order).await, before);
    // The genuine event, signed now, is accepted and pays the order.
    let (status, v) = deliver(app, Some(&sig), body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"], "applied");
    let after = snapshot(app, order).await;
    assert_eq!((after.0.as_str(), after.1), ("paid", 1));
    // A server without a signing secret refuses every webhook.
    let bare = TestApp::spawn(b).await;
    let body = event("evt_x1", "payment_intent.succeeded", &pi);
    let (status, v) = deliver(&bare, Some(&sign(secret, now, &body)), body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], "webhooks_not_configured");
}

async fn c15_webhook_the_same_event_five_times_and_out_of_order_pay_once(b: Backend) {
    let (m, s, buyer) = quiet_market(b).await;
    let app = &m.app;
    let (order, pi) = paid_at_the_processor(&m, &s, &buyer).await;
    let secret = WEBHOOK_SECRET.as_bytes();
    let now = now_secs(app);
    // Out of order first: a "failed" and a "requires_action" event about
    // the same intent arrive late, after it succeeded. Each is recorded;
    // the processor's answer (succeeded) is what counts.
    let mut failed = pi.clone();
    failed["status"] = json!("requires_payment_method");
    let early = [
        event("evt_late_failure", "payment_intent.payment_failed", &failed),
        event("evt_late_action", "payment_intent.requires_action", &failed),
    ];
    // The same success event five times at once, and the out-of-order
    // ones in between.
    let success = event("evt_success", "payment_intent.succeeded", &pi);
    let mut deliveries = Vec::new();
    for _ in 0..5 {
        deliveries.push(success.clone());
    }
    deliveries.extend(early.iter().cloned());
    let results = futures_util::future::join_all(deliveries.into_iter().map(|body| {
        let app = app.clone();
        async move { deliver(&app, Some(&sign(secret, now, &body)), body).await }
    }))
    .await;
    for (status, v) in &results {
        assert_eq!(*status, StatusCode::OK, "{v}");
    }
    let applied = results
        .iter()
        .filter(|(_, v)| v["outcome"] == "applied")
        .count();
    let duplicate = results
        .iter()
        .filter(|(_, v)| v["outcome"] == "duplicate")
        .count();
    assert_eq!(applied + duplicate, 7, "{results:?}");
    assert!(
        duplicate >= 4,
        "the same event id took effect once: {results:?}"
    );
    // And again later, one by one, in reverse.
    for body in early.iter().rev().chain(std::iter::once(&success)) {
        let (status, v) = deliver(app, Some(&sign(secret, now, body)), body.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["outcome"], "duplicate");
    }
    // Out of order for certain: events of earlier moments (3-D Secure
    // asked, a failed try), new to anshin, arrive one by one after the
    // order was paid; each is taken (not a duplicate) and moves nothing
    // back.
    for (id, kind) in [
        ("evt_older_action", "payment_intent.requires_action"),
        ("evt_older_failure", "payment_intent.payment_failed"),
        ("evt_older_created", "payment_intent.created"),
    ] {
        let body = event(id, kind, &failed);
        let (status, v) = deliver(app, Some(&sign(secret, now, &body)), body).await;
        assert_eq!(status, StatusCode::OK, "{id}: {v}");
        assert_eq!(v["outcome"], "applied", "{id}: a new event, recorded");
        assert!(app.store.orders().event_seen(id).await.unwrap(), "{id}");
        let o = app.store.orders().order(order).await.unwrap().unwrap();
        assert_eq!(o.status.as_str(), "paid", "{id} moved the order back");
    }
    let o = app.store.orders().order(order).await.unwrap().unwrap();
    assert_eq!(o.status.as_str(), "paid");
    let report = ledger_sound(app).await;
    assert_eq!(report.transactions, 1, "one set of postings");
    assert_eq!(
        app.store
            .orders()
            .ledger_of_order(order)
            .await
            .unwrap()
            .len(),
        1
    );
    // One paid letter to each side, not five.
    let buyer_mails = app.mails_to(&buyer.email, 3).await;
    assert_eq!(buyer_mails.len(), 3, "sign-up code, welcome, paid");
    // An event about an intent that is not ours is recorded and ignored.
    let mut stranger = pi.clone();
    stranger["id"] = json!("pi_notours");
    let body = event("evt_stranger", "payment_intent.succeeded", &stranger);
    let (status, v) = deliver(app, Some(&sign(secret, now, &body)), body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["outcome"], "ignored");
    assert_eq!(ledger_sound(app).await.transactions, 1);
}

async fn c15_webhook_needs_no_csrf_token_but_only_its_signature_and_the_waf_lets_it_through(
    b: Backend,
) {
    let (m, s, buyer) = quiet_market(b).await;
    let app = &m.app;
    let (order, pi) = paid_at_the_processor(&m, &s, &buyer).await;
    let body = event("evt_from_afar", "payment_intent.succeeded", &pi);
    let sig = sign(WEBHOOK_SECRET.as_bytes(), now_secs(app), &body);
    // As the processor sends it: no cookie, no token, no Origin, through
    // the WAF (on, blocking) and the CSRF layer.
    let (status, v) = deliver(app, Some(&sig), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        app.store
            .orders()
            .order(order)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "paid"
    );
    // The exemption is for signed machine requests only: a browser form
    // posted there cross-site still gets nothing without the signature.
    let res = app
        .client
        .post(app.url("/hooks/payments"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("id=evt_1&type=payment_intent.succeeded")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Other routes keep their CSRF check.
    let res = app
        .client
        .post(app.url("/cart"))
        .header("origin", "https://evil.example")
        .header("cookie", &buyer.cookie)
        .form(&[("item_id", "x"), ("quantity", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// A payment that succeeds after its order was cancelled (the
/// reservation ended while the processor still had the intent open) is
/// given back at once; the ledger shows the money coming in and going
/// back out (two balanced transactions whose postings sum to zero on
/// every account), and `anshin ledger check` passes. Reported again,
/// under another event id, it is neither refunded nor posted twice.
async fn c15_webhook_a_payment_for_a_cancelled_order_is_refunded_and_posted_in_and_out(b: Backend) {
    use anshin_store::{Changes, Write};
    let (m, s, buyer) = quiet_market(b).await;
    let app = &m.app;
    let (order, pi) = paid_at_the_processor(&m, &s, &buyer).await;
    let intent = pi["id"].as_str().unwrap().to_owned();
    // The reservation ended first: the order is cancelled as `expire`
    // cancels it (its live attempt given up, the stock back).
    let now = app.services.now();
    let mut cancel = Changes::new();
    for a in app.store.orders().attempts(order).await.unwrap() {
        if a.status.is_live() {
            cancel.push(Write::SettleAttempt {
                attempt: a.id,
                status: anshin_domain::AttemptStatus::Abandoned,
                failure_code: None,
                at: now,
            });
        }
    }
    cancel.push(Write::CancelOrder {
        order,
        reason: "reservation_expired".into(),
        at: now,
    });
    app.store.commit(&cancel).await.unwrap();
    assert_eq!(ledger_sound(app).await.transactions, 0);

    // The processor's success arrives (and again, as another event).
    let secret = WEBHOOK_SECRET.as_bytes();
    for id in ["evt_late_paid1", "evt_late_paid1", "evt_late_paid2"] {
        let body = event(id, "payment_intent.succeeded", &pi);
        let (status, v) = deliver(app, Some(&sign(secret, now_secs(app), &body)), body).await;
        assert_eq!(status, StatusCode::OK, "{id}: {v}");
    }
    let o = app.store.orders().order(order).await.unwrap().unwrap();
    assert_eq!(o.status.as_str(), "cancelled", "the order stays cancelled");
    assert_eq!(o.paid_at, None);

    // The processor gave the money back, once, in full.
    let refunds = m.stripe.refunds_of(&intent).await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["amount"], 5000);
    assert_eq!(refunds[0]["status"], "succeeded");

    // The ledger has both sides: in, then out; together they are nothing.
    let txs = app.store.orders().ledger_of_order(order).await.unwrap();
    assert_eq!(txs.len(), 2, "in and out, each once: {txs:#?}");
    let mut per_account = std::collections::BTreeMap::new();
    for t in &txs {
        let sum: i64 = t.postings.iter().map(|p| p.amount.amount()).sum();
        assert_eq!(sum, 0, "each transaction is balanced: {t:?}");
        for p in &t.postings {
            *per_account.entry(p.account.as_str()).or_insert(0) += p.amount.amount();
        }
    }
    assert!(per_account.values().all(|v| *v == 0), "{per_account:?}");
    let clearing: Vec<i64> = txs
        .iter()
        .flat_map(|t| &t.postings)
        .filter(|p| p.account == anshin_domain::LedgerAccount::ProcessorClearing)
        .map(|p| p.amount.amount())
        .collect();
    assert_eq!(
        clearing,
        [5000, -5000],
        "the processor took 5000 and gave it back"
    );
    assert!(
        txs.iter()
            .flat_map(|t| &t.postings)
            .all(|p| p.account != anshin_domain::LedgerAccount::SellerPayable),
        "the seller never had it"
    );
    let report = ledger_sound(app).await;
    assert_eq!(report.transactions, 2);
    assert_eq!(
        anshin_core::ledger::seller_balance(app.store.as_ref(), s.shop)
            .await
            .unwrap()
            .amount(),
        0
    );

    // And the command an operator runs says the same.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_anshin"))
        .args(["ledger", "check"])
        .env("ANSHIN_DATA_DIR", &app.data_dir)
        .env("ANSHIN_DATABASE__URL", &app.database_url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ledger check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 transaction(s)"), "{stdout}");
}

/// The buyer is charged twice for one order: 3-D Secure fails on the
/// first card (the attempt is declined), a second card pays the order,
/// and then the browser confirms the first intent again with its client
/// secret and a good card. The processor's success for that first
/// intent (delivered three times: one event twice, then another) gives
/// the second charge back once, in full, and posts it in and out; the
/// order stays paid once through the intent that paid it, the seller's
/// balance does not move, and `anshin ledger check` passes.
async fn c15_webhook_a_second_intent_paying_a_paid_order_is_refunded_once_and_posted_in_and_out(
    b: Backend,
) {
    let (m, s, buyer) = quiet_market(b).await;
    let app = &m.app;
    let item = item(app, &s, "花瓶", "5000", "3").await;
    let order = order(app, &buyer, s.shop, item, 1).await;
    let answer = pay_with(&m, &buyer, order, CARD_3DS).await;
    assert_eq!(answer["status"], "requires_action", "{answer}");
    let secret = answer["client_secret"].as_str().unwrap().to_owned();
    m.stripe.authenticate(&secret, false).await;
    let refreshed = expect(
        send(
            app,
            "POST",
            &format!("/api/v1/orders/{order}/payment/refresh"),
            None,
            &buyer.cookie,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_ne!(refreshed["status"], "paid", "{refreshed}");
    let paid = pay_with(&m, &buyer, order, CARD_OK).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    let o = app.store.orders().order(order).await.unwrap().unwrap();
    let good = o.paid_intent_id.clone().unwrap();
    let old = secret.split("_secret_").next().unwrap().to_owned();
    assert_ne!(good, old);
    let seller_before = anshin_core::ledger::seller_balance(app.store.as_ref(), s.shop)
        .await
        .unwrap();
    assert!(seller_before.amount() > 0);

    // The old intent, confirmed again in the browser with a good card:
    // the processor takes the money a second time.
    let card = m.stripe.tokenise(CARD_OK).await;
    let pi = m.stripe.confirm_again(&old, &card).await;
    assert_eq!(pi["status"], "succeeded", "{pi}");
    assert_eq!(
        m.stripe.charges_per_order().await[&order.to_string()],
        2,
        "two intents of the order succeeded"
    );

    let secret_key = WEBHOOK_SECRET.as_bytes();
    for id in ["evt_twice1", "evt_twice1", "evt_twice2"] {
        let body = event(id, "payment_intent.succeeded", &pi);
        let (status, v) = deliver(app, Some(&sign(secret_key, now_secs(app), &body)), body).await;
        assert_eq!(status, StatusCode::OK, "{id}: {v}");
    }

    // Paid once, through the intent that paid it.
    let o = app.store.orders().order(order).await.unwrap().unwrap();
    assert_eq!(o.status.as_str(), "paid");
    assert_eq!(o.paid_intent_id.as_deref(), Some(good.as_str()));
    assert_eq!(o.refunded.amount(), 0);
    assert_eq!(order_view(app, &buyer, order).await["status"], "paid");

    // The second charge went back once, in full; the first is kept.
    let refunds = m.stripe.refunds_of(&old).await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["amount"], 5000);
    assert_eq!(refunds[0]["status"], "succeeded");
    assert!(m.stripe.refunds_of(&good).await.is_empty());

    // The ledger: the sale, and the second charge in and out.
    let mut keys: Vec<String> = app
        .store
        .orders()
        .ledger_of_order(order)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.key)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("late_payment:{order}:{old}"),
            format!("late_refund:{order}:{old}"),
            format!("payment:{order}"),
        ]
    );
    assert_eq!(ledger_sound(app).await.transactions, 3);
    assert_eq!(
        anshin_core::ledger::seller_balance(app.store.as_ref(), s.shop)
            .await
            .unwrap(),
        seller_before,
        "the seller's balance did not move"
    );
    let owed: i64 = app
        .store
        .orders()
        .account_sums()
        .await
        .unwrap()
        .iter()
        .filter(|a| a.account == anshin_domain::LedgerAccount::RefundsPayable)
        .map(|a| a.sum.amount())
        .sum();
    assert_eq!(owed, 0, "nothing left owed to the buyer");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_anshin"))
        .args(["ledger", "check"])
        .env("ANSHIN_DATA_DIR", &app.data_dir)
        .env("ANSHIN_DATABASE__URL", &app.database_url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ledger check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 transaction(s)"), "{stdout}");
}

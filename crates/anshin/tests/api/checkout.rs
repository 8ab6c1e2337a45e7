//! Cart, checkout, card payments (C15), orders and refunds over real
//! HTTPS, with localstripe as the processor (its webhooks delivered over
//! HTTPS to the server), on SQLite and PostgreSQL. Each attack named in
//! the module docs of `anshin_core::checkout`, `payments` and `orders`
//! has a test here.

use anshin_domain::{OrderStatus, Yen};
use anshin_testkit::reqwest::StatusCode;
use anshin_testkit::{Backend, SECOND, backends, captured_logs};
use serde_json::json;

use crate::commerce::*;

backends!(
    c15_a_card_payment_pays_once_posts_the_ledger_and_mails_both_sides,
    c15_three_d_secure_is_finished_in_the_browser_and_the_webhook_pays,
    c15_a_declined_card_says_why_and_the_stock_comes_back_after_the_reservation,
    c15_price_in_the_request_is_refused_and_totals_come_from_the_database,
    c15_negative_zero_and_huge_quantities_are_refused,
    c15_idor_another_members_order_is_not_found_anywhere,
    c15_pay_refuses_a_card_number_and_never_logs_it,
    c15_double_refund_refunds_once_and_never_past_the_total,
    c15_fulfilment_steps_belong_to_their_side_and_mail_both,
    c15_own_items_cannot_be_bought_and_checkout_needs_an_own_address,
    c15_only_the_payment_page_admits_the_processor_in_its_csp,
);

async fn c15_a_card_payment_pays_once_posts_the_ledger_and_mails_both_sides(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let mug = item(app, &s, "湯呑み", "1800", "3").await;
    let buyer = buyer(app, "buyer@example.jp").await;
    let order = order(app, &buyer, s.shop, mug, 2).await;
    let view = order_view(app, &buyer, order).await;
    assert_eq!(view["status"], "awaiting_payment");
    assert_eq!(view["total"], 3600);
    let stored = app.store.orders().order(order).await.unwrap().unwrap();
    assert_eq!(
        (stored.buyer_id, stored.seller_id),
        (buyer.member, s.member)
    );
    assert_eq!(
        view["ship_to"]["city"], "渋谷区",
        "the buyer sees where it goes"
    );
    let stock = app
        .services
        .store
        .shops()
        .item(mug)
        .await
        .unwrap()
        .unwrap()
        .stock;
    assert_eq!(stock.count(), Some(1), "reserved at checkout");

    let answer = pay_with(&m, &buyer, order, CARD_OK).await;
    assert_eq!(answer["status"], "paid", "{answer}");
    let view = order_view(app, &buyer, order).await;
    assert_eq!(view["status"], "paid");
    assert_eq!(view["card_last4"], "4242");
    assert_eq!(view["card_brand"], "visa");
    // Paying again is answered "paid" and changes nothing.
    let again = pay_with(&m, &buyer, order, CARD_OK).await;
    assert_eq!(again["status"], "paid");
    // The processor's webhook arrives too, and is recorded, not applied twice.
    let charges = m.stripe.charges_per_order().await;
    assert_eq!(charges.get(&order.to_string()), Some(&1), "{charges:?}");
    let report = ledger_sound(app).await;
    assert_eq!(report.transactions, 1, "one payment posted once");
    // 3600: fee floor(3600 × 5.6 %) + 22 = 201 + 22 = 223.
    let balance = anshin_core::ledger::seller_balance(app.store.as_ref(), s.shop)
        .await
        .unwrap();
    assert_eq!(balance, Yen::new(3600 - 223));
    let sale = expect(
        send(
            app,
            "GET",
            &format!("/api/v1/sales/{order}"),
            None,
            &s.cookie,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sale["fee"], 223);
    assert_eq!(sale["seller_receives"], 3377);
    assert!(
        sale.get("ship_to").is_none(),
        "C19: no address for the seller"
    );
    let sale_text = sale.to_string();
    assert!(
        !sale_text.contains("渋谷") && !sale_text.contains("山田"),
        "{sale_text}"
    );
    // Both sides are told, each in its own words.
    let to_buyer = app.mails_to(&buyer.email, 3).await;
    let to_seller = app.mails_to(&s.email, 3).await;
    let t = anshin_core::i18n::Catalogs::load().unwrap();
    let ja = t.get(anshin_core::i18n::Lang::Ja);
    assert_eq!(
        to_buyer[2].subject,
        ja.order_mail["order_paid_buyer_subject"]
    );
    assert_eq!(
        to_seller[2].subject,
        ja.order_mail["order_paid_seller_subject"]
    );
    assert!(to_seller[2].text.contains("湯呑み × 2") && to_seller[2].text.contains("¥3,600"));
    assert!(
        !to_seller[2].text.contains("渋谷"),
        "the seller's mail has no address"
    );
}

async fn c15_three_d_secure_is_finished_in_the_browser_and_the_webhook_pays(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let vase = item(app, &s, "花瓶", "5000", "1").await;
    let buyer = buyer(app, "buyer@example.jp").await;
    let order = order(app, &buyer, s.shop, vase, 1).await;
    let answer = pay_with(&m, &buyer, order, CARD_3DS).await;
    assert_eq!(answer["status"], "requires_action", "{answer}");
    let secret = answer["client_secret"].as_str().unwrap();
    assert_eq!(
        order_view(app, &buyer, order).await["status"],
        "awaiting_payment"
    );
    // A second pay while 3-D Secure is open is told to wait.
    let pm = m.stripe.tokenise(CARD_OK).await;
    let busy = expect(pay(app, &buyer, order, &pm).await, StatusCode::CONFLICT).await;
    assert_eq!(busy["error"], "payment_in_progress");
    // The browser finishes 3-D Secure with the processor; nobody calls
    // refresh: the signed webhook from the processor pays the order.
    m.stripe.authenticate(secret, true).await;
    let (app2, buyer_cookie) = (app.clone(), buyer.cookie.clone());
    eventually("the webhook marks it paid", || {
        let app = app2.clone();
        let cookie = buyer_cookie.clone();
        async move {
            let v = send(
                &app,
                "GET",
                &format!("/api/v1/orders/{order}"),
                None,
                &cookie,
            )
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap();
            v["status"] == "paid"
        }
    })
    .await;
    assert_eq!(order_view(app, &buyer, order).await["card_last4"], "3184");
    // The browser's refresh afterwards agrees, and changes nothing.
    let r = expect(
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
    assert_eq!(r["status"], "paid");
    assert_eq!(ledger_sound(app).await.transactions, 1);
}

async fn c15_a_declined_card_says_why_and_the_stock_comes_back_after_the_reservation(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let bowl = item(app, &s, "茶碗", "2400", "1").await;
    let buyer = buyer(app, "buyer@example.jp").await;
    let order = order(app, &buyer, s.shop, bowl, 1).await;
    let answer = pay_with(&m, &buyer, order, CARD_DECLINED).await;
    assert_eq!(answer["status"], "declined", "{answer}");
    assert_eq!(answer["decline_code"], "card_declined");
    let t = anshin_core::i18n::Catalogs::load().unwrap();
    let ja = t.get(anshin_core::i18n::Lang::Ja);
    assert_eq!(
        answer["message"],
        ja.checkout.decline_card_declined.as_str()
    );
    assert!(
        !answer.to_string().contains("Your card was declined"),
        "our words, not the processor's"
    );
    // The item stays reserved for the buyer meanwhile; another buyer
    // is told it is sold out.
    let other = buyer_named(app, "other@example.jp").await;
    expect(
        put_in_cart(app, &other, bowl, 1).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let sold = expect(place(app, &other, s.shop).await, StatusCode::CONFLICT).await;
    assert_eq!(sold["error"], "sold_out");
    // The reservation ends; reconciliation cancels the order and gives
    // the stock back, and the buyer is told.
    app.clock.advance(31 * 60 * SECOND);
    let done = anshin_core::orders::reconcile(&app.services, &Default::default())
        .await
        .unwrap();
    assert_eq!(done.cancelled, 1, "{done:?}");
    assert_eq!(order_view(app, &buyer, order).await["status"], "cancelled");
    let stock = app.store.shops().item(bowl).await.unwrap().unwrap().stock;
    assert_eq!(stock.count(), Some(1), "the stock came back");
    let mails = app.mails_to(&buyer.email, 3).await;
    assert_eq!(
        mails[2].subject,
        ja.order_mail["order_cancelled_buyer_subject"]
    );
    // A cancelled order cannot be paid any more.
    let pm = m.stripe.tokenise(CARD_OK).await;
    let late = expect(pay(app, &buyer, order, &pm).await, StatusCode::CONFLICT).await;
    assert_eq!(late["error"], "not_payable");
    // The other buyer can have it now.
    expect(place(app, &other, s.shop).await, StatusCode::CREATED).await;
    let report = ledger_sound(app).await;
    assert_eq!(report.transactions, 0, "nothing was paid, nothing posted");
    // The declined intent was cancelled at the processor: it can never
    // be charged later.
    let intents = m.stripe.intents().await;
    assert!(
        intents.iter().all(|i| i["status"] != "succeeded"),
        "{intents:?}"
    );
}

async fn buyer_named(app: &anshin_testkit::TestApp, email: &str) -> Buyer {
    buyer(app, email).await
}

async fn c15_price_in_the_request_is_refused_and_totals_come_from_the_database(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let mug = item(app, &s, "湯呑み", "1800", "5").await;
    let buyer = buyer(app, "buyer@example.jp").await;
    // A price or total in the request is refused outright.
    let r = send(
        app,
        "PUT",
        &format!("/api/v1/cart/items/{mug}"),
        Some(json!({"quantity": 1, "price": 1})),
        &buyer.cookie,
    )
    .await;
    assert_eq!(
        expect(r, StatusCode::BAD_REQUEST).await["error"],
        "malformed_json"
    );
    expect(
        put_in_cart(app, &buyer, mug, 1).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    for extra in [json!({"total": 1}), json!({"price": 1}), json!({"fee": 0})] {
        let mut body = json!({"shop_id": s.shop, "address_id": buyer.address});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = send(app, "POST", "/api/v1/orders", Some(body), &buyer.cookie).await;
        assert_eq!(
            expect(r, StatusCode::BAD_REQUEST).await["error"],
            "malformed_json"
        );
    }
    // The seller raises the price after the item went into the cart:
    // the order takes the database's price, never the old one.
    let input = anshin_core::shops::ItemInput::parse(&anshin_core::shops::RawItem {
        title: "湯呑み".into(),
        description: "説明".into(),
        price: "2500".into(),
        stock: "5".into(),
    })
    .unwrap();
    anshin_core::shops::edit_item(&app.services, s.member, mug, &input)
        .await
        .unwrap();
    let created = expect(place(app, &buyer, s.shop).await, StatusCode::CREATED).await;
    assert_eq!(created["total"], 2500);
    let order = anshin_domain::OrderId::parse(created["order_id"].as_str().unwrap()).unwrap();
    // The processor is asked for exactly the order's total.
    pay_with(&m, &buyer, order, CARD_OK).await;
    let pi = m
        .stripe
        .intents()
        .await
        .into_iter()
        .find(|i| i["metadata"]["order_id"] == order.to_string())
        .unwrap();
    assert_eq!(pi["amount"], 2500);
    assert_eq!(pi["currency"], "jpy");
}

async fn c15_negative_zero_and_huge_quantities_are_refused(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let mug = item(app, &s, "湯呑み", "1800", "5").await;
    let buyer = buyer(app, "buyer@example.jp").await;
    for q in [-1, 0, 100, i64::MAX, -99999] {
        let r = put_in_cart(app, &buyer, mug, q).await;
        let v = expect(r, StatusCode::BAD_REQUEST).await;
        assert_eq!(v["error"], "invalid_fields", "{q}");
        assert_eq!(v["fields"][0]["field"], "quantity");
    }
    let r = send(
        app,
        "PUT",
        &format!("/api/v1/cart/items/{mug}"),
        Some(json!({"quantity": "1.5"})),
        &buyer.cookie,
    )
    .await;
    expect(r, StatusCode::BAD_REQUEST).await;
    // The form does the same.
    let page = app
        .client
        .get(app.url("/cart"))
        .header("cookie", &buyer.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    for q in ["-1", "0", "100", "1e2", "-0"] {
        let r = app
            .client
            .post(app.url("/cart"))
            .header("cookie", &buyer.cookie)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("item_id", &mug.to_string()),
                ("quantity", q),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q}");
    }
    let cart = expect(
        send(app, "GET", "/api/v1/cart", None, &buyer.cookie).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cart, json!([]), "nothing was added");
    assert_eq!(
        app.store
            .shops()
            .item(mug)
            .await
            .unwrap()
            .unwrap()
            .stock
            .count(),
        Some(5),
        "nothing reserved, nothing added"
    );
}

async fn c15_idor_another_members_order_is_not_found_anywhere(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let mug = item(app, &s, "湯呑み", "1800", "5").await;
    let victim = buyer(app, "victim@example.jp").await;
    let thief = buyer(app, "thief@example.jp").await;
    let order = order(app, &victim, s.shop, mug, 1).await;
    let pm = m.stripe.tokenise(CARD_OK).await;
    // The thief pays for, reads, refreshes, receives the victim's order.
    let paid = pay(app, &thief, order, &pm).await;
    assert_eq!(
        expect(paid, StatusCode::NOT_FOUND).await["error"],
        "not_found"
    );
    for (method, path) in [
        ("GET", format!("/api/v1/orders/{order}")),
        ("POST", format!("/api/v1/orders/{order}/payment/refresh")),
        ("POST", format!("/api/v1/orders/{order}/received")),
        ("POST", format!("/api/v1/orders/{order}/complete")),
        ("GET", format!("/api/v1/sales/{order}")),
        ("POST", format!("/api/v1/sales/{order}/shipment")),
    ] {
        let r = send(app, method, &path, None, &thief.cookie).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    let r = send(
        app,
        "POST",
        &format!("/api/v1/sales/{order}/refunds"),
        Some(json!({"amount": 1})),
        &thief.cookie,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    for path in [
        format!("/orders/{order}"),
        format!("/orders/{order}/pay"),
        format!("/sales/{order}"),
        format!("/sales/{order}/ship"),
    ] {
        let r = app
            .client
            .get(app.url(&path))
            .header("cookie", &thief.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Another member's address is refused at checkout.
    expect(
        put_in_cart(app, &thief, mug, 1).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let r = send(
        app,
        "POST",
        "/api/v1/orders",
        Some(json!({"shop_id": s.shop, "address_id": victim.address})),
        &thief.cookie,
    )
    .await;
    let v = expect(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(v["fields"][0]["field"], "address");
    // The victim's order is untouched and still theirs.
    pay_with(&m, &victim, order, CARD_OK).await;
    // The seller sees it only once it is paid, and never the address.
    let sale = expect(
        send(
            app,
            "GET",
            &format!("/api/v1/sales/{order}"),
            None,
            &s.cookie,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sale["status"], "paid");
    let page = app
        .client
        .get(app.url(&format!("/sales/{order}")))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("渋谷区") && !page.contains("神宮前"),
        "C19: no address on the seller's page"
    );
    // The list of the thief holds nothing of the victim.
    let list = expect(
        send(app, "GET", "/api/v1/orders", None, &thief.cookie).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|o| o["id"] != order.to_string())
    );
}

async fn c15_pay_refuses_a_card_number_and_never_logs_it(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let mug = item(app, &s, "湯呑み", "1800", "5").await;
    let buyer = buyer(app, "buyer@example.jp").await;
    let order = order(app, &buyer, s.shop, mug, 1).await;
    for raw in [
        "4242424242424242",
        "4242 4242 4242 4242",
        "card_4242 4242",
        "tok_visa",
    ] {
        let r = pay(app, &buyer, order, raw).await;
        let v = expect(r, StatusCode::BAD_REQUEST).await;
        assert_eq!(v["error"], "invalid_payment_method", "{raw}");
        assert!(!v.to_string().contains("4242 4242"), "not echoed");
    }
    assert!(
        app.store.orders().attempts(order).await.unwrap().is_empty(),
        "nothing was tried"
    );
    assert!(
        m.stripe.intents().await.is_empty(),
        "nothing reached the processor"
    );
    let logs = captured_logs();
    assert!(
        !logs.contains("4242424242424242") && !logs.contains("4242 4242"),
        "no card number in the logs"
    );
}

async fn c15_double_refund_refunds_once_and_never_past_the_total(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let mug = item(app, &s, "湯呑み", "1000", "5").await;
    let buyer = buyer(app, "buyer@example.jp").await;
    let order = order(app, &buyer, s.shop, mug, 1).await;
    assert_eq!(pay_with(&m, &buyer, order, CARD_OK).await["status"], "paid");
    let refund = |amount: i64| {
        let app = app.clone();
        let cookie = s.cookie.clone();
        async move {
            send(
                &app,
                "POST",
                &format!("/api/v1/sales/{order}/refunds"),
                Some(json!({"amount": amount})),
                &cookie,
            )
            .await
        }
    };
    // The buyer cannot refund; zero, negative and too much are refused.
    let r = send(
        app,
        "POST",
        &format!("/api/v1/sales/{order}/refunds"),
        Some(json!({"amount": 100})),
        &buyer.cookie,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    for (amount, code) in [
        (0, "invalid_amount"),
        (-100, "invalid_amount"),
        (1001, "refund_too_large"),
    ] {
        assert_eq!(
            expect(refund(amount).await, StatusCode::BAD_REQUEST).await["error"],
            code
        );
    }
    // A double click: two refunds of 600 at once, one goes through.
    let (a, b2) = tokio::join!(refund(600), refund(600));
    let statuses = [a.status(), b2.status()];
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    let order_now = app.store.orders().order(order).await.unwrap().unwrap();
    assert_eq!(order_now.refunded, Yen::new(600), "{statuses:?}");
    assert_eq!(order_now.status, OrderStatus::Paid, "partly refunded");
    // The rest, then nothing more.
    assert_eq!(
        expect(refund(400).await, StatusCode::OK).await["status"],
        "refunded"
    );
    let r = refund(1).await;
    assert!(r.status() == StatusCode::BAD_REQUEST || r.status() == StatusCode::CONFLICT);
    let order_now = app.store.orders().order(order).await.unwrap().unwrap();
    assert_eq!(order_now.status, OrderStatus::Refunded);
    let intent = order_now.paid_intent_id.unwrap();
    let refunds = m.stripe.refunds_of(&intent).await;
    let total: i64 = refunds.iter().map(|r| r["amount"].as_i64().unwrap()).sum();
    assert_eq!(
        total, 1000,
        "the processor refunded exactly the total: {refunds:?}"
    );
    let report = ledger_sound(app).await;
    assert_eq!(report.transactions, 3, "payment and two refunds");
    assert_eq!(
        anshin_core::ledger::seller_balance(app.store.as_ref(), s.shop)
            .await
            .unwrap(),
        Yen::ZERO,
        "a full refund leaves the seller nothing, fee included"
    );
    let mails = app.mails_to(&buyer.email, 5).await;
    assert!(mails.iter().any(|m| m.text.contains("¥600")));
}

async fn c15_fulfilment_steps_belong_to_their_side_and_mail_both(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    // This shop ships itself (the seller's own steps); anonymous shipping
    // through the centre, the default, is `shipping::c19_*`.
    anshin_core::shipping::save_settings(
        &app.services,
        s.member,
        &anshin_core::shipping::ShopShipping {
            anonymous: false,
            sender_address_id: None,
        },
    )
    .await
    .unwrap();
    let mug = item(app, &s, "湯呑み", "1000", "5").await;
    let buyer = buyer(app, "buyer@example.jp").await;
    let order = order(app, &buyer, s.shop, mug, 1).await;
    // Not paid: nothing can be shipped.
    let r = send(
        app,
        "POST",
        &format!("/api/v1/sales/{order}/shipment"),
        None,
        &s.cookie,
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "an unpaid order is not a sale yet"
    );
    pay_with(&m, &buyer, order, CARD_OK).await;
    // The buyer cannot say it was shipped; the seller cannot say it arrived.
    let r = send(
        app,
        "POST",
        &format!("/api/v1/sales/{order}/shipment"),
        None,
        &buyer.cookie,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = send(
        app,
        "POST",
        &format!("/api/v1/orders/{order}/received"),
        None,
        &s.cookie,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = send(
        app,
        "POST",
        &format!("/api/v1/orders/{order}/received"),
        None,
        &buyer.cookie,
    )
    .await;
    assert_eq!(
        expect(r, StatusCode::CONFLICT).await["error"],
        "order_state",
        "not shipped yet"
    );
    expect(
        send(
            app,
            "POST",
            &format!("/api/v1/sales/{order}/shipment"),
            None,
            &s.cookie,
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let r = send(
        app,
        "POST",
        &format!("/api/v1/sales/{order}/shipment"),
        None,
        &s.cookie,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "shipped twice");
    expect(
        send(
            app,
            "POST",
            &format!("/api/v1/orders/{order}/received"),
            None,
            &buyer.cookie,
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    // Completed by the job after the configured days.
    app.clock.advance(15 * 86_400 * SECOND);
    let done = anshin_core::orders::reconcile(&app.services, &Default::default())
        .await
        .unwrap();
    assert_eq!(done.completed, 1);
    let o = app.store.orders().order(order).await.unwrap().unwrap();
    assert_eq!(o.status, OrderStatus::Completed);
    // paid, shipped, delivered, completed: four letters each, after the
    // two of signing up.
    let t = anshin_core::i18n::Catalogs::load().unwrap();
    let ja = t.get(anshin_core::i18n::Lang::Ja);
    let buyer_mails: Vec<String> = app
        .mails_to(&buyer.email, 6)
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect();
    let seller_mails: Vec<String> = app
        .mails_to(&s.email, 6)
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect();
    for kind in [
        "order_paid",
        "order_shipped",
        "order_delivered",
        "order_completed",
    ] {
        assert!(
            buyer_mails.contains(&ja.order_mail[&format!("{kind}_buyer_subject")]),
            "{kind}"
        );
        assert!(
            seller_mails.contains(&ja.order_mail[&format!("{kind}_seller_subject")]),
            "{kind}"
        );
    }
    ledger_sound(app).await;
}

async fn c15_own_items_cannot_be_bought_and_checkout_needs_an_own_address(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let mug = item(app, &s, "湯呑み", "1000", "5").await;
    let r = send(
        app,
        "PUT",
        &format!("/api/v1/cart/items/{mug}"),
        Some(json!({"quantity": 1})),
        &s.cookie,
    )
    .await;
    assert_eq!(
        expect(r, StatusCode::BAD_REQUEST).await["error"],
        "own_item"
    );
    // A visitor (no member) cannot use the cart.
    let r = send(app, "GET", "/api/v1/cart", None, "").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.client.get(app.url("/cart")).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the cart page sends a visitor to log in"
    );
}

async fn c15_only_the_payment_page_admits_the_processor_in_its_csp(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let mug = item(app, &s, "湯呑み", "1000", "5").await;
    let buyer = buyer(app, "buyer@example.jp").await;
    let order = order(app, &buyer, s.shop, mug, 1).await;
    let csp = |path: String| {
        let app = app.clone();
        let cookie = buyer.cookie.clone();
        async move {
            let r = app
                .client
                .get(app.url(&path))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            let csp = r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned();
            let body = r.text().await.unwrap();
            (csp, body)
        }
    };
    let (pay_csp, pay_page) = csp(format!("/orders/{order}/pay")).await;
    let processor = &m.stripe.base;
    for directive in ["script-src", "frame-src", "connect-src"] {
        let d = pay_csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with(directive))
            .unwrap_or_else(|| panic!("{directive} in {pay_csp}"));
        assert_eq!(
            d,
            format!("{directive} 'self' {processor}"),
            "only the processor is added"
        );
    }
    assert!(!pay_csp.contains("unsafe-inline") && !pay_csp.contains("unsafe-eval"));
    assert!(pay_csp.contains("style-src 'self';") && pay_csp.contains("form-action 'self'"));
    // The page loads the processor's script and ours, and has no inline code.
    assert!(pay_page.contains(&format!(
        "<script src=\"{processor}/js.stripe.com/v3/\"></script>"
    )));
    assert!(pay_page.contains("<script src=\"/static/checkout."));
    assert_eq!(pay_page.matches("<script").count(), 2, "no inline script");
    // Every other page keeps the strict policy.
    for path in [
        "/cart".to_owned(),
        format!("/orders/{order}"),
        "/orders".into(),
        "/account".into(),
    ] {
        let (other, _) = csp(path.clone()).await;
        assert!(!other.contains(processor.as_str()), "{path}: {other}");
        assert!(other.contains("script-src 'self';"), "{path}: {other}");
    }
    // The JSON API is documented.
    let doc: serde_json::Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/cart",
        "/api/v1/cart/items/{item}",
        "/api/v1/orders",
        "/api/v1/orders/{id}",
        "/api/v1/orders/{id}/payment",
        "/api/v1/orders/{id}/payment/refresh",
        "/api/v1/orders/{id}/received",
        "/api/v1/orders/{id}/complete",
        "/api/v1/sales",
        "/api/v1/sales/{id}",
        "/api/v1/sales/{id}/shipment",
        "/api/v1/sales/{id}/refunds",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} in the OpenAPI document"
        );
    }
}

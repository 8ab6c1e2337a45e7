//! What the payment tests share: a server wired to a fresh localstripe
//! (webhooks delivered over HTTPS to it), a seller with a shop and items
//! (made through the core, as the catalog pages will), buyers with an
//! address, and the API calls of the cart, checkout and payment.

use std::sync::Arc;

use anshin_core::clock::{Clock, SystemClock};
use anshin_core::shops::{ItemInput, RawItem, RawShop, ShopInput};
use anshin_domain::{ItemId, ItemStatus, MemberId, OrderId, ShopId};
use anshin_testkit::localstripe::LocalStripe;
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, TestApp};
use serde_json::{Value, json};

/// The test cards of the issue.
pub const CARD_OK: &str = "4242424242424242";
pub const CARD_3DS: &str = "4000002760003184";
pub const CARD_DECLINED: &str = "4000000000000341";

/// A server and its processor.
pub struct Market {
    pub app: Arc<TestApp>,
    pub stripe: Arc<LocalStripe>,
}

impl Market {
    /// A server (with an SMTP sink) paying through a fresh localstripe,
    /// its clock set to now (webhooks carry real timestamps).
    pub async fn start(b: Backend) -> Self {
        Self::start_with(b, |_| {}).await
    }

    pub async fn start_with(
        b: Backend,
        configure: impl FnOnce(&mut anshin::config::Settings),
    ) -> Self {
        let stripe = Arc::new(LocalStripe::start());
        let app = TestApp::spawn_mail_with(b, |s| {
            stripe.configure(s);
            configure(s);
        })
        .await;
        app.clock.set(SystemClock.now());
        let cert = app.data_dir.join("tls/cert.pem");
        stripe.send_webhooks_to(&app.origin, &cert).await;
        Self {
            app: Arc::new(app),
            stripe,
        }
    }
}

pub async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    cookie: &str,
) -> Response {
    let mut r = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .header(header::COOKIE, cookie);
    if let Some(b) = body {
        r = r.json(&b);
    } else if method != "GET" {
        r = r.header(header::CONTENT_TYPE, "application/json");
    }
    r.send().await.unwrap()
}

/// The body of a response that must have `status`.
pub async fn expect(res: Response, status: StatusCode) -> Value {
    let got = res.status();
    let text = res.text().await.unwrap_or_default();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

pub async fn member_of(app: &TestApp, email: &str) -> MemberId {
    let e = anshin_domain::EmailAddress::parse(email).unwrap();
    app.store
        .accounts()
        .find_member_by_email(&e)
        .await
        .unwrap()
        .expect("signed up")
        .id
}

pub struct Seller {
    pub member: MemberId,
    pub shop: ShopId,
    pub cookie: String,
    pub email: String,
}

/// A member with an open shop.
pub async fn seller(app: &TestApp, email: &str) -> Seller {
    let cookie = app.sign_up(email, "工房の人", 0).await.session;
    let member = member_of(app, email).await;
    let input = ShopInput::parse(&RawShop {
        name: "やきもの工房".into(),
        description: "手づくりの器".into(),
    })
    .unwrap();
    let shop = anshin_core::shops::open_shop(&app.services, member, &input)
        .await
        .unwrap();
    Seller {
        member,
        shop,
        cookie,
        email: email.to_owned(),
    }
}

/// An item on sale in the seller's shop.
pub async fn item(app: &TestApp, s: &Seller, title: &str, price: &str, stock: &str) -> ItemId {
    let input = ItemInput::parse(&RawItem {
        title: title.into(),
        description: "説明".into(),
        price: price.into(),
        stock: stock.into(),
    })
    .unwrap();
    anshin_core::shops::add_item(&app.services, s.member, &input, ItemStatus::OnSale)
        .await
        .unwrap()
}

pub struct Buyer {
    pub member: MemberId,
    pub cookie: String,
    pub address: String,
    pub email: String,
}

/// A member with one shipping address.
pub async fn buyer(app: &TestApp, email: &str) -> Buyer {
    let cookie = app.sign_up(email, "買う人", 0).await.session;
    let member = member_of(app, email).await;
    let a = expect(
        send(
            app,
            "POST",
            "/api/v1/me/addresses",
            Some(
                json!({"recipient_name": "山田 花子", "postal_code": "150-0001",
                "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前1-2-3"}),
            ),
            &cookie,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    Buyer {
        member,
        cookie,
        address: a["id"].as_str().unwrap().to_owned(),
        email: email.to_owned(),
    }
}

pub async fn put_in_cart(app: &TestApp, b: &Buyer, item: ItemId, q: i64) -> Response {
    send(
        app,
        "PUT",
        &format!("/api/v1/cart/items/{item}"),
        Some(json!({"quantity": q})),
        &b.cookie,
    )
    .await
}

pub async fn place(app: &TestApp, b: &Buyer, shop: ShopId) -> Response {
    send(
        app,
        "POST",
        "/api/v1/orders",
        Some(json!({"shop_id": shop, "address_id": b.address})),
        &b.cookie,
    )
    .await
}

/// Cart and order in one go; the order's id.
pub async fn order(app: &TestApp, b: &Buyer, shop: ShopId, item: ItemId, q: i64) -> OrderId {
    expect(put_in_cart(app, b, item, q).await, StatusCode::NO_CONTENT).await;
    let v = expect(place(app, b, shop).await, StatusCode::CREATED).await;
    OrderId::parse(v["order_id"].as_str().unwrap()).unwrap()
}

pub async fn pay(app: &TestApp, b: &Buyer, order: OrderId, payment_method: &str) -> Response {
    send(
        app,
        "POST",
        &format!("/api/v1/orders/{order}/payment"),
        Some(json!({"payment_method": payment_method})),
        &b.cookie,
    )
    .await
}

/// Tokenises `card` at the processor and pays; the payment answer.
pub async fn pay_with(m: &Market, b: &Buyer, order: OrderId, card: &str) -> Value {
    let pm = m.stripe.tokenise(card).await;
    expect(pay(&m.app, b, order, &pm).await, StatusCode::OK).await
}

/// The order as its buyer's API shows it.
pub async fn order_view(app: &TestApp, b: &Buyer, order: OrderId) -> Value {
    expect(
        send(
            app,
            "GET",
            &format!("/api/v1/orders/{order}"),
            None,
            &b.cookie,
        )
        .await,
        StatusCode::OK,
    )
    .await
}

/// Waits (up to 15 s) until `f` holds.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while !f().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The ledger must be sound.
pub async fn ledger_sound(app: &TestApp) -> anshin_core::ledger::LedgerReport {
    let r = anshin_core::ledger::check(app.store.as_ref())
        .await
        .unwrap();
    assert!(r.is_sound(), "ledger problems: {:#?}", r.problems);
    r
}

/// Marks an order paid as if the processor had taken the money (for
/// tests about pages, not payments): an attempt, its intent, the
/// transition and its postings, through the one write path.
pub async fn force_paid(app: &TestApp, order: OrderId) {
    use anshin_store::{Changes, NewAttempt, Write};
    let o = app.store.orders().order(order).await.unwrap().unwrap();
    let attempt: anshin_domain::AttemptId = app.services.new_id();
    let now = app.services.now();
    let key = anshin_core::payments::attempt_key(order, 1);
    app.store
        .commit(&Changes::new().with(Write::StartAttempt(NewAttempt {
            id: attempt,
            order_id: order,
            buyer_id: o.buyer_id,
            attempt_no: 1,
            idempotency_key: key,
            payment_method: "card_test".into(),
            created_at: now,
        })))
        .await
        .unwrap();
    let tx = anshin_core::ledger::payment(app.services.new_id(), &o, now).unwrap();
    app.store
        .commit(
            &Changes::new()
                .with(Write::MarkPaid {
                    order,
                    attempt,
                    intent_id: format!("pi_forced{}", order.as_uuid().simple()),
                    card_brand: Some("visa".into()),
                    card_last4: Some("4242".into()),
                    at: now,
                })
                .post(tx),
        )
        .await
        .unwrap();
}

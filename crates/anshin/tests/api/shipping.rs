//! Anonymous shipping, the members' side (issue 15 part A, C19), over real
//! HTTPS with localstripe paying, on SQLite and PostgreSQL:
//!
//! - acceptance 1, the crawl: as the seller and as the buyer of a paid,
//!   then accepted, in-transit, delivered and completed order, fetch every
//!   page reachable by following links from the member's pages, every GET
//!   of the JSON API (from its OpenAPI document, with this order's, shop's
//!   and item's ids), the drop-off QR image (decoded) and every mail in
//!   the SMTP sink: none holds any field of the other side's name,
//!   address, phone, postcode or prefecture, compared with the plaintext
//!   values this test typed;
//! - acceptance 6, the drop-off token: forged, altered, reused, voided and
//!   another seller's codes are refused, each with its own reason, and
//!   neither the code nor its QR holds personal data.

use std::collections::{BTreeSet, VecDeque};

use anshin_core::shipping::{self, DropoffRefusal, ResolveError};
use anshin_domain::{OrderId, OrderStatus, ParcelEventKind, ShipmentStatus};
use anshin_store::audit::{Actor, AuditAction};
use anshin_testkit::reqwest::StatusCode;
use anshin_testkit::{Backend, TestApp, backends};
use serde_json::{Value, json};

use crate::commerce::*;

backends!(
    c19_crawl_neither_side_sees_the_others_name_address_phone_postcode_or_prefecture,
    c19_dropoff_tokens_forged_altered_reused_voided_or_another_sellers_are_refused,
    c19_a_shop_that_ships_itself_gets_no_shipment_and_settings_are_the_owners,
    c19_shipping_journey_the_seller_sees_the_code_and_the_buyer_the_timeline_in_a_browser,
);

/// The buyer's address as typed (every field distinct from the seller's).
pub(crate) fn buyer_address() -> Value {
    json!({"recipient_name": "比嘉 美咲", "postal_code": "900-0015",
        "prefecture": "沖縄県", "city": "那覇市", "line1": "久茂地3-1-1",
        "line2": "ゆいレール荘202", "phone": "098-866-2111"})
}

/// Every form of the buyer's fields a page could print.
pub(crate) const BUYER_FIELDS: [&str; 11] = [
    "比嘉",
    "美咲",
    "900-0015",
    "9000015",
    "沖縄県",
    "那覇市",
    "久茂地",
    "ゆいレール荘",
    "098-866-2111",
    "0988662111",
    "+81988662111",
];

fn seller_address() -> Value {
    json!({"recipient_name": "佐藤 一郎", "postal_code": "060-0001",
        "prefecture": "北海道", "city": "札幌市中央区", "line1": "北一条西2-1",
        "line2": "さっぽろ荘101", "phone": "011-211-2111"})
}

pub(crate) const SELLER_FIELDS: [&str; 11] = [
    "佐藤",
    "一郎",
    "060-0001",
    "0600001",
    "北海道",
    "札幌市中央区",
    "北一条西",
    "さっぽろ荘",
    "011-211-2111",
    "0112112111",
    "+81112112111",
];

async fn add_address(app: &TestApp, cookie: &str, a: Value) -> String {
    let v = expect(
        send(app, "POST", "/api/v1/me/addresses", Some(a), cookie).await,
        StatusCode::CREATED,
    )
    .await;
    v["id"].as_str().unwrap().to_owned()
}

/// A seller with a shop and a sender address; a buyer with an address
/// and a phone; an order of theirs, paid by card.
pub(crate) struct Sale {
    pub(crate) m: Market,
    pub(crate) s: Seller,
    pub(crate) b: Buyer,
    pub(crate) order: OrderId,
    pub(crate) item: anshin_domain::ItemId,
}

pub(crate) async fn paid_sale(b: Backend) -> Sale {
    paid_sale_in(Market::start(b).await).await
}

/// [`paid_sale`] in a market started by the caller (its own settings).
pub(crate) async fn paid_sale_in(m: Market) -> Sale {
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    add_address(app, &s.cookie, seller_address()).await;
    let mug = item(app, &s, "湯呑み", "1800", "3").await;
    let cookie = app.sign_up("buyer@example.jp", "買う人", 0).await.session;
    let member = member_of(app, "buyer@example.jp").await;
    let address = add_address(app, &cookie, buyer_address()).await;
    expect(
        send(
            app,
            "PUT",
            "/api/v1/me/phone",
            Some(json!({"phone": "098-866-2111"})),
            &cookie,
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let buyer = Buyer {
        member,
        cookie,
        address,
        email: "buyer@example.jp".into(),
    };
    let o = order(app, &buyer, s.shop, mug, 1).await;
    let answer = pay_with(&m, &buyer, o, CARD_OK).await;
    assert_eq!(answer["status"], "paid", "{answer}");
    Sale {
        m,
        s,
        b: buyer,
        order: o,
        item: mug,
    }
}

/// The seller's drop-off code as their API shows it.
pub(crate) async fn code_of(app: &TestApp, s: &Seller, order: OrderId) -> String {
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
    sale["parcel"]["dropoff_code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code: {sale}"))
        .to_owned()
}

/// Decodes the QR code in a PNG.
pub(crate) fn qr_text(png: &[u8]) -> String {
    let img = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().unwrap().1
}

/// Every same-site link (`href`, `src`) of an HTML page.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for part in html.split(attr).skip(1) {
            let Some(link) = part.split('"').next() else {
                continue;
            };
            let link = link.replace("&amp;", "&");
            let link = link.split('#').next().unwrap_or("").to_owned();
            if link.starts_with('/') && !link.starts_with("//") {
                out.push(link);
            }
        }
    }
    out
}

/// Everything `cookie` can GET from the member's pages and the API: each
/// (path, text) fetched; an image is decoded if it is a QR code.
async fn crawl(
    app: &TestApp,
    cookie: &str,
    seeds: &[String],
    ids: &[String],
) -> Vec<(String, String)> {
    let mut queue: VecDeque<String> = seeds.iter().cloned().collect();
    // Every GET of the JSON API, with each known id put in.
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if ops.get("get").is_none() {
            continue;
        }
        if path.contains('{') {
            for id in ids {
                let mut p = path.clone();
                while let (Some(a), Some(b)) = (p.find('{'), p.find('}')) {
                    p.replace_range(a..=b, id);
                }
                queue.push_back(p);
            }
        } else {
            queue.push_back(path.clone());
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    while let Some(path) = queue.pop_front() {
        if seen.len() >= 300 || !seen.insert(path.clone()) {
            continue;
        }
        if path.starts_with("/assets/") || path.contains("logout") {
            continue;
        }
        let res = app
            .client
            .get(app.url(&path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        let png = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"image/png"));
        if let Some(to) = res.headers().get("location").and_then(|l| l.to_str().ok())
            && to.starts_with('/')
        {
            queue.push_back(to.to_owned());
        }
        if png {
            let bytes = res.bytes().await.unwrap();
            if path.ends_with("/dropoff.png") {
                out.push((path, qr_text(&bytes)));
            }
            continue;
        }
        let text = res.text().await.unwrap_or_default();
        for l in links(&text) {
            queue.push_back(l);
        }
        out.push((path, text));
    }
    out
}

fn assert_none_of(what: &str, fetched: &[(String, String)], fields: &[&str]) {
    assert!(!fetched.is_empty());
    for (path, text) in fetched {
        for f in fields {
            assert!(
                !text.contains(f),
                "C19: {what} sees {f:?} of the other side at {path}"
            );
        }
    }
}

/// Every mail in the sink to `to`, as (subject, text and html).
fn mails_of(app: &TestApp, to: &str) -> Vec<(String, String)> {
    app.sink
        .as_ref()
        .unwrap()
        .messages()
        .iter()
        .map(|raw| anshin_testkit::parse_mail(raw))
        .filter(|m| m.to == to)
        .map(|m| {
            (
                format!("mail {}", m.subject),
                format!("{}\n{}\n{}", m.subject, m.text, m.html),
            )
        })
        .collect()
}

async fn check_both_sides(sale: &Sale, stage: &str) {
    let app = &sale.m.app;
    let ids = [
        sale.order.to_string(),
        sale.s.shop.to_string(),
        sale.item.to_string(),
    ];
    let seller_seeds = [
        "/".to_owned(),
        "/account".to_owned(),
        "/sales".to_owned(),
        format!("/sales/{}", sale.order),
        "/shop/manage".to_owned(),
        "/orders".to_owned(),
    ];
    let buyer_seeds = [
        "/".to_owned(),
        "/account".to_owned(),
        "/orders".to_owned(),
        format!("/orders/{}", sale.order),
        "/sales".to_owned(),
        format!("/sales/{}", sale.order),
    ];
    let seen_by_seller = crawl(app, &sale.s.cookie, &seller_seeds, &ids).await;
    let seen_by_buyer = crawl(app, &sale.b.cookie, &buyer_seeds, &ids).await;
    // The crawl reached the pages that matter.
    for needed in [
        format!("/sales/{}", sale.order),
        format!("/api/v1/sales/{}", sale.order),
    ] {
        assert!(
            seen_by_seller.iter().any(|(p, _)| *p == needed),
            "{stage}: the seller's crawl missed {needed}"
        );
    }
    for needed in [
        format!("/orders/{}", sale.order),
        format!("/api/v1/orders/{}", sale.order),
    ] {
        assert!(
            seen_by_buyer.iter().any(|(p, _)| *p == needed),
            "{stage}: the buyer's crawl missed {needed}"
        );
    }
    assert_none_of(
        &format!("{stage}: the seller"),
        &seen_by_seller,
        &BUYER_FIELDS,
    );
    assert_none_of(
        &format!("{stage}: the buyer"),
        &seen_by_buyer,
        &SELLER_FIELDS,
    );
    // The crawl can see personal data: each side's own address is on its
    // own pages (so an empty page would not pass by accident).
    assert!(
        seen_by_buyer.iter().any(|(_, t)| t.contains("那覇市")),
        "the buyer sees their own address"
    );
    assert!(
        seen_by_seller
            .iter()
            .any(|(_, t)| t.contains("札幌市中央区")),
        "the seller sees their own address"
    );
    // Both see the other by display name only.
    let seller_page = &seen_by_seller
        .iter()
        .find(|(p, _)| *p == format!("/sales/{}", sale.order))
        .unwrap()
        .1;
    assert!(seller_page.contains("買う人"), "the buyer's display name");
    let buyer_page = &seen_by_buyer
        .iter()
        .find(|(p, _)| *p == format!("/orders/{}", sale.order))
        .unwrap()
        .1;
    assert!(buyer_page.contains("工房の人"), "the seller's display name");
    assert_none_of(
        &format!("{stage}: the seller's mail"),
        &mails_of(app, &sale.s.email),
        &BUYER_FIELDS,
    );
    assert_none_of(
        &format!("{stage}: the buyer's mail"),
        &mails_of(app, &sale.b.email),
        &SELLER_FIELDS,
    );
}

async fn c19_crawl_neither_side_sees_the_others_name_address_phone_postcode_or_prefecture(
    b: Backend,
) {
    let sale = paid_sale(b).await;
    let app = &sale.m.app;
    // The payment made the shipment, with both addresses sealed.
    let shipment = app
        .store
        .shipping()
        .shipment_of_order(sale.order)
        .await
        .unwrap()
        .expect("a shipment made with the payment");
    assert_eq!(shipment.status, ShipmentStatus::AwaitingDropoff);
    assert!(shipment.has_sender);
    let label = shipping::label(&app.services, shipment.id).await.unwrap();
    assert_eq!(label.recipient.city().as_str(), "那覇市");
    assert_eq!(
        label.sender.as_ref().unwrap().city().as_str(),
        "札幌市中央区"
    );
    assert!(!format!("{label:?}").contains("那覇"), "LabelData redacts");
    // Sealed: the stored bytes hold no field in clear.
    let sealed = app
        .store
        .shipping()
        .sealed_label(shipment.id)
        .await
        .unwrap()
        .unwrap();
    for bytes in [&sealed.recipient, sealed.sender.as_ref().unwrap()] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("那覇") && !text.contains("札幌"));
    }
    // Manual "shipped" is not the seller's step any more.
    let r = send(
        app,
        "POST",
        &format!("/api/v1/sales/{}/shipment", sale.order),
        None,
        &sale.s.cookie,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    check_both_sides(&sale, "paid").await;

    // The centre accepts the parcel; it travels and arrives.
    let code = code_of(app, &sale.s, sale.order).await;
    shipping::accept(&app.services, &code).await.unwrap();
    shipping::record_event(
        &app.services,
        &sale.order.to_string(),
        ParcelEventKind::InTransit,
    )
    .await
    .unwrap();
    shipping::record_event(&app.services, &code, ParcelEventKind::Delivered)
        .await
        .unwrap();
    // C22: the shell's acts are in the audit log, as the system, naming
    // the shipment and nothing personal.
    let shipment = app
        .store
        .shipping()
        .shipment_of_order(sale.order)
        .await
        .unwrap()
        .unwrap()
        .id;
    let log = app.store.audit().entries(0, 10_000).await.unwrap();
    let shell: Vec<_> = log
        .iter()
        .filter(|e| {
            matches!(
                e.entry.action,
                AuditAction::ParcelAccepted | AuditAction::ParcelEventRecorded
            )
        })
        .collect();
    assert_eq!(shell.len(), 3, "accepted, in transit, delivered");
    for e in &shell {
        assert_eq!(e.entry.actor, Actor::System);
        assert_eq!(e.entry.reason, "command_line");
        assert_eq!(
            e.entry.target.as_ref().map(|t| t.id.clone()),
            Some(shipment.to_string())
        );
        let details = e.entry.details.clone().unwrap_or_default();
        for f in BUYER_FIELDS.iter().chain(SELLER_FIELDS.iter()) {
            assert!(!details.contains(f), "{f} in the audit log");
        }
    }
    let view = order_view(app, &sale.b, sale.order).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(view["parcel"]["status"], "delivered");
    let kinds: Vec<&str> = view["parcel"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["accepted", "in_transit", "delivered"]);
    assert!(
        view["parcel"].get("dropoff_code").is_none(),
        "the buyer never sees the code"
    );
    // The seller's code is gone from their page once it is used.
    let sale_view = expect(
        send(
            app,
            "GET",
            &format!("/api/v1/sales/{}", sale.order),
            None,
            &sale.s.cookie,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        sale_view["parcel"].get("dropoff_code").is_none(),
        "{sale_view}"
    );
    // Delivery lets the buyer complete the order.
    expect(
        send(
            app,
            "POST",
            &format!("/api/v1/orders/{}/complete", sale.order),
            None,
            &sale.b.cookie,
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let o = app.store.orders().order(sale.order).await.unwrap().unwrap();
    assert_eq!(o.status, OrderStatus::Completed);
    // Paid, shipped, delivered, completed: four letters each (after the
    // two sign-up mails), all read by the check below.
    app.mails_to(&sale.s.email, 6).await;
    app.mails_to(&sale.b.email, 6).await;

    check_both_sides(&sale, "completed").await;
}

async fn c19_dropoff_tokens_forged_altered_reused_voided_or_another_sellers_are_refused(
    b: Backend,
) {
    let sale = paid_sale(b).await;
    let app = &sale.m.app;
    let svc = &app.services;
    let code = code_of(app, &sale.s, sale.order).await;

    // The code and its QR: the code's symbols and nothing else.
    let qr = app
        .client
        .get(app.url(&format!("/sales/{}/dropoff.png", sale.order)))
        .header("cookie", &sale.s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(qr.status(), StatusCode::OK);
    assert_eq!(qr.headers()["cache-control"], "no-store");
    let text = qr_text(&qr.bytes().await.unwrap());
    assert_eq!(text, format!("anshin-dropoff:{}", code.replace('-', "")));
    for field in BUYER_FIELDS.iter().chain(SELLER_FIELDS.iter()) {
        assert!(!text.contains(field) && !code.contains(field));
    }
    assert!(!text.contains(&sale.order.to_string()), "no ids either");
    let shipment = app
        .store
        .shipping()
        .shipment_of_order(sale.order)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !text
            .to_lowercase()
            .contains(&shipment.id.as_uuid().simple().to_string()[..8])
    );

    let refused = |r: Result<shipping::Resolved, ResolveError>| match r {
        Err(ResolveError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    };
    // Forged: made up, with a right check symbol (computed as the
    // vault does) but no MAC.
    let forged = {
        let alphabet = anshin_vault::dropoff::ALPHABET;
        let body: Vec<u8> = b"23456789AB".to_vec();
        let mut sum = 0usize;
        for (i, s) in body.iter().enumerate() {
            sum += (i + 1) * alphabet.iter().position(|a| a == s).unwrap();
        }
        let mut c = body.clone();
        c.push(alphabet[sum % 31]);
        String::from_utf8(c).unwrap()
    };
    assert_eq!(
        refused(shipping::resolve_code(svc, &forged).await),
        DropoffRefusal::Forged
    );
    // Altered: one symbol of the real code changed.
    let mut altered: Vec<char> = code.chars().collect();
    altered[0] = if altered[0] == '2' { '3' } else { '2' };
    let altered: String = altered.into_iter().collect();
    assert_eq!(
        refused(shipping::resolve_code(svc, &altered).await),
        DropoffRefusal::Altered
    );
    assert_eq!(
        refused(shipping::resolve_code(svc, "hello").await),
        DropoffRefusal::Malformed
    );
    // Another server's (another key's) code is forged here.
    let other_key = anshin_vault::DropoffKey::from_bytes([1; 32]);
    let foreign = anshin_vault::DropoffCode::derive(&other_key, shipment.id.as_bytes(), 0);
    assert_eq!(
        refused(shipping::resolve_code(svc, foreign.expose()).await),
        DropoffRefusal::Forged
    );
    // A genuine code of a generation never issued: unknown.
    let future = shipping::code_of(svc, shipment.id, 7);
    assert_eq!(
        refused(shipping::resolve_code(svc, future.expose()).await),
        DropoffRefusal::Unknown
    );

    // Voided: the centre's approval commits the void; the old code is
    // dead, the seller's page shows the new one.
    let r = shipping::resolve_code(svc, &code).await.unwrap();
    assert_eq!(r.shipment.id, shipment.id);
    app.store
        .commit(&anshin_store::Changes::new().with(shipping::void_write(svc, &r.shipment)))
        .await
        .unwrap();
    // A second approval of the same void counts once.
    let again = app
        .store
        .commit(&anshin_store::Changes::new().with(shipping::void_write(svc, &r.shipment)))
        .await
        .unwrap_err();
    assert!(
        again.is_precondition(anshin_store::guards::DROPOFF_NOT_LIVE),
        "{again}"
    );
    assert_eq!(
        refused(shipping::resolve_code(svc, &code).await),
        DropoffRefusal::Voided
    );
    let new_code = code_of(app, &sale.s, sale.order).await;
    assert_ne!(new_code, code);

    // Another seller: cannot see this order's code, page or QR.
    let other = seller(app, "other@example.jp").await;
    for path in [
        format!("/sales/{}/dropoff.png", sale.order),
        format!("/sales/{}", sale.order),
        format!("/api/v1/sales/{}", sale.order),
    ] {
        let r = send(app, "GET", &path, None, &other.cookie).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Nor choose its sender address, even with one of their own.
    let own = add_address(app, &other.cookie, seller_address()).await;
    let page = app
        .client
        .get(app.url("/shop/manage"))
        .header("cookie", &other.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let r = app
        .client
        .post(app.url(&format!("/sales/{}/sender", sale.order)))
        .header("cookie", &other.cookie)
        .form(&[("csrf_token", token.as_str()), ("address", own.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The buyer never gets the QR either.
    let r = send(
        app,
        "GET",
        &format!("/sales/{}/dropoff.png", sale.order),
        None,
        &sale.b.cookie,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Reused: accepted once, then refused.
    let accepted = shipping::accept(svc, &new_code).await.unwrap();
    assert_eq!(accepted.id, shipment.id);
    match shipping::accept(svc, &new_code).await {
        Err(shipping::AcceptError::Refused(DropoffRefusal::AlreadyAccepted)) => {}
        other => panic!("a reused code must be refused: {other:?}"),
    }
    assert_eq!(
        refused(shipping::resolve_code(svc, &new_code).await),
        DropoffRefusal::AlreadyAccepted
    );
    let o = app.store.orders().order(sale.order).await.unwrap().unwrap();
    assert_eq!(
        o.status,
        OrderStatus::Shipped,
        "acceptance is the shipped step"
    );
    // Nothing of the code or the addresses reached the logs.
    let logs = anshin_testkit::captured_logs();
    for f in BUYER_FIELDS.iter().chain(SELLER_FIELDS.iter()) {
        assert!(!logs.contains(f), "{f} in the logs");
    }
    assert!(!logs.contains(&new_code.replace('-', "")));
}

async fn c19_a_shop_that_ships_itself_gets_no_shipment_and_settings_are_the_owners(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    let own = add_address(app, &s.cookie, seller_address()).await;
    // The settings page shows the choice, default on.
    let page = app
        .client
        .get(app.url("/shop/manage"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("name=\"anonymous\" value=\"1\" checked"),
        "default on"
    );
    // Another member's address cannot be the sender.
    let b1 = buyer(app, "buyer@example.jp").await;
    let csrf = |html: &str| {
        html.split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_owned()
    };
    let token = csrf(&page);
    let r = app
        .client
        .post(app.url("/shop/manage/shipping"))
        .header("cookie", &s.cookie)
        .form(&[
            ("csrf_token", token.as_str()),
            ("anonymous", "1"),
            ("sender", b1.address.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Their own address, anonymous off: saved, and said so.
    let r = app
        .client
        .post(app.url("/shop/manage/shipping"))
        .header("cookie", &s.cookie)
        .form(&[("csrf_token", token.as_str()), ("sender", own.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let choice = shipping::settings(&app.services, s.member).await.unwrap();
    assert!(!choice.anonymous);
    assert_eq!(
        choice.sender_address_id.map(|a| a.to_string()),
        Some(own.clone())
    );
    // A sale of a shop that ships itself: no shipment, the manual step.
    let mug = item(app, &s, "湯呑み", "1800", "3").await;
    let o = order(app, &b1, s.shop, mug, 1).await;
    assert_eq!(pay_with(&m, &b1, o, CARD_OK).await["status"], "paid");
    assert!(
        app.store
            .shipping()
            .shipment_of_order(o)
            .await
            .unwrap()
            .is_none()
    );
    let view = order_view(app, &b1, o).await;
    assert!(view["parcel"].is_null(), "{view}");
    expect(
        send(
            app,
            "POST",
            &format!("/api/v1/sales/{o}/shipment"),
            None,
            &s.cookie,
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
}

/// In chromium (`e2e/shipping.spec.mjs`), in Japanese on SQLite and in
/// English on PostgreSQL: the seller's sale page shows the drop-off code
/// (text and QR), the size rules and the status; the seller chooses the
/// sender and saves the shop's shipping settings, each page saying what
/// happened; after the centre accepts the parcel and it travels, the
/// buyer's page shows the seller by display name and the timeline, and
/// no code.
async fn c19_shipping_journey_the_seller_sees_the_code_and_the_buyer_the_timeline_in_a_browser(
    b: Backend,
) {
    let lang = match b {
        Backend::Sqlite => anshin_core::i18n::Lang::Ja,
        Backend::Postgres => anshin_core::i18n::Lang::En,
    };
    let sale = paid_sale(b).await;
    let app = &sale.m.app;
    let catalogs = anshin_core::i18n::Catalogs::load().unwrap();
    let t = catalogs.get(lang);
    let sh = &t.shipping;
    let words = json!({
        "flash": t.flash,
        "dropoff_title": sh.dropoff_title,
        "sizes_title": sh.sizes_title,
        "status_awaiting_dropoff": sh.status_awaiting_dropoff,
        "status_in_transit": sh.status_in_transit,
        "event_accepted": sh.event_accepted,
        "event_in_transit": sh.event_in_transit,
        "sender_set": sh.sender_set,
        "buyer_name": "買う人",
        "seller_name": "工房の人",
    });
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let run = |phase: &'static str, cookie: String| {
        let root = root.clone();
        let chromium = chromium.clone();
        let words = words.to_string();
        let origin = app.origin.clone();
        let order = sale.order.to_string();
        async move {
            let out = tokio::process::Command::new("node")
                .arg(root.join("e2e/shipping.spec.mjs"))
                .arg(&origin)
                .arg(lang.code())
                .arg(phase)
                .arg(&cookie)
                .arg(&order)
                .env("CHROMIUM", &chromium)
                .env("ANSHIN_CATALOG", words)
                .output()
                .await
                .expect("node: run scripts/setup --test");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "shipping journey ({phase}, {}) failed:\n{}\n{stdout}",
                lang.code(),
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_str::<Value>(stdout.lines().last().unwrap_or_default())
                .expect("JSON result")
        }
    };
    let v = run("seller", sale.s.cookie.clone()).await;
    assert_eq!(v["pages"], 3, "{v}");
    assert_eq!(
        v["code"].as_str(),
        Some(code_of(app, &sale.s, sale.order).await.as_str())
    );
    // The seller saved the form as shown: anonymous on, default sender.
    assert!(
        shipping::settings(&app.services, sale.s.member)
            .await
            .unwrap()
            .anonymous
    );
    let code = code_of(app, &sale.s, sale.order).await;
    shipping::accept(&app.services, &code).await.unwrap();
    shipping::record_event(
        &app.services,
        &sale.order.to_string(),
        ParcelEventKind::InTransit,
    )
    .await
    .unwrap();
    let v = run("buyer", sale.b.cookie.clone()).await;
    assert_eq!(v["lines"], 2, "{v}");
}

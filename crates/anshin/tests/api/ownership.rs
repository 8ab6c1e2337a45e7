//! A member's own records are reachable only by that member (issue 14:
//! "test it for every member route"; C13, C15, C27).
//!
//! The routes come from the site's router source (`src/web/site/*.rs`),
//! not from a list kept here: a new route with a record id in its path
//! fails [`c27_every_member_route_refuses_another_members_record`] until
//! it is either probed below (by the kind of record its path names) or
//! named public with the reason. Each probe sends every method the route
//! declares, as a stranger who is a member too (own session, own shop,
//! own address, own CSRF token, so the refusal is about ownership and not
//! about a missing login, shop or token), with the victim's real id; the
//! answer must be a 404 (or a redirect away, for a confirmation page),
//! exactly the same as for an id that names nothing, and must not quote
//! the victim's record. Afterwards the owners still reach every
//! record, so the ids were real and nothing was changed or removed.
//! Routes without an id (`/account…`, `/api/v1/me…`) act on the session's
//! own member by construction.

use anshin_testkit::reqwest::{Response, StatusCode, header, multipart};
use anshin_testkit::{Backend, TestApp, backends, images};
use serde_json::{Value, json};

use crate::commerce::*;

backends!(c27_every_member_route_refuses_another_members_record);

/// Routes with an id in their path that serve what anyone may see, and
/// why. Everything else with an id is a member's own record.
const PUBLIC: &[(&str, &str)] = &[
    (
        "/api/v1/banks/{code}/branches",
        "the bank list: reference data",
    ),
    (
        "/api/v1/postcodes/{code}",
        "the postcode table: reference data",
    ),
    ("/media/{*key}", "published images, by unguessable key"),
    ("/api/v1/shops/{id}", "a shop's public page"),
    ("/shops/{id}", "a shop's public page"),
    (
        "/api/v1/items/{id}",
        "an item's public page (items on sale)",
    ),
    ("/items/{id}", "an item's public page (items on sale)"),
    (
        "/api/v1/cart/items/{item}",
        "the caller's own cart; the id is a public item",
    ),
    (
        "/cart/{item}/quantity",
        "the caller's own cart; the id is a public item",
    ),
    (
        "/cart/{item}/remove",
        "the caller's own cart; the id is a public item",
    ),
    (
        "/checkout/{shop}",
        "the caller's own cart for a public shop",
    ),
];

/// A route as the router source declares it.
#[derive(Debug)]
struct Route {
    path: String,
    methods: Vec<&'static str>,
}

/// Every `.route("…", get(…).post(…))` of the site's router files.
fn site_routes() -> Vec<Route> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/site");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    let mut routes = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for declared in text.split(".route(").skip(1) {
            let declared = declared.trim_start();
            let Some(rest) = declared.strip_prefix('"') else {
                continue;
            };
            let end = rest.find('"').unwrap();
            let path = rest[..end].to_owned();
            let tail = &rest[end..];
            // The method routers up to the end of this `.route(…)` call.
            let tail = &tail[..tail.find(".route(").unwrap_or(tail.len())];
            let tail = &tail[..tail.find(';').unwrap_or(tail.len())];
            let methods = ["get", "post", "put", "delete", "patch"]
                .into_iter()
                .filter(|m| {
                    tail.match_indices(&format!("{m}(")).any(|(i, _)| {
                        i == 0
                            || !tail.as_bytes()[i - 1].is_ascii_alphanumeric()
                                && tail.as_bytes()[i - 1] != b'_'
                    })
                })
                .collect();
            routes.push(Route { path, methods });
        }
    }
    routes
}

#[test]
fn the_route_reader_finds_the_routes_and_their_methods() {
    let routes = site_routes();
    let find = |p: &str| routes.iter().find(|r| r.path == p).unwrap();
    assert_eq!(find("/account/sessions/{id}/end").methods, ["get", "post"]);
    assert_eq!(find("/api/v1/me/addresses/{id}").methods, ["put", "delete"]);
    assert_eq!(find("/api/v1/orders/{id}").methods, ["get"]);
    assert!(routes.len() > 60, "{}", routes.len());
}

/// The victim's records, by the kind of id a path names.
struct Victims {
    session: String,
    address: String,
    order: String,
    item: String,
    image: String,
}

impl Victims {
    /// The path with the victim's ids, or `None` if the path names a kind
    /// of record this test does not know (the test then fails).
    fn fill(&self, path: &str) -> Option<String> {
        let id = if path.contains("/sessions/{id}") {
            &self.session
        } else if path.contains("/addresses/{id}") {
            &self.address
        } else if path.starts_with("/orders/{id}")
            || path.starts_with("/api/v1/orders/{id}")
            || path.starts_with("/sales/{id}")
            || path.starts_with("/api/v1/sales/{id}")
        {
            &self.order
        } else if path.starts_with("/shop/manage/items/{id}")
            || path.starts_with("/api/v1/me/shop/items/{id}")
        {
            &self.item
        } else {
            return None;
        };
        let filled = path.replace("{id}", id).replace("{image}", &self.image);
        (!filled.contains('{')).then_some(filled)
    }
}

/// What the victims' records hold that must never reach the stranger.
const SECRET_TITLE: &str = "秘蔵の湯呑み";
const SECRET_RECIPIENT: &str = "被害 花子";

/// A body the route accepts from its owner (its API types refuse unknown
/// fields), so that a 404 is about ownership, not about the body.
fn api_body(path: &str, payment_method: &str) -> Value {
    if path.contains("/addresses/") {
        json!({"recipient_name": "乗取 太郎", "postal_code": "100-0001",
            "prefecture": "東京都", "city": "千代田区", "line1": "1-1"})
    } else if path.ends_with("/payment") {
        json!({"payment_method": payment_method})
    } else if path.ends_with("/refunds") {
        json!({"amount": 1})
    } else if path.ends_with("/status") {
        json!({"status": "hidden"})
    } else if path.starts_with("/api/v1/me/shop/items/") {
        json!({"title": "pwned", "description": "x", "price_yen": 1, "stock": 1})
    } else {
        json!({})
    }
}

async fn send_as(
    app: &TestApp,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: &str,
    payment_method: &str,
) -> Response {
    let api = path.starts_with("/api/");
    // A confirmation page reads what it confirms from the query.
    let path = if method == "get" && path.ends_with("/refund") {
        format!("{path}?amount=1")
    } else {
        path.to_owned()
    };
    let path = path.as_str();
    let r = app
        .client
        .request(method.to_uppercase().parse().unwrap(), app.url(path))
        .header(header::COOKIE, cookie);
    let r = if method == "get" {
        r
    } else if path.ends_with("/images") && api {
        // An upload: a real image, so only ownership can refuse it.
        r.header(header::CONTENT_TYPE, "image/jpeg")
            .body(images::jpeg(16, 16))
    } else if path.ends_with("/images") {
        // The page's upload form: multipart with the form token.
        let part = multipart::Part::bytes(images::jpeg(16, 16))
            .file_name("a.jpg")
            .mime_str("image/jpeg")
            .unwrap();
        r.multipart(
            multipart::Form::new()
                .text("csrf_token", csrf.to_owned())
                .part("image", part),
        )
    } else if api {
        // A body each route accepts from its owner, so that a 404 is
        // about ownership, not about the body.
        r.json(&api_body(path, payment_method))
    } else {
        r.form(&[
            ("csrf_token", csrf),
            ("recipient_name", "乗取 太郎"),
            ("postal_code", "100-0001"),
            ("prefecture", "東京都"),
            ("city", "千代田区"),
            ("line1", "1-1"),
            ("title", "pwned"),
            ("description", "x"),
            ("price", "1"),
            ("stock", "1"),
            ("status", "hidden"),
            ("amount", "1"),
        ])
    };
    r.send().await.unwrap()
}

async fn c27_every_member_route_refuses_another_members_record(b: Backend) {
    let m = Market::start(b).await;
    let app = &m.app;
    // The victims: a seller with an item (with an image) and a buyer
    // with an address, a session and a paid order of that item.
    let seller_v = seller(app, "victim-seller@example.jp").await;
    let item_v = item(app, &seller_v, SECRET_TITLE, "2400", "5").await;
    let up = app
        .client
        .post(app.url(&format!("/api/v1/me/shop/items/{item_v}/images")))
        .header(header::COOKIE, &seller_v.cookie)
        .header(header::CONTENT_TYPE, "image/png")
        .body(images::png(32, 32, false))
        .send()
        .await
        .unwrap();
    let image = expect(up, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let buyer_v = buyer(app, "victim-buyer@example.jp").await;
    // A second session of the victim's (the current one cannot be ended
    // from its own page, so the owner's check below needs another).
    app.log_in_again("victim-buyer@example.jp").await;
    let renamed = send(
        app,
        "PUT",
        &format!("/api/v1/me/addresses/{}", buyer_v.address),
        Some(
            json!({"recipient_name": SECRET_RECIPIENT, "postal_code": "150-0001",
            "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前1-2-3"}),
        ),
        &buyer_v.cookie,
    )
    .await;
    assert!(renamed.status().is_success(), "{}", renamed.status());
    let order_v = order(app, &buyer_v, seller_v.shop, item_v, 1).await;
    pay_with(&m, &buyer_v, order_v, CARD_OK).await;
    let sessions = expect(
        send(app, "GET", "/api/v1/me/sessions", None, &buyer_v.cookie).await,
        StatusCode::OK,
    )
    .await;
    let session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .expect("the other session")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let victims = Victims {
        session,
        address: buyer_v.address.clone(),
        order: order_v.to_string(),
        item: item_v.to_string(),
        image,
    };

    // The stranger: a member with a shop, an address and a form token.
    let stranger = seller(app, "stranger@example.jp").await;
    expect(
        send(
            app,
            "POST",
            "/api/v1/me/addresses",
            Some(
                json!({"recipient_name": "他人 次郎", "postal_code": "100-0001",
                "prefecture": "東京都", "city": "千代田区", "line1": "1-1"}),
            ),
            &stranger.cookie,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let html = app
        .client
        .get(app.url("/account/addresses"))
        .header(header::COOKIE, &stranger.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = html[start..start + html[start..].find('"').unwrap()].to_owned();

    // Ids of the same kinds that name nothing: the stranger's answer for
    // the victim's record must be the same as for these.
    let nothing = || "0190a8c4-0000-7000-8000-00000000dead".to_owned();
    let ghosts = Victims {
        session: nothing(),
        address: nothing(),
        order: nothing(),
        item: nothing(),
        image: nothing(),
    };
    // A real card token of the stranger's, so that only ownership can
    // refuse a payment.
    let pm = m.stripe.tokenise(CARD_OK).await;
    let mut probed = 0;
    let mut unknown = Vec::new();
    for route in site_routes().iter().filter(|r| r.path.contains('{')) {
        if PUBLIC.iter().any(|(p, _)| *p == route.path) {
            continue;
        }
        let Some(path) = victims.fill(&route.path) else {
            unknown.push(route.path.clone());
            continue;
        };
        let ghost_path = ghosts.fill(&route.path).unwrap();
        for method in &route.methods {
            let res = send_as(app, method, &path, &stranger.cookie, &csrf, &pm).await;
            let (status, location) = (res.status(), res.headers().get(header::LOCATION).cloned());
            let body = res.text().await.unwrap_or_default();
            let ghost = send_as(app, method, &ghost_path, &stranger.cookie, &csrf, &pm).await;
            assert_eq!(
                (status, location),
                (
                    ghost.status(),
                    ghost.headers().get(header::LOCATION).cloned()
                ),
                "{method} {}: a stranger learns whether the record exists: {body}",
                route.path
            );
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::SEE_OTHER,
                "{method} {} as a stranger: {status} {body}",
                route.path
            );
            assert!(
                !body.contains(SECRET_TITLE) && !body.contains(SECRET_RECIPIENT),
                "{method} {} quotes the victim's record",
                route.path
            );
            probed += 1;
        }
    }
    assert!(
        unknown.is_empty(),
        "routes with a record id that neither a probe here nor PUBLIC covers: {unknown:?}"
    );
    assert!(probed >= 30, "{probed} probes");

    // The ids were real and nothing changed: the owners still reach all.
    for (path, cookie) in [
        (format!("/api/v1/orders/{order_v}"), &buyer_v.cookie),
        (format!("/orders/{order_v}"), &buyer_v.cookie),
        (format!("/api/v1/sales/{order_v}"), &seller_v.cookie),
        (format!("/sales/{order_v}"), &seller_v.cookie),
        (format!("/api/v1/me/shop/items/{item_v}"), &seller_v.cookie),
        (format!("/shop/manage/items/{item_v}"), &seller_v.cookie),
        (
            format!("/account/addresses/{}/edit", buyer_v.address),
            &buyer_v.cookie,
        ),
        (
            format!("/account/sessions/{}/end", victims.session),
            &buyer_v.cookie,
        ),
    ] {
        let res = send(app, "GET", &path, None, cookie).await;
        assert_eq!(res.status(), StatusCode::OK, "the owner's {path}");
    }
    let item = expect(
        send(
            app,
            "GET",
            &format!("/api/v1/me/shop/items/{item_v}"),
            None,
            &seller_v.cookie,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item["title"], SECRET_TITLE);
    assert_eq!(item["images"].as_array().map(Vec::len), Some(1));
    let order: Value = expect(
        send(
            app,
            "GET",
            &format!("/api/v1/orders/{order_v}"),
            None,
            &buyer_v.cookie,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(order["status"], "paid", "{order}");
}

//! Label render time including the audit write (issue 15, acceptance 7;
//! C22, C23), on SQLite and PostgreSQL: a real paid order (localstripe),
//! its parcel accepted at the counter by a worker on shift, then N views
//! of its label. Two figures per database, p50 / p99 / max:
//!
//! - **use case**: `anshin_core::counter::view_label` (policy check, the
//!   shipment read, the `label_viewed` audit entry committed, the sealed
//!   addresses unwrapped and opened) + `anshin_labels::render` (layout,
//!   glyphs, QR code, watermark, PNG): what one view costs the server;
//! - **HTTP**: `GET /shipping/labels/{id}/image` over HTTPS (keep-alive)
//!   to the console, every layer included: what a worker waits for.
//!
//! Every view is one entry in the audit log (checked at the end). Not a
//! test: it prints figures for `bench/README.md`.
//!
//! `cargo bench -p anshin --bench label_view [-- VIEWS]` (PostgreSQL as the
//! tests find it: `ANSHIN_TEST_POSTGRES_URL` or the local server).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::disallowed_methods,
    dead_code
)]

#[path = "../tests/api/commerce.rs"]
mod commerce;

use std::time::{Duration, Instant};

use anshin_core::clock::Clock;
use anshin_domain::StaffRole;
use anshin_store::audit::AuditAction;
use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, cookie_pair, set_cookie};
use commerce::*;
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn post(
    app: &TestApp,
    cookie: Option<&str>,
    path: &str,
    form: &[(&str, &str)],
) -> anshin_testkit::reqwest::Response {
    let mut fields: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    if let Some(c) = cookie {
        let token = anshin_vault::SessionToken::parse(c.split_once('=').unwrap().1).unwrap();
        fields.push(("csrf_token", token.csrf_token().as_str().to_owned()));
    }
    let mut req = app
        .client
        .post(app.staff_url(path))
        .header(header::ORIGIN, &app.staff_origin)
        .form(&fields);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.send().await.unwrap()
}

/// A staff member enrolled with TOTP and logged in: the cookie.
async fn staff(app: &TestApp, email: &str, role: StaffRole) -> String {
    let enrolment = anshin_core::staff::add(&app.services, email, role)
        .await
        .unwrap();
    let html = app
        .client
        .get(app.staff_url(&enrolment.path()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html.find("<code class=\"wrap\">").unwrap() + 19;
    let secret = html[start..start + html[start..].find("</code>").unwrap()].to_owned();
    let token = enrolment.path().split("token=").nth(1).unwrap().to_owned();
    let now = app.clock.now();
    let code = anshin_core::staff::code_at(&secret, now).unwrap();
    let res = post(app, None, "/enrol", &[("token", &token), ("code", &code)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.clock.advance(61 * anshin_testkit::SECOND);
    let code = anshin_core::staff::code_at(&secret, app.clock.now()).unwrap();
    let res = post(app, None, "/login", &[("email", email), ("code", &code)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    cookie_pair(set_cookie(&res, anshin::web::console::COOKIE).unwrap())
}

async fn run(b: Backend, views: usize) {
    let m = Market::start(b).await;
    let app = &m.app;
    let s = seller(app, "seller@example.jp").await;
    send(
        app,
        "POST",
        "/api/v1/me/addresses",
        Some(
            json!({"recipient_name": "佐藤 一郎", "postal_code": "060-0001",
            "prefecture": "北海道", "city": "札幌市中央区", "line1": "北一条西2-1",
            "line2": "さっぽろ荘101", "phone": "011-211-2111"}),
        ),
        &s.cookie,
    )
    .await;
    let mug = item(app, &s, "湯呑み", "1800", "3").await;
    let buyer = buyer(app, "buyer@example.jp").await;
    let o = order(app, &buyer, s.shop, mug, 1).await;
    let paid = pay_with(&m, &buyer, o, CARD_OK).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    let sale = send(app, "GET", &format!("/api/v1/sales/{o}"), None, &s.cookie).await;
    let sale = expect(sale, StatusCode::OK).await;
    let code = sale["parcel"]["dropoff_code"].as_str().unwrap().to_owned();

    let boss = staff(app, "boss@example.jp", StaffRole::ShippingManager).await;
    let worker = staff(app, "worker@example.jp", StaffRole::ShippingWorker).await;
    let res = post(
        app,
        Some(&boss),
        "/shipping/terminals",
        &[("label", "T-1"), ("serial", "SN-1")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let terminal = app.store.centre().list_terminals().await.unwrap()[0]
        .id
        .to_string();
    let res = post(
        app,
        Some(&worker),
        "/shipping/shift",
        &[("terminal", &terminal)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = post(app, Some(&worker), "/shipping/accept", &[("code", &code)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let shipment = app
        .store
        .shipping()
        .shipment_of_order(o)
        .await
        .unwrap()
        .unwrap()
        .id;

    let token = anshin_vault::SessionToken::parse(worker.split_once('=').unwrap().1).unwrap();
    let current = anshin_core::staff::current(&app.services, &token)
        .await
        .unwrap()
        .unwrap();
    let ip = std::net::IpAddr::from([127, 0, 0, 1]);
    let font_bytes = std::fs::read(anshin_core::access::DEFAULT_LABEL_FONT)
        .expect("fonts-noto-cjk (scripts/setup --test)");
    let font = anshin_labels::LabelFont::from_bytes(&font_bytes, 0).unwrap();
    let party = |a: &anshin_core::member_data::ShippingAddress| anshin_labels::PartyInput {
        name: a.recipient_name().as_str().to_owned(),
        postcode: a.postal_code().as_str().to_owned(),
        prefecture: a.prefecture().name_ja().to_owned(),
        address_lines: vec![format!("{}{}", a.city().as_str(), a.line1().as_str())],
        phone: a.phone().map(|p| (*p.national_display()).clone()),
    };
    let before = app.store.audit().entries(0, 100_000).await.unwrap().len();

    // The use case + render, as the handler runs them.
    let mut core = Vec::with_capacity(views);
    let mut audit_only = Vec::with_capacity(views);
    for i in 0..views + 10 {
        let t = Instant::now();
        let view = anshin_core::counter::view_label(&app.services, &current, ip, shipment)
            .await
            .unwrap();
        let recorded = t.elapsed();
        let label = anshin_labels::Label::new(
            &view.waybill,
            anshin_labels::ParcelSize::S60,
            &party(&view.data.recipient),
            &party(view.data.sender.as_ref().unwrap()),
        )
        .unwrap();
        let wm = anshin_labels::Watermark::new(&view.staff, &view.at).unwrap();
        let png = anshin_labels::render(&label, &font, &wm).unwrap();
        std::hint::black_box(png);
        if i >= 10 {
            core.push(t.elapsed());
            audit_only.push(recorded);
        }
    }
    // Over HTTPS, every layer.
    let url = app.staff_url(&format!("/shipping/labels/{shipment}/image"));
    let mut http = Vec::with_capacity(views);
    for i in 0..views + 10 {
        let t = Instant::now();
        let res = app
            .client
            .get(&url)
            .header(header::COOKIE, &worker)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = res.bytes().await.unwrap();
        std::hint::black_box(body);
        if i >= 10 {
            http.push(t.elapsed());
        }
    }
    let after = app.store.audit().entries(0, 100_000).await.unwrap();
    let viewed = after[before..]
        .iter()
        .filter(|e| e.entry.action == AuditAction::LabelViewed)
        .count();
    assert_eq!(viewed, 2 * (views + 10), "one entry per view");

    for (what, v) in [
        (
            "view_label (policy + audit commit + unseal)",
            &mut audit_only,
        ),
        ("view_label + render (one view, server side)", &mut core),
        ("GET …/image over HTTPS (every layer)", &mut http),
    ] {
        v.sort();
        println!(
            "{:<9} {:<46} p50 {:>9}  p99 {:>9}  max {:>9}  (n = {})",
            format!("{b:?}"),
            what,
            ms(percentile(v, 0.5)),
            ms(percentile(v, 0.99)),
            ms(*v.last().unwrap()),
            v.len()
        );
    }
}

fn main() {
    let views: usize = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for b in [Backend::Sqlite, Backend::Postgres] {
        rt.block_on(run(b, views));
    }
}

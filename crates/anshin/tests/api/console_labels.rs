//! The shipping centre's counter in the staff console (issue 15,
//! acceptance 2 and 3; C19, C22, C23, C24): a worker on shift accepts a
//! real paid order's parcel by its drop-off code, sees its label as an
//! image, and enters its events. Every label view is exactly one audit
//! entry naming the worker, the terminal and the shift; with the audit
//! write failing there is no image (and no acceptance); off shift, after
//! check-out or from another sign-in the counter refuses with a page that
//! says why. Over real HTTPS with localstripe paying, on SQLite and
//! PostgreSQL. Attacks: docs/adr/0017-labels-and-no-copy.md.

use std::sync::Arc;

use anshin_core::access::Decision;
use anshin_core::counter::{self, CounterError};
use anshin_core::i18n::{Catalogs, Lang};
use anshin_domain::{OrderStatus, ShipmentId, ShipmentStatus, StaffRole};
use anshin_store::StoredAuditEntry;
use anshin_store::audit::{Actor, AuditAction, TargetKind};
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends};
use serde_json::{Value, json};

use crate::audit::{exec, refuse_audit_writes};
use crate::console_centre::{
    Person, checked_in, current, entries, flash, get, location, loopback, people, post, refusals,
    register,
};
use crate::shipping::{BUYER_FIELDS, SELLER_FIELDS, Sale, code_of, paid_sale, qr_text};

backends!(
    c22_every_label_view_is_one_audit_entry_naming_worker_terminal_and_shift,
    c24_off_shift_after_check_out_or_from_another_sign_in_the_counter_refuses,
    c19_the_label_page_in_a_browser_holds_none_of_the_recipients_fields,
);

async fn allow_audit_writes(app: &TestApp) {
    let drop = match app.backend {
        Backend::Sqlite => "DROP TRIGGER audit_test_refuse;",
        Backend::Postgres => {
            "DROP TRIGGER audit_test_refuse ON audit_entries; DROP FUNCTION audit_test_refuse();"
        }
    };
    exec(app, drop).await.unwrap();
}

fn of(log: &[StoredAuditEntry], action: AuditAction) -> Vec<&StoredAuditEntry> {
    log.iter().filter(|e| e.entry.action == action).collect()
}

async fn shipment_of(sale: &Sale) -> anshin_store::ShipmentRecord {
    sale.m
        .app
        .store
        .shipping()
        .shipment_of_order(sale.order)
        .await
        .unwrap()
        .unwrap()
}

async fn image(app: &TestApp, p: &Person, shipment: ShipmentId) -> Response {
    get(app, p, &format!("/shipping/labels/{shipment}/image")).await
}

/// The entry names the worker, this shipment, the worker's open shift
/// and its terminal, and holds no personal data.
fn names_the_view(e: &StoredAuditEntry, worker: &Person, shift: &anshin_store::ShiftRecord) {
    assert_eq!(e.entry.actor, Actor::Staff(worker.id.as_uuid()));
    let target = e.entry.target.as_ref().unwrap();
    assert_eq!(target.kind, TargetKind::Shipment);
    let details: Value = serde_json::from_str(e.entry.details.as_deref().unwrap()).unwrap();
    assert_eq!(details["terminal"], shift.terminal.to_string(), "{details}");
    assert_eq!(details["shift"], shift.id.to_string(), "{details}");
    let text = details.to_string();
    for f in BUYER_FIELDS.iter().chain(SELLER_FIELDS.iter()) {
        assert!(!text.contains(f), "personal data in the audit entry");
    }
}

/// Acceptance 3 (C22): the acceptance at the counter is one commit with
/// its audit entry (and with the audit write failing it does not happen:
/// the code stays live); every fetch of the label image, reprints
/// included, is exactly one `label_viewed` entry naming the worker, the
/// terminal and the shift, written before the image; with the audit
/// write failing the image is refused (503, no PNG); the label page
/// itself shows and records nothing personal. Then parcel events entered
/// at the counter, each audited; a delivered parcel has no label to show.
async fn c22_every_label_view_is_one_audit_entry_naming_worker_terminal_and_shift(b: Backend) {
    let sale = paid_sale(b).await;
    let app: &TestApp = &sale.m.app;
    let ps = people(
        app,
        &[
            ("boss@example.jp", StaffRole::ShippingManager),
            ("worker@example.jp", StaffRole::ShippingWorker),
        ],
    )
    .await;
    let (boss, worker) = (&ps[0], &ps[1]);
    let t = register(app, boss, "T-1").await;
    checked_in(app, worker, t).await;
    let shift = app
        .store
        .centre()
        .open_shift_of(worker.id)
        .await
        .unwrap()
        .unwrap();
    let code = code_of(app, &sale.s, sale.order).await;
    let shipment = shipment_of(&sale).await.id;

    // The counter page asks for the code in a form (never in a URL).
    let page = get(app, worker, "/shipping/accept").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"method="post" action="/shipping/accept""#));

    // The audit write fails: no acceptance, the code stays live.
    let before = entries(app).await.len();
    refuse_audit_writes(app).await;
    let res = post(app, worker, "/shipping/accept", &[("code", &code)]).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.unwrap().contains("id=\"counter-error\""));
    allow_audit_writes(app).await;
    assert_eq!(entries(app).await.len(), before, "nothing recorded");
    assert_eq!(
        shipment_of(&sale).await.status,
        ShipmentStatus::AwaitingDropoff,
        "nothing accepted"
    );

    // Accepted: one commit, one entry; then the label page.
    let res = post(app, worker, "/shipping/accept", &[("code", &code)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/shipping/labels/{shipment}"));
    assert_eq!(flash(&res), "parcel_accepted");
    let log = entries(app).await;
    assert_eq!(
        log.len(),
        before + 1,
        "exactly one entry for the acceptance"
    );
    let accepted = of(&log, AuditAction::ParcelAccepted);
    assert_eq!(accepted.len(), 1);
    names_the_view(accepted[0], worker, &shift);
    assert_eq!(
        accepted[0].entry.target.as_ref().unwrap().id,
        shipment.to_string()
    );
    assert_eq!(shipment_of(&sale).await.status, ShipmentStatus::Accepted);
    let order = app.store.orders().order(sale.order).await.unwrap().unwrap();
    assert_eq!(order.status, OrderStatus::Shipped);
    // A second acceptance of the same code: refused, nothing recorded.
    let again = post(app, worker, "/shipping/accept", &[("code", &code)]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(entries(app).await.len(), before + 1);

    // The label page: the image by id, no personal data, no entry.
    let page = get(app, worker, &format!("/shipping/labels/{shipment}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!(r#"src="/shipping/labels/{shipment}/image""#)));
    for f in BUYER_FIELDS.iter().chain(SELLER_FIELDS.iter()) {
        assert!(!html.contains(f), "a field of an address in the page");
    }
    assert_eq!(
        entries(app).await.len(),
        before + 1,
        "the page records nothing"
    );

    // Each image fetch: one entry, before the image.
    for n in 1..=3 {
        let res = image(app, worker, shipment).await;
        assert_eq!(res.status(), StatusCode::OK, "view {n}");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "image/png");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        let png = res.bytes().await.unwrap();
        let log = entries(app).await;
        assert_eq!(log.len(), before + 1 + n, "exactly one entry per view");
        let views = of(&log, AuditAction::LabelViewed);
        assert_eq!(views.len(), n);
        let last = views[n - 1];
        names_the_view(last, worker, &shift);
        assert_eq!(last.entry.target.as_ref().unwrap().id, shipment.to_string());
        if n == 1 {
            let img = image::load_from_memory(&png).unwrap();
            assert_eq!((img.width(), img.height()), (832, 1184));
            // The label's QR code holds the waybill number and nothing else.
            assert_eq!(qr_text(&png), counter::waybill(shipment));
            for f in BUYER_FIELDS.iter().chain(SELLER_FIELDS.iter()) {
                assert!(
                    !png.windows(f.len()).any(|w| w == f.as_bytes()),
                    "a field as text in the PNG"
                );
            }
        }
    }

    // The audit write fails: no image, nothing recorded.
    refuse_audit_writes(app).await;
    let res = image(app, worker, shipment).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = res.bytes().await.unwrap();
    assert!(!body.starts_with(b"\x89PNG"), "no image");
    // The core says so too: no label data comes back.
    let w = current(app, worker).await;
    let e = counter::view_label(&app.services, &w, loopback(), shipment)
        .await
        .unwrap_err();
    assert!(matches!(e, CounterError::NotRecorded(_)), "{e:?}");
    allow_audit_writes(app).await;
    assert_eq!(
        of(&entries(app).await, AuditAction::LabelViewed).len(),
        3,
        "the refused views left no entry"
    );

    // Parcel events at the counter, each audited.
    let s = shipment.to_string();
    let res = post(
        app,
        worker,
        "/shipping/events",
        &[("shipment", &s), ("kind", "in_transit")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(flash(&res), "parcel_event");
    assert_eq!(shipment_of(&sale).await.status, ShipmentStatus::InTransit);
    // A label of a parcel on its way can still be reprinted (recorded).
    assert_eq!(image(app, worker, shipment).await.status(), StatusCode::OK);
    assert_eq!(of(&entries(app).await, AuditAction::LabelViewed).len(), 4);
    let res = post(
        app,
        worker,
        "/shipping/events",
        &[("shipment", &s), ("kind", "delivered")],
    )
    .await;
    assert_eq!(flash(&res), "parcel_event");
    let order = app.store.orders().order(sale.order).await.unwrap().unwrap();
    assert_eq!(order.status, OrderStatus::Delivered);
    let res = post(
        app,
        worker,
        "/shipping/events",
        &[("shipment", &s), ("kind", "delivered")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "delivered once");
    let res = post(
        app,
        worker,
        "/shipping/events",
        &[("shipment", &s), ("kind", "accepted")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let log = entries(app).await;
    let events = of(&log, AuditAction::ParcelEventRecorded);
    assert_eq!(events.len(), 2);
    for e in &events {
        names_the_view(e, worker, &shift);
    }
    // Delivered: no label to show any more, and nothing recorded.
    assert_eq!(
        image(app, worker, shipment).await.status(),
        StatusCode::NOT_FOUND
    );
    let page = get(app, worker, &format!("/shipping/labels/{shipment}")).await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert_eq!(of(&entries(app).await, AuditAction::LabelViewed).len(), 4);
}

/// Acceptance 3 (C24): outside a shift, after checking out, and from a
/// second sign-in of the same worker (another machine: not the terminal
/// the shift checked out) the counter refuses every route with a 403
/// page that says why, records the refusal, and the core refuses on its
/// own too; a role outside shipping gets the plain 403. Nothing is
/// accepted or viewed by any of them.
async fn c24_off_shift_after_check_out_or_from_another_sign_in_the_counter_refuses(b: Backend) {
    let sale = paid_sale(b).await;
    let app: &TestApp = &sale.m.app;
    let ps = people(
        app,
        &[
            ("boss@example.jp", StaffRole::ShippingManager),
            ("worker@example.jp", StaffRole::ShippingWorker),
            ("support@example.jp", StaffRole::Support),
        ],
    )
    .await;
    let (boss, worker, support) = (&ps[0], &ps[1], &ps[2]);
    let t = register(app, boss, "T-1").await;
    let code = code_of(app, &sale.s, sale.order).await;
    let shipment = shipment_of(&sale).await.id;
    let label = format!("/shipping/labels/{shipment}");
    let words = Catalogs::load().unwrap();
    let no_shift = &words.get(Lang::En).staff.labels.no_shift_title;

    async fn all_refused(app: &TestApp, p: &Person, label: &str, code: &str, no_shift: &str) {
        let img = format!("{label}/image");
        for path in ["/shipping/accept", label, img.as_str()] {
            let res = get(app, p, path).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
            let html = res.text().await.unwrap();
            assert!(html.contains(no_shift), "{path} says why: {html}");
            assert!(html.contains(r#"href="/shipping/shift""#), "{path}");
        }
        let res = post(app, p, "/shipping/accept", &[("code", code)]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = post(
            app,
            p,
            "/shipping/events",
            &[
                ("shipment", label.rsplit('/').next().unwrap()),
                ("kind", "in_transit"),
            ],
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }

    // Never checked in.
    all_refused(app, worker, &label, &code, no_shift).await;
    assert!(refusals(&entries(app).await, worker.id, "no_open_shift") >= 5);
    let w = current(app, worker).await;
    let e = counter::accept_parcel(&app.services, &w, loopback(), &code)
        .await
        .unwrap_err();
    assert!(
        matches!(e, CounterError::Refused(Decision::DenyNoShift)),
        "{e:?}"
    );
    assert_eq!(
        shipment_of(&sale).await.status,
        ShipmentStatus::AwaitingDropoff
    );
    // Another role: the plain 403.
    let res = get(app, support, &format!("{label}/image")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // On shift: accepted, one view.
    checked_in(app, worker, t).await;
    let res = post(app, worker, "/shipping/accept", &[("code", &code)]).await;
    assert_eq!(flash(&res), "parcel_accepted");
    assert_eq!(image(app, worker, shipment).await.status(), StatusCode::OK);

    // A second sign-in of the same worker, on another machine: not the
    // checked-out terminal.
    app.clock.advance(31 * anshin_testkit::SECOND);
    let other = Person {
        id: worker.id,
        cookie: crate::staff::login(app, &worker.email, &worker.secret).await,
        secret: worker.secret.clone(),
        email: worker.email.clone(),
    };
    all_refused(app, &other, &label, &code, no_shift).await;
    let o = current(app, &other).await;
    let e = counter::view_label(&app.services, &o, loopback(), shipment)
        .await
        .unwrap_err();
    assert!(
        matches!(e, CounterError::Refused(Decision::DenyNoShift)),
        "{e:?}"
    );

    // Checked out (the terminal returned): refused again.
    let res = post(app, worker, "/shipping/shift/end", &[("confirm", "1")]).await;
    assert_eq!(flash(&res), "checked_out");
    all_refused(app, worker, &label, &code, no_shift).await;
    let w = current(app, worker).await;
    let e = counter::view_label(&app.services, &w, loopback(), shipment)
        .await
        .unwrap_err();
    assert!(matches!(e, CounterError::Refused(Decision::DenyNoShift)));

    // Of all that, one view and one acceptance were recorded.
    let log = entries(app).await;
    assert_eq!(of(&log, AuditAction::LabelViewed).len(), 1);
    assert_eq!(of(&log, AuditAction::ParcelAccepted).len(), 1);
    assert!(of(&log, AuditAction::ParcelEventRecorded).is_empty());
}

/// Acceptance 2 (C19, C23) in Chromium: a worker on shift types the
/// drop-off code at the counter and gets the label page; the label image
/// loads, and the page's text, its DOM, every network response other
/// than the label image, and the clipboard after select-all + copy hold
/// none of the recipient's (or the sender's) fields, compared with the
/// plaintext values this test typed. At 360 px and 1280 px: no sideways
/// scroll, axe-core.
async fn c19_the_label_page_in_a_browser_holds_none_of_the_recipients_fields(b: Backend) {
    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let sale = paid_sale(b).await;
    let app: Arc<TestApp> = sale.m.app.clone();
    let ps = people(
        &app,
        &[
            ("boss@example.jp", StaffRole::ShippingManager),
            ("worker@example.jp", StaffRole::ShippingWorker),
        ],
    )
    .await;
    let (boss, worker) = (&ps[0], &ps[1]);
    let t = register(&app, boss, "T-1").await;
    checked_in(&app, worker, t).await;
    let code = code_of(&app, &sale.s, sale.order).await;
    let catalogs = Catalogs::load().unwrap();
    let l = &catalogs.get(lang).staff.labels;
    let fields: Vec<&str> = BUYER_FIELDS
        .iter()
        .chain(SELLER_FIELDS.iter())
        .copied()
        .collect();
    let words = json!({
        "code": code,
        "fields": fields,
        "flash_accepted": l.flash_accepted,
        "title": l.title,
    });
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let out = tokio::process::Command::new("node")
        .arg(crate::journeys::repo_root().join("e2e/console-label.spec.mjs"))
        .arg(&app.staff_origin)
        .arg(lang.code())
        .arg(&worker.cookie)
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", words.to_string())
        .output()
        .await
        .expect("node: run scripts/setup --test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "label journey ({}) failed:\n{}\n{stdout}",
        lang.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    // The browser's image fetches were views, each recorded.
    let log = entries(&app).await;
    let views = of(&log, AuditAction::LabelViewed).len();
    assert!(views >= 1, "the label image was viewed and recorded");
    assert_eq!(v["image_loads"].as_u64(), Some(views as u64), "{v}");
    assert_eq!(of(&log, AuditAction::ParcelAccepted).len(), 1);
}

//! The shipping centre's people and equipment in the staff console
//! (issue 15; C20, C24, C25, C27): terminals and shifts, the open-shift
//! condition of the access policy, the two-person void of a waybill.
//! Every test runs on SQLite and PostgreSQL. The attacks each test
//! answers are listed in docs/adr/0016-shipping-centre.md.

use anshin::web::console;
use anshin_core::access::Decision;
use anshin_core::centre::{self, CentreError};
use anshin_domain::{ShipmentId, StaffId, StaffRole, TerminalId, VoidRequestId};
use anshin_store::audit::{Actor, AuditAction, StoredAuditEntry, TargetKind};
use anshin_store::{ShiftEnd, VoidStatus};
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, set_cookie};

use crate::staff::{csrf_of, enrolled, login, post_form};
use anshin_store::conformance::shipping::a_shipment;

/// A signed-in staff member of the test.
pub(crate) struct Person {
    pub(crate) id: StaffId,
    pub(crate) cookie: String,
    pub(crate) secret: String,
    pub(crate) email: String,
}

/// Enrols every `(email, role)` first, then logs each in (so every
/// second factor is fresh when the test starts).
pub(crate) async fn people(app: &TestApp, who: &[(&str, StaffRole)]) -> Vec<Person> {
    let mut secrets = Vec::new();
    for (email, role) in who {
        secrets.push(enrolled(app, email, *role).await);
    }
    let mut out = Vec::new();
    for ((email, _), secret) in who.iter().zip(secrets) {
        let cookie = login(app, email, &secret).await;
        let id = anshin_core::staff::find_by_id_or_email(&app.services, email)
            .await
            .unwrap();
        out.push(Person {
            id,
            cookie,
            secret,
            email: (*email).to_owned(),
        });
    }
    out
}

pub(crate) async fn get(app: &TestApp, p: &Person, path: &str) -> Response {
    app.client
        .get(app.staff_url(path))
        .header(header::COOKIE, &p.cookie)
        .header(header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
}

/// A console form as `p`, with their CSRF token, in English.
pub(crate) async fn post(
    app: &TestApp,
    p: &Person,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    let csrf = csrf_of(&p.cookie);
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    app.client
        .post(app.staff_url(path))
        .header(header::ORIGIN, &app.staff_origin)
        .header(header::COOKIE, &p.cookie)
        .header(header::ACCEPT_LANGUAGE, "en")
        .form(&form)
        .send()
        .await
        .unwrap()
}

pub(crate) fn location(res: &Response) -> &str {
    res.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The flash code a redirect carries.
pub(crate) fn flash(res: &Response) -> String {
    set_cookie(res, console::FLASH_COOKIE)
        .and_then(|c| c.split(';').next())
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

pub(crate) async fn entries(app: &TestApp) -> Vec<StoredAuditEntry> {
    app.store.audit().entries(0, 10_000).await.unwrap()
}

pub(crate) fn refusals(log: &[StoredAuditEntry], who: StaffId, reason: &str) -> usize {
    log.iter()
        .filter(|e| {
            e.entry.action == AuditAction::StaffActRefused
                && e.entry.actor == Actor::Staff(who.as_uuid())
                && e.entry.reason == reason
        })
        .count()
}

/// Registers a terminal in the console as `manager`; its id.
pub(crate) async fn register(app: &TestApp, manager: &Person, label: &str) -> TerminalId {
    let serial = format!("SN-{label}");
    let res = post(
        app,
        manager,
        "/shipping/terminals",
        &[("label", label), ("serial", &serial)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "register {label}");
    assert_eq!(flash(&res), "terminal_registered");
    app.store
        .centre()
        .list_terminals()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.label == label)
        .unwrap()
        .id
}

pub(crate) async fn check_in(app: &TestApp, p: &Person, terminal: TerminalId) -> Response {
    post(
        app,
        p,
        "/shipping/shift",
        &[("terminal", &terminal.to_string())],
    )
    .await
}

pub(crate) async fn checked_in(app: &TestApp, p: &Person, terminal: TerminalId) {
    let res = check_in(app, p, terminal).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{} checks in", p.email);
    assert_eq!(location(&res), "/shipping/shift");
    assert_eq!(flash(&res), "checked_in");
}

/// Asks for a void (confirmed) as `p`; the request's id.
async fn request_void(app: &TestApp, p: &Person, shipment: ShipmentId) -> VoidRequestId {
    let s = shipment.to_string();
    let fields = [("shipment", s.as_str()), ("reason", "label torn")];
    let ask = post(app, p, "/shipping/voids/new", &fields).await;
    assert_eq!(ask.status(), StatusCode::OK, "asked first");
    let html = ask.text().await.unwrap();
    assert!(html.contains("name=\"confirm\" value=\"1\""), "{html}");
    assert!(html.contains(&s), "the question names the shipment");
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm", "1"));
    let res = post(app, p, "/shipping/voids/new", &confirmed).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(flash(&res), "void_requested");
    app.store
        .centre()
        .list_void_requests(VoidStatus::Pending, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.shipment == shipment)
        .unwrap()
        .id
}

async fn approve(app: &TestApp, p: &Person, request: VoidRequestId) -> Response {
    let path = format!("/shipping/voids/{request}/approve");
    post(app, p, &path, &[("confirm", "1")]).await
}

pub(crate) async fn current(app: &TestApp, p: &Person) -> anshin_core::staff::CurrentStaff {
    let token = anshin_vault::SessionToken::parse(p.cookie.split_once('=').unwrap().1).unwrap();
    anshin_core::staff::current(&app.services, &token)
        .await
        .unwrap()
        .unwrap()
}

pub(crate) fn loopback() -> std::net::IpAddr {
    std::net::IpAddr::from([127, 0, 0, 1])
}

/// Acceptance 4 (C25): a void needs a manager other than the requester.
/// The requester approving their own void is refused (by the policy in
/// the console and again in the core, recorded); a worker cannot approve;
/// a second approval by the same manager counts once; a decided request
/// is not decided again; every step is in the audit log, naming the
/// person, the shipment and the shifts.
async fn c25_a_void_needs_a_manager_other_than_the_requester(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ps = people(
        &app,
        &[
            ("boss@example.jp", StaffRole::ShippingManager),
            ("worker@example.jp", StaffRole::ShippingWorker),
            ("second@example.jp", StaffRole::ShippingManager),
        ],
    )
    .await;
    let (boss, worker, second) = (&ps[0], &ps[1], &ps[2]);
    let t: Vec<TerminalId> = {
        let mut v = Vec::new();
        for label in ["T-1", "T-2", "T-3"] {
            v.push(register(&app, boss, label).await);
        }
        v
    };
    checked_in(&app, boss, t[0]).await;
    checked_in(&app, worker, t[1]).await;
    checked_in(&app, second, t[2]).await;

    let shipment = a_shipment(&*app.store, 201).await;
    let request = request_void(&app, worker, shipment).await;

    // A worker cannot approve (the policy's role), nor even see the list.
    let before = entries(&app).await;
    let res = approve(&app, worker, request).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get(&app, worker, "/shipping/voids").await.status(),
        StatusCode::FORBIDDEN
    );
    let after = entries(&app).await;
    assert_eq!(
        refusals(&after, worker.id, "role_not_allowed")
            - refusals(&before, worker.id, "role_not_allowed"),
        2
    );
    // ... and the core refuses it too, whatever door calls.
    let w = current(&app, worker).await;
    let e = centre::decide_void(&app.services, &w, loopback(), request, true)
        .await
        .unwrap_err();
    assert!(
        matches!(e, CentreError::Refused(Decision::DenyRole)),
        "{e:?}"
    );

    // The requester approving their own void: a manager asks, then tries.
    let own_shipment = a_shipment(&*app.store, 202).await;
    let own = request_void(&app, boss, own_shipment).await;
    let list = get(&app, boss, "/shipping/voids").await;
    assert_eq!(list.status(), StatusCode::OK);
    let html = list.text().await.unwrap();
    assert!(
        !html.contains(&format!("/shipping/voids/{own}/approve")),
        "no approve button on one's own request"
    );
    let res = approve(&app, boss, own).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(html.contains("another manager decides"), "{html}");
    let asked = post(&app, boss, &format!("/shipping/voids/{own}/approve"), &[]).await;
    assert_eq!(asked.status(), StatusCode::FORBIDDEN, "not even asked");
    let b = current(&app, boss).await;
    let e = centre::decide_void(&app.services, &b, loopback(), own, true)
        .await
        .unwrap_err();
    assert!(
        matches!(e, CentreError::Refused(Decision::DenyOwnRequest)),
        "{e:?}"
    );
    let e = centre::decide_void(&app.services, &b, loopback(), own, false)
        .await
        .unwrap_err();
    assert!(matches!(e, CentreError::Refused(Decision::DenyOwnRequest)));
    assert!(refusals(&entries(&app).await, boss.id, "own_request") >= 3);
    let still = app
        .store
        .centre()
        .find_void_request(own)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.status, VoidStatus::Pending);

    // Another manager approves the worker's request, asked first.
    let ask = post(
        &app,
        second,
        &format!("/shipping/voids/{request}/approve"),
        &[],
    )
    .await;
    assert_eq!(ask.status(), StatusCode::OK);
    let html = ask.text().await.unwrap();
    assert!(html.contains("label torn") && html.contains(&shipment.to_string()));
    assert_eq!(
        app.store
            .centre()
            .find_void_request(request)
            .await
            .unwrap()
            .unwrap()
            .status,
        VoidStatus::Pending,
        "asking changes nothing"
    );
    let res = approve(&app, second, request).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(flash(&res), "void_approved");
    // Twice: counted once.
    let again = approve(&app, second, request).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(flash(&again), "void_already");
    let s = current(&app, second).await;
    let d = centre::decide_void(&app.services, &s, loopback(), request, true)
        .await
        .unwrap();
    assert!(d.already);
    // Decided: no rejecting it now, by anyone.
    let reject = post(
        &app,
        second,
        &format!("/shipping/voids/{request}/reject"),
        &[("confirm", "1")],
    )
    .await;
    assert_eq!(reject.status(), StatusCode::CONFLICT);
    let e = centre::decide_void(&app.services, &b, loopback(), request, true)
        .await
        .unwrap_err();
    assert!(matches!(e, CentreError::VoidDecided), "{e:?}");
    let r = app
        .store
        .centre()
        .find_void_request(request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, VoidStatus::Approved);
    assert_eq!(r.decided_by, Some(second.id));
    // The approval voided the drop-off code in the same commit: the
    // shipment is on its next code (once, however often approved).
    let voided = app
        .store
        .shipping()
        .shipment(shipment)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(voided.generation, 1, "one void, one new code");
    let untouched = app
        .store
        .shipping()
        .shipment(own_shipment)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.generation, 0, "a pending request voids nothing");

    // Every step is in the audit log: the request by the worker, one
    // approval by the second manager, naming the shipment and shifts.
    let log = entries(&app).await;
    let of = |action: AuditAction| -> Vec<&StoredAuditEntry> {
        log.iter()
            .filter(|e| {
                e.entry.action == action
                    && e.entry.target.as_ref().is_some_and(|t| {
                        t.kind == TargetKind::Shipment && t.id == shipment.to_string()
                    })
            })
            .collect()
    };
    let requested = of(AuditAction::VoidRequested);
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].entry.actor, Actor::Staff(worker.id.as_uuid()));
    let approved = of(AuditAction::VoidApproved);
    assert_eq!(approved.len(), 1, "a second approval counts once");
    assert_eq!(approved[0].entry.actor, Actor::Staff(second.id.as_uuid()));
    let details = approved[0].entry.details.as_deref().unwrap();
    let sh = app
        .store
        .centre()
        .open_shift_of(second.id)
        .await
        .unwrap()
        .unwrap();
    assert!(details.contains(&sh.id.to_string()), "{details}");
    assert!(details.contains(&t[2].to_string()), "{details}");
    assert!(
        !details.contains("label torn"),
        "the reason stays out of the log"
    );
    assert!(of(AuditAction::VoidRejected).is_empty());
    assert_eq!(
        log.iter()
            .filter(|e| e.entry.action == AuditAction::ShiftCheckedIn)
            .count(),
        3
    );
}

/// Acceptance 5 (C20): with the shipping area's allowlist set to another
/// network, a shipping worker on the loopback gets a bare refusal on
/// every shipping route (no console page), while home still answers.
async fn c20_an_address_outside_the_shipping_allowlist_gets_nothing(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.staff.areas.insert(
            "shipping".into(),
            anshin_core::staff::AreaSettings {
                allowed_networks: vec!["10.0.0.0/8".parse().unwrap()],
            },
        );
    })
    .await;
    let ps = people(&app, &[("worker@example.jp", StaffRole::ShippingWorker)]).await;
    let worker = &ps[0];
    assert_eq!(get(&app, worker, "/").await.status(), StatusCode::OK);
    for route in console::routes().entries() {
        if !route.path.starts_with("/shipping") {
            continue;
        }
        let path = route
            .path
            .replace("{id}", &uuid::Uuid::now_v7().to_string());
        let res = if route.method == anshin_testkit::reqwest::Method::GET {
            get(&app, worker, &path).await
        } else {
            post(&app, worker, &path, &[("confirm", "1")]).await
        };
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{} {path}",
            route.method
        );
        let body = res.text().await.unwrap();
        assert!(body.is_empty(), "nothing but the status: {body}");
    }
    assert!(
        app.store
            .centre()
            .list_terminals()
            .await
            .unwrap()
            .is_empty()
    );
}

/// Acceptance 5 (C21, C24): a worker whose account is disabled mid-shift
/// is out at the next request (staff sessions are read from the database
/// on every request and a disabled account's are gone), and the shift
/// ends with the account, so the terminal is free and the log says why.
async fn c24_a_worker_disabled_mid_shift_is_out_at_the_next_request(b: Backend) {
    let app = TestApp::spawn(b).await;
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
    assert_eq!(
        get(&app, worker, "/shipping/voids/new").await.status(),
        StatusCode::OK
    );
    anshin_core::staff::disable(&app.services, worker.id)
        .await
        .unwrap();
    let res = get(&app, worker, "/shipping/voids/new").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    let res = post(
        &app,
        worker,
        "/shipping/voids/new",
        &[
            ("shipment", &uuid::Uuid::now_v7().to_string()),
            ("reason", "x"),
            ("confirm", "1"),
        ],
    )
    .await;
    assert!(
        res.status() == StatusCode::SEE_OTHER || res.status() == StatusCode::FORBIDDEN,
        "{}",
        res.status()
    );
    assert!(
        app.store
            .centre()
            .list_void_requests(VoidStatus::Pending, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let log = app.store.centre().list_shifts(10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].end, Some(ShiftEnd::StaffDisabled));
    let terminal = app.store.centre().find_terminal(t).await.unwrap().unwrap();
    assert_eq!(terminal.checked_out_to, None, "the terminal is free again");
    // Nor can the account log in again (with a fresh code).
    app.clock.advance(31 * anshin_testkit::SECOND);
    let now = {
        use anshin_core::clock::Clock as _;
        app.clock.now()
    };
    let again = post_form(
        &app,
        "/login",
        None,
        &[
            ("email", worker.email.as_str()),
            ("code", &crate::staff::code(&worker.secret, now)),
        ],
    )
    .await;
    assert_ne!(again.status(), StatusCode::SEE_OTHER);
}

/// Acceptance 3 (C24): outside a shift, or from a sign-in that did not
/// check the terminal out, the console refuses shipping work (sent to the
/// shift page, recorded); after check-out too. A second sign-in may move
/// the shift to itself (recorded), after which the first is off shift.
async fn c24_outside_a_shift_or_from_another_sign_in_the_console_refuses(b: Backend) {
    let app = TestApp::spawn(b).await;
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
    let shipment = uuid::Uuid::now_v7().to_string();
    let work = [
        ("shipment", shipment.as_str()),
        ("reason", "torn"),
        ("confirm", "1"),
    ];

    // Off shift: every shift-bound route sends to the shift page.
    let gets = ["/shipping/voids/new", "/shipping/voids"];
    for path in gets {
        let p = if path == "/shipping/voids" {
            boss
        } else {
            worker
        };
        let res = get(&app, p, path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&res), "/shipping/shift");
        assert_eq!(flash(&res), "shift_needed");
    }
    let res = post(&app, worker, "/shipping/voids/new", &work).await;
    assert_eq!(location(&res), "/shipping/shift");
    let res = post(&app, worker, "/shipping/shift/end", &[("confirm", "1")]).await;
    assert_eq!(location(&res), "/shipping/shift");
    assert!(refusals(&entries(&app).await, worker.id, "no_open_shift") >= 2);
    // The core refuses on its own too.
    let w = current(&app, worker).await;
    let e = centre::request_void(&app.services, &w, loopback(), &shipment, "torn")
        .await
        .unwrap_err();
    assert!(
        matches!(e, CentreError::Refused(Decision::DenyNoShift)),
        "{e:?}"
    );

    // On shift from this sign-in: allowed.
    checked_in(&app, worker, t).await;
    let page = get(&app, worker, "/shipping/shift").await;
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("On shift on terminal T-1")
    );

    // Another sign-in of the same worker (another machine) is not on the
    // checked-out terminal (a code of the next step: each works once).
    app.clock.advance(31 * anshin_testkit::SECOND);
    let other = Person {
        id: worker.id,
        cookie: login(&app, &worker.email, &worker.secret).await,
        secret: worker.secret.clone(),
        email: worker.email.clone(),
    };
    let res = get(&app, &other, "/shipping/voids/new").await;
    assert_eq!(location(&res), "/shipping/shift");
    let res = post(&app, &other, "/shipping/voids/new", &work).await;
    assert_eq!(location(&res), "/shipping/shift");
    let o = current(&app, &other).await;
    let e = centre::request_void(&app.services, &o, loopback(), &shipment, "torn")
        .await
        .unwrap_err();
    assert!(matches!(e, CentreError::Refused(Decision::DenyNoShift)));
    // It cannot check in a second shift either.
    let t2 = register(&app, boss, "T-2").await;
    let res = check_in(&app, &other, t2).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        app.store
            .centre()
            .list_void_requests(VoidStatus::Pending, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing was requested off the terminal"
    );
    // The first sign-in works.
    assert_eq!(
        get(&app, worker, "/shipping/voids/new").await.status(),
        StatusCode::OK
    );
    // Moving the shift to the second sign-in: recorded; the first is off.
    let page = get(&app, &other, "/shipping/shift").await;
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Continue my shift here")
    );
    let res = post(&app, &other, "/shipping/shift", &[("resume", "1")]).await;
    assert_eq!(flash(&res), "shift_resumed");
    assert_eq!(
        get(&app, &other, "/shipping/voids/new").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        location(&get(&app, worker, "/shipping/voids/new").await),
        "/shipping/shift"
    );
    assert_eq!(
        entries(&app)
            .await
            .iter()
            .filter(|e| e.entry.action == AuditAction::ShiftResumed)
            .count(),
        1
    );

    // Check out (asked first): then refused again.
    let ask = post(&app, &other, "/shipping/shift/end", &[]).await;
    assert_eq!(ask.status(), StatusCode::OK);
    assert!(ask.text().await.unwrap().contains("return terminal T-1"));
    assert!(
        app.store
            .centre()
            .open_shift_of(worker.id)
            .await
            .unwrap()
            .is_some()
    );
    let res = post(&app, &other, "/shipping/shift/end", &[("confirm", "1")]).await;
    assert_eq!(flash(&res), "checked_out");
    assert_eq!(
        location(&get(&app, &other, "/shipping/voids/new").await),
        "/shipping/shift"
    );
    let log = app.store.centre().list_shifts(10).await.unwrap();
    assert_eq!(log[0].end, Some(ShiftEnd::CheckedOut));
    let out = entries(&app).await;
    let ended: Vec<_> = out
        .iter()
        .filter(|e| e.entry.action == AuditAction::ShiftCheckedOut)
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].entry.actor, Actor::Staff(worker.id.as_uuid()));
}

/// C24: the managers' registry and the shift log. A manager registers
/// (a duplicate label is refused in words), a checked-out terminal cannot
/// be retired, a retired one cannot be checked out, a worker sees neither
/// page; the shift log names the terminal, from and to.
async fn c24_managers_keep_the_terminal_registry_and_read_the_shift_log(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ps = people(
        &app,
        &[
            ("boss@example.jp", StaffRole::ShippingManager),
            ("worker@example.jp", StaffRole::ShippingWorker),
            ("other@example.jp", StaffRole::ShippingWorker),
        ],
    )
    .await;
    let (boss, worker, other) = (&ps[0], &ps[1], &ps[2]);
    let t1 = register(&app, boss, "T-1").await;
    let dup = post(
        &app,
        boss,
        "/shipping/terminals",
        &[("label", "T-1"), ("serial", "another")],
    )
    .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert!(dup.text().await.unwrap().contains("registered already"));
    let empty = post(
        &app,
        boss,
        "/shipping/terminals",
        &[("label", " "), ("serial", "x")],
    )
    .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for path in ["/shipping/terminals", "/shipping/shifts"] {
        assert_eq!(
            get(&app, worker, path).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let res = post(
        &app,
        worker,
        "/shipping/terminals",
        &[("label", "T-9"), ("serial", "x")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    checked_in(&app, worker, t1).await;
    // Taken: another worker cannot check it out.
    let taken = check_in(&app, other, t1).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    // In use: not retired.
    let path = format!("/shipping/terminals/{t1}/retire");
    let res = post(&app, boss, &path, &[("confirm", "1")]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = post(&app, worker, "/shipping/shift/end", &[("confirm", "1")]).await;
    assert_eq!(flash(&res), "checked_out");
    let ask = post(&app, boss, &path, &[]).await;
    assert_eq!(ask.status(), StatusCode::OK, "asked first");
    assert!(ask.text().await.unwrap().contains("Retire terminal T-1"));
    let res = post(&app, boss, &path, &[("confirm", "1")]).await;
    assert_eq!(flash(&res), "terminal_retired");
    let res = check_in(&app, other, t1).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        app.store
            .centre()
            .open_shift_of(other.id)
            .await
            .unwrap()
            .is_none()
    );

    let log = get(&app, boss, "/shipping/shifts").await;
    assert_eq!(log.status(), StatusCode::OK);
    let html = log.text().await.unwrap();
    assert!(
        html.contains("T-1") && html.contains("checked out"),
        "{html}"
    );
    let full = worker.id.to_string();
    let short = &full[full.len() - 12..];
    assert!(html.contains(short), "{html}");
    let log = entries(&app).await;
    for action in [
        AuditAction::TerminalRegistered,
        AuditAction::TerminalRetired,
    ] {
        assert!(
            log.iter().any(|e| e.entry.action == action
                && e.entry.actor == Actor::Staff(boss.id.as_uuid())
                && e.entry
                    .target
                    .as_ref()
                    .is_some_and(|t| t.kind == TargetKind::Terminal)),
            "{action:?}"
        );
    }
}

/// C24: check-ins racing in the console (as from two instances of the
/// app, which share only the database): of many workers checking out one
/// terminal at the same moment, exactly one gets it, the rest are told.
async fn c24_racing_check_ins_in_the_console_give_one_terminal_to_one_worker(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut who = vec![("boss@example.jp".to_owned(), StaffRole::ShippingManager)];
    for i in 0..4 {
        who.push((format!("w{i}@example.jp"), StaffRole::ShippingWorker));
    }
    let refs: Vec<(&str, StaffRole)> = who.iter().map(|(e, r)| (e.as_str(), *r)).collect();
    let ps = people(&app, &refs).await;
    let t = register(&app, &ps[0], "T-1").await;
    let results =
        futures_util::future::join_all(ps[1..].iter().map(|p| check_in(&app, p, t))).await;
    let statuses: Vec<_> = results.iter().map(Response::status).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::SEE_OTHER)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        3,
        "{statuses:?}"
    );
    let open: Vec<_> = app
        .store
        .centre()
        .list_shifts(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.is_open())
        .collect();
    assert_eq!(open.len(), 1);
}

/// C25 with the shipments: a void can only be asked for a waybill that
/// exists; an approval voids the live drop-off code in the same commit,
/// and when the parcel was accepted before the manager decides, the
/// approval is refused whole (no decision recorded, no code issued).
async fn c25_a_void_names_a_real_waybill_and_dies_with_an_accepted_parcel(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ps = people(
        &app,
        &[
            ("boss@example.jp", StaffRole::ShippingManager),
            ("worker@example.jp", StaffRole::ShippingWorker),
        ],
    )
    .await;
    let (boss, worker) = (&ps[0], &ps[1]);
    let t1 = register(&app, boss, "T-1").await;
    let t2 = register(&app, boss, "T-2").await;
    checked_in(&app, boss, t1).await;
    checked_in(&app, worker, t2).await;
    let w = current(&app, worker).await;
    let unknown = ShipmentId::from_uuid(uuid::Uuid::now_v7()).to_string();
    let e = centre::request_void(&app.services, &w, loopback(), &unknown, "torn")
        .await
        .unwrap_err();
    assert!(matches!(e, CentreError::BadShipment), "{e:?}");

    let seed = 203;
    let shipment = a_shipment(&*app.store, seed).await;
    let request = request_void(&app, worker, shipment).await;
    // The parcel is accepted at the counter before the manager decides.
    app.store
        .commit(
            &anshin_store::Changes::new().with(anshin_store::Write::AcceptDropoff {
                code_hash: [seed; 32],
                shipment,
                event: anshin_domain::ParcelEventId::from_uuid(uuid::Uuid::now_v7()),
                at: app.services.now(),
            }),
        )
        .await
        .unwrap();
    let m = current(&app, boss).await;
    let e = centre::decide_void(&app.services, &m, loopback(), request, true)
        .await
        .unwrap_err();
    assert!(matches!(e, CentreError::CodeNotLive), "{e:?}");
    let r = app
        .store
        .centre()
        .find_void_request(request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, VoidStatus::Pending, "nothing was decided");
    let s = app
        .store
        .shipping()
        .shipment(shipment)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.generation, 0, "no new code was issued");
    // Rejecting it is still possible (it voids nothing).
    let d = centre::decide_void(&app.services, &m, loopback(), request, false)
        .await
        .unwrap();
    assert_eq!(d.status, VoidStatus::Rejected);
}

/// C24: a manager ends another worker's forgotten open shift (asked
/// first): the worker is off shift at the next request, the terminal is
/// free again, the shift log says who ended it, and one audit entry
/// names the manager, the shift and the worker. A worker cannot; a
/// manager's own shift is ended by checking out; a shift ended already is
/// not ended again.
async fn c24_a_manager_ends_a_forgotten_shift_and_it_is_recorded(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ps = people(
        &app,
        &[
            ("boss@example.jp", StaffRole::ShippingManager),
            ("worker@example.jp", StaffRole::ShippingWorker),
        ],
    )
    .await;
    let (boss, worker) = (&ps[0], &ps[1]);
    let t1 = register(&app, boss, "T-1").await;
    checked_in(&app, worker, t1).await;
    let shift = app
        .store
        .centre()
        .open_shift_of(worker.id)
        .await
        .unwrap()
        .unwrap();
    let fields = [
        ("staff", worker.id.to_string()),
        ("shift", shift.id.to_string()),
    ];
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // A worker cannot.
    let res = post(&app, worker, "/shipping/shifts/end", &form).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The shift log offers it for the open shift; asked first.
    let log = get(&app, boss, "/shipping/shifts")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        log.contains(&format!(r#"name="shift" value="{}""#, shift.id)),
        "{log}"
    );
    assert!(log.contains("End this shift"));
    let ask = post(&app, boss, "/shipping/shifts/end", &form).await;
    assert_eq!(ask.status(), StatusCode::OK);
    let html = ask.text().await.unwrap();
    assert!(html.contains("terminal T-1"), "{html}");
    assert!(html.contains(r#"name="confirm" value="1""#));
    assert!(
        app.store
            .centre()
            .open_shift_of(worker.id)
            .await
            .unwrap()
            .is_some()
    );

    let mut confirmed = form.clone();
    confirmed.push(("confirm", "1"));
    let res = post(&app, boss, "/shipping/shifts/end", &confirmed).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/shipping/shifts");
    assert_eq!(flash(&res), "shift_ended");
    assert!(
        app.store
            .centre()
            .open_shift_of(worker.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.store.centre().list_shifts(10).await.unwrap()[0].end,
        Some(ShiftEnd::EndedByManager)
    );
    // The worker is off shift at the next request.
    let res = get(&app, worker, "/shipping/voids/new").await;
    assert_eq!(location(&res), "/shipping/shift");
    let log = get(&app, boss, "/shipping/shifts")
        .await
        .text()
        .await
        .unwrap();
    assert!(log.contains("ended by a manager"), "{log}");

    // One entry naming the manager, the shift and the worker.
    let all = entries(&app).await;
    let ended: Vec<_> = all
        .iter()
        .filter(|e| e.entry.action == AuditAction::ShiftEndedByManager)
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].entry.actor, Actor::Staff(boss.id.as_uuid()));
    let details = ended[0].entry.details.clone().unwrap();
    assert!(details.contains(&shift.id.to_string()) && details.contains(&worker.id.to_string()));

    // Not again.
    let res = post(&app, boss, "/shipping/shifts/end", &confirmed).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // Not one's own.
    let t2 = register(&app, boss, "T-2").await;
    checked_in(&app, boss, t2).await;
    let mine = app
        .store
        .centre()
        .open_shift_of(boss.id)
        .await
        .unwrap()
        .unwrap();
    let m = current(&app, boss).await;
    let e = centre::end_others_shift(&app.services, &m, loopback(), boss.id, mine.id)
        .await
        .unwrap_err();
    assert!(matches!(e, CentreError::OwnShift), "{e:?}");
    // The terminal is free again.
    checked_in(&app, worker, t1).await;
    assert_eq!(
        entries(&app)
            .await
            .iter()
            .filter(|e| e.entry.action == AuditAction::ShiftEndedByManager)
            .count(),
        1
    );
}

backends!(
    c24_a_manager_ends_a_forgotten_shift_and_it_is_recorded,
    c25_a_void_needs_a_manager_other_than_the_requester,
    c25_a_void_names_a_real_waybill_and_dies_with_an_accepted_parcel,
    c20_an_address_outside_the_shipping_allowlist_gets_nothing,
    c24_a_worker_disabled_mid_shift_is_out_at_the_next_request,
    c24_outside_a_shift_or_from_another_sign_in_the_console_refuses,
    c24_managers_keep_the_terminal_registry_and_read_the_shift_log,
    c24_racing_check_ins_in_the_console_give_one_terminal_to_one_worker,
);

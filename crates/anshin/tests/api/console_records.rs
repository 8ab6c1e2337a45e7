//! Support's view of a member's personal data and the security role's view
//! of the audit log in the staff console (issue 14: acceptance 5, C22,
//! C26, C27), and the log retention job (C26) with a moved clock. Every
//! test runs on SQLite and PostgreSQL.

use std::sync::Arc;

use anshin_core::audit::AuditAction;
use anshin_core::clock::Clock as _;
use anshin_core::member_data::{PhoneNumber, RawAddress, ShippingAddress};
use anshin_domain::{EmailAddress, MemberId, StaffRole};
use anshin_store::Actor;
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, SECOND, TestApp, backends};

use crate::audit::{cli, entries, exec, spawn};
use crate::staff::{code, csrf_of, enrolled, login, post_form};

const EMAIL: &str = "viewed@example.jp";
const PHONE: &str = "090-1234-5678";
const RECIPIENT: &str = "山田 花子";
const LINE1: &str = "千代田1-1";

async fn member_id(app: &TestApp, email: &str) -> MemberId {
    app.store
        .accounts()
        .find_member_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// A member with a phone and a shipping address (sealed by the core).
async fn member_with_data(app: &TestApp) -> MemberId {
    app.sign_up(EMAIL, "Viewed", 0).await;
    let member = member_id(app, EMAIL).await;
    anshin_core::member_data::set_phone(&app.services, member, &PhoneNumber::parse(PHONE).unwrap())
        .await
        .unwrap();
    let address = ShippingAddress::parse(RawAddress {
        recipient_name: RECIPIENT.into(),
        postal_code: "100-0001".into(),
        prefecture: "東京都".into(),
        city: "千代田区".into(),
        line1: LINE1.into(),
        line2: None,
        phone: None,
    })
    .unwrap();
    anshin_core::member_data::add_address(&app.services, member, &address, true)
        .await
        .unwrap();
    member
}

async fn view(app: &TestApp, cookie: &str, lookup: &str) -> Response {
    let csrf = csrf_of(cookie);
    post_form(
        app,
        "/members",
        Some(cookie),
        &[("csrf_token", &csrf), ("lookup", lookup)],
    )
    .await
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> Response {
    app.client
        .get(app.staff_url(path))
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
}

fn staff_uuid(app_entries: &[anshin_store::StoredAuditEntry]) -> Option<uuid::Uuid> {
    app_entries.iter().rev().find_map(|e| match e.entry.actor {
        Actor::Staff(id) if e.entry.action == AuditAction::StaffLogin => Some(id),
        _ => None,
    })
}

/// Acceptance 5: a support view of a member's personal data writes
/// exactly one audit entry (who, which member, the policy's reason) before
/// the data is shown; with the audit write made to fail the view is
/// refused and shows no personal data; a role without the permission gets
/// 403; a stale second factor is sent to step up.
async fn c22_a_staff_view_of_member_data_is_audited_once_or_refused(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    let app = spawn(b, witness.path()).await;
    let member = member_with_data(&app).await;
    let secret = enrolled(&app, "support@example.jp", StaffRole::Support).await;
    let cookie = login(&app, "support@example.jp", &secret).await;
    let support = staff_uuid(&entries(&app).await).unwrap();

    // The form: an e-mail is typed into it, never put in a URL.
    let form = get(&app, &cookie, "/members").await;
    assert_eq!(form.status(), StatusCode::OK);
    let html = form.text().await.unwrap();
    assert!(
        html.contains("method=\"post\" action=\"/members\""),
        "{html}"
    );

    // One view by e-mail: one entry, then the data.
    let before = entries(&app).await.len();
    let res = view(&app, &cookie, EMAIL).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    for shown in [EMAIL, PHONE, RECIPIENT, LINE1, &member.to_string()] {
        assert!(html.contains(shown), "{shown} shown: {html}");
    }
    let all = entries(&app).await;
    assert_eq!(all.len(), before + 1, "exactly one new entry per view");
    let e = &all[before].entry;
    assert_eq!(e.action, AuditAction::MemberDataViewed);
    assert_eq!(e.actor, Actor::Staff(support));
    let target = e.target.as_ref().unwrap();
    assert_eq!(target.id, member.to_string());
    assert_eq!(e.reason, "policy_allow");
    assert_eq!(e.origin.as_deref(), Some("127.0.0.0/24"));
    let details = e.details.as_deref().unwrap();
    assert!(
        !details.contains(EMAIL) && !details.contains("1234"),
        "{details}"
    );

    // By member id: one more.
    let res = view(&app, &cookie, &member.to_string()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains(PHONE));
    assert_eq!(entries(&app).await.len(), before + 2);

    // Nobody by that address: nothing shown, but the miss is recorded
    // (how it was looked up, never the address).
    let res = view(&app, &cookie, "nobody@example.jp").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let log = entries(&app).await;
    assert_eq!(log.len(), before + 3);
    let miss = &log[log.len() - 1].entry;
    assert_eq!(miss.action, AuditAction::MemberLookupMissed);
    assert_eq!(miss.details.as_deref(), Some("{\"by\":\"email\"}"));

    // The audit write fails: the view is refused, no personal data.
    let refuse = match b {
        Backend::Sqlite => {
            "CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_entries \
                            BEGIN SELECT RAISE(ABORT, 'audit refused'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION audit_test_refuse() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END; $$; \
             CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_entries \
             FOR EACH ROW EXECUTE FUNCTION audit_test_refuse();"
        }
    };
    exec(&app, refuse).await.unwrap();
    let res = view(&app, &cookie, EMAIL).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"view-refused\""),
        "says it was refused: {html}"
    );
    for hidden in [EMAIL, PHONE, RECIPIENT, LINE1, "Viewed"] {
        assert!(!html.contains(hidden), "{hidden} not shown: {html}");
    }
    let drop = match b {
        Backend::Sqlite => "DROP TRIGGER audit_test_refuse;",
        Backend::Postgres => "DROP TRIGGER audit_test_refuse ON audit_entries;",
    };
    exec(&app, drop).await.unwrap();
    assert_eq!(entries(&app).await.len(), before + 3, "nothing recorded");

    // A role without the permission: 403, nothing shown, nothing viewed.
    let admin = enrolled(&app, "admin@example.jp", StaffRole::Admin).await;
    let admin = login(&app, "admin@example.jp", &admin).await;
    let res = view(&app, &admin, EMAIL).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!res.text().await.unwrap().contains(PHONE));
    assert_eq!(
        get(&app, &admin, "/members").await.status(),
        StatusCode::FORBIDDEN
    );
    let views = |all: &[anshin_store::StoredAuditEntry]| {
        all.iter()
            .filter(|e| e.entry.action == AuditAction::MemberDataViewed)
            .count()
    };
    assert_eq!(views(&entries(&app).await), 2);

    // A stale second factor: sent to step up, nothing viewed.
    app.clock.advance(301 * SECOND);
    let res = view(&app, &cookie, EMAIL).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/step-up");
    assert_eq!(views(&entries(&app).await), 2);
    let now = app.clock.now();
    let up = post_form(
        &app,
        "/step-up",
        Some(&cookie),
        &[
            ("csrf_token", &csrf_of(&cookie)),
            ("code", &code(&secret, now)),
        ],
    )
    .await;
    assert_eq!(up.status(), StatusCode::SEE_OTHER);
    assert_eq!(view(&app, &cookie, EMAIL).await.status(), StatusCode::OK);
    assert_eq!(views(&entries(&app).await), 3);

    // The log still verifies.
    let (ok, out) = cli(&app, witness.path(), &["audit", "verify"]);
    assert!(ok, "{out}");
    app.stop().await;
}

fn rows(html: &str) -> usize {
    html.matches("<tr>").count().saturating_sub(1)
}

/// The console shows the audit log to the security role, filtered by
/// person, record and time, a page at a time; support gets 403; the
/// details are not shown.
async fn c22_security_reads_the_audit_log_filtered_and_paginated(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    let app = spawn(b, witness.path()).await;
    let viewed = member_with_data(&app).await;
    app.sign_up("other@example.jp", "Other", 0).await;
    let other = member_id(&app, "other@example.jp").await;
    let s = enrolled(&app, "support@example.jp", StaffRole::Support).await;
    let support = login(&app, "support@example.jp", &s).await;
    assert_eq!(view(&app, &support, EMAIL).await.status(), StatusCode::OK);
    assert_eq!(
        get(&app, &support, "/audit").await.status(),
        StatusCode::FORBIDDEN
    );

    let s = enrolled(&app, "security@example.jp", StaffRole::Security).await;
    let security = login(&app, "security@example.jp", &s).await;
    let res = get(&app, &security, "/audit").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("member_data_viewed"), "{html}");
    assert!(html.contains("staff_login"), "{html}");
    assert!(html.contains("Audit log"), "English: {html}");
    // Details are not shown in clear; personal data nowhere.
    assert!(html.contains("kept (not shown)"), "{html}");
    for hidden in [EMAIL, PHONE, RECIPIENT, "\"by\"", "support@example.jp"] {
        assert!(!html.contains(hidden), "{hidden} not shown");
    }
    // Japanese too.
    let ja = app
        .client
        .get(app.staff_url("/audit"))
        .header(header::COOKIE, &security)
        .header(header::ACCEPT_LANGUAGE, "ja")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ja.contains("監査ログ"), "{ja}");

    // By person: the viewed member's sign-up login and support's view of them.
    let html = get(&app, &security, &format!("/audit?person={viewed}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&html), 2, "{html}");
    assert!(html.contains("login_succeeded") && html.contains("member_data_viewed"));
    assert!(!html.contains(&other.to_string()));
    // By record: the other member's login only.
    let html = get(&app, &security, &format!("/audit?record={other}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rows(&html), 1, "{html}");
    assert!(html.contains(&other.to_string()));
    // By time: the test clock starts on 2026-01-01 (UTC).
    let html = get(&app, &security, "/audit?until=2025-12-31")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"audit-none\""), "{html}");
    let html = get(
        &app,
        &security,
        &format!("/audit?person={viewed}&since=2026-01-01&until=2026-01-01"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(rows(&html), 2, "{html}");
    // A filter that is not an id is refused (no e-mail reaches the log).
    let res = get(&app, &security, "/audit?person=viewed%40example.jp").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        !entries(&app).await.iter().any(|e| e
            .entry
            .details
            .as_deref()
            .is_some_and(|d| d.contains('@'))),
        "no e-mail in any details"
    );

    // Pages of 50, newest first: each reading of the log is an entry too.
    for _ in 0..50 {
        assert_eq!(
            get(&app, &security, "/audit").await.status(),
            StatusCode::OK
        );
    }
    let total = entries(&app).await.len();
    let html = get(&app, &security, "/audit").await.text().await.unwrap();
    assert_eq!(rows(&html), 50);
    assert!(
        html.contains(&format!("<td data-label=\"No.\">{total}</td>")),
        "newest first"
    );
    let start = html
        .find("href=\"/audit?")
        .expect("a link to older entries");
    let href = &html[start + 6..];
    let href = href[..href.find('"').unwrap()]
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let older = get(&app, &security, &href).await.text().await.unwrap();
    let n = rows(&older);
    assert_eq!(n, (total + 1).saturating_sub(50).min(50), "{href}");
    assert!(older.contains("<td data-label=\"No.\">0</td>") || n == 50);
    app.stop().await;
}

/// C26: the retention job on the runner (with its lease) deletes login
/// history and audit details past their periods, with a moved clock:
/// nothing before, exactly the old rows after; the log still verifies.
async fn c26_retention_deletes_exactly_what_is_past_its_period(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    let app = spawn(b, witness.path()).await;
    let settings = anshin_core::retention::RetentionSettings {
        login_history_days: 30,
        audit_details_days: 60,
        every_secs: 3600,
    };
    let job = anshin_core::retention::RetentionJob {
        svc: app.services.clone(),
        settings: settings.clone(),
        lease: anshin_domain::Duration::from_secs(60),
    };
    let runner = anshin_core::jobs::Runner::new(
        app.store.clone(),
        Arc::new(app.clock.clone()),
        "retention-test",
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let day = 86_400 * SECOND;
    let events = |m: MemberId| {
        let app = &app;
        async move {
            app.store
                .accounts()
                .list_login_events(m, 100, 0)
                .await
                .unwrap()
                .len()
        }
    };
    let kept = |all: &[anshin_store::StoredAuditEntry]| {
        all.iter().filter(|e| e.entry.details.is_some()).count()
    };

    app.sign_up("old@example.jp", "Old", 0).await;
    let old = member_id(&app, "old@example.jp").await;
    app.clock.advance(20 * day);
    app.sign_up("new@example.jp", "New", 0).await;
    let new = member_id(&app, "new@example.jp").await;
    let first = entries(&app).await;
    assert_eq!((events(old).await, events(new).await), (1, 1));
    assert_eq!(kept(&first), first.len());

    // Day 29 for the old login: nothing is past its period.
    app.clock.advance(9 * day);
    runner.tick(&job, &stop).await;
    assert_eq!((events(old).await, events(new).await), (1, 1));
    assert_eq!(
        entries(&app).await,
        first,
        "nothing deleted, nothing recorded"
    );

    // Day 31: the old login history goes, the newer stays; details stay.
    app.clock.advance(2 * day);
    runner.tick(&job, &stop).await;
    assert_eq!((events(old).await, events(new).await), (0, 1));
    let second = entries(&app).await;
    assert_eq!(second.len(), first.len() + 1, "the purge is recorded");
    let purge = &second.last().unwrap().entry;
    assert_eq!(purge.action, AuditAction::AuditDetailsPurged);
    assert_eq!(kept(&second), second.len());

    // Day 61: details older than 60 days go (the first sign-up's entry);
    // every entry stays, and the chain still verifies.
    app.clock.advance(30 * day);
    runner.tick(&job, &stop).await;
    let third = entries(&app).await;
    for e in &third {
        let past = app.clock.now().since(e.entry.at) > 60 * day;
        assert_eq!(
            e.entry.details.is_none(),
            past,
            "entry {} ({:?})",
            e.index,
            e.entry.action
        );
    }
    assert!(third.iter().any(|e| e.entry.details.is_none()));
    assert_eq!(events(new).await, 0, "the newer login is past 30 days now");
    let (ok, out) = cli(&app, witness.path(), &["audit", "verify"]);
    assert!(ok, "verify passes after the purge: {out}");
    assert!(out.contains("audit verify passed"), "{out}");
    app.stop().await;
}

backends!(
    c22_a_staff_view_of_member_data_is_audited_once_or_refused,
    c22_security_reads_the_audit_log_filtered_and_paginated,
    c26_retention_deletes_exactly_what_is_past_its_period,
);

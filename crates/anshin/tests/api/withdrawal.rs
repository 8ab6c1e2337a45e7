//! Withdrawal (issue 16, C18; ADR 0021), over real HTTPS with localstripe
//! paying, on SQLite and PostgreSQL:
//!
//! - what waits: the buyer of an open order, and the seller with an open
//!   sale and an unpaid balance, cannot leave (the page says why; a post
//!   anyway is refused and deletes nothing);
//! - a stale login needs a fresh e-mail code first, and the box must be
//!   ticked (the page asks before destroying);
//! - acceptance 5: afterwards the e-mail address signs up afresh as a new
//!   person, no page or API returns the old data, the member's data key is
//!   gone, and a copy of the database taken before no longer opens their
//!   data with the current key ring once the KEK it names is rotated away
//!   and retired (ADR 0006's schedule after shredding);
//! - acceptance 2 for withdrawn records: the member's e-mail address,
//!   name and old ciphertexts are in neither the SQLite file and its WAL
//!   nor a `pg_dump`, nor the logs or metrics; the audit chain verifies.

use std::sync::LazyLock;

use anshin_core::i18n::{Catalog, Catalogs, Lang};
use anshin_core::keys::Keys;
use anshin_core::random::Random;
use anshin_core::shipping;
use anshin_core::withdrawal::{self, Wait};
use anshin_domain::{EmailAddress, ParcelEventKind};
use anshin_store::audit::{AuditAction, AuditTarget};
use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, captured_logs};
use serde_json::Value;

use crate::audit::{cli, entries};
use crate::commerce::{expect, send};
use crate::member_data::{contains, database_bytes, encodings, fetch_blob};
use crate::member_pages::{csrf_token, field_value, mail_with_subject, page, post_form};
use crate::shipping::{Sale, code_of};

backends!(
    c18_withdrawal_waits_for_open_orders_and_needs_a_fresh_code,
    c18_a_withdrawn_member_is_erased_everywhere_and_the_address_signs_up_anew,
    c18_withdrawal_journey_asks_then_erases_in_a_browser,
    c18_support_withdraws_a_member_on_request_with_step_up,
    c18_the_member_is_told_by_mail_that_their_account_was_deleted,
);

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| Catalogs::load().unwrap());

fn ja() -> &'static Catalog {
    CATALOGS.get(Lang::Ja)
}

const BUYER: &str = "buyer@example.jp";
const BUYER_NAME: &str = "買う人";

/// The parcel is accepted and delivered, and the buyer confirms it: the
/// order is complete, nothing of the buyer's is open any more.
pub(crate) async fn complete(sale: &Sale) {
    let app = &sale.m.app;
    let code = code_of(app, &sale.s, sale.order).await;
    shipping::accept(&app.services, &code).await.unwrap();
    shipping::record_event(&app.services, &code, ParcelEventKind::Delivered)
        .await
        .unwrap();
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
}

/// Ticks the box and posts the withdrawal form with the page's token.
async fn withdraw(
    app: &TestApp,
    cookie: &str,
    token: &str,
    tick: bool,
) -> anshin_testkit::reqwest::Response {
    let mut form = vec![("csrf_token", token)];
    if tick {
        form.push(("confirm", "yes"));
    }
    post_form(app, "/account/withdraw", cookie, &form).await
}

async fn c18_withdrawal_waits_for_open_orders_and_needs_a_fresh_code(b: Backend) {
    let sale = crate::shipping::paid_sale(b).await;
    let app = &sale.m.app;
    let t = ja();

    // Paid, not delivered: the buyer waits for the parcel, the seller for
    // the sale and for the money.
    assert_eq!(
        withdrawal::waits(&app.services, sale.b.member)
            .await
            .unwrap(),
        [Wait::OpenPurchases(1)]
    );
    let seller_waits = withdrawal::waits(&app.services, sale.s.member)
        .await
        .unwrap();
    assert_eq!(seller_waits[0], Wait::OpenSales(1), "{seller_waits:?}");
    assert!(
        matches!(seller_waits.get(1), Some(Wait::UnpaidBalance(y)) if y.amount() > 0),
        "{seller_waits:?}"
    );
    let html = page(app, "/account/withdraw", &sale.b.cookie).await;
    assert!(html.contains(&t.withdraw_waits_title), "says it waits");
    assert!(html.contains(&t.withdraw_wait_purchases.replace("{count}", "1")));
    assert!(
        !html.contains("name=\"confirm\""),
        "no button while it waits"
    );
    let token = csrf_token(&html);
    let res = withdraw(app, &sale.b.cookie, &token, true).await;
    assert_eq!(res.status(), StatusCode::OK, "the page again, saying why");
    let body = res.text().await.unwrap();
    assert!(body.contains(&t.withdraw_waits_title), "{body}");
    let html = page(app, "/account/withdraw", &sale.s.cookie).await;
    assert!(html.contains(&t.withdraw_wait_sales.replace("{count}", "1")));
    assert!(html.contains("円"), "the unpaid balance is named");
    let still = app
        .store
        .accounts()
        .find_member(sale.b.member)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.email.as_str(), BUYER, "nothing was deleted");

    // Delivered and confirmed: nothing waits. An hour after the login, a
    // fresh code is needed first.
    complete(&sale).await;
    assert!(
        withdrawal::waits(&app.services, sale.b.member)
            .await
            .unwrap()
            .is_empty()
    );
    app.clock.advance(3600 * anshin_testkit::SECOND);
    let html = page(app, "/account/withdraw", &sale.b.cookie).await;
    assert!(
        html.contains(&t.withdraw_reauth_lead.replace("{minutes}", "10")),
        "{html}"
    );
    assert!(html.contains("name=\"next\" value=\"withdraw\""));
    assert!(!html.contains("name=\"confirm\""));
    let res = withdraw(app, &sale.b.cookie, &token, true).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "back to the question");
    assert_eq!(res.headers()[header::LOCATION], "/account/withdraw");
    assert!(
        app.store
            .member_data()
            .member_key(sale.b.member)
            .await
            .unwrap()
            .is_some()
    );

    // The code, then the question; unticked, it asks again.
    let res = post_form(
        app,
        "/account/reauth",
        &sale.b.cookie,
        &[("csrf_token", &token), ("next", "withdraw")],
    )
    .await;
    let html = res.text().await.unwrap();
    let flow_id = field_value(&html, "flow_id");
    let mail = mail_with_subject(app, BUYER, &t.mail_reauth_subject).await;
    let code = anshin_testkit::code_in(&mail.text).unwrap();
    let res = post_form(
        app,
        "/account/reauth/verify",
        &sale.b.cookie,
        &[
            ("flow_id", flow_id.as_str()),
            ("code", &code),
            ("next", "withdraw"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(res.headers()[header::LOCATION], "/account/withdraw");
    let html = page(app, "/account/withdraw", &sale.b.cookie).await;
    assert!(
        html.contains("name=\"confirm\""),
        "the question, with its box"
    );
    assert!(html.contains(&t.withdraw_deleted) && html.contains(&t.withdraw_kept));
    let res = withdraw(app, &sale.b.cookie, &token, false).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&t.err_withdraw_unconfirmed)
    );
    assert!(
        app.store
            .member_data()
            .member_key(sale.b.member)
            .await
            .unwrap()
            .is_some()
    );

    // Ticked: gone, logged out, and the home page says so.
    let res = withdraw(app, &sale.b.cookie, &token, true).await;
    // (The browser drops the session cookie the answer cleared.)
    let (status, home) = app.follow(res, "/", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains(&t.flash["withdrawn"]), "says what happened");
    assert!(
        app.store
            .member_data()
            .member_key(sale.b.member)
            .await
            .unwrap()
            .is_none()
    );
    // The seller still waits (open sale is done, the money is not paid).
    assert!(matches!(
        withdrawal::waits(&app.services, sale.s.member)
            .await
            .unwrap()[..],
        [Wait::UnpaidBalance(_)]
    ));
}

async fn c18_a_withdrawn_member_is_erased_everywhere_and_the_address_signs_up_anew(b: Backend) {
    let witness = tempfile::tempdir().unwrap();
    let sale = crate::retention::sale(b, witness.path()).await;
    let app = &sale.m.app;
    let old = sale.b.member;
    complete(&sale).await;
    let shipment = app
        .store
        .shipping()
        .shipment_of_order(sale.order)
        .await
        .unwrap()
        .unwrap()
        .id;
    let label = app
        .store
        .shipping()
        .sealed_label(shipment)
        .await
        .unwrap()
        .unwrap();

    // The copy taken before (a backup): the wrapped key and ciphertexts.
    let backup_key = fetch_blob(
        app,
        "SELECT wrapped_key FROM member_keys WHERE member_id = $1",
        old.as_uuid(),
    )
    .await;
    let backup_phone = fetch_blob(
        app,
        "SELECT phone FROM member_phones WHERE member_id = $1",
        old.as_uuid(),
    )
    .await;

    let html = page(app, "/account/withdraw", &sale.b.cookie).await;
    let res = withdraw(app, &sale.b.cookie, &csrf_token(&html), true).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // The old session is dead everywhere.
    let res = send(app, "GET", "/api/v1/me", None, &sale.b.cookie).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = send(
        app,
        "GET",
        &format!("/api/v1/orders/{}", sale.order),
        None,
        &sale.b.cookie,
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The store: a tombstone, no key, no personal rows, no sessions.
    let accounts = app.store.accounts();
    let row = accounts.find_member(old).await.unwrap().unwrap();
    assert_eq!(row.email, withdrawal::tombstone_email(old).unwrap());
    assert!(row.password_hash.is_none());
    assert!(
        accounts
            .find_member_by_email(&EmailAddress::parse(BUYER).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let md = app.store.member_data();
    assert!(md.member_key(old).await.unwrap().is_none());
    assert!(md.phone(old).await.unwrap().is_none());
    assert!(md.list_addresses(old).await.unwrap().is_empty());
    assert!(
        accounts
            .list_login_events(old, 100, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        app.store
            .sessions()
            .list_for_member(old, app.services.now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        app.store
            .shipping()
            .sealed_label(shipment)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.store
            .orders()
            .order_shipping(sale.order)
            .await
            .unwrap()
            .is_none()
    );
    // The order and its money stay, naming only ids.
    let order = app.store.orders().order(sale.order).await.unwrap().unwrap();
    assert_eq!(order.buyer_id, old);
    let (ok, out) = cli(app, witness.path(), &["ledger", "check"]);
    assert!(ok, "{out}");
    // The audit log: one entry for the withdrawal; the details of every
    // other entry by or about the member are gone; the chain verifies.
    let log = entries(app).await;
    let mine = |e: &&anshin_store::StoredAuditEntry| {
        e.entry.target == Some(AuditTarget::member(old))
            || e.entry.actor == anshin_store::Actor::Member(old)
    };
    let withdrawn: Vec<_> = log
        .iter()
        .filter(|e| e.entry.action == AuditAction::MemberWithdrawn)
        .collect();
    assert_eq!(withdrawn.len(), 1);
    assert!(
        log.iter().filter(mine).count() >= 2,
        "there were entries of theirs"
    );
    for e in log.iter().filter(mine) {
        if e.entry.action != AuditAction::MemberWithdrawn {
            assert!(
                e.entry.details.is_none(),
                "{:?} keeps details",
                e.entry.action
            );
        }
    }
    let (ok, out) = cli(app, witness.path(), &["audit", "verify"]);
    assert!(ok, "the chain verifies: {out}");
    assert_eq!(app.metric("anshin_withdrawals_total").await, 1);

    // The canary: nothing of them in the files, a dump, logs or metrics.
    let bytes = database_bytes(app);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for secret in [&backup_key, &backup_phone, &label.recipient] {
        assert!(
            !contains(&bytes, secret),
            "an old ciphertext is in the database"
        );
        assert!(
            !contains(&bytes, hex(secret.as_slice()).as_bytes()),
            "… in the dump"
        );
    }
    let logs = captured_logs();
    let metrics = anshin_testkit::reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for value in [BUYER, BUYER_NAME] {
        for form in encodings(value) {
            assert!(!contains(&bytes, &form), "{value} is in the database");
        }
        assert!(!metrics.contains(value));
    }
    assert!(!logs.contains(BUYER_NAME), "the name is in the logs");

    // The address signs up afresh as a new person, who sees nothing old.
    // (Mails of the order may still be on their way: let them arrive, and
    // the last one, that the account was deleted.)
    let c = CATALOGS.get(row.language);
    mail_with_subject(app, BUYER, &c.mail_withdrawn_subject).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mails = app.mails_to(BUYER, 1).await.len();
    let fresh = app.sign_up(BUYER, "新しい人", mails).await.session;
    let me = expect(
        send(app, "GET", "/api/v1/me", None, &fresh).await,
        StatusCode::OK,
    )
    .await;
    assert_ne!(me["id"], old.to_string(), "a new member");
    assert_eq!(me["display_name"], "新しい人");
    assert!(
        me["phone"].is_null() && me["bank_account"].is_null(),
        "{me}"
    );
    let addresses: Value = expect(
        send(app, "GET", "/api/v1/me/addresses", None, &fresh).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(addresses.as_array().map(Vec::len), Some(0), "{addresses}");
    let res = send(
        app,
        "GET",
        &format!("/api/v1/orders/{}", sale.order),
        None,
        &fresh,
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "the old order is not theirs"
    );
    let res = crate::member_pages::get(app, "/orders", &fresh).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.text().await.unwrap().contains(&sale.order.to_string()));

    // The backup: while KEK v1 lives its wrapped key would still open;
    // once v1 is rotated away and retired (ADR 0006's schedule after a
    // shredding), the current key ring opens nothing of it.
    let keys = Keys::load_or_create(&app.keys_file, &Random::os()).unwrap();
    let clock = anshin_core::clock::SystemClock;
    anshin_core::rotation::rotate(app.store.as_ref(), &keys, &clock, &Random::os())
        .await
        .unwrap();
    anshin_core::rotation::retire(app.store.as_ref(), &keys, &clock, 1)
        .await
        .unwrap();
    let current = Keys::load_or_create(&app.keys_file, &Random::os()).unwrap();
    assert!(
        current
            .ring()
            .unwrap(&backup_key, old.as_uuid().as_bytes())
            .is_err(),
        "the backup's key opens with the current ring"
    );
}

/// The member's withdrawal in Chromium (`e2e/withdrawal.spec.mjs`):
/// Japanese on SQLite, English on PostgreSQL; every page at 360 px and
/// 1280 px with axe-core; the page asks (the button does nothing until
/// the box is ticked), then the home page says the account is deleted.
async fn c18_withdrawal_journey_asks_then_erases_in_a_browser(b: Backend) {
    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let app = TestApp::spawn_mail(b).await;
    let email = "leaving@example.jp";
    let cookie = app.sign_up(email, "去る人", 0).await.session;
    let t = CATALOGS.get(lang);
    let words = serde_json::json!({
        "flash": t.flash,
        "withdraw_lead": t.withdraw_lead,
        "withdraw_kept": t.withdraw_kept,
        "withdraw_email_free": t.withdraw_email_free,
    });
    let root = crate::journeys::repo_root();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let out = tokio::process::Command::new("node")
        .arg(root.join("e2e/withdrawal.spec.mjs"))
        .arg(&app.origin)
        .arg(lang.code())
        .arg(&cookie)
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", words.to_string())
        .output()
        .await
        .expect("node: run scripts/setup --test");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "withdrawal journey ({}) failed:\n{}\n{stdout}",
        lang.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(v["pages"], 3, "{v}");
    assert!(
        app.store
            .accounts()
            .find_member_by_email(&EmailAddress::parse(email).unwrap())
            .await
            .unwrap()
            .is_none(),
        "the member is gone"
    );
    app.stop().await;
}

/// Support withdraws a member who asked (C18, C27): an admin is refused
/// (403), an unticked box asks again, a stale second factor is sent to
/// step up; then the member is erased, with one audit entry naming the
/// staff member; a second try finds nobody.
async fn c18_support_withdraws_a_member_on_request_with_step_up(b: Backend) {
    use anshin_domain::StaffRole;

    use crate::staff::{csrf_of, enrolled, login, post_form as staff_post};

    let witness = tempfile::tempdir().unwrap();
    let app = crate::audit::spawn(b, witness.path()).await;
    let email = "asked@example.jp";
    app.sign_up(email, "頼む人", 0).await;
    let record = app
        .store
        .accounts()
        .find_member_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    let (member, lang) = (record.id, record.language);
    let path = format!("/members/{member}/withdraw");
    let gone = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .accounts()
                .find_member(member)
                .await
                .unwrap()
                .unwrap()
                .email
                .as_str()
                != email
        }
    };
    let post = |cookie: String, tick: bool| {
        let app = &app;
        let path = path.clone();
        async move {
            let csrf = csrf_of(&cookie);
            let mut form = vec![("csrf_token", csrf.as_str())];
            if tick {
                form.push(("confirm", "yes"));
            }
            staff_post(app, &path, Some(&cookie), &form).await
        }
    };

    let admin = enrolled(&app, "admin@example.jp", StaffRole::Admin).await;
    let admin = login(&app, "admin@example.jp", &admin).await;
    assert_eq!(post(admin, true).await.status(), StatusCode::FORBIDDEN);
    assert!(!gone(&app).await);

    let secret = enrolled(&app, "support@example.jp", StaffRole::Support).await;
    let cookie = login(&app, "support@example.jp", &secret).await;
    let res = post(cookie.clone(), false).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!gone(&app).await);

    app.clock.advance(301 * anshin_testkit::SECOND);
    let res = post(cookie, true).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/step-up");
    assert!(!gone(&app).await);

    let cookie = login(&app, "support@example.jp", &secret).await;
    let res = post(cookie.clone(), true).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("id=\"member-notice\""));
    assert!(gone(&app).await);
    assert!(
        app.store
            .member_data()
            .member_key(member)
            .await
            .unwrap()
            .is_none()
    );
    let log = entries(&app).await;
    let e = log
        .iter()
        .find(|e| e.entry.action == AuditAction::MemberWithdrawn)
        .expect("audited");
    // The member is told, at the address they had, that support did it.
    let c = CATALOGS.get(lang);
    let mail = mail_with_subject(&app, email, &c.mail_withdrawn_subject).await;
    assert!(
        mail.text.contains(&c.mail_withdrawn_by_support),
        "{}",
        mail.text
    );
    assert!(matches!(e.entry.actor, anshin_store::Actor::Staff(_)));
    assert_eq!(e.entry.target, Some(AuditTarget::member(member)));
    assert_eq!(e.entry.reason, "policy_allow");
    assert_eq!(post(cookie, true).await.status(), StatusCode::NOT_FOUND);
    let (ok, out) = cli(&app, witness.path(), &["audit", "verify"]);
    assert!(ok, "{out}");
    app.stop().await;
}

/// The member's own withdrawal sends one last mail to the address they
/// had (queued in the erasing transaction, sealed in the outbox until
/// delivered): that the account and its personal data were deleted, what
/// stays, that the address may sign up again, and whom to tell if it
/// was not them. Nothing of the member but the address is in it.
async fn c18_the_member_is_told_by_mail_that_their_account_was_deleted(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "leaving@example.jp";
    let name = "去る人の名前";
    let cookie = app.sign_up(email, name, 0).await.session;
    let record = app
        .store
        .accounts()
        .find_member_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    let c = CATALOGS.get(record.language);
    let html = page(&app, "/account/withdraw", &cookie).await;
    let res = withdraw(&app, &cookie, &csrf_token(&html), true).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = mail_with_subject(&app, email, &c.mail_withdrawn_subject).await;
    assert!(
        mail.text.contains(&c.mail_withdrawn_by_you),
        "{}",
        mail.text
    );
    assert!(!mail.text.contains(&c.mail_withdrawn_by_support));
    assert!(mail.text.contains("/contact"), "the contact form is linked");
    assert!(!mail.text.contains(name) && !mail.html.contains(name));
    // Sent although the address is erased: the store no longer knows it.
    assert!(
        app.store
            .accounts()
            .find_member_by_email(&EmailAddress::parse(email).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    // Once delivered, nothing of it stays in the database in clear.
    let bytes = database_bytes(&app);
    for form in encodings(name) {
        assert!(!contains(&bytes, &form), "the name is in the database");
    }
    app.stop().await;
}

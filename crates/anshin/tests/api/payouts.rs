//! Creator payouts in a real browser (issue 16, C16; ADR 0020): the
//! creator asks for a payout on their page, a new member of the finance
//! team enrols, logs in, opens "Payouts" from the menu, builds a batch,
//! downloads its Zengin transfer file, uploads it as the bank's result by
//! mistake (refused, the page says which record is wrong), uploads the
//! bank's result (the line paid, the page counts paid and failed) and
//! uploads it again (nothing changes, the page says so); the creator's
//! page then says paid. In Japanese on SQLite and in English on
//! PostgreSQL (`e2e/payouts.spec.mjs`), at 360 and 1280 px, axe-core
//! clean, nothing scrolling sideways. Afterwards: the payout is paid
//! once, the ledger is sound and each finance act is in the audit log.

use std::sync::Arc;

use anshin_core::i18n::{Catalogs, Lang};
use anshin_core::member_data::RawBankAccount;
use anshin_domain::PayoutStatus;
use anshin_store::AuditAction;
use anshin_testkit::{Backend, TestApp, backends};
use axum::Router;
use serde_json::{Value, json};

use crate::journeys::{next_code, repo_root};

backends!(
    c16_payout_journey_requests_batches_exports_and_marks_paid_in_a_browser,
    c16_the_console_result_upload_needs_the_csrf_token_in_its_multipart_body,
);

async fn c16_payout_journey_requests_batches_exports_and_marks_paid_in_a_browser(b: Backend) {
    use crate::commerce::*;
    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    // Checkout open (keys set); the order is marked paid by the test, so
    // no processor is asked.
    let app = Arc::new(
        TestApp::spawn_mail_with(b, |s| {
            s.payments.api_base = "http://127.0.0.1:9/".parse().unwrap();
            s.payments.js_url = "http://127.0.0.1:9/js.stripe.com/v3/".parse().unwrap();
            s.payments.secret_key = Some("sk_test_payouts".to_owned().into());
            s.payments.publishable_key = Some("pk_test_payouts".to_owned());
        })
        .await,
    );
    let seller = seller(&app, "payout-seller@journey.example.jp").await;
    let cup = item(&app, &seller, "湯呑み", "4800", "5").await;
    let buyer = buyer(&app, "payout-buyer@journey.example.jp").await;
    let paid = order(&app, &buyer, seller.shop, cup, 1).await;
    force_paid(&app, paid).await;
    let now = app.services.now();
    let session = app
        .store
        .sessions()
        .list_for_member(seller.member, now)
        .await
        .unwrap()
        .remove(0);
    anshin_core::member_data::change_bank_account(
        &app.services,
        &session,
        RawBankAccount {
            bank_code: "0001".into(),
            branch_code: "210".into(),
            account_type: "ordinary".into(),
            account_number: "7654321".into(),
            holder_kana: "ヤマダ　ハナコ".into(),
        },
    )
    .await
    .unwrap();
    let balance = anshin_core::ledger::seller_balance(app.store.as_ref(), seller.shop)
        .await
        .unwrap();

    let email = "money@journey.example.jp";
    let enrolment =
        anshin_core::staff::add(&app.services, email, anshin_domain::StaffRole::Finance)
            .await
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        axum::serve(
            listener,
            Router::new()
                .route("/code", axum::routing::post(next_code))
                .with_state(app.clone()),
        )
        .into_future(),
    );
    let catalogs = Catalogs::load().unwrap();
    let c = catalogs.get(lang);
    let t = &c.staff;
    let words = json!({
        "email": email,
        "flash": c.flash,
        "flash_logged_in": t.flash_logged_in,
        "title": c.payouts_title,
        "balance": balance.to_string(),
        "status_requested": c.payouts_status_requested,
        "status_paid": c.payouts_status_paid,
        "console_title": t.payouts.title,
        "flash_built": t.payouts.flash_built,
        "flash_imported": t.payouts.flash_imported
            .replace("{paid}", "1")
            .replace("{failed}", "0"),
        "flash_import_again": t.payouts.flash_import_again.replace("{already}", "1"),
        "err_result": format!(
            "{} {}",
            t.payouts.err_result,
            t.payouts.err_result_code.replace("{record}", "2")
        ),
        "console_status_paid": t.payouts.status_paid,
    });
    let out = tokio::process::Command::new("node")
        .arg(repo_root().join("e2e/payouts.spec.mjs"))
        .arg(&app.origin)
        .arg(&app.staff_origin)
        .arg(app.staff_url(&enrolment.path()))
        .arg(&control)
        .arg(lang.code())
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", words.to_string())
        .env("SELLER_COOKIE", &seller.cookie)
        .output()
        .await
        .expect("node: run scripts/setup --test");
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "payout journey ({}) failed:\n{}\n{stdout}",
        lang.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON result");
    assert_eq!(v["pages"], 8, "{v}");
    assert_eq!(
        v["file_records"], 4,
        "header, one transfer, trailer, end: {v}"
    );

    let list = app
        .store
        .payouts()
        .payouts_of_shop(seller.shop, 10)
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "one payout");
    assert_eq!(list[0].status, PayoutStatus::Paid);
    assert_eq!(list[0].amount, balance);
    let report = anshin_core::ledger::check(app.store.as_ref())
        .await
        .unwrap();
    assert!(report.is_sound(), "{:#?}", report.problems);
    let head = app.store.audit().head().await.unwrap();
    let entries = app
        .store
        .audit()
        .entries(0, head.size as u32)
        .await
        .unwrap();
    for action in [
        AuditAction::PayoutRequested,
        AuditAction::PayoutBatchBuilt,
        AuditAction::PayoutBatchExported,
        AuditAction::PayoutPaid,
    ] {
        let n = entries.iter().filter(|e| e.entry.action == action).count();
        assert_eq!(n, 1, "{action:?}");
    }
    // Two imports (the refused file settled nothing and is no import).
    let imports: Vec<_> = entries
        .iter()
        .filter(|e| e.entry.action == AuditAction::PayoutResultImported)
        .collect();
    assert_eq!(imports.len(), 2, "each import is audited");
    for (e, want) in imports.iter().zip(["\"paid\":1", "\"already\":1"]) {
        let details = e.entry.details.as_ref().unwrap().to_string();
        assert!(details.contains(want), "{details}");
    }
}

/// The result upload is the console's one multipart form (ADR 0003's
/// token, read from the multipart body): without the token, with another
/// session's, or as a multipart body to another console route, it is
/// refused (403) before any handler; with the session's token it reaches
/// the handler (an unknown batch: 404, the page says so).
async fn c16_the_console_result_upload_needs_the_csrf_token_in_its_multipart_body(b: Backend) {
    use anshin_testkit::reqwest::multipart::{Form, Part};
    use http::{StatusCode, header};

    use crate::staff::{csrf_of, enrolled, login};
    let app = TestApp::spawn(b).await;
    let email = "finance-upload@example.jp";
    let secret = enrolled(&app, email, anshin_domain::StaffRole::Finance).await;
    let cookie = login(&app, email, &secret).await;
    let other_secret = enrolled(
        &app,
        "finance-other@example.jp",
        anshin_domain::StaffRole::Finance,
    )
    .await;
    let other = login(&app, "finance-other@example.jp", &other_secret).await;
    let batch: anshin_domain::PayoutBatchId = app.services.new_id();
    let send = |path: String, token: Option<String>| {
        let mut form = Form::new();
        if let Some(t) = token {
            form = form.text("csrf_token", t);
        }
        let form = form.part(
            "result",
            Part::bytes(b"1".repeat(120)).file_name("result.txt"),
        );
        app.client
            .post(app.staff_url(&path))
            .header(header::ORIGIN, &app.staff_origin)
            .header(header::COOKIE, &cookie)
            .multipart(form)
            .send()
    };
    let upload = format!("/finance/payouts/batches/{batch}/result");
    let res = send(upload.clone(), None).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no token");
    let res = send(upload.clone(), Some(csrf_of(&other))).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "another session's token"
    );
    let res = send("/finance/payouts/batches".into(), Some(csrf_of(&cookie)))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "multipart is read only on the upload route"
    );
    let res = send(upload, Some(csrf_of(&cookie))).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "the token is accepted");
    let catalogs = Catalogs::load().unwrap();
    let t = &catalogs.get(Lang::Ja).staff.payouts;
    let en = &catalogs.get(Lang::En).staff.payouts;
    let body = res.text().await.unwrap();
    assert!(
        body.contains(&t.err_not_found) || body.contains(&en.err_not_found),
        "the page says there is no such batch"
    );
}

//! The member data pages (C13): addresses (edit, make default), phone and
//! payout bank account as HTML forms, over real HTTPS with real SMTP, on
//! SQLite and PostgreSQL. Only the owner reaches their data; every form
//! needs its CSRF token; wrong fields come back each with its message and
//! with what was typed; the bank account needs a recent login and mails a
//! notice; nothing personal reaches a URL or the log.

use std::sync::LazyLock;
use std::time::Duration;

use anshin_core::i18n::{Catalog, Catalogs, Lang};
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, Mail, TestApp, backends};
use serde_json::{Value, json};
use uuid::Uuid;

backends!(
    c13_address_edit_page_changes_the_address_and_keeps_bad_input,
    c13_make_default_button_moves_the_default,
    c13_make_default_keeps_an_edit_saved_at_the_same_time,
    c13_another_members_address_is_404_on_every_page_route,
    c13_member_pages_refuse_missing_or_wrong_csrf,
    c13_phone_page_sets_and_shows_only_the_masked_number,
    c13_phone_page_bad_number_gets_a_clear_error_and_keeps_input,
    c13_bank_page_needs_recent_login_then_saves_and_mails_notice,
    c13_bank_page_reports_each_bad_field_and_keeps_input,
);

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| Catalogs::load().unwrap());

/// The site's Japanese strings (the default language; tests send no
/// `Accept-Language`).
fn ja() -> &'static Catalog {
    CATALOGS.get(Lang::Ja)
}

async fn api(
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
        // The API's CSRF rule: every unsafe request is typed JSON.
        r = r.header(header::CONTENT_TYPE, "application/json");
    }
    r.send().await.unwrap()
}

pub(crate) async fn get(app: &TestApp, path: &str, cookie: &str) -> Response {
    app.client
        .get(app.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

/// A page's HTML, asserting it is a 200 the browser must not store.
pub(crate) async fn page(app: &TestApp, path: &str, cookie: &str) -> String {
    let res = get(app, path, cookie).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store", "{path}");
    res.text().await.unwrap()
}

/// Posts a form as a browser does.
pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> Response {
    app.client
        .post(app.url(path))
        .header(header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// `form` plus the CSRF token field.
fn with_token<'a>(form: &[(&'a str, &'a str)], token: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut v = form.to_vec();
    v.push(("csrf_token", token));
    v
}

pub(crate) fn assert_redirect(res: &Response, to: &str) {
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], to);
}

/// Signs up through the API and the mailed code; returns the session cookie.
async fn sign_up(app: &TestApp, email: &str) -> String {
    app.sign_up(email, "山田 花子", 0).await.session
}

async fn member_id(app: &TestApp, cookie: &str) -> Uuid {
    let me: Value = api(app, "GET", "/api/v1/me", None, cookie)
        .await
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().parse().unwrap()
}

pub(crate) fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("token in form") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The message shown under `field`, if the page marks it wrong.
fn field_error(html: &str, field: &str) -> Option<String> {
    let marker = format!("id=\"{field}-error\">");
    let start = html.find(&marker)? + marker.len();
    Some(html[start..start + html[start..].find('<').unwrap()].to_owned())
}

/// The `value` of the input named `field`.
pub(crate) fn field_value(html: &str, field: &str) -> String {
    let marker = format!("name=\"{field}\" value=\"");
    let start = html.find(&marker).expect("the field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// Adds an address through the API; returns its id.
async fn add_address(app: &TestApp, cookie: &str, recipient: &str) -> Uuid {
    let res = api(
        app,
        "POST",
        "/api/v1/me/addresses",
        Some(json!({
            "recipient_name": recipient, "postal_code": "150-0001", "prefecture": "東京都",
            "city": "渋谷区", "line1": "神宮前六丁目二十三番", "line2": "安心ハイツ九〇八号室"
        })),
        cookie,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    v["id"].as_str().unwrap().parse().unwrap()
}

async fn addresses(app: &TestApp, cookie: &str) -> Vec<Value> {
    api(app, "GET", "/api/v1/me/addresses", None, cookie)
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

/// Waits (up to 15 s) for a mail to `to` with this subject.
pub(crate) async fn mail_with_subject(app: &TestApp, to: &str, subject: &str) -> Mail {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mails = app.mails_to(to, 1).await;
        if let Some(m) = mails.into_iter().find(|m| m.subject == subject) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no mail {subject:?} to {to}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The address form of the pages.
fn address_form<'a>(
    recipient: &'a str,
    postal: &'a str,
    prefecture: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("recipient_name", recipient),
        ("postal_code", postal),
        ("prefecture", prefecture),
        ("city", "大阪市北区"),
        ("line1", "梅田三丁目一番"),
        ("line2", ""),
        ("phone", "06-1234-5678"),
    ]
}

async fn c13_address_edit_page_changes_the_address_and_keeps_bad_input(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = sign_up(&app, "edit@example.jp").await;
    let id = add_address(&app, &cookie, "鈴木 一郎").await;

    // The list links to the edit form, which starts with the stored values.
    let list = page(&app, "/account/addresses", &cookie).await;
    assert!(list.contains(&format!("href=\"/account/addresses/{id}/edit\"")));
    let edit_path = format!("/account/addresses/{id}/edit");
    let form = page(&app, &edit_path, &cookie).await;
    assert_eq!(field_value(&form, "recipient_name"), "鈴木 一郎");
    assert_eq!(field_value(&form, "postal_code"), "150-0001");
    assert_eq!(field_value(&form, "line2"), "安心ハイツ九〇八号室");
    let token = csrf_token(&form);

    // Wrong fields: each gets its message, what was typed stays, nothing
    // changes.
    let bad = address_form("鈴木 二郎", "12", "Atlantis");
    let res = post_form(&app, &edit_path, &cookie, &with_token(&bad, &token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "an error summary");
    let postal = field_error(&html, "postal_code").expect("postal code marked");
    assert!(postal.contains("郵便番号"), "{postal}");
    let prefecture = field_error(&html, "prefecture").expect("prefecture marked");
    assert!(prefecture.contains("都道府県"), "{prefecture}");
    assert_eq!(field_error(&html, "recipient_name"), None);
    assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"postal_code-error\""));
    assert_eq!(field_value(&html, "recipient_name"), "鈴木 二郎");
    assert_eq!(field_value(&html, "postal_code"), "12");
    assert_eq!(field_value(&html, "prefecture"), "Atlantis");
    assert_eq!(
        addresses(&app, &cookie).await[0]["recipient_name"],
        "鈴木 一郎"
    );

    // Right fields: saved, and the list shows the new address.
    let good = address_form("鈴木 二郎", "５３０－０００１", "Osaka");
    let res = post_form(&app, &edit_path, &cookie, &with_token(&good, &token)).await;
    assert_redirect(&res, "/account/addresses");
    let list = page(&app, "/account/addresses", &cookie).await;
    assert!(
        list.contains("鈴木 二郎")
            && list.contains("530-0001")
            && list.contains("大阪府大阪市北区")
    );
    assert!(!list.contains("鈴木 一郎"), "the old value is gone");
    let stored = addresses(&app, &cookie).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], id.to_string());
    assert_eq!(stored[0]["line2"], Value::Null, "a blank line 2 is none");
    assert_eq!(stored[0]["phone"], "06-1234-5678");
    app.stop().await;
}

async fn c13_make_default_button_moves_the_default(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = sign_up(&app, "default@example.jp").await;
    let first = add_address(&app, &cookie, "一番 花子").await;
    let second = add_address(&app, &cookie, "二番 花子").await;
    let third = add_address(&app, &cookie, "三番 花子").await;
    let html = page(&app, "/account/addresses", &cookie).await;
    // A button on each address that is not the default.
    assert!(!html.contains(&format!("/account/addresses/{first}/default")));
    assert!(html.contains(&format!("action=\"/account/addresses/{second}/default\"")));
    assert!(html.contains(&format!("action=\"/account/addresses/{third}/default\"")));
    let token = csrf_token(&html);

    let res = post_form(
        &app,
        &format!("/account/addresses/{third}/default"),
        &cookie,
        &[("csrf_token", &token)],
    )
    .await;
    assert_redirect(&res, "/account/addresses");
    let list = addresses(&app, &cookie).await;
    let defaults: Vec<bool> = list
        .iter()
        .map(|a| a["is_default"].as_bool().unwrap())
        .collect();
    assert_eq!(
        defaults,
        [false, false, true],
        "exactly one default, the third"
    );
    assert_eq!(
        list[2]["recipient_name"], "三番 花子",
        "the address itself is unchanged"
    );
    assert_eq!(list[2]["postal_code"], "150-0001");

    // The edit form's checkbox does the same.
    let mut form = address_form("二番 花子", "150-0001", "東京都");
    form.push(("is_default", "true"));
    let res = post_form(
        &app,
        &format!("/account/addresses/{second}/edit"),
        &cookie,
        &with_token(&form, &token),
    )
    .await;
    assert_redirect(&res, "/account/addresses");
    let defaults: Vec<bool> = addresses(&app, &cookie)
        .await
        .iter()
        .map(|a| a["is_default"].as_bool().unwrap())
        .collect();
    assert_eq!(defaults, [false, true, false]);
    app.stop().await;
}

/// "Make default" pressed while the same address is being edited (two
/// tabs, or the API and the page): the default moves and the edit is kept,
/// whichever finishes first. Each round sends both at once.
async fn c13_make_default_keeps_an_edit_saved_at_the_same_time(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = sign_up(&app, "race@example.jp").await;
    let first = add_address(&app, &cookie, "一番 花子").await;
    let second = add_address(&app, &cookie, "二番 花子").await;
    let token = csrf_token(&page(&app, "/account/addresses", &cookie).await);
    for round in 0..16 {
        let target = if round % 2 == 0 { second } else { first };
        let name = format!("編集 {round}");
        let (edit_path, default_path) = (
            format!("/api/v1/me/addresses/{target}"),
            format!("/account/addresses/{target}/default"),
        );
        let form = [("csrf_token", token.as_str())];
        let edit = api(
            &app,
            "PUT",
            &edit_path,
            Some(json!({
                "recipient_name": name, "postal_code": "530-0001", "prefecture": "大阪府",
                "city": "大阪市北区", "line1": "梅田三丁目一番"
            })),
            &cookie,
        );
        let press = post_form(&app, &default_path, &cookie, &form);
        let (edit, press) = tokio::join!(edit, press);
        assert_eq!(edit.status(), StatusCode::NO_CONTENT, "round {round}");
        assert_redirect(&press, "/account/addresses");
        let list = addresses(&app, &cookie).await;
        let target_id = target.to_string();
        let saved = list.iter().find(|a| a["id"] == target_id.as_str()).unwrap();
        assert_eq!(
            saved["recipient_name"], name,
            "round {round}: the edit saved while make-default ran was lost"
        );
        assert_eq!(saved["postal_code"], "530-0001", "round {round}");
        assert_eq!(saved["is_default"], true, "round {round}");
        assert_eq!(
            list.iter().filter(|a| a["is_default"] == true).count(),
            1,
            "round {round}: exactly one default"
        );
    }
    app.stop().await;
}

async fn c13_another_members_address_is_404_on_every_page_route(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let owner = sign_up(&app, "owner@example.jp").await;
    add_address(&app, &owner, "持主 一郎").await;
    let target = add_address(&app, &owner, "持主 花子").await;
    let before = addresses(&app, &owner).await;

    let other = sign_up(&app, "intruder@example.jp").await;
    let token = csrf_token(&page(&app, "/account/addresses", &other).await);
    let edit = format!("/account/addresses/{target}/edit");
    let res = get(&app, &edit, &other).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().await.unwrap().contains("持主"), "nothing leaks");
    let form = with_token(&address_form("乗取 太郎", "100-0001", "東京都"), &token);
    let res = post_form(&app, &edit, &other, &form).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Even a wrong form gives 404, not the owner's form with errors.
    let bad = with_token(&address_form("", "1", "x"), &token);
    let res = post_form(&app, &edit, &other, &bad).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().await.unwrap().contains("持主"));
    for action in ["default", "delete"] {
        let res = post_form(
            &app,
            &format!("/account/addresses/{target}/{action}"),
            &other,
            &[("csrf_token", &token)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{action}");
    }

    assert_eq!(addresses(&app, &owner).await, before, "nothing changed");
    assert!(
        addresses(&app, &other).await.is_empty(),
        "nothing added to the intruder"
    );
    app.stop().await;
}

async fn c13_member_pages_refuse_missing_or_wrong_csrf(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = sign_up(&app, "csrf@example.jp").await;
    let id = add_address(&app, &cookie, "守田 一郎").await;
    let other = sign_up(&app, "csrf-other@example.jp").await;
    let foreign = csrf_token(&page(&app, "/account/phone", &other).await);
    let before = addresses(&app, &cookie).await;

    let edit = format!("/account/addresses/{id}/edit");
    let default = format!("/account/addresses/{id}/default");
    let delete = format!("/account/addresses/{id}/delete");
    let address = address_form("攻撃 太郎", "100-0001", "東京都");
    let bank = vec![
        ("bank_code", "0005"),
        ("branch_code", "123"),
        ("account_type", "ordinary"),
        ("account_number", "1112223"),
        ("holder_kana", "コウゲキ タロウ"),
    ];
    let forms: [(&str, Vec<(&str, &str)>); 7] = [
        ("/account/addresses", address.clone()),
        (edit.as_str(), address.clone()),
        (default.as_str(), vec![]),
        (delete.as_str(), vec![]),
        ("/account/phone", vec![("phone", "090-1111-2222")]),
        ("/account/bank-account", bank),
        ("/account/bank-account/reauth", vec![]),
    ];
    for (path, form) in &forms {
        let res = post_form(&app, path, &cookie, form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "no token: {path}");
        let res = post_form(&app, path, &cookie, &with_token(form, &foreign)).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "another session's token: {path}"
        );
        let body = res.text().await.unwrap();
        assert!(body.contains(&ja().error_403_csrf_body), "{path}: {body}");
    }

    assert_eq!(addresses(&app, &cookie).await, before);
    let me: Value = api(&app, "GET", "/api/v1/me", None, &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["phone"], Value::Null);
    assert_eq!(me["bank_account"], Value::Null);
    app.stop().await;
}

async fn c13_phone_page_sets_and_shows_only_the_masked_number(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let t = ja();
    let cookie = sign_up(&app, "phone@example.jp").await;
    // The account page links to every member data page.
    let account = page_any(&app, "/account", &cookie).await;
    for link in [
        "/account/addresses",
        "/account/phone",
        "/account/bank-account",
    ] {
        assert!(account.contains(&format!("href=\"{link}\"")), "{link}");
    }

    let html = page(&app, "/account/phone", &cookie).await;
    assert!(html.contains(&t.phone_none));
    let token = csrf_token(&html);
    let res = post_form(
        &app,
        "/account/phone",
        &cookie,
        &[
            ("phone", "０９０－２４６８－１３５７"),
            ("csrf_token", &token),
        ],
    )
    .await;
    let (status, html) = app.follow(res, "/account/phone", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&t.flash["phone_saved"]), "says what happened");
    assert!(html.contains("090-****-1357"), "masked");
    assert_shows_no_phone(&html);
    assert_eq!(field_value(&html, "phone"), "", "the form is empty again");

    let html = page(&app, "/account/phone", &cookie).await;
    assert!(html.contains("090-****-1357"));
    assert_shows_no_phone(&html);
    let me: Value = api(&app, "GET", "/api/v1/me", None, &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["phone"], "090-****-1357", "stored as the API stores it");
    assert_shows_no_phone(&anshin_testkit::captured_logs());
    app.stop().await;
}

/// The phone of the phone test in none of its forms (typed, national,
/// canonical `+81`).
fn assert_shows_no_phone(text: &str) {
    for form in ["２４６８", "2468-1357", "9024681357"] {
        assert!(!text.contains(form), "{form} shown");
    }
}

/// A page's HTML without the no-store check (pages of other features).
async fn page_any(app: &TestApp, path: &str, cookie: &str) -> String {
    let res = get(app, path, cookie).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

async fn c13_phone_page_bad_number_gets_a_clear_error_and_keeps_input(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = sign_up(&app, "badphone@example.jp").await;
    let html = page(&app, "/account/phone", &cookie).await;
    let token = csrf_token(&html);
    let ok = post_form(
        &app,
        "/account/phone",
        &cookie,
        &[("phone", "080-9753-8642"), ("csrf_token", &token)],
    )
    .await;
    assert_redirect(&ok, "/account/phone");

    for typed in ["12-34", "090-1234-abcd", ""] {
        let res = post_form(
            &app,
            "/account/phone",
            &cookie,
            &[("phone", typed), ("csrf_token", &token)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{typed:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains("role=\"alert\""), "{typed:?}");
        let message = field_error(&html, "phone").expect("the phone field is marked");
        assert!(message.contains("番号"), "{typed:?}: {message}");
        assert_eq!(field_value(&html, "phone"), typed, "what was typed stays");
        assert!(
            html.contains("080-****-8642"),
            "the stored number is untouched"
        );
    }
    let me: Value = api(&app, "GET", "/api/v1/me", None, &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["phone"], "080-****-8642");
    app.stop().await;
}

const BANK_NUMBER: &str = "8642097";
const BANK_HOLDER: &str = "ヨコヤマ サクラ";

async fn c13_bank_page_needs_recent_login_then_saves_and_mails_notice(b: Backend) {
    // A 30-minute window instead of the default 10, which the page states.
    let app = TestApp::spawn_mail_with(b, |s| s.auth.recent_auth_secs = 1800).await;
    let t = ja();
    let email = "bank@example.jp";
    let cookie = sign_up(&app, email).await;
    let account = [
        ("bank_code", "0009"),
        ("branch_code", "246"),
        ("account_type", "savings"),
        ("account_number", BANK_NUMBER),
        ("holder_kana", BANK_HOLDER),
    ];

    // An hour after the login: the page offers a code, not the form.
    app.clock.advance(3600 * anshin_testkit::SECOND);
    let html = page(&app, "/account/bank-account", &cookie).await;
    assert!(html.contains(&t.bank_reauth_lead.replace("{minutes}", "30")));
    assert!(!html.contains("{minutes}"));
    assert!(html.contains("action=\"/account/bank-account/reauth\""));
    assert!(!html.contains("name=\"account_number\""));
    let token = csrf_token(&html);
    // A form sent anyway is refused with the same message, and not saved.
    let res = post_form(
        &app,
        "/account/bank-account",
        &cookie,
        &with_token(&account, &token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(&t.err_reauthentication_required));
    assert!(!html.contains(BANK_NUMBER) && !html.contains(BANK_HOLDER));
    let id = member_id(&app, &cookie).await;
    assert!(
        app.store
            .member_data()
            .bank_account(anshin_domain::MemberId::from_uuid(id))
            .await
            .unwrap()
            .is_none()
    );

    // Confirm with the mailed code; back on the bank page with its form.
    let res = post_form(
        &app,
        "/account/bank-account/reauth",
        &cookie,
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("action=\"/account/reauth/verify\""));
    assert!(html.contains("name=\"next\" value=\"bank-account\""));
    let flow_id = field_value(&html, "flow_id");
    let mail = mail_with_subject(&app, email, &t.mail_reauth_subject).await;
    let code = anshin_testkit::code_in(&mail.text).unwrap();
    let res = post_form(
        &app,
        "/account/reauth/verify",
        &cookie,
        &[
            ("flow_id", flow_id.as_str()),
            ("code", &code),
            ("next", "bank-account"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_redirect(&res, "/account/bank-account");
    let html = page(&app, "/account/bank-account", &cookie).await;
    assert!(
        html.contains("name=\"account_number\""),
        "the form is offered"
    );
    assert!(html.contains(&t.bank_none));

    // Saved: masked on the page, sealed in the store, the notice mailed.
    let res = post_form(
        &app,
        "/account/bank-account",
        &cookie,
        &with_token(&account, &token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains(&t.bank_saved));
    assert!(
        html.contains("****097") && html.contains("0009") && html.contains(&t.bank_type_savings)
    );
    assert!(
        !html.contains(BANK_NUMBER) && !html.contains(BANK_HOLDER),
        "only masked"
    );
    assert!(
        app.store
            .member_data()
            .bank_account(anshin_domain::MemberId::from_uuid(id))
            .await
            .unwrap()
            .is_some()
    );
    let me: Value = api(&app, "GET", "/api/v1/me", None, &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["bank_account"]["account_number"], "****097");
    assert_eq!(me["bank_account"]["account_type"], "savings");
    let notice = mail_with_subject(&app, email, &t.mail_bank_account_changed_subject).await;
    assert!(
        !notice.text.contains(BANK_NUMBER),
        "the notice holds no account data"
    );

    let logs = anshin_testkit::captured_logs();
    assert!(
        !logs.contains(BANK_NUMBER) && !logs.contains(BANK_HOLDER),
        "nothing in the log"
    );
    app.stop().await;
}

async fn c13_bank_page_reports_each_bad_field_and_keeps_input(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = sign_up(&app, "badbank@example.jp").await;
    let html = page(&app, "/account/bank-account", &cookie).await;
    assert!(
        html.contains("name=\"account_number\""),
        "a fresh login gets the form"
    );
    let token = csrf_token(&html);
    let bad = [
        ("bank_code", "12"),
        ("branch_code", "abc"),
        ("account_type", ""),
        ("account_number", "1234"),
        ("holder_kana", "Yamada Hanako"),
    ];
    let res = post_form(
        &app,
        "/account/bank-account",
        &cookie,
        &with_token(&bad, &token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("role=\"alert\""));
    for (field, words) in [
        ("bank_code", "金融機関コード"),
        ("branch_code", "支店コード"),
        ("account_type", ""),
        ("account_number", "7桁"),
        ("holder_kana", "カタカナ"),
    ] {
        let message = field_error(&html, field).unwrap_or_else(|| panic!("{field} marked"));
        assert!(
            !message.is_empty() && message.contains(words),
            "{field}: {message}"
        );
    }
    for (field, typed) in [
        ("bank_code", "12"),
        ("branch_code", "abc"),
        ("account_number", "1234"),
        ("holder_kana", "Yamada Hanako"),
    ] {
        assert_eq!(
            field_value(&html, field),
            typed,
            "{field} keeps what was typed"
        );
    }

    // One field wrong: only that one is marked, the others keep their values.
    let almost = [
        ("bank_code", "0005"),
        ("branch_code", "001"),
        ("account_type", "checking"),
        ("account_number", "123456"),
        ("holder_kana", "ヤマダ ハナコ"),
    ];
    let res = post_form(
        &app,
        "/account/bank-account",
        &cookie,
        &with_token(&almost, &token),
    )
    .await;
    let html = res.text().await.unwrap();
    assert!(field_error(&html, "account_number").is_some());
    for field in ["bank_code", "branch_code", "account_type", "holder_kana"] {
        assert_eq!(field_error(&html, field), None, "{field}");
    }
    assert!(html.contains("<option value=\"checking\" selected>"));
    assert_eq!(field_value(&html, "holder_kana"), "ヤマダ ハナコ");
    let id = member_id(&app, &cookie).await;
    assert!(
        app.store
            .member_data()
            .bank_account(anshin_domain::MemberId::from_uuid(id))
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

//! Finding a bank by name, filling an address from its postcode, removing
//! the phone and the bank account, and the bank form kept across a
//! re-authentication (issue 12), over real HTTPS with real SMTP, on SQLite
//! and PostgreSQL.
//!
//! What an attacker would try here, and where it is answered:
//! - removing someone's payout account from a stolen, stale session: a
//!   recent login is needed, the GET only asks, the POST needs the CSRF
//!   token (`c13_removing_the_bank_account_asks_first_needs_a_recent_login_and_deletes_it`);
//! - reading the bank form another browser typed: a kept form is sealed
//!   to the session that typed it; another session of the same member
//!   gets nothing, and nothing typed reaches a URL, a `Location` or a
//!   cookie (`c13_the_typed_bank_form_comes_back_after_reauth_for_that_session_only`).

use std::sync::LazyLock;
use std::time::Duration;

use anshin_core::i18n::{Catalog, Catalogs, Lang};
use anshin_domain::MemberId;
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, code_in};
use serde_json::{Value, json};
use uuid::Uuid;

backends!(
    bank_search_finds_mizuho_from_hiragana_and_katakana_then_a_branch_by_name,
    postcode_150_0001_fills_tokyo_shibuya_jingumae,
    c13_removing_the_phone_asks_first_needs_a_recent_login_and_deletes_it,
    c13_removing_the_bank_account_asks_first_needs_a_recent_login_and_deletes_it,
    c13_the_typed_bank_form_comes_back_after_reauth_for_that_session_only,
);

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| Catalogs::load().unwrap());

fn ja() -> &'static Catalog {
    CATALOGS.get(Lang::Ja)
}

const FLASH: &str = "__Host-anshin_flash";
const NUMBER: &str = "7654321";
// Not the catalog's example (ヤマダ ハナコ), which every bank form shows.
const HOLDER: &str = "サトウ ジロウ";

async fn get(app: &TestApp, path: &str, cookie: &str) -> Response {
    let mut r = app.client.get(app.url(path));
    if !cookie.is_empty() {
        r = r.header(header::COOKIE, cookie);
    }
    r.send().await.unwrap()
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> String {
    let res = get(app, path, cookie).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

async fn json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let res = get(app, path, "").await;
    (res.status(), res.json().await.unwrap())
}

async fn post_form(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> Response {
    app.client
        .post(app.url(path))
        .header(header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

fn csrf_token(html: &str) -> String {
    field_value(html, "csrf_token")
}

/// The `value` of the (first) input named `field`.
fn field_value(html: &str, field: &str) -> String {
    let marker = format!("name=\"{field}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {field} field"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

async fn member_id(app: &TestApp, cookie: &str) -> MemberId {
    let me: Value = get(app, "/api/v1/me", cookie).await.json().await.unwrap();
    MemberId::from_uuid(me["id"].as_str().unwrap().parse::<Uuid>().unwrap())
}

/// Asks for a re-authentication code from `path` (a form with `next`) and
/// confirms it; returns the code page and the verify response (a
/// redirect).
async fn reauthenticate(
    app: &TestApp,
    email: &str,
    cookie: &str,
    token: &str,
    ask: (&str, Option<&str>),
) -> (String, Response) {
    let before = app.mails_to(email, 0).await.len();
    let mut form = vec![("csrf_token", token)];
    if let Some(next) = ask.1 {
        form.push(("next", next));
    }
    let res = post_form(app, ask.0, cookie, &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let flow_id = field_value(&html, "flow_id");
    let next = field_value(&html, "next");
    // The newest mail after `before` with the reauthentication subject.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let code = loop {
        let mails = app.mails_to(email, before + 1).await;
        if let Some(c) = mails[before..]
            .iter()
            .rev()
            .find(|m| m.subject == ja().mail_reauth_subject)
            .and_then(|m| code_in(&m.text))
        {
            break c;
        }
        assert!(tokio::time::Instant::now() < deadline, "no reauth mail");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let res = post_form(
        app,
        "/account/reauth/verify",
        cookie,
        &[
            ("csrf_token", token),
            ("flow_id", &flow_id),
            ("code", &code),
            ("next", &next),
        ],
    )
    .await;
    (html, res)
}

/// The bank form's fields, empty but for what `extra` sets.
fn bank_form<'a>(token: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf_token", token),
        ("bank_code", ""),
        ("branch_code", ""),
        ("account_type", ""),
        ("account_number", ""),
        ("holder_kana", ""),
        ("bank_q", ""),
        ("branch_q", ""),
    ];
    for (k, v) in extra {
        if let Some(slot) = form.iter_mut().find(|(name, _)| name == k) {
            slot.1 = v;
        } else {
            form.push((k, v));
        }
    }
    form
}

async fn bank_search_finds_mizuho_from_hiragana_and_katakana_then_a_branch_by_name(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    // The API: public, from the bundled list.
    for q in ["みずほ", "ミズホ"] {
        let (status, banks) = json(&app, &format!("/api/v1/banks?q={q}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(banks[0]["code"], "0001", "{q}");
        assert_eq!(banks[0]["name"], "みずほ銀行", "{q}");
    }
    let (_, branches) = json(&app, "/api/v1/banks/0001/branches?q=渋谷").await;
    assert_eq!(branches[0]["code"], "210");
    assert_eq!(branches[0]["name"], "渋谷");
    let (_, branches) = json(&app, "/api/v1/banks/0001/branches?q=シブヤ").await;
    assert_eq!(branches[0]["code"], "210");
    let (status, err) = json(&app, "/api/v1/banks/9998/branches?q=x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"], "bank_not_found");
    let (_, none) = json(&app, "/api/v1/banks?q=").await;
    assert_eq!(none, json!([]));

    // The page, without script: search, choose, search the branch, choose,
    // with what was typed kept between the steps.
    let cookie = app
        .sign_up("bankname@example.jp", "山田 花子", 0)
        .await
        .session;
    let html = page(&app, "/account/bank-account", &cookie).await;
    let token = csrf_token(&html);
    for q in ["みずほ", "ミズホ"] {
        let res = post_form(
            &app,
            "/account/bank-account",
            &cookie,
            &bank_form(
                &token,
                &[
                    ("step", "find_bank"),
                    ("bank_q", q),
                    ("account_number", NUMBER),
                ],
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let html = res.text().await.unwrap();
        assert!(
            html.contains("name=\"pick_bank\" value=\"0001\" class=\"secondary small\" formnovalidate>みずほ銀行（0001）"),
            "{q}"
        );
        assert_eq!(field_value(&html, "account_number"), NUMBER, "kept");
        assert_eq!(field_value(&html, "bank_q"), escaped(q));
    }
    let res = post_form(
        &app,
        "/account/bank-account",
        &cookie,
        &bank_form(&token, &[("pick_bank", "0001"), ("account_number", NUMBER)]),
    )
    .await;
    let html = res.text().await.unwrap();
    assert_eq!(field_value(&html, "bank_code"), "0001");
    assert!(html.contains(&ja().bank_chosen.replace("{bank}", "みずほ銀行（0001）")));
    assert!(html.contains("name=\"branch_q\""), "the branch search");
    let res = post_form(
        &app,
        "/account/bank-account",
        &cookie,
        &bank_form(
            &token,
            &[
                ("step", "find_branch"),
                ("bank_code", "0001"),
                ("branch_q", "しぶや"),
            ],
        ),
    )
    .await;
    let html = res.text().await.unwrap();
    assert!(html.contains("name=\"pick_branch\" value=\"210\""));
    assert!(html.contains("渋谷（210）") && html.contains("渋谷中央（162）"));
    let res = post_form(
        &app,
        "/account/bank-account",
        &cookie,
        &bank_form(
            &token,
            &[
                ("pick_branch", "210"),
                ("bank_code", "0001"),
                ("account_number", NUMBER),
            ],
        ),
    )
    .await;
    let html = res.text().await.unwrap();
    assert_eq!(field_value(&html, "branch_code"), "210");
    assert_eq!(field_value(&html, "account_number"), NUMBER);
    assert!(html.contains(&ja().branch_chosen.replace("{branch}", "渋谷（210）")));
    // Nothing was saved by the steps.
    let id = member_id(&app, &cookie).await;
    assert!(
        app.store
            .member_data()
            .bank_account(id)
            .await
            .unwrap()
            .is_none()
    );

    // Saved: the page names the bank and the branch, and shows no hint
    // text such as （4桁） as a value.
    let res = post_form(
        &app,
        "/account/bank-account",
        &cookie,
        &bank_form(
            &token,
            &[
                ("bank_code", "0001"),
                ("branch_code", "210"),
                ("account_type", "ordinary"),
                ("account_number", NUMBER),
                ("holder_kana", HOLDER),
            ],
        ),
    )
    .await;
    let html = res.text().await.unwrap();
    assert!(html.contains(&ja().bank_saved));
    let dl = &html[html.find("<dl>").unwrap()..html.find("</dl>").unwrap()];
    assert!(
        dl.contains("みずほ銀行（0001）") && dl.contains("渋谷（210）"),
        "{dl}"
    );
    assert!(dl.contains("****321") && !dl.contains(NUMBER));
    assert!(!dl.contains("桁"), "no hint text in the display: {dl}");
    let me: Value = get(&app, "/api/v1/me", &cookie).await.json().await.unwrap();
    assert_eq!(me["bank_account"]["bank_name"], "みずほ銀行");
    assert_eq!(me["bank_account"]["branch_name"], "渋谷");
    app.stop().await;
}

async fn postcode_150_0001_fills_tokyo_shibuya_jingumae(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    for code in ["150-0001", "1500001", "〒１５０－０００１"] {
        let (status, v) = json(&app, &format!("/api/v1/postcodes/{code}")).await;
        assert_eq!(status, StatusCode::OK, "{code}");
        assert_eq!(v["postcode"], "150-0001");
        assert_eq!(
            v["areas"],
            json!([{"prefecture": "東京都", "city": "渋谷区", "town": "神宮前"}])
        );
    }
    let (status, v) = json(&app, "/api/v1/postcodes/000-0000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], "postcode_not_found");
    let (status, v) = json(&app, "/api/v1/postcodes/12").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["fields"][0]["field"], "postal_code");

    // The address form's button, without script: filled, nothing saved.
    let cookie = app
        .sign_up("postcode@example.jp", "山田 花子", 0)
        .await
        .session;
    let html = page(&app, "/account/addresses", &cookie).await;
    let token = csrf_token(&html);
    let address = |postal: &'static str| {
        vec![
            ("csrf_token", token.clone()),
            ("recipient_name", "山田 花子".to_owned()),
            ("postal_code", postal.to_owned()),
            ("prefecture", String::new()),
            ("city", String::new()),
            ("line1", String::new()),
            ("line2", "コーポ101".to_owned()),
            ("phone", String::new()),
            ("lookup", "1".to_owned()),
        ]
    };
    let res = app
        .client
        .post(app.url("/account/addresses"))
        .header(header::COOKIE, &cookie)
        .form(&address("150-0001"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert_eq!(field_value(&html, "prefecture"), "東京都");
    assert_eq!(field_value(&html, "city"), "渋谷区");
    assert_eq!(field_value(&html, "line1"), "神宮前");
    assert_eq!(field_value(&html, "recipient_name"), "山田 花子", "kept");
    assert_eq!(field_value(&html, "line2"), "コーポ101", "kept");
    assert!(html.contains(&ja().address_lookup_found));
    let list: Value = get(&app, "/api/v1/me/addresses", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]), "a lookup saves nothing");

    // An unknown postcode: a clear message, the form as typed.
    let res = app
        .client
        .post(app.url("/account/addresses"))
        .header(header::COOKIE, &cookie)
        .form(&address("000-0000"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(&ja().address_lookup_unknown));
    assert_eq!(field_value(&html, "postal_code"), "000-0000");
    assert_eq!(field_value(&html, "recipient_name"), "山田 花子");
    // A malformed one: the field's own error.
    let res = app
        .client
        .post(app.url("/account/addresses"))
        .header(header::COOKIE, &cookie)
        .form(&address("12"))
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"postal_code-error\""));
    assert_eq!(field_value(&html, "line2"), "コーポ101");

    // The edit form has the button too; a typed street line is kept.
    let res = app
        .client
        .post(app.url("/api/v1/me/addresses"))
        .header(header::COOKIE, &cookie)
        .json(
            &json!({"recipient_name": "山田 花子", "postal_code": "530-0001",
            "prefecture": "大阪府", "city": "大阪市北区", "line1": "梅田1-1-1"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .client
        .post(app.url(&format!("/account/addresses/{id}/edit")))
        .header(header::COOKIE, &cookie)
        .form(&[
            ("csrf_token", token.as_str()),
            ("recipient_name", "山田 花子"),
            ("postal_code", "1500001"),
            ("prefecture", "大阪府"),
            ("city", "大阪市北区"),
            ("line1", "神宮前4-5-6"),
            ("lookup", "1"),
        ])
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert_eq!(field_value(&html, "postal_code"), "150-0001");
    assert_eq!(field_value(&html, "prefecture"), "東京都");
    assert_eq!(field_value(&html, "city"), "渋谷区");
    assert_eq!(field_value(&html, "line1"), "神宮前4-5-6");
    app.stop().await;
}

async fn c13_removing_the_phone_asks_first_needs_a_recent_login_and_deletes_it(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "nophone@example.jp";
    let cookie = app.sign_up(email, "山田 花子", 0).await.session;
    let res = app
        .client
        .put(app.url("/api/v1/me/phone"))
        .header(header::COOKIE, &cookie)
        .json(&json!({"phone": "090-1234-5678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let id = member_id(&app, &cookie).await;
    let phone = page(&app, "/account/phone", &cookie).await;
    assert!(phone.contains("class=\"button danger small\" href=\"/account/phone/remove\""));
    let token = csrf_token(&phone);

    // An hour later: the question becomes an offer of a code, and the
    // POST (and the API) refuse.
    app.clock.advance(3600 * anshin_testkit::SECOND);
    let ask = page(&app, "/account/phone/remove", &cookie).await;
    assert!(ask.contains(&ja().remove_reauth_lead.replace("{minutes}", "10")));
    assert!(ask.contains("name=\"next\" value=\"remove-phone\""));
    let res = post_form(
        &app,
        "/account/phone/remove",
        &cookie,
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/account/phone/remove");
    let res = app
        .client
        .delete(app.url("/api/v1/me/phone"))
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(app.store.member_data().phone(id).await.unwrap().is_some());

    // The code returns to the question.
    let res = reauthenticate(
        &app,
        email,
        &cookie,
        &token,
        ("/account/reauth", Some("remove-phone")),
    )
    .await
    .1;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/account/phone/remove");
    let ask = page(&app, "/account/phone/remove", &cookie).await;
    assert!(ask.contains(&ja().confirm_remove_phone_lead));
    assert!(ask.contains("090-****-5678") && !ask.contains("090-1234-5678"));
    assert!(ask.contains("class=\"danger\"") && ask.contains("href=\"/account/phone\""));
    // Without the token nothing happens.
    let res = post_form(&app, "/account/phone/remove", &cookie, &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(app.store.member_data().phone(id).await.unwrap().is_some());
    let res = post_form(
        &app,
        "/account/phone/remove",
        &cookie,
        &[("csrf_token", &token)],
    )
    .await;
    let (status, html) = app.follow(res, "/account/phone", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&escaped(&ja().flash["phone_removed"])));
    assert!(html.contains(&ja().phone_none));
    assert!(
        app.store.member_data().phone(id).await.unwrap().is_none(),
        "the sealed phone is gone from the database"
    );
    // Nothing left to remove: the question goes back to the phone page.
    let res = get(&app, "/account/phone/remove", &cookie).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

async fn c13_removing_the_bank_account_asks_first_needs_a_recent_login_and_deletes_it(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "nobank@example.jp";
    let cookie = app.sign_up(email, "山田 花子", 0).await.session;
    let res = app
        .client
        .put(app.url("/api/v1/me/bank-account"))
        .header(header::COOKIE, &cookie)
        .json(
            &json!({"bank_code": "0001", "branch_code": "210", "account_type": "ordinary",
            "account_number": NUMBER, "holder_kana": HOLDER}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let id = member_id(&app, &cookie).await;
    let bank = page(&app, "/account/bank-account", &cookie).await;
    assert!(bank.contains("href=\"/account/bank-account/remove\""));
    let token = csrf_token(&bank);
    let ask = page(&app, "/account/bank-account/remove", &cookie).await;
    assert!(ask.contains(&ja().confirm_remove_bank_lead));
    assert!(ask.contains("みずほ銀行（0001）") && ask.contains("****321"));
    assert!(!ask.contains(NUMBER) && !ask.contains(&escaped(HOLDER)));
    assert!(ask.contains("class=\"danger\""));
    let res = post_form(&app, "/account/bank-account/remove", &cookie, &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A stale session cannot remove it, by page or by API.
    app.clock.advance(3600 * anshin_testkit::SECOND);
    let res = post_form(
        &app,
        "/account/bank-account/remove",
        &cookie,
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(
        res.headers()[header::LOCATION],
        "/account/bank-account/remove"
    );
    let ask = page(&app, "/account/bank-account/remove", &cookie).await;
    assert!(ask.contains("name=\"next\" value=\"remove-bank-account\""));
    let res = app
        .client
        .delete(app.url("/api/v1/me/bank-account"))
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        app.store
            .member_data()
            .bank_account(id)
            .await
            .unwrap()
            .is_some()
    );

    let res = reauthenticate(
        &app,
        email,
        &cookie,
        &token,
        ("/account/reauth", Some("remove-bank-account")),
    )
    .await
    .1;
    assert_eq!(
        res.headers()[header::LOCATION],
        "/account/bank-account/remove"
    );
    let res = post_form(
        &app,
        "/account/bank-account/remove",
        &cookie,
        &[("csrf_token", &token)],
    )
    .await;
    let (_, html) = app.follow(res, "/account/bank-account", &cookie).await;
    assert!(html.contains(&escaped(&ja().flash["bank_account_removed"])));
    assert!(html.contains(&ja().bank_none));
    assert!(
        app.store
            .member_data()
            .bank_account(id)
            .await
            .unwrap()
            .is_none(),
        "the sealed account is gone from the database"
    );
    let me: Value = get(&app, "/api/v1/me", &cookie).await.json().await.unwrap();
    assert_eq!(me["bank_account"], Value::Null);
    app.stop().await;
}

async fn c13_the_typed_bank_form_comes_back_after_reauth_for_that_session_only(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let t = ja();
    let email = "draft@example.jp";
    let cookie = app.sign_up(email, "山田 花子", 0).await.session;
    // The form is opened right after login, and sent an hour later.
    let html = page(&app, "/account/bank-account", &cookie).await;
    let token = csrf_token(&html);
    app.clock.advance(3600 * anshin_testkit::SECOND);
    let typed = [
        ("bank_code", "0001"),
        ("branch_code", "210"),
        ("account_type", "savings"),
        ("account_number", NUMBER),
        ("holder_kana", HOLDER),
    ];
    let res = post_form(
        &app,
        "/account/bank-account",
        &cookie,
        &bank_form(&token, &typed),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut seen = Vec::new();
    let no_values = |what: &str, text: &str| {
        for (_, v) in typed.iter().skip(3) {
            assert!(
                !text.contains(v) && !text.contains(&escaped(v)),
                "{what} holds {v}"
            );
        }
    };
    for c in res.headers().get_all(header::SET_COOKIE) {
        seen.push(c.to_str().unwrap().to_owned());
    }
    let html = res.text().await.unwrap();
    assert!(html.contains(&t.err_reauthentication_required));
    assert!(html.contains(&t.bank_draft_kept.replace("{minutes}", "15")));
    no_values("the page asking for a code", &html);
    let id = member_id(&app, &cookie).await;
    assert!(
        app.store
            .member_data()
            .bank_account(id)
            .await
            .unwrap()
            .is_none()
    );

    // Another browser of the same member, freshly logged in, gets an
    // empty form: the kept form belongs to the session that typed it.
    let other = app.log_in_again(email).await;
    let html = page(&app, "/account/bank-account", &other).await;
    assert!(html.contains("name=\"account_number\""));
    assert_eq!(field_value(&html, "account_number"), "");
    assert!(!html.contains(&t.bank_draft_restored));
    no_values("another session's form", &html);

    // The code; back on the bank form with what was typed.
    let (code_page, res) = reauthenticate(
        &app,
        email,
        &cookie,
        &token,
        ("/account/bank-account/reauth", None),
    )
    .await;
    no_values("the code page", &code_page);
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(location, "/account/bank-account");
    for c in res.headers().get_all(header::SET_COOKIE) {
        seen.push(c.to_str().unwrap().to_owned());
    }
    for c in &seen {
        no_values("a cookie", c);
    }
    let flash = anshin_testkit::set_cookie(&res, FLASH).map(anshin_testkit::cookie_pair);
    let res = get(
        &app,
        &location,
        &format!("{cookie}; {}", flash.unwrap_or_default()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains(&escaped(&t.flash["reauthenticated"])));
    assert!(html.contains(&t.bank_draft_restored));
    assert_eq!(field_value(&html, "bank_code"), "0001");
    assert_eq!(field_value(&html, "branch_code"), "210");
    assert_eq!(field_value(&html, "account_number"), NUMBER);
    assert_eq!(field_value(&html, "holder_kana"), escaped(HOLDER));
    assert!(html.contains("<option value=\"savings\" selected>"));
    // Shown once: the next visit starts empty.
    let html = page(&app, "/account/bank-account", &cookie).await;
    assert_eq!(field_value(&html, "account_number"), "");
    // The other session, now recent too, still gets nothing.
    let html = page(&app, "/account/bank-account", &other).await;
    assert_eq!(field_value(&html, "account_number"), "");

    let logs = anshin_testkit::captured_logs();
    assert!(
        !logs.contains(NUMBER) && !logs.contains(HOLDER),
        "nothing in the log"
    );
    app.stop().await;
}

//! The profile (issue 12), over real HTTPS with real SMTP, on SQLite and
//! PostgreSQL: the display name (refused with its length when too long,
//! never cut) and the e-mail address (a recent login, a code to the new
//! address entered in the session that asked, a notice to the old one,
//! other sessions ended), as pages and as API.
//!
//! What an attacker would try, and the test that answers it:
//! - change the address from a session without a recent login:
//!   `c11_email_change_needs_a_recent_login_and_returns_to_the_form`;
//! - learn whether an address has an account by trying to move to it: the
//!   page, the API answer and the work are the same, its owner is told
//!   (`c11_email_change_to_a_taken_address_looks_the_same_and_tells_its_owner`);
//! - guess the code: `c11_email_change_wrong_codes_are_limited_like_login_codes`;
//! - use a code of another flow, another member or another session of the
//!   member: `c11_email_change_codes_work_only_in_their_own_flow_and_session`;
//! - use a stale code, or a login code mailed to the old address before
//!   the change: `c11_stale_codes_and_old_login_codes_are_refused`;
//! - flood inboxes: `c11_email_change_requests_are_limited_per_member_and_address`;
//! - forge a form post: CSRF (`profile_forms_need_their_csrf_token`).

use std::sync::LazyLock;
use std::time::Duration;

use anshin_core::i18n::{Catalog, Catalogs, Lang};
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, Mail, TestApp, backends, code_in};
use serde_json::{Value, json};

backends!(
    display_name_is_saved_with_a_flash_and_a_long_one_is_refused_uncut,
    profile_forms_need_their_csrf_token,
    c11_email_change_moves_login_to_the_new_address_and_tells_the_old_one,
    c11_email_change_needs_a_recent_login_and_returns_to_the_form,
    c11_email_change_to_a_taken_address_looks_the_same_and_tells_its_owner,
    c11_email_change_wrong_codes_are_limited_like_login_codes,
    c11_email_change_codes_work_only_in_their_own_flow_and_session,
    c11_stale_codes_and_old_login_codes_are_refused,
    c11_email_change_requests_are_limited_per_member_and_address,
);

const PASSWORD: &str = "lantern orbit tangerine seventeen";

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
        r = r.header(header::CONTENT_TYPE, "application/json");
    }
    r.send().await.unwrap()
}

/// The status and JSON body of an API call.
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Value,
    cookie: &str,
) -> (StatusCode, Value) {
    let res = api(app, method, path, Some(body), cookie).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> Response {
    app.client
        .get(app.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

/// A page's HTML, asserting it is a 200 the browser must not store.
async fn page(app: &TestApp, path: &str, cookie: &str) -> String {
    let res = get(app, path, cookie).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store", "{path}");
    res.text().await.unwrap()
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

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The message shown under `name`, if the page marks it wrong.
fn field_error(html: &str, name: &str) -> Option<String> {
    let marker = format!("id=\"{name}-error\">");
    let start = html.find(&marker)? + marker.len();
    Some(html[start..start + html[start..].find('<').unwrap()].to_owned())
}

fn escaped(text: &str) -> String {
    // askama's escaping.
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn flash_text(code: &str) -> String {
    escaped(ja().flash.get(code).unwrap())
}

async fn me(app: &TestApp, cookie: &str) -> (StatusCode, Value) {
    let res = get(app, "/api/v1/me", cookie).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Every mail to `to` so far (waits for at least `n`).
async fn mails(app: &TestApp, to: &str, n: usize) -> Vec<Mail> {
    app.mails_to(to, n).await
}

/// Waits (up to 15 s) for the `nth` (1-based) mail to `to` with this
/// subject.
async fn nth_mail_with_subject(app: &TestApp, to: &str, subject: &str, nth: usize) -> Mail {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let found: Vec<Mail> = app
            .mails_to(to, 0)
            .await
            .into_iter()
            .filter(|m| m.subject == subject)
            .collect();
        if found.len() >= nth {
            return found[nth - 1].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no mail {nth} {subject:?} to {to}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts an e-mail change through the API; returns the flow id.
async fn start_change(app: &TestApp, cookie: &str, new: &str) -> String {
    let (status, v) = call(
        app,
        "POST",
        "/api/v1/me/email",
        json!({"email": new}),
        cookie,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    v["flow_id"].as_str().unwrap().to_owned()
}

async fn confirm(app: &TestApp, cookie: &str, flow: &str, code: &str) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        "/api/v1/me/email/verify",
        json!({"flow_id": flow, "code": code}),
        cookie,
    )
    .await
}

/// The code of the `nth` e-mail change code mailed to `to`.
async fn change_code(app: &TestApp, to: &str, nth: usize) -> String {
    let mail = nth_mail_with_subject(app, to, &ja().mail_email_change_subject, nth).await;
    code_in(&mail.text).expect("a code in the mail")
}

/// A wrong code that is surely not `right`.
fn wrong(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

async fn display_name_is_saved_with_a_flash_and_a_long_one_is_refused_uncut(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let t = ja();
    let cookie = app.sign_up("name@example.jp", "山田 花子", 0).await.session;
    // Linked from the account page.
    let account = page_any(&app, "/account", &cookie).await;
    assert!(account.contains("href=\"/account/profile\""));
    let html = page(&app, "/account/profile", &cookie).await;
    assert_eq!(field(&html, "display_name"), "山田 花子");
    assert!(html.contains("name@example.jp"));
    assert!(html.contains("href=\"/account/profile/email\""));
    assert!(
        !html.contains("maxlength=\"50\""),
        "no maxlength: a browser would cut a pasted name silently"
    );
    let token = field(&html, "csrf_token");

    // 51 characters: refused with the count, kept whole in the form.
    let long = "あ".repeat(51);
    let res = post_form(
        &app,
        "/account/profile",
        &cookie,
        &[("csrf_token", &token), ("display_name", &long)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let html = res.text().await.unwrap();
    let want = t
        .err_display_name_too_long
        .replace("{max}", "50")
        .replace("{count}", "51");
    assert_eq!(field_error(&html, "display_name"), Some(escaped(&want)));
    assert_eq!(field(&html, "display_name"), long, "typed name kept whole");
    assert!(html.contains("aria-invalid=\"true\""));
    assert_eq!(me(&app, &cookie).await.1["display_name"], "山田 花子");
    // Empty and control characters: their own messages.
    for (typed, message) in [
        ("   ", &t.err_display_name_required),
        ("a\u{7}b", &t.err_display_name_invalid_character),
    ] {
        let res = post_form(
            &app,
            "/account/profile",
            &cookie,
            &[("csrf_token", &token), ("display_name", typed)],
        )
        .await;
        let html = res.text().await.unwrap();
        assert_eq!(
            field_error(&html, "display_name"),
            Some(escaped(message)),
            "{typed:?}"
        );
    }

    // 50 characters, with spaces around: saved trimmed, whole, with a flash.
    let fifty = format!("  {}  ", "い".repeat(50));
    let res = post_form(
        &app,
        "/account/profile",
        &cookie,
        &[("csrf_token", &token), ("display_name", &fifty)],
    )
    .await;
    let (status, html) = app.follow(res, "/account/profile", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&flash_text("display_name_saved")));
    assert_eq!(field(&html, "display_name"), "い".repeat(50));
    assert_eq!(me(&app, &cookie).await.1["display_name"], "い".repeat(50));

    // The API: the same rule, a precise status.
    let (status, v) = call(
        &app,
        "PATCH",
        "/api/v1/me/profile",
        json!({"display_name": long}),
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_display_name");
    let (status, v) = call(
        &app,
        "PATCH",
        "/api/v1/me/profile",
        json!({"display_name": " Hanako "}),
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["display_name"], "Hanako");
    assert_eq!(me(&app, &cookie).await.1["display_name"], "Hanako");
    let (status, v) = call(
        &app,
        "PATCH",
        "/api/v1/me/profile",
        json!({"display_name": "x"}),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");

    // Sign-up says the same about a long name and keeps it whole.
    let res = get(&app, "/signup", "").await;
    let visitor = anshin_testkit::cookie_pair(
        anshin_testkit::set_cookie(&res, "__Host-anshin_session").unwrap(),
    );
    let token = field(&res.text().await.unwrap(), "csrf_token");
    let res = post_form(
        &app,
        "/signup",
        &visitor,
        &[
            ("csrf_token", &token),
            ("email", "new@example.jp"),
            ("display_name", &long),
            ("altcha", &app.solve_challenge().await),
        ],
    )
    .await;
    let html = res.text().await.unwrap();
    assert!(html.contains(&escaped(&want)), "sign-up says how long");
    assert!(
        html.contains(&format!("value=\"{long}\"")),
        "sign-up keeps it whole"
    );
    app.stop().await;
}

/// A page that need not be `no-store`.
async fn page_any(app: &TestApp, path: &str, cookie: &str) -> String {
    let res = get(app, path, cookie).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

async fn profile_forms_need_their_csrf_token(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = app.sign_up("csrf@example.jp", "山田 花子", 0).await.session;
    for (path, form) in [
        ("/account/profile", vec![("display_name", "Mallory")]),
        (
            "/account/profile/email",
            vec![("email", "mallory@example.jp")],
        ),
        ("/account/profile/email/reauth", vec![]),
        (
            "/account/profile/email/verify",
            vec![
                ("flow_id", "00000000-0000-0000-0000-000000000000"),
                ("code", "123456"),
            ],
        ),
        (
            "/account/profile/email/resend",
            vec![("flow_id", "00000000-0000-0000-0000-000000000000")],
        ),
    ] {
        let mut with_bad = form.clone();
        with_bad.push(("csrf_token", "forged"));
        for f in [form.clone(), with_bad] {
            let res = post_form(&app, path, &cookie, &f).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        }
    }
    // The API's rule: JSON only (a form post from another site is refused).
    let res = app
        .client
        .patch(app.url("/api/v1/me/profile"))
        .header(header::COOKIE, &cookie)
        .form(&[("display_name", "Mallory")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let v = me(&app, &cookie).await.1;
    assert_eq!(v["display_name"], "山田 花子");
    assert_eq!(v["email"], "csrf@example.jp");
    assert!(
        app.mails_to("mallory@example.jp", 0).await.is_empty(),
        "nothing was mailed"
    );
    app.stop().await;
}

async fn c11_email_change_moves_login_to_the_new_address_and_tells_the_old_one(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let t = ja();
    let old = "taro@example.jp";
    let new = "newtaro@example.com";
    let member = app.member_with_password(old, PASSWORD).await;
    let cookie = member.session.clone();
    let other = app.log_in_again(old).await;
    // A login code mailed to the old address before the change.
    let (status, pending) = call(
        &app,
        "POST",
        "/api/v1/login/code",
        json!({"email": old, "altcha": app.solve_challenge().await}),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The second login code to the old address (`log_in_again` used the first).
    let pending_mail = nth_mail_with_subject(&app, old, &t.mail_login_subject, 2).await;
    let pending_code = code_in(&pending_mail.text).unwrap();

    // Right after the login, the page offers the form.
    let html = page(&app, "/account/profile/email", &cookie).await;
    assert!(html.contains(&escaped(&t.email_change_lead)));
    let token = field(&html, "csrf_token");
    // The current address is no change.
    let res = post_form(
        &app,
        "/account/profile/email",
        &cookie,
        &[("csrf_token", &token), ("email", " Taro@Example.JP ")],
    )
    .await;
    let html = res.text().await.unwrap();
    assert_eq!(
        field_error(&html, "email"),
        Some(escaped(&t.err_email_unchanged))
    );
    let res = post_form(
        &app,
        "/account/profile/email",
        &cookie,
        &[("csrf_token", &token), ("email", "not an address")],
    )
    .await;
    let html = res.text().await.unwrap();
    assert_eq!(
        field_error(&html, "email"),
        Some(escaped(&t.err_invalid_email))
    );
    assert_eq!(field(&html, "email"), "not an address", "typed value kept");

    // The code page: the code went to the NEW address.
    let res = post_form(
        &app,
        "/account/profile/email",
        &cookie,
        &[("csrf_token", &token), ("email", new)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("action=\"/account/profile/email/verify\""));
    assert!(html.contains("action=\"/account/profile/email/resend\""));
    assert!(html.contains(&escaped(&t.email_change_code_note)));
    assert!(
        html.contains("href=\"/account/profile/email\""),
        "another address"
    );
    assert!(
        !html.contains("data-altcha"),
        "no bot challenge for a member"
    );
    let flow = field(&html, "flow_id");
    let code = change_code(&app, new, 1).await;
    let code_mail = nth_mail_with_subject(&app, new, &t.mail_email_change_subject, 1).await;
    assert!(code_mail.text.contains(&t.mail_email_change_body));
    // Nothing has changed yet.
    assert_eq!(me(&app, &cookie).await.1["email"], old);

    let res = post_form(
        &app,
        "/account/profile/email/verify",
        &cookie,
        &[("csrf_token", &token), ("flow_id", &flow), ("code", &code)],
    )
    .await;
    let (status, html) = app.follow(res, "/account/profile", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&flash_text("email_changed")));
    assert!(html.contains(new));
    assert_eq!(
        me(&app, &cookie).await.1["email"],
        new,
        "this session stays"
    );
    assert_eq!(
        me(&app, &other).await.0,
        StatusCode::UNAUTHORIZED,
        "every other session ended"
    );

    // The old address is told, with the new one masked.
    let notice = nth_mail_with_subject(&app, old, &t.mail_email_changed_subject, 1).await;
    for body in [&notice.text, &notice.html] {
        assert!(body.contains("n***@example.com"), "{body}");
        assert!(!body.contains(new), "the new address in full");
        assert!(!body.contains("newtaro"));
    }
    assert!(notice.text.contains(&t.mail_email_changed_not_me));
    assert!(
        mails(&app, new, 1)
            .await
            .iter()
            .all(|m| m.subject != t.mail_email_changed_subject),
        "the notice goes to the old address only"
    );
    // The history records the change.
    let logins: Value = get(&app, "/api/v1/me/logins", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(logins[0]["method"], "email_change");
    assert_eq!(logins[0]["outcome"], "success");

    // The code mailed to the old address before the change is dead.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/login/code/verify",
        json!({"flow_id": pending["flow_id"], "code": pending_code}),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Login by the old address: a code request finds no account.
    let n = mails(&app, old, 0).await.len();
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/login/code",
        json!({"email": old, "altcha": app.solve_challenge().await}),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let last = mails(&app, old, n + 1).await.pop().unwrap();
    assert_eq!(last.subject, t.mail_no_account_subject);
    let password_login = |email: &'static str| {
        let app = &app;
        async move {
            call(
                app,
                "POST",
                "/api/v1/login/password",
                json!({"email": email, "password": PASSWORD, "altcha": app.solve_challenge().await}),
                "",
            )
            .await
            .0
        }
    };
    assert_eq!(password_login(old).await, StatusCode::UNAUTHORIZED);
    // By the new one: both ways work.
    assert_eq!(password_login(new).await, StatusCode::OK);
    let again = app.log_in_again(new).await;
    assert_eq!(me(&app, &again).await.1["email"], new);
    app.stop().await;
}

async fn c11_email_change_needs_a_recent_login_and_returns_to_the_form(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let t = ja();
    let old = "stale@example.jp";
    let cookie = app.sign_up(old, "山田 花子", 0).await.session;
    app.clock.advance(3600 * anshin_testkit::SECOND);

    // The page offers a confirmation code, not the form.
    let html = page(&app, "/account/profile/email", &cookie).await;
    assert!(html.contains(&t.email_change_reauth_lead.replace("{minutes}", "10")));
    assert!(html.contains("action=\"/account/profile/email/reauth\""));
    assert!(!html.contains("name=\"email\""));
    let token = field(&html, "csrf_token");
    // A form sent anyway: refused, nothing mailed to the new address.
    let res = post_form(
        &app,
        "/account/profile/email",
        &cookie,
        &[("csrf_token", &token), ("email", "thief@example.jp")],
    )
    .await;
    let html = res.text().await.unwrap();
    assert!(html.contains(&escaped(&t.err_reauthentication_required)));
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/me/email",
        json!({"email": "thief@example.jp"}),
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"], "reauthentication_required");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.mails_to("thief@example.jp", 0).await.is_empty());

    // Confirm with the code mailed to the current address: back on the
    // e-mail form.
    let res = post_form(
        &app,
        "/account/profile/email/reauth",
        &cookie,
        &[("csrf_token", &token)],
    )
    .await;
    let html = res.text().await.unwrap();
    assert!(html.contains("action=\"/account/reauth/verify\""));
    assert!(html.contains("name=\"next\" value=\"email\""));
    let flow = field(&html, "flow_id");
    let mail = nth_mail_with_subject(&app, old, &t.mail_reauth_subject, 1).await;
    let code = code_in(&mail.text).unwrap();
    let res = post_form(
        &app,
        "/account/reauth/verify",
        &cookie,
        &[
            ("csrf_token", &token),
            ("flow_id", &flow),
            ("code", &code),
            ("next", "email"),
        ],
    )
    .await;
    let (status, html) = app.follow(res, "/account/profile/email", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&flash_text("reauthenticated")));
    assert!(html.contains("name=\"email\""), "the form is offered now");
    // And it works.
    let flow = start_change(&app, &cookie, "fresh@example.jp").await;
    let code = change_code(&app, "fresh@example.jp", 1).await;
    assert_eq!(
        confirm(&app, &cookie, &flow, &code).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(me(&app, &cookie).await.1["email"], "fresh@example.jp");
    app.stop().await;
}

/// The code page without what differs between two requests (the flow id).
fn without_flow(html: &str) -> String {
    html.replace(&field(html, "flow_id"), "FLOW")
}

async fn c11_email_change_to_a_taken_address_looks_the_same_and_tells_its_owner(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let t = ja();
    let cookie = app
        .sign_up("asker@example.jp", "山田 花子", 0)
        .await
        .session;
    let owner = "owner@example.jp";
    app.sign_up(owner, "Owner", 0).await;
    let owner_mails = mails(&app, owner, 2).await.len();

    let html = page(&app, "/account/profile/email", &cookie).await;
    let token = field(&html, "csrf_token");
    let ask = |address: &'static str| {
        let (app, cookie, token) = (&app, &cookie, &token);
        async move {
            let res = post_form(
                app,
                "/account/profile/email",
                cookie,
                &[("csrf_token", token), ("email", address)],
            )
            .await;
            (res.status(), res.text().await.unwrap())
        }
    };
    let (free_status, free_page) = ask("free@example.jp").await;
    let (taken_status, taken_page) = ask(owner).await;
    assert_eq!(free_status, taken_status);
    assert_eq!(
        without_flow(&free_page),
        without_flow(&taken_page),
        "the page tells the asker nothing"
    );
    // The API answers alike too.
    let (s1, v1) = call(
        &app,
        "POST",
        "/api/v1/me/email",
        json!({"email": "free2@example.jp"}),
        &cookie,
    )
    .await;
    let (s2, v2) = call(
        &app,
        "POST",
        "/api/v1/me/email",
        json!({"email": owner}),
        &cookie,
    )
    .await;
    assert_eq!((s1, s2), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(
        v1.as_object().unwrap().keys().collect::<Vec<_>>(),
        v2.as_object().unwrap().keys().collect::<Vec<_>>()
    );

    // The owner is told someone tried; no code reaches anyone.
    let told = nth_mail_with_subject(&app, owner, &t.mail_email_change_taken_subject, 2).await;
    assert!(code_in(&told.text).is_none(), "no code in the notice");
    assert!(!told.text.contains("asker"), "nothing about the asker");
    assert_eq!(
        mails(&app, owner, owner_mails + 2).await.len(),
        owner_mails + 2
    );
    // The change cannot complete, whatever is tried.
    let taken_flow = v2["flow_id"].as_str().unwrap().to_owned();
    for guess in ["000000", "123456", "999999"] {
        assert_eq!(
            confirm(&app, &cookie, &taken_flow, guess).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(me(&app, &cookie).await.1["email"], "asker@example.jp");
    // The free address got its code, and a code to the owner's address
    // would be the only way: the owner's account is untouched.
    let code = change_code(&app, "free2@example.jp", 1).await;
    assert!(!code.is_empty());
    let found = app
        .store
        .accounts()
        .find_member_by_email(&anshin_domain::EmailAddress::parse(owner).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.display_name.as_str(), "Owner");
    app.stop().await;
}

async fn c11_email_change_wrong_codes_are_limited_like_login_codes(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = app
        .sign_up("guess@example.jp", "山田 花子", 0)
        .await
        .session;
    let new = "target@example.jp";
    let flow = start_change(&app, &cookie, new).await;
    let code = change_code(&app, new, 1).await;
    for _ in 0..5 {
        let (status, v) = confirm(&app, &cookie, &flow, wrong(&code)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(v["error"], "invalid_code");
    }
    // The 6th try, even with the right code, is refused.
    assert_eq!(
        confirm(&app, &cookie, &flow, &code).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A new code keeps the count (as login codes do): still refused.
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/me/email/resend",
        json!({"flow_id": flow}),
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let again = v["flow_id"].as_str().unwrap().to_owned();
    let code = change_code(&app, new, 2).await;
    assert_eq!(
        confirm(&app, &cookie, &again, &code).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me(&app, &cookie).await.1["email"], "guess@example.jp");
    // Each failure is in the member's history.
    let logins: Value = get(&app, "/api/v1/me/logins", &cookie)
        .await
        .json()
        .await
        .unwrap();
    let failures = logins
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["method"] == "email_change" && e["outcome"] == "failure")
        .count();
    assert_eq!(failures, 5);
    app.stop().await;
}

async fn c11_email_change_codes_work_only_in_their_own_flow_and_session(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "owner2@example.jp";
    let first = app.sign_up(email, "山田 花子", 0).await.session;
    let second = app.log_in_again(email).await;
    let stranger = app
        .sign_up("stranger@example.jp", "Stranger", 0)
        .await
        .session;
    let new = "moved@example.jp";
    let flow = start_change(&app, &first, new).await;
    let code = change_code(&app, new, 1).await;

    // Another session of the same member, with the right flow and code.
    assert_eq!(
        confirm(&app, &second, &flow, &code).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Another member.
    assert_eq!(
        confirm(&app, &stranger, &flow, &code).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Nobody signed in.
    assert_eq!(
        confirm(&app, "", &flow, &code).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Nor can they ask for a new code of this flow.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/me/email/resend",
        json!({"flow_id": flow}),
        &second,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A code of another kind of flow: a re-authentication code of this
    // very session.
    let (status, v) = call(&app, "POST", "/api/v1/me/reauth/code", json!({}), &first).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let reauth_flow = v["flow_id"].as_str().unwrap().to_owned();
    let reauth_mail = nth_mail_with_subject(&app, email, &ja().mail_reauth_subject, 1).await;
    let reauth_code = code_in(&reauth_mail.text).unwrap();
    assert_eq!(
        confirm(&app, &first, &reauth_flow, &reauth_code).await.0,
        StatusCode::UNAUTHORIZED,
        "a re-authentication code changes no address"
    );
    // And the change's code does not re-authenticate.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/me/reauth/verify",
        json!({"flow_id": flow, "code": code}),
        &first,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nor does it log in.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/login/code/verify",
        json!({"flow_id": flow, "code": code}),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &first).await.1["email"], email);
    assert_eq!(me(&app, &stranger).await.1["email"], "stranger@example.jp");

    // The session that asked finishes it (the tries above used 4 of 5).
    assert_eq!(
        confirm(&app, &first, &flow, &code).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(me(&app, &first).await.1["email"], new);
    assert_eq!(me(&app, &second).await.0, StatusCode::UNAUTHORIZED);
    // Once.
    assert_eq!(
        confirm(&app, &first, &flow, &code).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

async fn c11_stale_codes_and_old_login_codes_are_refused(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| s.auth.recent_auth_secs = 3600).await;
    let cookie = app.sign_up("late@example.jp", "山田 花子", 0).await.session;
    let new = "later@example.jp";
    // Expired: 10 minutes and a second later.
    let flow = start_change(&app, &cookie, new).await;
    let code = change_code(&app, new, 1).await;
    app.clock.advance(601 * anshin_testkit::SECOND);
    assert_eq!(
        confirm(&app, &cookie, &flow, &code).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Superseded: a new code ends the old one.
    let first = start_change(&app, &cookie, new).await;
    let first_code = change_code(&app, new, 2).await;
    let res = post_form(
        &app,
        "/account/profile/email/resend",
        &cookie,
        &[
            (
                "csrf_token",
                &field(&page(&app, "/account/profile", &cookie).await, "csrf_token"),
            ),
            ("flow_id", &first),
        ],
    )
    .await;
    let html = res.text().await.unwrap();
    assert!(html.contains(&escaped(&ja().verify_resent)));
    let second = field(&html, "flow_id");
    assert_ne!(second, first);
    let second_code = change_code(&app, new, 3).await;
    if first_code != second_code {
        assert_eq!(
            confirm(&app, &cookie, &first, &first_code).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        confirm(&app, &cookie, &first, &second_code).await.0,
        StatusCode::UNAUTHORIZED,
        "a code works only in its own flow"
    );
    assert_eq!(
        confirm(&app, &cookie, &second, &second_code).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(me(&app, &cookie).await.1["email"], new);
    app.stop().await;
}

async fn c11_email_change_requests_are_limited_per_member_and_address(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = app.sign_up("many@example.jp", "山田 花子", 0).await.session;
    // Five changes in the window, each to another address: the sixth is
    // refused, whatever address it names.
    for i in 0..5 {
        start_change(&app, &cookie, &format!("a{i}@example.jp")).await;
    }
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/me/email",
        json!({"email": "a5@example.jp"}),
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"], "rate_limited");
    // One address gets at most five codes in the window, from anyone.
    let victim = "inbox@example.jp";
    for _ in 0..5 {
        let (status, _) = call(
            &app,
            "POST",
            "/api/v1/login/code",
            json!({"email": victim, "altcha": app.solve_challenge().await}),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let other = app.sign_up("other@example.jp", "Other", 0).await.session;
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/me/email",
        json!({"email": victim}),
        &other,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // After the window, a change is possible again.
    app.clock.advance(601 * anshin_testkit::SECOND);
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/me/email",
        json!({"email": "a5@example.jp"}),
        &cookie,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the login is no longer recent: {v}"
    );
    app.stop().await;
}

/// The OpenAPI document lists every profile route with its statuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_api_is_in_the_openapi_document() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc: Value = get(&app, "/api/openapi.json", "")
        .await
        .json()
        .await
        .unwrap();
    for (path, method, statuses) in [
        ("/api/v1/me/profile", "patch", &["200", "400", "401"][..]),
        (
            "/api/v1/me/email",
            "post",
            &["202", "400", "401", "403", "429"][..],
        ),
        (
            "/api/v1/me/email/verify",
            "post",
            &["204", "401", "429"][..],
        ),
        (
            "/api/v1/me/email/resend",
            "post",
            &["202", "401", "403", "429"][..],
        ),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        for s in statuses {
            assert!(responses[s].is_object(), "{method} {path} {s}: {responses}");
        }
        assert!(
            doc["paths"][path][method]["requestBody"].is_object(),
            "{method} {path} body"
        );
    }
    app.stop().await;
}

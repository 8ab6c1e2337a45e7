//! Finding one's way around (issue 12), over real HTTPS on SQLite and
//! PostgreSQL: the menu knows whether a member is signed in; every action
//! says what happened after its redirect (the flash); destructive actions
//! ask first on a page of their own; the login history is paged and in the
//! reader's words; the code page offers a new code and another address;
//! the owner of a locked account, on a browser that logged in before, is
//! told why (a stranger's answer stays the same); and no Japanese page or
//! mail shows a catalog key or a raw stored value.
//!
//! What an attacker would try here, and where it is answered:
//! - a forged flash cookie to make a page say something else: only codes
//!   from a closed list are shown (`forged_flash_cookies_show_nothing`);
//! - a confirmation page that destroys on GET (a link in a mail or an
//!   image tag): the GET only asks; the POST needs the CSRF token
//!   (`c10_ending_a_session_asks_first_then_says_so`);
//! - a history page far back to make the database scan: pages past 1000
//!   are page 1, the API answers 400 (`c10_login_history_is_paged`);
//! - learning that an account is locked: only a browser holding the
//!   account's device cookie is told (`c08_locked_owner_on_a_known_device_is_told_why`);
//! - an open redirect through "return to the page after login": only a
//!   path of this site is kept and followed; a planted `//host` or URL
//!   sends the login to the account page
//!   (`a_login_returns_to_the_page_that_sent_the_visitor_to_it`).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use anshin_core::i18n::{Catalog, Catalogs, Lang};
use anshin_core::mail::compose::{self, Letter, LoginNotice};
use anshin_domain::{LoginMethod, LoginOutcome, MemberId};
use anshin_store::{Changes, NewLoginEvent, Write};
use anshin_testkit::anshin::web::common::errors::ErrorCode;
use anshin_testkit::anshin::web::common::flash::Flash;
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, code_in, cookie_pair, set_cookie};
use serde_json::{Value, json};
use uuid::Uuid;

backends!(
    the_menu_knows_whether_a_member_is_signed_in,
    c10_logout_and_ending_elsewhere_say_so,
    c10_ending_a_session_asks_first_then_says_so,
    c13_deleting_an_address_asks_first_then_says_so,
    c12_removing_the_password_asks_first_then_says_so,
    c10_login_history_is_paged,
    c11_code_page_offers_a_new_code_and_another_address,
    c08_locked_owner_on_a_known_device_is_told_why,
    every_japanese_page_and_mail_shows_words_not_keys,
    a_login_returns_to_the_page_that_sent_the_visitor_to_it,
);

const SESSION: &str = "__Host-anshin_session";
const FLASH: &str = "__Host-anshin_flash";
const PASSWORD: &str = "lantern orbit tangerine seventeen";

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| Catalogs::load().unwrap());

fn ja() -> &'static Catalog {
    CATALOGS.get(Lang::Ja)
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> Response {
    let mut r = app.client.get(app.url(path));
    if !cookie.is_empty() {
        r = r.header(header::COOKIE, cookie);
    }
    r.send().await.unwrap()
}

async fn html(app: &TestApp, path: &str, cookie: &str) -> String {
    let res = get(app, path, cookie).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
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

/// A flash sentence as the page's HTML holds it (escaped).
fn flash_text(code: &str) -> String {
    escaped(ja().flash.get(code).unwrap())
}

fn escaped(text: &str) -> String {
    // askama's escaping.
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Records a login event as the core does (through the one write path).
async fn record_event(app: &TestApp, member: Uuid, method: LoginMethod, outcome: LoginOutcome) {
    let at = app.services.now();
    let event = NewLoginEvent {
        id: app.services.random.id(at),
        member_id: MemberId::from_uuid(member),
        at,
        ip: "192.0.2.7".into(),
        device: "Firefox on Linux".into(),
        method,
        outcome,
    };
    app.store
        .commit(&Changes::new().with(Write::RecordLoginEvent(event)))
        .await
        .unwrap();
}

async fn member_id(app: &TestApp, cookie: &str) -> Uuid {
    let me: Value = get(app, "/api/v1/me", cookie).await.json().await.unwrap();
    me["id"].as_str().unwrap().parse().unwrap()
}

async fn the_menu_knows_whether_a_member_is_signed_in(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    for path in ["/", "/login", "/settings/language"] {
        let page = html(&app, path, "").await;
        assert!(page.contains("href=\"/login\"") && page.contains("href=\"/signup\""));
        assert!(!page.contains("action=\"/logout\""), "{path}");
    }
    let home = html(&app, "/", "").await;
    assert!(
        home.contains(&ja().home_cta_signup),
        "home leads to sign-up"
    );

    let me = app.sign_up("menu@example.jp", "メニュー", 0).await;
    for path in ["/", "/account", "/settings/language"] {
        let page = html(&app, path, &me.session).await;
        assert!(page.contains("href=\"/account\""), "{path}");
        assert!(
            page.contains("action=\"/logout\""),
            "{path}: logout in the menu"
        );
        assert!(!page.contains("href=\"/login\""), "{path}: no login link");
        // The menu's logout form carries this session's token.
        let token = field(&page, "csrf_token");
        assert!(!token.is_empty());
    }
    let home = html(&app, "/", &me.session).await;
    assert!(home.contains(&ja().home_cta_account));
    assert!(!home.contains(&ja().home_cta_signup));
    app.stop().await;
}

async fn c10_logout_and_ending_elsewhere_say_so(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "bye@example.jp";
    let me = app.sign_up(email, "さようなら", 0).await;
    let other = app.log_in_again(email).await;
    // Ended from another browser: the next page says why it is at login.
    let res = app
        .client
        .post(app.url("/api/v1/me/sessions/end-others"))
        .header(header::COOKIE, &other)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = get(&app, "/account", &me.session).await;
    let (status, login) = app.follow(res, "/login", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(login.contains(&flash_text("signed_out_elsewhere")));
    // A visitor who never logged in is not told that.
    let res = get(&app, "/account", "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&res, FLASH).is_none());

    // Logging out from the menu says so on the home page.
    let page = html(&app, "/account", &other).await;
    let token = field(&page, "csrf_token");
    let res = post_form(&app, "/logout", &other, &[("csrf_token", &token)]).await;
    let (status, home) = app.follow(res, "/", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains(&flash_text("logged_out")), "logout says so");
    assert!(
        home.contains("href=\"/login\""),
        "the menu offers login again"
    );
    app.stop().await;
}

async fn c10_ending_a_session_asks_first_then_says_so(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "ends@example.jp";
    let me = app.sign_up(email, "終了", 0).await;
    let other = app.log_in_again(email).await;
    let list: Value = get(&app, "/api/v1/me/sessions", &me.session)
        .await
        .json()
        .await
        .unwrap();
    let victim = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions = html(&app, "/account/sessions", &me.session).await;
    let confirm_path = format!("/account/sessions/{victim}/end");
    assert!(
        sessions.contains(&format!("href=\"{confirm_path}\"")),
        "the list links to the confirmation, it does not end at once"
    );
    // The GET only asks: the other session still works.
    let ask = html(&app, &confirm_path, &me.session).await;
    assert!(ask.contains(&ja().confirm_end_session_lead));
    assert!(ask.contains("class=\"danger\""), "a danger button");
    assert!(ask.contains("href=\"/account/sessions\""), "a way back");
    assert_eq!(
        get(&app, "/api/v1/me", &other).await.status(),
        StatusCode::OK
    );
    // The POST without the token changes nothing.
    let res = post_form(&app, &confirm_path, &me.session, &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get(&app, "/api/v1/me", &other).await.status(),
        StatusCode::OK
    );
    let token = field(&ask, "csrf_token");
    let res = post_form(&app, &confirm_path, &me.session, &[("csrf_token", &token)]).await;
    let (_, page) = app.follow(res, "/account/sessions", &me.session).await;
    assert!(page.contains(&flash_text("session_ended")));
    assert_eq!(
        get(&app, "/api/v1/me", &other).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The flash shows once: the page that showed it clears it.
    let again = html(&app, "/account/sessions", &me.session).await;
    assert!(!again.contains(&flash_text("session_ended")));

    // "End all others" asks too.
    let third = app.log_in_again(email).await;
    let ask = html(&app, "/account/sessions/end-others", &me.session).await;
    assert!(ask.contains(&ja().confirm_end_others_lead));
    assert_eq!(
        get(&app, "/api/v1/me", &third).await.status(),
        StatusCode::OK
    );
    let res = post_form(
        &app,
        "/account/sessions/end-others",
        &me.session,
        &[("csrf_token", &token)],
    )
    .await;
    let (_, page) = app.follow(res, "/account/sessions", &me.session).await;
    assert!(page.contains(&flash_text("other_sessions_ended")));
    assert_eq!(
        get(&app, "/api/v1/me", &third).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

async fn add_address(app: &TestApp, cookie: &str) -> Uuid {
    let res = app
        .client
        .post(app.url("/api/v1/me/addresses"))
        .header(header::COOKIE, cookie)
        .json(&json!({
            "recipient_name": "山田 花子",
            "postal_code": "150-0001",
            "prefecture": "東京都",
            "city": "渋谷区",
            "line1": "神宮前1-2-3",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    v["id"].as_str().unwrap().parse().unwrap()
}

async fn c13_deleting_an_address_asks_first_then_says_so(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let me = app.sign_up("addr@example.jp", "住所", 0).await;
    let id = add_address(&app, &me.session).await;
    let list = html(&app, "/account/addresses", &me.session).await;
    let confirm_path = format!("/account/addresses/{id}/delete");
    assert!(list.contains(&format!("href=\"{confirm_path}\"")));
    let ask = get(&app, &confirm_path, &me.session).await;
    assert_eq!(ask.status(), StatusCode::OK);
    assert_eq!(ask.headers()[header::CACHE_CONTROL], "no-store");
    let ask = ask.text().await.unwrap();
    assert!(ask.contains(&ja().confirm_delete_address_lead));
    assert!(ask.contains("神宮前1-2-3"), "says which address");
    let addresses: Value = get(&app, "/api/v1/me/addresses", &me.session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        addresses.as_array().unwrap().len(),
        1,
        "asking deletes nothing"
    );
    let token = field(&ask, "csrf_token");
    let res = post_form(&app, &confirm_path, &me.session, &[("csrf_token", &token)]).await;
    let (_, page) = app.follow(res, "/account/addresses", &me.session).await;
    assert!(page.contains(&flash_text("address_deleted")));
    let addresses: Value = get(&app, "/api/v1/me/addresses", &me.session)
        .await
        .json()
        .await
        .unwrap();
    assert!(addresses.as_array().unwrap().is_empty());
    // Someone else's (or a gone) address: no confirmation page to see.
    assert_eq!(
        get(&app, &confirm_path, &me.session).await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

async fn c12_removing_the_password_asks_first_then_says_so(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "nopass@example.jp";
    let me = app.member_with_password(email, PASSWORD).await;
    let account = html(&app, "/account", &me.session).await;
    assert!(account.contains("href=\"/account/password/remove\""));
    assert!(
        account.contains(&ja().account_reauth_fresh),
        "right after login, no re-authentication is asked for"
    );
    let ask = html(&app, "/account/password/remove", &me.session).await;
    assert!(ask.contains(&ja().confirm_remove_password_lead));
    let token = field(&ask, "csrf_token");
    let me_json: Value = get(&app, "/api/v1/me", &me.session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me_json["has_password"], true, "asking removes nothing");
    let res = post_form(
        &app,
        "/account/password/remove",
        &me.session,
        &[("csrf_token", &token)],
    )
    .await;
    let (_, page) = app.follow(res, "/account", &me.session).await;
    assert!(page.contains(&flash_text("password_removed")));
    let me_json: Value = get(&app, "/api/v1/me", &me.session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me_json["has_password"], false);
    // Later, the account page says a confirmation is needed, and offers it.
    app.clock.advance(3600 * anshin_testkit::SECOND);
    let account = html(&app, "/account", &me.session).await;
    assert!(!account.contains(&ja().account_reauth_fresh));
    assert!(account.contains("action=\"/account/reauth\""));
    app.stop().await;
}

async fn c10_login_history_is_paged(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let me = app.sign_up("pages@example.jp", "ページ", 0).await;
    let id = member_id(&app, &me.session).await;
    // The sign-up's own event plus 24: two pages of 20.
    for i in 0..24 {
        app.clock.advance(anshin_testkit::SECOND);
        let outcome = if i % 2 == 0 {
            LoginOutcome::Failure
        } else {
            LoginOutcome::Success
        };
        record_event(&app, id, LoginMethod::Password, outcome).await;
    }
    let rows = |page: &str| page.matches("data-label=\"日時\"").count();
    let first = html(&app, "/account/sessions", &me.session).await;
    assert_eq!(rows(&first), 20);
    assert!(first.contains("href=\"/account/sessions?page=2#history\""));
    assert!(!first.contains("?page=0"));
    let second = html(&app, "/account/sessions?page=2", &me.session).await;
    assert_eq!(rows(&second), 5);
    assert!(second.contains("href=\"/account/sessions?page=1#history\""));
    assert!(!second.contains("?page=3"));
    assert!(second.contains(&ja().login_method(LoginMethod::Signup).to_owned()));
    // Anything but a page number in range is page 1.
    for odd in ["0", "-1", "abc", "1001", "99999999999999999999"] {
        let page = html(&app, &format!("/account/sessions?page={odd}"), &me.session).await;
        assert_eq!(rows(&page), 20, "{odd}");
    }
    // The API pages by 100 and says what is wrong with a bad page.
    let res = get(&app, "/api/v1/me/logins?page=1", &me.session).await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 25);
    let res = get(&app, "/api/v1/me/logins?page=2", &me.session).await;
    let list: Value = res.json().await.unwrap();
    assert!(list.as_array().unwrap().is_empty());
    for bad in ["0", "abc", "1001"] {
        let res = get(&app, &format!("/api/v1/me/logins?page={bad}"), &me.session).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"], ErrorCode::InvalidPage.as_str());
    }
    app.stop().await;
}

async fn c11_code_page_offers_a_new_code_and_another_address(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "again@example.jp";
    app.sign_up(email, "もう一度", 0).await;
    let res = get(&app, "/login", "").await;
    let visitor = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let token = field(&res.text().await.unwrap(), "csrf_token");
    let res = post_form(
        &app,
        "/login/code",
        &visitor,
        &[
            ("csrf_token", &token),
            ("email", email),
            ("altcha", &app.solve_challenge().await),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("action=\"/login/resend\""));
    assert!(page.contains("href=\"/login\""), "use another address");
    assert!(page.contains(&ja().verify_other_address));
    let first_flow = field(&page, "flow_id");
    let first_code = app.code_for(email, 3).await;

    // A wrong code says what to do here.
    let res = post_form(
        &app,
        "/login/verify",
        &visitor,
        &[
            ("csrf_token", &token),
            ("flow_id", &first_flow),
            ("code", "000000"),
        ],
    )
    .await;
    let page = res.text().await.unwrap();
    assert!(page.contains(&ja().err_code_wrong_here));

    // A new code: the same rules (the bot challenge), a new flow, and the
    // old code stops working.
    let res = post_form(
        &app,
        "/login/resend",
        &visitor,
        &[("csrf_token", &token), ("flow_id", &first_flow)],
    )
    .await;
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&ja().err_challenge_required),
        "resend needs the challenge"
    );
    let res = post_form(
        &app,
        "/login/resend",
        &visitor,
        &[
            ("csrf_token", &token),
            ("flow_id", &first_flow),
            ("altcha", &app.solve_challenge().await),
        ],
    )
    .await;
    let page = res.text().await.unwrap();
    assert!(page.contains(&ja().verify_resent));
    let second_flow = field(&page, "flow_id");
    assert_ne!(second_flow, first_flow);
    let second_code = app.code_for(email, 4).await;
    let res = post_form(
        &app,
        "/login/verify",
        &visitor,
        &[
            ("csrf_token", &token),
            ("flow_id", &first_flow),
            ("code", &first_code),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "the old code no longer works");
    let res = post_form(
        &app,
        "/login/verify",
        &visitor,
        &[
            ("csrf_token", &token),
            ("flow_id", &second_flow),
            ("code", &second_code),
        ],
    )
    .await;
    let session = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let (_, account) = app.follow(res, "/account", &session).await;
    assert!(account.contains(&flash_text("logged_in")));

    // A resend for an address without an account looks the same (a new
    // visitor: the login replaced the old visitor session).
    let res = get(&app, "/login", "").await;
    let visitor = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let token = field(&res.text().await.unwrap(), "csrf_token");
    let res = post_form(
        &app,
        "/login/code",
        &visitor,
        &[
            ("csrf_token", &token),
            ("email", "nobody@example.jp"),
            ("altcha", &app.solve_challenge().await),
        ],
    )
    .await;
    let flow = field(&res.text().await.unwrap(), "flow_id");
    let res = post_form(
        &app,
        "/login/resend",
        &visitor,
        &[
            ("csrf_token", &token),
            ("flow_id", &flow),
            ("altcha", &app.solve_challenge().await),
        ],
    )
    .await;
    assert!(res.text().await.unwrap().contains(&ja().verify_resent));
    // A made-up flow is the generic code error, not a crash.
    let res = post_form(
        &app,
        "/login/resend",
        &visitor,
        &[
            ("csrf_token", &token),
            ("flow_id", &Uuid::nil().to_string()),
            ("altcha", &app.solve_challenge().await),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&ja().err_code_wrong_here)
    );
    app.stop().await;
}

async fn c08_locked_owner_on_a_known_device_is_told_why(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "lockedowner@example.jp";
    let owner = app.member_with_password(email, PASSWORD).await;
    let attempt = |cookie: Option<String>, password: &'static str| {
        let app = &app;
        async move {
            let mut r = app.client.post(app.url("/api/v1/login/password")).json(
                &json!({"email": email, "password": password, "altcha": app.solve_challenge().await}),
            );
            if let Some(c) = cookie {
                r = r.header(header::COOKIE, c);
            }
            let res = r.send().await.unwrap();
            let status = res.status();
            let mut v: Value = res.json().await.unwrap();
            v.as_object_mut().unwrap().remove("request_id");
            (status, v)
        }
    };
    let wrong = attempt(None, "a stranger's wrong guess").await;
    for _ in 0..9 {
        attempt(None, "a stranger's wrong guess").await;
    }
    // A stranger with the right password: the same answer as a wrong one.
    assert_eq!(attempt(None, PASSWORD).await, wrong);
    // The owner's browser (its device cookie) is told why and what to do.
    let (status, v) = attempt(Some(owner.device.clone()), PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], ErrorCode::AccountLocked.as_str());
    assert_eq!(v["message"], ja().err_locked_known_device.as_str());
    // And on the login form.
    let res = get(&app, "/login", &owner.device).await;
    let visitor = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let token = field(&res.text().await.unwrap(), "csrf_token");
    let res = post_form(
        &app,
        "/login/password",
        &format!("{visitor}; {}", owner.device),
        &[
            ("csrf_token", &token),
            ("email", email),
            ("password", PASSWORD),
            ("altcha", &app.solve_challenge().await),
        ],
    )
    .await;
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&ja().err_locked_known_device)
    );
    // The same form from a stranger's browser says only "wrong".
    let res = post_form(
        &app,
        "/login/password",
        &visitor,
        &[
            ("csrf_token", &token),
            ("email", email),
            ("password", PASSWORD),
            ("altcha", &app.solve_challenge().await),
        ],
    )
    .await;
    let page = res.text().await.unwrap();
    assert!(page.contains(&ja().err_invalid_credentials));
    assert!(!page.contains(&ja().err_locked_known_device));
    app.stop().await;
}

/// Every ASCII word a Japanese reader would see that is a catalog key or
/// a value the code stores or switches on (a method, an outcome, a flash
/// or error code): such a word means a page shows something untranslated.
fn raw_words_in(text: &str) -> Vec<String> {
    static RAW: LazyLock<BTreeSet<String>> = LazyLock::new(|| {
        let mut raw = BTreeSet::new();
        let ja: toml::Table =
            toml::from_str(include_str!("../../../anshin-core/locales/ja.toml")).unwrap();
        for (key, value) in &ja {
            raw.insert(key.clone());
            if let Some(table) = value.as_table() {
                for k in table.keys() {
                    raw.extend(k.split('.').map(str::to_owned));
                }
            }
        }
        raw.extend(LoginMethod::ALL.iter().map(|m| m.as_str().to_owned()));
        raw.extend(LoginOutcome::ALL.iter().map(|o| o.as_str().to_owned()));
        raw.extend(Flash::ALL.iter().map(|f| f.code().to_owned()));
        raw.extend(ErrorCode::ALL.iter().map(|e| e.as_str().to_owned()));
        raw.extend(
            [
                "ordinary", "checking", "savings", "true", "false", "None", "Some",
            ]
            .map(String::from),
        );
        raw
    });
    // Links and mail addresses are addresses, not words (`https://…/signup`,
    // the placeholder `support@example.invalid`).
    let words: String = visible_text(text)
        .split_whitespace()
        .filter(|w| !w.contains("://") && !w.contains('@'))
        .collect::<Vec<_>>()
        .join(" ");
    words
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| RAW.contains(*w))
        .map(str::to_owned)
        .collect()
}

/// What a person sees of an HTML page: the text outside tags and the
/// attributes that are read out or shown (alt, title, aria-label,
/// placeholder, data-label and the challenge widget's texts).
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    // Script bodies are code, not text (the pages have none inline).
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        out.push(' ');
        let tag_end = rest[start..]
            .find('>')
            .map_or(rest.len(), |e| start + e + 1);
        let tag = &rest[start..tag_end];
        for attr in [
            "alt=\"",
            "title=\"",
            "aria-label=\"",
            "placeholder=\"",
            "data-label=\"",
            "data-working=\"",
            "data-done=\"",
            "data-error=\"",
        ] {
            if let Some(a) = tag.find(attr) {
                let v = &tag[a + attr.len()..];
                out.push_str(&v[..v.find('"').unwrap_or(v.len())]);
                out.push(' ');
            }
        }
        // A submit button's value is its label.
        if tag.starts_with("<input") && tag.contains("type=\"submit\"") {
            out.push_str(&field(tag, "value"));
        }
        rest = &rest[tag_end..];
    }
    out.push_str(rest);
    out
}

fn assert_only_words(what: &str, text: &str) {
    let raw = raw_words_in(text);
    assert!(raw.is_empty(), "{what} shows raw values {raw:?}");
}

async fn every_japanese_page_and_mail_shows_words_not_keys(b: Backend) {
    // The checker itself finds what it must.
    assert_eq!(
        raw_words_in("<td data-label=\"x\">code</td><p>success</p><a title=\"nav_home\">"),
        ["code", "success", "nav_home"]
    );
    assert!(raw_words_in("<input name=\"code\" value=\"password\" type=\"hidden\">").is_empty());

    // Checkout open (keys set); no processor is asked by these pages.
    let app = TestApp::spawn_mail_with(b, |s| {
        s.payments.api_base = "http://127.0.0.1:9/".parse().unwrap();
        s.payments.js_url = "http://127.0.0.1:9/js.stripe.com/v3/".parse().unwrap();
        s.payments.secret_key = Some("sk_test_words".to_owned().into());
        s.payments.publishable_key = Some("pk_test_words".to_owned());
    })
    .await;
    let email = "words@example.jp";
    // Pages a visitor sees.
    for path in [
        "/",
        "/signup",
        "/login",
        "/account/not-me",
        "/login/unlock?token=abc",
        "/settings/language",
        "/terms",
        "/privacy",
        "/legal/tokushoho",
        "/help",
        "/contact",
    ] {
        assert_only_words(path, &html(&app, path, "").await);
    }
    // The sign-up form without consent, and the contact form with every
    // field wrong and no challenge.
    {
        let res = get(&app, "/contact", "").await;
        let visitor = cookie_pair(set_cookie(&res, SESSION).unwrap());
        let token = field(&res.text().await.unwrap(), "csrf_token");
        for form in [
            vec![
                ("csrf_token", token.as_str()),
                ("topic", "nope"),
                ("message", ""),
                ("reply_email", "x"),
            ],
            vec![
                ("csrf_token", token.as_str()),
                ("topic", "other"),
                ("message", "こんにちは"),
                ("reply_email", "a@example.jp"),
            ],
        ] {
            let res = post_form(&app, "/contact", &visitor, &form).await;
            assert_only_words("contact error", &res.text().await.unwrap());
        }
    }
    let missing = get(&app, "/no-such-page", "").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_only_words("404", &missing.text().await.unwrap());

    // Forms after a post: the code page, its errors, a form error.
    let res = get(&app, "/signup", "").await;
    let visitor = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let token = field(&res.text().await.unwrap(), "csrf_token");
    let res = post_form(
        &app,
        "/signup",
        &visitor,
        &[
            ("csrf_token", &token),
            ("email", "not-an-address"),
            ("display_name", "x"),
        ],
    )
    .await;
    assert_only_words("sign-up error", &res.text().await.unwrap());
    let res = post_form(
        &app,
        "/signup",
        &visitor,
        &[
            ("csrf_token", &token),
            ("email", email),
            ("display_name", "言葉"),
        ],
    )
    .await;
    let no_consent = res.text().await.unwrap();
    assert!(no_consent.contains(&escaped(&ja().err_terms_not_accepted)));
    assert_only_words("sign-up without consent", &no_consent);
    let res = post_form(
        &app,
        "/signup",
        &visitor,
        &[
            ("csrf_token", &token),
            ("email", email),
            ("display_name", "言葉"),
            ("accept_terms", "1"),
            ("altcha", &app.solve_challenge().await),
        ],
    )
    .await;
    let code_page = res.text().await.unwrap();
    assert_only_words("code page", &code_page);
    let flow = field(&code_page, "flow_id");
    let res = post_form(
        &app,
        "/signup/verify",
        &visitor,
        &[
            ("csrf_token", &token),
            ("flow_id", &flow),
            ("code", "000000"),
        ],
    )
    .await;
    assert_only_words("wrong code", &res.text().await.unwrap());
    let code = app.code_for(email, 1).await;
    let res = post_form(
        &app,
        "/signup/verify",
        &visitor,
        &[("csrf_token", &token), ("flow_id", &flow), ("code", &code)],
    )
    .await;
    let me = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let other = app.log_in_again(email).await;
    let id = member_id(&app, &me).await;
    // Every method and outcome in the history.
    for m in LoginMethod::ALL {
        for o in LoginOutcome::ALL {
            record_event(&app, id, *m, *o).await;
        }
    }
    let address = add_address(&app, &me).await;
    let sessions: Value = get(&app, "/api/v1/me/sessions", &me)
        .await
        .json()
        .await
        .unwrap();
    let other_session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let _ = other;
    // A phone and a bank account, so their removal questions show.
    for (path, body) in [
        ("/api/v1/me/phone", json!({"phone": "090-1234-5678"})),
        (
            "/api/v1/me/bank-account",
            json!({"bank_code": "0001", "branch_code": "210", "account_type": "ordinary",
                "account_number": "7654321", "holder_kana": "ヤマダ ハナコ"}),
        ),
    ] {
        let res = app
            .client
            .put(app.url(path))
            .header(header::COOKIE, &me)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{path}");
    }
    // The catalog: the manage page before and after the shop opens, an
    // item with an image, a draft's preview, the public pages, the
    // search with results, without and with a wrong price.
    assert_only_words(
        "/shop/manage (no shop)",
        &html(&app, "/shop/manage", &me).await,
    );
    let catalog = catalog_pages(&app, &me).await;
    // The cart, checkout, payment and order pages of a buyer (me) and a
    // seller: an order awaiting payment, one paid and shipped.
    let shop = crate::commerce::seller(&app, "words-seller@example.jp").await;
    let cup = crate::commerce::item(&app, &shop, "湯呑み", "1800", "5").await;
    let bowl = crate::commerce::item(&app, &shop, "茶碗", "2400", "5").await;
    let buyer = crate::commerce::Buyer {
        member: MemberId::from_uuid(id),
        cookie: me.clone(),
        address: address.to_string(),
        email: email.to_owned(),
    };
    let unpaid = crate::commerce::order(&app, &buyer, shop.shop, cup, 1).await;
    let paid = crate::commerce::order(&app, &buyer, shop.shop, bowl, 2).await;
    crate::commerce::force_paid(&app, paid).await;
    anshin_core::orders::ship(&app.services, shop.member, paid)
        .await
        .unwrap();
    let r = crate::commerce::put_in_cart(&app, &buyer, cup, 1).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for path in [
        "/cart".to_owned(),
        format!("/cart/add?item={cup}"),
        format!("/checkout/{}", shop.shop),
        format!("/orders/{unpaid}/pay"),
        "/orders".into(),
        format!("/orders/{unpaid}"),
        format!("/orders/{paid}"),
        format!("/orders/{paid}/received"),
    ] {
        let page = html(&app, &path, &me).await;
        assert_only_words(&path, &page);
    }
    for path in [
        "/sales".to_owned(),
        format!("/sales/{paid}"),
        format!("/sales/{paid}/refund?amount=100"),
        format!("/cart/add?item={cup}"),
    ] {
        let page = html(&app, &path, &shop.cookie).await;
        assert_only_words(&path, &page);
    }
    for path in [
        "/".to_owned(),
        "/account".into(),
        "/account/sessions".into(),
        "/account/addresses".into(),
        format!("/account/addresses/{address}/edit"),
        format!("/account/addresses/{address}/delete"),
        "/account/phone".into(),
        "/account/bank-account".into(),
        "/account/password/remove".into(),
        format!("/account/sessions/{other_session}/end"),
        "/account/sessions/end-others".into(),
        "/account/profile".into(),
        "/account/profile/email".into(),
        "/account/phone/remove".into(),
        "/account/bank-account/remove".into(),
        "/terms".into(),
        "/contact".into(),
    ]
    .into_iter()
    .chain(catalog)
    {
        let page = html(&app, &path, &me).await;
        assert_only_words(&path, &page);
    }
    // The bank search steps and the postcode lookup, as their forms show
    // them (found, nothing found, a branch list), and the removal
    // questions' code offer once the login is old.
    let token = field(
        &html(&app, "/account/bank-account", &me).await,
        "csrf_token",
    );
    for (what, extra) in [
        (
            "bank search",
            vec![("step", "find_bank"), ("bank_q", "みずほ")],
        ),
        (
            "bank search, none",
            vec![("step", "find_bank"), ("bank_q", "存在しない銀行")],
        ),
        ("bank chosen", vec![("pick_bank", "0001")]),
        (
            "branch search",
            vec![
                ("step", "find_branch"),
                ("bank_code", "0001"),
                ("branch_q", "しぶや"),
            ],
        ),
        (
            "branch chosen",
            vec![("pick_branch", "210"), ("bank_code", "0001")],
        ),
    ] {
        let mut form = vec![
            ("csrf_token", token.as_str()),
            ("bank_code", ""),
            ("branch_code", ""),
            ("account_type", ""),
            ("account_number", ""),
            ("holder_kana", ""),
        ];
        for (k, v) in extra {
            match form.iter_mut().find(|(name, _)| *name == k) {
                Some(slot) => slot.1 = v,
                None => form.push((k, v)),
            }
        }
        let res = post_form(&app, "/account/bank-account", &me, &form).await;
        assert_eq!(res.status(), StatusCode::OK, "{what}");
        assert_only_words(what, &res.text().await.unwrap());
    }
    for (what, postal) in [
        ("postcode found", "150-0001"),
        ("postcode with several areas", "498-0000"),
        ("postcode unknown", "000-0000"),
    ] {
        let res = post_form(
            &app,
            "/account/addresses",
            &me,
            &[
                ("csrf_token", &token),
                ("recipient_name", "山田 花子"),
                ("postal_code", postal),
                ("prefecture", ""),
                ("city", ""),
                ("line1", ""),
                ("lookup", "1"),
            ],
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{what}");
        assert_only_words(what, &res.text().await.unwrap());
    }
    // The profile forms after a post: a refused name, a refused address,
    // the e-mail change's code page and its wrong-code error, and the
    // e-mail page offering a confirmation code once the login is old.
    let page = html(&app, "/account/profile", &me).await;
    let token = field(&page, "csrf_token");
    let long = "あ".repeat(51);
    let res = post_form(
        &app,
        "/account/profile",
        &me,
        &[("csrf_token", &token), ("display_name", &long)],
    )
    .await;
    assert_only_words("profile name error", &res.text().await.unwrap());
    let res = post_form(
        &app,
        "/account/profile/email",
        &me,
        &[("csrf_token", &token), ("email", email)],
    )
    .await;
    assert_only_words("e-mail unchanged", &res.text().await.unwrap());
    let res = post_form(
        &app,
        "/account/profile/email",
        &me,
        &[("csrf_token", &token), ("email", "words-new@example.jp")],
    )
    .await;
    let code_page = res.text().await.unwrap();
    assert_only_words("e-mail change code page", &code_page);
    let res = post_form(
        &app,
        "/account/profile/email/verify",
        &me,
        &[
            ("csrf_token", &token),
            ("flow_id", &field(&code_page, "flow_id")),
            ("code", "000000"),
        ],
    )
    .await;
    assert_only_words("e-mail change wrong code", &res.text().await.unwrap());
    app.clock.advance(3600 * anshin_testkit::SECOND);
    assert_only_words(
        "/account/profile/email (re-authentication)",
        &html(&app, "/account/profile/email", &me).await,
    );
    // (the clock moved an hour on above: the login is old)
    for path in ["/account/phone/remove", "/account/bank-account/remove"] {
        assert_only_words(path, &html(&app, path, &me).await);
    }
    // Every flash, as the page after the redirect shows it.
    for f in Flash::ALL {
        let page = html(&app, "/", &format!("{me}; {FLASH}={}", f.code())).await;
        assert!(page.contains(&flash_text(f.code())), "{f:?}");
        assert_only_words(f.code(), &page);
    }

    // Every letter, in Japanese.
    let t = ja();
    let letters = [
        Letter::SignupCode {
            code: "123456",
            minutes: 10,
        },
        Letter::SignupExisting,
        Letter::LoginCode {
            code: "123456",
            minutes: 10,
        },
        Letter::NoAccount,
        Letter::ReauthCode {
            code: "123456",
            minutes: 10,
        },
        Letter::Welcome,
        Letter::PasswordSet,
        Letter::PasswordRemoved,
        Letter::AccountLocked {
            unlock_path: "/login/unlock?token=abc",
            hours: 24,
        },
        Letter::BankAccountChanged,
        Letter::Withdrawn { by_support: false },
        Letter::Withdrawn { by_support: true },
        Letter::EmailChangeCode {
            code: "123456",
            minutes: 10,
        },
        Letter::EmailChangeTaken,
        Letter::EmailChanged {
            new_masked: "n***@example.com",
            when_utc: "2026-12-04 12:00 UTC".into(),
            when_tokyo: "2026-12-04 21:00 JST".into(),
        },
        Letter::AuditCheckpoint {
            note: "shop.example/audit\n13\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n\n\u{2014} shop.example/audit O3MBQ0KxKz6fY7n0L3u6mI1Lq8Bz\n",
            size: 13,
        },
    ]
    .into_iter()
    .chain(
        anshin_core::contact::Topic::ALL
            .iter()
            .map(|topic| Letter::ContactMessage {
                topic: *topic,
                message: "荷物が届きません。\n確認をお願いします。",
                reply_to: "hanako@example.jp",
                member: None,
                sender_lang: Lang::En,
            }),
    )
    .chain(compose::OrderNotice::KINDS.iter().map(|(event, side, _)| {
        Letter::Order(compose::OrderNotice {
            event: *event,
            side: *side,
            number: "ABCDE-12345".into(),
            path: "/orders/0190d8e0-0000-7000-8000-000000000001".into(),
            total: anshin_domain::Yen::new(3600),
            amount: Some(anshin_domain::Yen::new(600)),
            items: vec![("湯呑み".into(), 2)],
        })
    }))
    .chain(
        compose::IncidentTemplate::ALL
            .into_iter()
            .map(Letter::IncidentNotice),
    )
    .chain(
        [
            compose::PayoutEvent::Requested,
            compose::PayoutEvent::Paid,
            compose::PayoutEvent::Failed,
        ]
        .map(|event| {
            Letter::Payout(compose::PayoutNotice {
                event,
                amount: anshin_domain::Yen::new(12_000),
                fee: anshin_domain::Yen::new(250),
                account: "****321".into(),
            })
        }),
    )
    .chain([false, true].map(|resolved| Letter::Alert {
        rule: "job_failing",
        subject: "audit_checkpoint",
        value: 3,
        threshold: 1,
        window_secs: 900,
        resolved,
        when_utc: "2026-12-04 12:00 UTC".into(),
    }))
    .chain([Letter::Alert {
        rule: "staff_new_network",
        subject: "019b76da-abe8-7002-8d44-5cd2f4efdaf8",
        value: 1,
        threshold: 1,
        window_secs: 3_600,
        resolved: false,
        when_utc: "2026-12-04 12:00 UTC".into(),
    }])
    .chain([0, 2].map(|findings| Letter::SelfScan {
        findings,
        when_utc: "2026-12-04 12:00 UTC".into(),
        report: "selfscan_report: RUSTSEC-2099-0001 some_crate 1.0.0",
    }))
    .chain([Letter::VdpReceived {
        tracking: "VDP-7K3M-Q9ZX-2B",
    }])
    .chain(LoginMethod::ALL.iter().map(|m| {
        Letter::LoginNotice(LoginNotice {
            when_utc: "2026-12-04 12:00 UTC".into(),
            when_tokyo: "2026-12-04 21:00 JST".into(),
            ip: "192.0.2.1".into(),
            device: "Firefox on Linux".into(),
            method: *m,
            seen_before: false,
        })
    }));
    let mut kinds = BTreeSet::new();
    for letter in letters {
        kinds.insert(letter.kind());
        let r = compose::render(t, Lang::Ja, "https://shop.example", email, &letter);
        // An alert names its rule and job by their codes on purpose,
        // beside the rule's words (the codes are what the console, the
        // audit log and Prometheus call them): those two are identifiers,
        // not keys shown instead of words.
        let shown = |text: &str| match &letter {
            Letter::Alert { rule, subject, .. } => text.replace(rule, "").replace(subject, ""),
            // The report is quoted as the scanner wrote it.
            Letter::SelfScan { report, .. } => text.replace(report, ""),
            _ => text.to_owned(),
        };
        assert_only_words(letter.kind(), &shown(&r.subject));
        assert_only_words(letter.kind(), &shown(&r.text));
        assert_only_words(letter.kind(), &shown(&r.html));
    }
    // A new kind of letter must be added above (the match has no `_`).
    for letter in [Letter::Welcome] {
        match letter {
            Letter::SignupCode { .. }
            | Letter::SignupExisting
            | Letter::LoginCode { .. }
            | Letter::NoAccount
            | Letter::ReauthCode { .. }
            | Letter::Welcome
            | Letter::LoginNotice(_)
            | Letter::PasswordSet
            | Letter::PasswordRemoved
            | Letter::AccountLocked { .. }
            | Letter::BankAccountChanged
            | Letter::Withdrawn { .. }
            | Letter::EmailChangeCode { .. }
            | Letter::EmailChangeTaken
            | Letter::EmailChanged { .. }
            | Letter::ContactMessage { .. }
            | Letter::Order(_)
            | Letter::AuditCheckpoint { .. }
            | Letter::IncidentNotice(_)
            | Letter::Alert { .. }
            | Letter::Payout(_)
            | Letter::SelfScan { .. }
            | Letter::VdpReceived { .. } => {}
        }
    }
    assert_eq!(
        kinds.len(),
        25 + compose::OrderNotice::KINDS.len(),
        "every letter rendered"
    );
    app.stop().await;
}

/// Opens a shop for `cookie` with an item on sale (with an image) and a
/// draft; returns every catalog page to check.
async fn catalog_pages(app: &TestApp, cookie: &str) -> Vec<String> {
    let api = |method: &str, path: &str, body: Value| {
        app.client
            .request(method.parse().unwrap(), app.url(path))
            .header(header::COOKIE, cookie)
            .json(&body)
            .send()
    };
    let res = api(
        "POST",
        "/api/v1/me/shop",
        json!({"name": "言葉の店", "description": "**ようこそ**"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let shop = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for (title, status) in [("言葉のマグカップ", "on_sale"), ("言葉の下書き", "draft")]
    {
        let res = api("POST", "/api/v1/me/shop/items", json!({"title": title, "description": "- 一\n- 二", "price_yen": 1200, "stock": 2, "status": status})).await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        ids.push(
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let res = app
        .client
        .post(app.url(&format!("/api/v1/me/shop/items/{}/images", ids[0])))
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "image/jpeg")
        .body(anshin_testkit::images::jpeg(120, 90))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let image = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    vec![
        "/shop/manage".to_owned(),
        "/shop/manage/items/new".into(),
        format!("/shop/manage/items/{}", ids[0]),
        format!("/shop/manage/items/{}", ids[1]),
        format!("/shop/manage/items/{}/images/{image}/delete", ids[0]),
        "/shop/manage/close".into(),
        format!("/shops/{shop}"),
        format!("/items/{}", ids[0]),
        format!("/items/{}", ids[1]),
        "/search".into(),
        "/search?q=%E3%83%9E%E3%82%B0&sort=price_asc".into(),
        "/search?q=%E3%81%AA%E3%81%84".into(),
        "/search?min=-1&max=abc&page=0".into(),
    ]
}

const RETURN_TO: &str = "__Host-anshin_return";

/// A login by e-mailed code through the pages, sending `extra` cookies
/// with the code; the answer to the code.
async fn page_login(app: &TestApp, email: &str, extra: &str) -> Response {
    let res = get(app, "/login", "").await;
    let visitor = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let token = field(&res.text().await.unwrap(), "csrf_token");
    let before = app.mails_to(email, 0).await.len();
    let res = post_form(
        app,
        "/login/code",
        &visitor,
        &[
            ("csrf_token", &token),
            ("email", email),
            ("altcha", &app.solve_challenge().await),
        ],
    )
    .await;
    let flow = field(&res.text().await.unwrap(), "flow_id");
    let code = loop {
        let mails = app.mails_to(email, before + 1).await;
        if let Some(c) = mails
            .iter()
            .skip(before)
            .rev()
            .find_map(|m| code_in(&m.text))
        {
            break c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    post_form(
        app,
        "/login/verify",
        &format!("{visitor}; {extra}"),
        &[("csrf_token", &token), ("flow_id", &flow), ("code", &code)],
    )
    .await
}

/// A signed-out visitor who opens a member's page (the buyer's "add to
/// cart" above all) is sent to the login and, once logged in, back to that
/// page; a planted return cookie naming another host goes nowhere.
async fn a_login_returns_to_the_page_that_sent_the_visitor_to_it(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "comeback@example.jp";
    app.sign_up(email, "戻る人", 0).await;
    let wanted = "/cart/add?item=0190d8e0-0000-7000-8000-000000000001";
    let res = get(&app, wanted, "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/login");
    let kept = set_cookie(&res, RETURN_TO).expect("the page is remembered");
    assert!(
        kept.contains("HttpOnly") && kept.contains("Secure"),
        "{kept}"
    );
    let res = page_login(&app, email, &cookie_pair(kept)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], wanted, "back to the page");
    let gone = set_cookie(&res, RETURN_TO).expect("the return cookie is deleted");
    assert!(gone.contains("Max-Age=0"), "{gone}");
    assert!(set_cookie(&res, SESSION).is_some(), "logged in");

    // A form post is not a page to come back to; nor the API.
    let res = app
        .client
        .post(app.url("/cart"))
        .form(&[("item_id", "x")])
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&res, RETURN_TO).is_none(), "a POST is not kept");
    let res = get(&app, "/api/v1/me", "").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&res, RETURN_TO).is_none(), "the API is not kept");

    // Planted cookies naming another host: the login goes to the account.
    for planted in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let res = page_login(&app, email, &format!("{RETURN_TO}={planted}")).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{planted}");
        assert_eq!(res.headers()[header::LOCATION], "/account", "{planted}");
    }
    app.stop().await;
}

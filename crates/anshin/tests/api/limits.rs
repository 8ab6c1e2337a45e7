//! Per-member limits (issue 19; C13 personal data, C10 sessions): how many
//! shipping addresses and sessions a member may have, and how often they
//! may change personal data. Over real HTTPS, on SQLite and PostgreSQL,
//! with parallel requests over two instances on one database.

use std::sync::LazyLock;

use anshin_core::i18n::{Catalog, Catalogs, Lang};
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, SECOND, TestApp, backends};
use serde_json::{Value, json};

backends!(
    c13_parallel_address_adds_over_two_instances_stop_at_the_limit,
    c13_the_address_page_and_api_say_when_the_limit_is_reached,
    c13_personal_data_changes_are_limited_per_window,
    c10_a_login_beyond_the_session_limit_ends_the_least_recently_used_session,
);

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| Catalogs::load().unwrap());

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

fn address(n: usize) -> Value {
    json!({
        "recipient_name": format!("山田 {n}"), "postal_code": "150-0001", "prefecture": "東京都",
        "city": "渋谷区", "line1": "神宮前1-2-3"
    })
}

async fn addresses(app: &TestApp, cookie: &str) -> Vec<Value> {
    api(app, "GET", "/api/v1/me/addresses", None, cookie)
        .await
        .json()
        .await
        .unwrap()
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> String {
    let res = app
        .client
        .get(app.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("token in page") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
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

/// Issue 19: one member made 1,442 addresses. With `limits.max_addresses
/// = 3` and two stored, eight adds at once over two instances on one
/// database: exactly one is stored, the others get 409
/// `too_many_addresses` (the count is checked inside the write
/// transaction, under the member's lock).
async fn c13_parallel_address_adds_over_two_instances_stop_at_the_limit(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| s.limits.max_addresses = 3).await;
    let twin = app.sibling_with(|s| s.limits.max_addresses = 3).await;
    let cookie = app.sign_up("many@example.jp", "山田", 0).await.session;
    for n in 0..2 {
        let res = api(
            &app,
            "POST",
            "/api/v1/me/addresses",
            Some(address(n)),
            &cookie,
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let adds = (0..8).map(|n| {
        let server = if n % 2 == 0 { &app } else { &twin };
        api(
            server,
            "POST",
            "/api/v1/me/addresses",
            Some(address(10 + n)),
            &cookie,
        )
    });
    let mut created = 0;
    for res in futures_util::future::join_all(adds).await {
        match res.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["error"], "too_many_addresses", "{body}");
            }
            other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
        }
    }
    assert_eq!(created, 1, "exactly one add at the limit minus one");
    assert_eq!(addresses(&app, &cookie).await.len(), 3);
    assert_eq!(addresses(&twin, &cookie).await.len(), 3);
    twin.stop().await;
    app.stop().await;
}

/// At the limit the page shows why instead of the add form, a form
/// posted anyway is answered on the page with the reason (the typed
/// address kept), and the API answers 409 with a precise code and a
/// sentence naming the limit.
async fn c13_the_address_page_and_api_say_when_the_limit_is_reached(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| s.limits.max_addresses = 2).await;
    let cookie = app.sign_up("full@example.jp", "山田", 0).await.session;
    let html = page(&app, "/account/addresses", &cookie).await;
    let count = |n: usize| {
        ja().addresses_count
            .replace("{count}", &n.to_string())
            .replace("{max}", "2")
    };
    assert!(html.contains(&count(0)), "the count is shown");
    let full = ja().err_too_many_addresses.replace("{max}", "2");
    assert!(!html.contains(&full));
    for n in 0..2 {
        let res = api(
            &app,
            "POST",
            "/api/v1/me/addresses",
            Some(address(n)),
            &cookie,
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let html = page(&app, "/account/addresses", &cookie).await;
    assert!(html.contains(&count(2)));
    assert!(html.contains(&full), "the page says the list is full");
    assert!(
        !html.contains("action=\"/account/addresses\""),
        "no add form at the limit"
    );
    // A form posted anyway (an old tab): the reason, on the page.
    let token = csrf_token(&html);
    let res = post_form(
        &app,
        "/account/addresses",
        &cookie,
        &[
            ("recipient_name", "鈴木 一郎"),
            ("postal_code", "150-0001"),
            ("prefecture", "東京都"),
            ("city", "渋谷区"),
            ("line1", "神宮前1-2-3"),
            ("csrf_token", &token),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(&full), "{html}");
    assert_eq!(addresses(&app, &cookie).await.len(), 2, "nothing added");
    // The API: 409 with the code and the sentence, in English on request.
    let res = app
        .client
        .post(app.url("/api/v1/me/addresses"))
        .header(header::COOKIE, &cookie)
        .header(header::ACCEPT_LANGUAGE, "en")
        .json(&address(9))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_addresses");
    let en = CATALOGS
        .get(Lang::En)
        .err_too_many_addresses
        .replace("{max}", "2");
    assert_eq!(body["message"], en.as_str());
    // Deleting one makes room again.
    let id = addresses(&app, &cookie).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = api(
        &app,
        "DELETE",
        &format!("/api/v1/me/addresses/{id}"),
        None,
        &cookie,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = api(
        &app,
        "POST",
        "/api/v1/me/addresses",
        Some(address(3)),
        &cookie,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.stop().await;
}

/// With `limits.max_personal_data_changes = 4` per hour, the phone,
/// address and bank changes draw from one budget per member: the fifth
/// change is refused with 429 `too_many_changes` and a Retry-After up to
/// the end of the window, on the API and on the pages (which say why and
/// keep what was typed); another member is not affected; an hour later
/// the budget is back.
async fn c13_personal_data_changes_are_limited_per_window(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| s.limits.max_personal_data_changes = 4).await;
    let cookie = app.sign_up("busy@example.jp", "山田", 0).await.session;
    let phone = |p: &str| json!({ "phone": p });
    assert_eq!(
        api(
            &app,
            "PUT",
            "/api/v1/me/phone",
            Some(phone("090-1111-2222")),
            &cookie
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    // A form with errors changes nothing and costs nothing.
    assert_eq!(
        api(&app, "PUT", "/api/v1/me/phone", Some(phone("12")), &cookie)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let res = api(
        &app,
        "POST",
        "/api/v1/me/addresses",
        Some(address(0)),
        &cookie,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        api(
            &app,
            "PUT",
            &format!("/api/v1/me/addresses/{id}"),
            Some(address(1)),
            &cookie
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api(
            &app,
            "PUT",
            "/api/v1/me/phone",
            Some(phone("090-3333-4444")),
            &cookie
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    // The fifth: refused, whatever kind of change.
    app.clock.advance(600 * SECOND);
    for (method, path, body) in [
        (
            "PUT",
            "/api/v1/me/phone".to_owned(),
            Some(phone("090-5555-6666")),
        ),
        ("POST", "/api/v1/me/addresses".to_owned(), Some(address(2))),
        ("DELETE", format!("/api/v1/me/addresses/{id}"), None),
    ] {
        let res = api(&app, method, &path, body, &cookie).await;
        assert_eq!(
            res.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{method} {path}"
        );
        let retry: u64 = res.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(retry, 3000, "until the window ends");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "too_many_changes");
        assert_eq!(body["message"], ja().err_too_many_changes.as_str());
    }
    let mut phone_now: Value = api(&app, "GET", "/api/v1/me", None, &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        phone_now["phone"], "090-****-4444",
        "the refused change was not made"
    );
    assert_eq!(addresses(&app, &cookie).await.len(), 1);
    // The pages: the phone form says why and keeps the number typed; a
    // delete from the confirm page comes back with a message.
    let html = page(&app, "/account/phone", &cookie).await;
    let token = csrf_token(&html);
    let res = post_form(
        &app,
        "/account/phone",
        &cookie,
        &[("phone", "090-7777-8888"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(&ja().err_too_many_changes), "{html}");
    assert!(html.contains("090-7777-8888"), "what was typed is kept");
    let res = post_form(
        &app,
        &format!("/account/addresses/{id}/delete"),
        &cookie,
        &[("csrf_token", &token)],
    )
    .await;
    let (status, html) = app.follow(res, "/account/addresses", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&ja().flash["too_many_changes"]), "{html}");
    assert_eq!(addresses(&app, &cookie).await.len(), 1);
    // Another member has a budget of their own.
    let other = app.sign_up("calm@example.jp", "鈴木", 0).await.session;
    assert_eq!(
        api(
            &app,
            "PUT",
            "/api/v1/me/phone",
            Some(phone("090-1212-3434")),
            &other
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    // After the window: changes are accepted again.
    app.clock.advance(3000 * SECOND);
    assert_eq!(
        api(
            &app,
            "PUT",
            "/api/v1/me/phone",
            Some(phone("090-5555-6666")),
            &cookie
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    phone_now = api(&app, "GET", "/api/v1/me", None, &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(phone_now["phone"], "090-****-6666");
    app.stop().await;
}

/// With `limits.max_sessions = 3`, a fourth login is not refused: the
/// session used least recently ends (its cookie finds nothing), the one
/// in use survives, and the member has three.
async fn c10_a_login_beyond_the_session_limit_ends_the_least_recently_used_session(b: Backend) {
    let app = TestApp::spawn_mail_with(b, |s| s.limits.max_sessions = 3).await;
    let email = "sessions@example.jp";
    let first = app.sign_up(email, "山田", 0).await.session;
    app.clock.advance(120 * SECOND);
    let second = app.log_in_again(email).await;
    app.clock.advance(120 * SECOND);
    let third = app.log_in_again(email).await;
    // The first browser is used now (activity is recorded once a minute):
    // the second is the least recently used.
    app.clock.advance(120 * SECOND);
    let me = |cookie: String| {
        let app = &app;
        async move { api(app, "GET", "/api/v1/me", None, &cookie).await.status() }
    };
    assert_eq!(me(first.clone()).await, StatusCode::OK);
    app.clock.advance(120 * SECOND);
    let fourth = app.log_in_again(email).await;
    assert_eq!(
        me(second.clone()).await,
        StatusCode::UNAUTHORIZED,
        "least recently used ended"
    );
    for (n, cookie) in [(1, &first), (3, &third), (4, &fourth)] {
        assert_eq!(me(cookie.clone()).await, StatusCode::OK, "session {n}");
    }
    let list: Value = api(&app, "GET", "/api/v1/me/sessions", None, &fourth)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    app.stop().await;
}

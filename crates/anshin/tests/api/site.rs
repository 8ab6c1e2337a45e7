//! The public site end to end over real HTTPS, on SQLite and PostgreSQL:
//! pages, redirects, security headers (C1), CSRF, error pages, languages.

use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, cookie_pair, set_cookie};

backends!(
    c01_home_is_served_over_https,
    c01_plain_http_only_redirects_to_https,
    c01_security_headers_on_every_response,
    csrf_form_post_without_valid_token_is_refused_and_changes_nothing,
    csrf_cross_origin_requests_are_refused,
    csrf_api_accepts_only_json,
    csrf_api_requests_without_a_body_need_the_json_type,
    c10_session_cookie_has_secure_flags,
    error_pages_are_generic_with_request_id,
    oversized_body_gets_413,
    malformed_requests_get_400,
    language_follows_cookie_then_accept_language,
    static_assets_are_hashed_and_cached,
    openapi_document_is_served,
    c29_health_and_readiness,
);

async fn c01_home_is_served_over_https(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "home is HTML"
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("<html lang=\"ja\">"), "Japanese by default");
    assert!(body.contains("anshin"));
    app.stop().await;
}

async fn c01_plain_http_only_redirects_to_https(b: Backend) {
    let app = TestApp::spawn(b).await;
    let plain = anshin_testkit::reqwest::Client::builder()
        .redirect(anshin_testkit::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for method in ["GET", "POST", "HEAD"] {
        let url = format!("http://{}/a?b=c", app.redirect_addr);
        let res = plain
            .request(method.parse().unwrap(), &url)
            // An attacker's Host must not choose the redirect target.
            .header(header::HOST, "evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY, "{method}");
        assert_eq!(
            res.headers()[header::LOCATION].to_str().unwrap(),
            format!("{}/a?b=c", app.origin)
        );
    }
    app.stop().await;
}

fn assert_security_headers(res: &anshin_testkit::reqwest::Response, what: &str) {
    let h = res.headers();
    let get = |name: &str| {
        h.get(name)
            .unwrap_or_else(|| panic!("{what}: missing {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let hsts = get("strict-transport-security");
    let max_age: u64 = hsts
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age >= 31_536_000, "{what}: HSTS max-age {max_age}");
    assert!(hsts.contains("includeSubDomains"), "{what}");
    // The auditor of old browsers off (OWASP), not absent (scanners flag that).
    assert_eq!(get("x-xss-protection"), "0", "{what}");
    let csp = get("content-security-policy");
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: CSP lacks {directive}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}"
    );
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    let referrer = get("referrer-policy");
    assert!(
        referrer == "no-referrer" || referrer == "strict-origin-when-cross-origin",
        "{what}: {referrer}"
    );
    assert!(get("permissions-policy").contains("camera=()"), "{what}");
    assert_eq!(get("cross-origin-opener-policy"), "same-origin", "{what}");
    assert_eq!(get("cross-origin-resource-policy"), "same-origin", "{what}");
    assert!(h.get("server").is_none(), "{what}: Server header present");
    assert!(h.get("x-request-id").is_some(), "{what}: no request id");
}

async fn c01_security_headers_on_every_response(b: Backend) {
    let app = TestApp::spawn(b).await;
    let c = &app.client;
    let home = c.get(app.url("/")).send().await.unwrap();
    let css_url = {
        let body = c
            .get(app.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = body.find("/static/app.").unwrap();
        let end = start + body[start..].find('"').unwrap();
        body[start..end].to_owned()
    };
    let cases = vec![
        ("home", home),
        (
            "language page",
            c.get(app.url("/settings/language")).send().await.unwrap(),
        ),
        ("404", c.get(app.url("/no/such/page")).send().await.unwrap()),
        ("static", c.get(app.url(&css_url)).send().await.unwrap()),
        (
            "openapi",
            c.get(app.url("/api/openapi.json")).send().await.unwrap(),
        ),
        (
            "403",
            c.post(app.url("/settings/language"))
                .form(&[("lang", "en")])
                .send()
                .await
                .unwrap(),
        ),
        (
            "413",
            c.put(app.url("/api/v1/preferences/language"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(vec![b' '; 2 * 1024 * 1024])
                .send()
                .await
                .unwrap(),
        ),
        ("405", c.delete(app.url("/")).send().await.unwrap()),
    ];
    for (what, res) in &cases {
        assert_security_headers(res, what);
    }
    for (what, res) in &cases {
        let cache = res.headers()[header::CACHE_CONTROL].to_str().unwrap();
        if *what == "static" {
            assert!(cache.contains("max-age=31536000"), "{cache}");
        } else {
            assert_eq!(cache, "no-store", "{what}: pages must not be cached");
        }
    }
    app.stop().await;
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

async fn csrf_form_post_without_valid_token_is_refused_and_changes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (cookie, token) = form_session(&app).await;
    let (other_cookie, other_token) = form_session(&app).await;
    assert_ne!(token, other_token, "tokens are per session");
    let post = |cookie: Option<String>, form: Vec<(&'static str, String)>| {
        let mut req = app.client.post(app.url("/settings/language")).form(&form);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.send()
    };
    let refused = [
        (
            "no token",
            Some(cookie.clone()),
            vec![("lang", "en".to_owned())],
        ),
        (
            "no session",
            None,
            vec![("lang", "en".into()), ("csrf_token", token.clone())],
        ),
        (
            "another session's token",
            Some(cookie.clone()),
            vec![("lang", "en".into()), ("csrf_token", other_token.clone())],
        ),
        (
            "forged token",
            Some(cookie.clone()),
            vec![("lang", "en".into()), ("csrf_token", "A".repeat(43))],
        ),
    ];
    for (what, cookie, form) in refused {
        let res = post(cookie, form).await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{what}");
        assert!(
            set_cookie(&res, "__Host-anshin_lang").is_none(),
            "{what}: a refused post must change nothing"
        );
        let body = res.text().await.unwrap();
        assert!(body.contains("403"), "{what}: generic page");
    }
    // The valid token of the right session works, and only then.
    let ok = post(
        Some(cookie),
        vec![("lang", "en".into()), ("csrf_token", token)],
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookie(&ok, "__Host-anshin_lang")
            .unwrap()
            .starts_with("__Host-anshin_lang=en")
    );
    let _ = other_cookie;
    app.stop().await;
}

async fn csrf_cross_origin_requests_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (cookie, token) = form_session(&app).await;
    let form = [("lang", "en"), ("csrf_token", token.as_str())];
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let res = app
            .client
            .post(app.url("/settings/language"))
            .header(header::COOKIE, &cookie)
            .header(name, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "form with {name}: {value}"
        );
        assert!(set_cookie(&res, "__Host-anshin_lang").is_none());
        let res = app
            .client
            .put(app.url("/api/v1/preferences/language"))
            .header(name, value)
            .json(&serde_json::json!({"lang": "en"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "API with {name}: {value}"
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "cross_site_request");
    }
    // Our own origin passes, in either loopback spelling of the local
    // default (both are in the self-signed certificate).
    let localhost = format!("https://localhost:{}", app.public_addr.port());
    let res = app
        .client
        .post(app.url("/settings/language"))
        .header(header::COOKIE, &cookie)
        .header("origin", &localhost)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{localhost}");
    let res = app
        .client
        .post(app.url("/settings/language"))
        .header(header::COOKIE, &cookie)
        .header("origin", &app.origin)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

async fn csrf_api_accepts_only_json(b: Backend) {
    // The application's own defence, which must hold with the WAF off too
    // (with it on, the CRS refuses text/plain and a malformed multipart
    // body even earlier, with 403 and 400; tests/waf.rs covers the WAF).
    let app = TestApp::spawn_with(b, |s| {
        s.waf.mode = anshin_testkit::anshin::config::WafMode::Off;
    })
    .await;
    let url = app.url("/api/v1/preferences/language");
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let res = app
            .client
            .put(&url)
            .header(header::CONTENT_TYPE, ct)
            .body(r#"{"lang":"en"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert!(set_cookie(&res, "__Host-anshin_lang").is_none());
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "unsupported_media_type");
    }
    let res = app
        .client
        .put(&url)
        .json(&serde_json::json!({"lang": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookie(&res, "__Host-anshin_lang")
            .unwrap()
            .starts_with("__Host-anshin_lang=en")
    );
    app.stop().await;
}

/// A state-changing API request with no body is no exception: without
/// `Content-Type: application/json` (which a cross-site form or a "simple"
/// fetch cannot send) it is refused, even with no `Origin` to judge by.
async fn csrf_api_requests_without_a_body_need_the_json_type(b: Backend) {
    // The application's own defence, with the WAF off (see above).
    let app = TestApp::spawn_mail_with(b, |s| {
        s.waf.mode = anshin_testkit::anshin::config::WafMode::Off;
    })
    .await;
    let member = app.sign_up("nobody-asked@example.jp", "Member", 0).await;
    let me = || {
        app.client
            .get(app.url("/api/v1/me"))
            .header(header::COOKIE, &member.session)
            .send()
    };
    let sessions: serde_json::Value = app
        .client
        .get(app.url("/api/v1/me/sessions"))
        .header(header::COOKIE, &member.session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = sessions[0]["id"].as_str().unwrap().to_owned();
    let requests = [
        ("POST", "/api/v1/logout".to_owned()),
        ("POST", "/api/v1/me/sessions/end-others".to_owned()),
        ("DELETE", format!("/api/v1/me/sessions/{session}")),
        ("DELETE", "/api/v1/me/password".to_owned()),
    ];
    for (method, path) in &requests {
        for ct in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let mut req = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .header(header::COOKIE, &member.session)
                .body("");
            if let Some(ct) = ct {
                req = req.header(header::CONTENT_TYPE, ct);
            }
            let res = req.send().await.unwrap();
            let what = format!("{method} {path} as {ct:?}");
            assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{what}");
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["error"], "unsupported_media_type", "{what}");
            assert_eq!(
                me().await.unwrap().status(),
                StatusCode::OK,
                "{what}: the session must live on"
            );
        }
    }
    // The same request as JSON, bodiless, is an ordinary logout.
    let res = app
        .client
        .post(app.url("/api/v1/logout"))
        .header(header::COOKIE, &member.session)
        .header(header::CONTENT_TYPE, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(me().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn c10_session_cookie_has_secure_flags(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app
        .client
        .get(app.url("/settings/language"))
        .send()
        .await
        .unwrap();
    let c = set_cookie(&res, "__Host-anshin_session")
        .unwrap()
        .to_owned();
    let value = cookie_pair(&c).split_once('=').unwrap().1.to_owned();
    assert!(value.len() >= 22, "at least 128 bits");
    let attrs: Vec<String> = c
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for want in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attrs.iter().any(|a| a == want), "missing {want} in {c}");
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain")),
        "__Host- cookies carry no Domain"
    );
    // The database holds only a hash of the token, never the token.
    let token = anshin_testkit::anshin::web::common::cookies::SESSION;
    assert_eq!(token, "__Host-anshin_session");
    let parsed = anshin_vault::SessionToken::parse(&value).unwrap();
    let found = app
        .store
        .sessions()
        .find_live(parsed.hash().as_bytes(), app.clock_now())
        .await
        .unwrap();
    assert!(found.is_some(), "session stored server-side under its hash");
    // A second visit with the cookie reuses the session: no new cookie.
    let again = app
        .client
        .get(app.url("/settings/language"))
        .header(header::COOKIE, cookie_pair(&c))
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&again, "__Host-anshin_session").is_none());
    app.stop().await;
}

trait ClockNow {
    fn clock_now(&self) -> anshin_domain::Timestamp;
}
impl ClockNow for TestApp {
    fn clock_now(&self) -> anshin_domain::Timestamp {
        use anshin_core::clock::Clock;
        self.clock.now()
    }
}

async fn error_pages_are_generic_with_request_id(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app
        .client
        .get(app.url("/no/such/page?email=a@b.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert!(body.contains(&id), "page shows the request id");
    assert!(body.contains("404"));
    assert!(!body.contains("a@b.example"), "no echo of the request");
    // A client cannot choose its request id.
    let res = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "<script>forged</script>")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "<script>forged</script>");
    assert!(!res.text().await.unwrap().contains("forged"));
    // API errors are JSON with a stable code and the id.
    let res = app
        .client
        .get(app.url("/api/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert_eq!(body["request_id"], id.as_str());
    assert!(body["message"].as_str().unwrap().len() > 3);
    app.stop().await;
}

async fn oversized_body_gets_413(b: Backend) {
    let app = TestApp::spawn(b).await;
    let big = vec![b'a'; 2 * 1024 * 1024];
    // With a Content-Length: refused before reading.
    let res = app
        .client
        .put(app.url("/api/v1/preferences/language"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "payload_too_large");
    // Streamed without a length, to a form: refused while reading.
    let (cookie, _token) = form_session(&app).await;
    let stream = futures_stream(big);
    let res = app
        .client
        .post(app.url("/settings/language"))
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(anshin_testkit::reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(res.text().await.unwrap().contains(&id));
    app.stop().await;
}

fn futures_stream(
    data: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    futures_util::stream::iter(chunks)
}

async fn malformed_requests_get_400(b: Backend) {
    let app = TestApp::spawn(b).await;
    let api = app.url("/api/v1/preferences/language");
    for body in [
        &b"{\"lang\":"[..],
        b"not json",
        b"{\"lang\": 5}",
        b"{\"lang\":\"en\",\"x\":1}",
        b"\xff\xfe",
    ] {
        let res = app
            .client
            .put(&api)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "{:?}",
            String::from_utf8_lossy(body)
        );
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(json["error"], "malformed_json");
    }
    let res = app
        .client
        .put(&api)
        .json(&serde_json::json!({"lang": "fr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "unknown_language"
    );
    // A form body that is not UTF-8 after decoding.
    let (cookie, token) = form_session(&app).await;
    let res = app
        .client
        .post(app.url("/settings/language"))
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("lang=%FF%FE&csrf_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let page = res.text().await.unwrap();
    assert!(page.contains("400") && page.contains(&id));
    // A form missing a field.
    let res = app
        .client
        .post(app.url("/settings/language"))
        .header(header::COOKIE, &cookie)
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert!(set_cookie(&res, "__Host-anshin_lang").is_none());
    app.stop().await;
}

async fn language_follows_cookie_then_accept_language(b: Backend) {
    let app = TestApp::spawn(b).await;
    let get = |al: Option<&str>, cookie: Option<&str>| {
        let mut r = app.client.get(app.url("/"));
        if let Some(al) = al {
            r = r.header(header::ACCEPT_LANGUAGE, al);
        }
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        r.send()
    };
    let en = get(Some("en-GB,en;q=0.9"), None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("<html lang=\"en\">") && en.contains("peace of mind"));
    let ja = get(Some("ja,en;q=0.5"), None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ja.contains("<html lang=\"ja\">") && ja.contains("安心"));
    let cookie_wins = get(Some("en"), Some("__Host-anshin_lang=ja"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(cookie_wins.contains("<html lang=\"ja\">"));
    // Error pages speak the language too.
    let res = app
        .client
        .get(app.url("/missing"))
        .header(header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("Page not found"));
    let res = app.client.get(app.url("/missing")).send().await.unwrap();
    assert!(res.text().await.unwrap().contains("ページが見つかりません"));
    app.stop().await;
}

async fn static_assets_are_hashed_and_cached(b: Backend) {
    let app = TestApp::spawn(b).await;
    let body = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for prefix in ["/static/app.", "/static/icon."] {
        let start = body
            .find(prefix)
            .unwrap_or_else(|| panic!("{prefix} linked"));
        let end = start + body[start..].find('"').unwrap();
        let url = &body[start..end];
        let hash = url.split('.').nth(1).unwrap();
        assert_eq!(hash.len(), 16, "content hash in {url}");
        let res = app.client.get(app.url(url)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
    }
    let res = app
        .client
        .get(app.url("/static/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "only hashed names are served"
    );
    // No inline script or style anywhere, as the CSP demands.
    assert!(!body.contains("<script>") && !body.contains("style=") && !body.contains("<style"));
    app.stop().await;
}

async fn openapi_document_is_served(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/preferences/language"]["put"].is_object());
    app.stop().await;
}

async fn c29_health_and_readiness(b: Backend) {
    let app = TestApp::spawn(b).await;
    let plain = anshin_testkit::reqwest::Client::new();
    let res = plain.get(app.ops_url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = plain.get(app.ops_url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await;
}

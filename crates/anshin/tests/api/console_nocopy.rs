//! The staff console's no-copy layer (issue 15, C23; ADR 0017): every
//! console response says `Cache-Control: no-store` (static files and
//! refusals included), every page loads the no-copy script and styles,
//! and in Chromium a member's data page refuses select-all + copy, cut,
//! drag, drop and the context menu, and prints nothing; the label page
//! (not routed yet) prints only the label. SQLite and PostgreSQL.

use std::sync::Arc;

use anshin::web::common::assets::Assets;
use anshin::web::console;
use anshin_core::i18n::{Catalogs, Lang};
use anshin_domain::StaffRole;
use anshin_testkit::reqwest::{Response, header};
use anshin_testkit::{Backend, TestApp, backends};
use axum::Router;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::staff::{enrolled, login, post_form};

fn no_store(res: &Response, what: &str) {
    assert_eq!(
        res.headers()
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{what}: {}",
        res.status()
    );
}

backends!(c23_every_console_response_says_no_store_and_pages_load_the_no_copy_layer);

/// Every GET route of the console, with and without a session, the
/// static files (which the public site caches for a year), a POST, the
/// fallback 404 and the allowlist's refusal: all `no-store`. Every HTML
/// page marks its body for the no-copy styles and loads the script.
async fn c23_every_console_response_says_no_store_and_pages_load_the_no_copy_layer(b: Backend) {
    let app = TestApp::spawn(b).await;
    let assets = Assets::new();
    let script = assets.url("console-nocopy.js").to_owned();
    let css = assets.url("app.css").to_owned();
    let secret = enrolled(&app, "nocopy-admin@example.jp", StaffRole::Admin).await;
    let admin = login(&app, "nocopy-admin@example.jp", &secret).await;
    let id = uuid_like();
    let mut pages = 0;
    for entry in console::routes().entries() {
        if entry.method != anshin_testkit::reqwest::Method::GET {
            continue;
        }
        let path = entry
            .path
            .replace("{id}", &id)
            .replace("{file}", css.trim_start_matches("/static/"));
        for cookie in [None, Some(admin.as_str())] {
            let mut req = app.client.get(app.staff_url(&path));
            if let Some(c) = cookie {
                req = req.header(header::COOKIE, c);
            }
            let res = req.send().await.unwrap();
            no_store(&res, &path);
            let html = res
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
            if html {
                let body = res.text().await.unwrap();
                assert!(body.contains(r#"<body class="console"#), "{path}");
                assert!(
                    body.contains(&format!(r#"<script src="{script}"></script>"#)),
                    "{path}"
                );
                pages += 1;
            }
        }
    }
    assert!(pages >= 8, "{pages} console pages seen");
    for path in [script.as_str(), css.as_str(), "/no-such-page"] {
        let res = app.client.get(app.staff_url(path)).send().await.unwrap();
        no_store(&res, path);
    }
    // The script is served, as JavaScript, from the console itself.
    let js = app.client.get(app.staff_url(&script)).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.text().await.unwrap().contains("'contextmenu'"));
    let res = post_form(
        &app,
        "/login",
        None,
        &[("email", "x@example.jp"), ("code", "1")],
    )
    .await;
    no_store(&res, "POST /login");
    // The public site keeps caching its static files (only the console
    // says no-store to them).
    let site = app.client.get(app.url(&css)).send().await.unwrap();
    assert_ne!(site.headers()[header::CACHE_CONTROL], "no-store");

    let closed = TestApp::spawn_with(b, |s| {
        s.staff.allowed_networks = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    for path in ["/login", script.as_str()] {
        let res = closed
            .client
            .get(closed.staff_url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        no_store(&res, "allowlist refusal");
    }
}

fn uuid_like() -> String {
    "0192f3a1-0000-7000-8000-000000000001".to_owned()
}

backends!(c23_console_refuses_copy_selection_drag_and_context_menu_in_a_browser);

/// Acceptance 2's method in Chromium (`e2e/console-nocopy.spec.mjs`): a
/// support worker views a member's e-mail, phone and address; select-all
/// and copy, cut, execCommand copy leave the clipboard as it was; copy,
/// cut, context menu, drag, drop and selection are refused; every console
/// response was no-store; the page prints nothing; the label page shows a
/// real rendered label whose fields are in no DOM text and prints only
/// the label, at 104 × 148 mm. A control on the public site shows the
/// clipboard works. Japanese on SQLite, English on PostgreSQL.
async fn c23_console_refuses_copy_selection_drag_and_context_menu_in_a_browser(b: Backend) {
    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let app = Arc::new(TestApp::spawn_mail(b).await);
    let member_email = "nocopy-member@journey.example.jp";
    app.sign_up(member_email, "Nocopy Member", 0).await;
    let member = app
        .store
        .accounts()
        .find_member_by_email(&anshin_domain::EmailAddress::parse(member_email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let phone = "090-8765-4321";
    anshin_core::member_data::set_phone(
        &app.services,
        member,
        &anshin_core::member_data::PhoneNumber::parse(phone).unwrap(),
    )
    .await
    .unwrap();
    let address =
        anshin_core::member_data::ShippingAddress::parse(anshin_core::member_data::RawAddress {
            recipient_name: "複写 禁子".into(),
            postal_code: "150-0041".into(),
            prefecture: "東京都".into(),
            city: "渋谷区".into(),
            line1: "神南1-2-3".into(),
            line2: None,
            phone: None,
        })
        .unwrap();
    anshin_core::member_data::add_address(&app.services, member, &address, true)
        .await
        .unwrap();
    let support_email = "nocopy-support@journey.example.jp";
    let support = anshin_core::staff::add(&app.services, support_email, StaffRole::Support)
        .await
        .unwrap();

    // The label page as the server renders it, with a real label.
    let font_bytes = std::fs::read("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
        .expect("fonts-noto-cjk: run scripts/setup --test");
    let font = anshin_labels::LabelFont::from_bytes(&font_bytes, 0).unwrap();
    let party = |name: &str, line: &str| anshin_labels::PartyInput {
        name: name.into(),
        postcode: "530-0001".into(),
        prefecture: "大阪府".into(),
        address_lines: vec![line.into()],
        phone: Some("06-1111-2222".into()),
    };
    let label = anshin_labels::Label::new(
        "AN-0001-2345",
        anshin_labels::ParcelSize::S60,
        &party("宛先 花子", "大阪市北区梅田9-9"),
        &party("送主 太郎", "大阪市中央区難波8-8"),
    )
    .unwrap();
    let wm = anshin_labels::Watermark::new("staff-nocopy", "2026-12-06T03:00Z").unwrap();
    let png = anshin_labels::render(&label, &font, &wm).unwrap();
    let data_url = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    );
    let catalogs = Catalogs::load().unwrap();
    let t = &catalogs.get(lang).staff;
    let html = console::labels::label_page_html(
        t,
        lang,
        &Assets::new(),
        String::new(),
        &data_url,
        "AN-0001-2345",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let html_file = dir.path().join("label.html");
    std::fs::write(&html_file, html).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        axum::serve(
            listener,
            Router::new()
                .route("/code", axum::routing::post(crate::journeys::next_code))
                .with_state(app.clone()),
        )
        .into_future(),
    );
    let words = json!({
        "support_email": support_email,
        "member_email": member_email,
        "member_fields": [member_email, phone, "複写 禁子", "150-0041", "神南1-2-3"],
        "label_fields": ["宛先 花子", "送主 太郎", "梅田9-9", "難波8-8", "530-0001", "06-1111-2222"],
    });
    let out = tokio::process::Command::new("node")
        .arg(crate::journeys::repo_root().join("e2e/console-nocopy.spec.mjs"))
        .arg(&app.staff_origin)
        .arg(app.staff_url(&support.path()))
        .arg(&control)
        .arg(lang.code())
        .arg(app.url("/"))
        .arg(&html_file)
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", words.to_string())
        .output()
        .await
        .expect("node: run scripts/setup --test");
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "no-copy journey ({}) failed:\n{}\n{stdout}",
        lang.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON result");
    assert_eq!(v["ok"], true, "{v}");
    // The member view was recorded (C22), once.
    let log = app.store.audit().entries(0, 1000).await.unwrap();
    let views = log
        .iter()
        .filter(|e| e.entry.action == anshin_store::audit::AuditAction::MemberDataViewed)
        .count();
    assert_eq!(views, 1);
}

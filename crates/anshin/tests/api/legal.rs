//! The pages a Japanese marketplace must have (issue 12), over real HTTPS
//! on SQLite and PostgreSQL: terms of use, privacy policy, 特定商取引法に
//! 基づく表記 and help, in Japanese and English, linked from the footer of
//! every page; the operator's details from `[operator]` on the legal
//! notice (and never in the log); consent to the terms at sign-up, its
//! version and time recorded on the member; a member without consent to
//! the terms in force is asked on the terms page.
//!
//! What an attacker would try here, and where it is answered:
//! - sign up without consenting (a form without the box, an API call
//!   without `accept_terms`): refused before the challenge is spent, and
//!   nothing is created or mailed (`signup_needs_consent_to_the_terms_and_records_its_version`,
//!   and `accounts::bad_input_gets_a_clear_4xx_and_changes_nothing`);
//! - record consent for someone else, or from another site: the POST
//!   needs the member's session and its CSRF token
//!   (`a_member_without_current_consent_is_asked_and_accepting_is_recorded`).

use anshin_core::accounts::TERMS_VERSION;
use anshin_core::i18n::{Catalog, Catalogs, Lang};
use anshin_domain::MemberId;
use anshin_store::{Changes, TermsConsent, Timestamp, Write};
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, SECOND, T0, TestApp, backends, cookie_pair, set_cookie};
use serde_json::Value;
use std::sync::LazyLock;
use uuid::Uuid;

backends!(
    legal_pages_in_both_languages_are_linked_from_every_page,
    the_legal_notice_shows_the_configured_operator_and_the_log_never_does,
    signup_needs_consent_to_the_terms_and_records_its_version,
    a_member_without_current_consent_is_asked_and_accepting_is_recorded,
);

const SESSION: &str = "__Host-anshin_session";

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| Catalogs::load().unwrap());

fn t(lang: Lang) -> &'static Catalog {
    CATALOGS.get(lang)
}

/// askama's escaping, to find catalog text in a page.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

async fn get(app: &TestApp, path: &str, lang: Lang, cookie: &str) -> Response {
    let mut r = app
        .client
        .get(app.url(path))
        .header(header::ACCEPT_LANGUAGE, lang.code());
    if !cookie.is_empty() {
        r = r.header(header::COOKIE, cookie);
    }
    r.send().await.unwrap()
}

async fn page(app: &TestApp, path: &str, lang: Lang, cookie: &str) -> String {
    let res = get(app, path, lang, cookie).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

const FOOTER: [&str; 5] = [
    "/help",
    "/contact",
    "/terms",
    "/privacy",
    "/legal/tokushoho",
];

async fn legal_pages_in_both_languages_are_linked_from_every_page(b: Backend) {
    let app = TestApp::spawn(b).await;
    for lang in [Lang::Ja, Lang::En] {
        let c = t(lang);
        // Every page's footer links to all five, in the page's words.
        for path in [
            "/",
            "/signup",
            "/login",
            "/settings/language",
            "/terms",
            "/privacy",
            "/legal/tokushoho",
            "/help",
            "/contact",
        ] {
            let html = page(&app, path, lang, "").await;
            let footer = &html[html.find("<footer").expect("a footer")..];
            for href in FOOTER {
                assert!(
                    footer.contains(&format!("href=\"{href}\"")),
                    "{path} ({lang:?}): no footer link to {href}"
                );
            }
            for word in [&c.footer_terms, &c.footer_privacy, &c.footer_tokushoho] {
                assert!(footer.contains(&escaped(word)), "{path}: {word}");
            }
        }
        let missing = get(&app, "/no-such-page", lang, "").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(missing.text().await.unwrap().contains("href=\"/terms\""));

        // Each page: its title, its sections, no placeholder left.
        for (path, doc) in [
            ("/terms", &c.legal.terms),
            ("/privacy", &c.legal.privacy),
            ("/help", &c.legal.help),
        ] {
            let html = page(&app, path, lang, "").await;
            assert!(html.contains(&format!("<h1>{}</h1>", escaped(&doc.title))));
            assert_eq!(html.matches("<h1>").count(), 1, "{path}: one h1");
            for s in &doc.sections {
                assert!(
                    html.contains(&format!("id=\"{}\"", s.id)),
                    "{path}#{}",
                    s.id
                );
                assert!(html.contains(&format!("href=\"#{}\"", s.id)), "{path} toc");
            }
            let main = &html[html.find("<main").unwrap()..html.find("</main>").unwrap()];
            assert!(!main.contains('{'), "{path} ({lang:?}): a placeholder left");
        }
        let tokushoho = page(&app, "/legal/tokushoho", lang, "").await;
        assert!(tokushoho.contains(&escaped(&c.legal.tokushoho.title)));
        assert!(!tokushoho.contains('{'));
    }
    // The terms state the version in force; the privacy policy the
    // lifetimes this server is configured with, and the promises C15–C18.
    let terms = page(&app, "/terms", Lang::Ja, "").await;
    assert!(terms.contains(&format!("{TERMS_VERSION} 版")));
    let privacy = page(&app, "/privacy", Lang::Ja, "").await;
    for fact in [
        "2 時間使わなかったとき、または始まってから 14 日",
        "コードは 10 分で期限が切れ",
        "振込が完了してから 1 か月後に削除",
        "取引が完了してから 1 か月後に削除",
        "退会すると、アカウントに結びつく情報をすべて、ただちに削除",
        "カード情報は決済代行会社に直接送られます",
        "AES-256",
        "400 日間",
    ] {
        assert!(privacy.contains(fact), "privacy policy: {fact}");
    }
    let privacy_en = page(&app, "/privacy", Lang::En, "").await;
    assert!(privacy_en.contains("one month after the transfer is complete"));
    assert!(privacy_en.contains("<html lang=\"en\""));
    app.stop().await;

    // Other lifetimes, other words: the page follows the configuration.
    let app = TestApp::spawn_with(b, |s| {
        s.sessions.idle_timeout_secs = 4 * 3600;
        s.auth.code_ttl_secs = 900;
    })
    .await;
    let privacy = page(&app, "/privacy", Lang::Ja, "").await;
    assert!(privacy.contains("4 時間使わなかったとき"));
    assert!(privacy.contains("コードは 15 分で期限が切れ"));
    let help = page(&app, "/help", Lang::En, "").await;
    assert!(help.contains("A code expires after 15 minutes"));
    app.stop().await;
}

async fn the_legal_notice_shows_the_configured_operator_and_the_log_never_does(b: Backend) {
    // The embedded default says plainly that the details are missing, and
    // the log names the keys to set.
    let app = TestApp::spawn(b).await;
    let html = page(&app, "/legal/tokushoho", Lang::Ja, "").await;
    assert!(html.contains("［未設定］運営事業者の名称"));
    assert!(html.contains("operator@example.invalid"));
    assert!(
        !html.contains(&escaped(&t(Lang::Ja).legal.tokushoho.rows[4].label)),
        "no business hours row when none are set"
    );
    app.stop().await;
    let logs = anshin_testkit::captured_logs();
    assert!(
        logs.contains("operator details are placeholders")
            && logs.contains("operator.support_email"),
        "serve warns while the operator details are placeholders"
    );

    let app = TestApp::spawn_with(b, |s| {
        s.operator.name = "株式会社ゾウアザラシ商会".into();
        s.operator.representative = "象海豹 太郎".into();
        s.operator.address = "〒999-9999 北海道ゾウアザラシ市1-2-3".into();
        s.operator.phone = "099-876-5432".into();
        s.operator.email = "info@zouazarashi.example.jp".into();
        s.operator.support_email = "help@zouazarashi.example.jp".into();
        s.operator.business_hours = Some("平日 10:00〜17:00（年末年始を除く）".into());
    })
    .await;
    let values = [
        "株式会社ゾウアザラシ商会",
        "象海豹 太郎",
        "〒999-9999 北海道ゾウアザラシ市1-2-3",
        "099-876-5432",
        "info@zouazarashi.example.jp",
        "平日 10:00〜17:00（年末年始を除く）",
    ];
    for lang in [Lang::Ja, Lang::En] {
        let html = page(&app, "/legal/tokushoho", lang, "").await;
        for v in values {
            assert!(html.contains(v), "{lang:?}: {v}");
        }
        for row in &t(lang).legal.tokushoho.rows {
            assert!(
                html.contains(&escaped(&row.label)),
                "{lang:?}: {}",
                row.label
            );
        }
        assert!(!html.contains("未設定"));
        // The privacy policy and terms name the operator and where to ask.
        let privacy = page(&app, "/privacy", lang, "").await;
        assert!(privacy.contains("株式会社ゾウアザラシ商会"));
        assert!(privacy.contains("help@zouazarashi.example.jp"));
    }
    app.stop().await;
    let logs = anshin_testkit::captured_logs();
    for v in values.iter().chain(&["help@zouazarashi.example.jp"]) {
        assert!(!logs.contains(v), "the log holds an operator detail: {v}");
    }
}

async fn signup_needs_consent_to_the_terms_and_records_its_version(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "consent@example.jp";
    let res = get(&app, "/signup", Lang::Ja, "").await;
    let visitor = cookie_pair(set_cookie(&res, SESSION).unwrap());
    let form = res.text().await.unwrap();
    // A required box whose label links to the terms, stating the version.
    assert!(form.contains(
        "<input type=\"checkbox\" id=\"f-accept_terms\" name=\"accept_terms\" value=\"1\" required>"
    ));
    assert!(form.contains("<label for=\"f-accept_terms\">"));
    assert!(form.contains("href=\"/terms\""));
    assert!(form.contains(&format!("（{TERMS_VERSION} 版）")));
    let token = field(&form, "csrf_token");
    let post = |fields: Vec<(&'static str, String)>| {
        let app = &app;
        let visitor = visitor.clone();
        async move {
            app.client
                .post(app.url("/signup"))
                .header(header::COOKIE, visitor)
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    // Without the box: the form again, saying why, with what was typed.
    let res = post(vec![
        ("csrf_token", token.clone()),
        ("email", email.into()),
        ("display_name", "同意太郎".into()),
        ("altcha", app.solve_challenge().await),
    ])
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&escaped(&t(Lang::Ja).err_terms_not_accepted)),
        "a clear form error"
    );
    assert!(html.contains("value=\"consent@example.jp\"") && html.contains("value=\"同意太郎\""));
    assert!(!html.contains("name=\"flow_id\""), "no code step");
    // Nothing was mailed and nothing created: a later sign-up's code is
    // the first mail to the address.
    let res = post(vec![
        ("csrf_token", token.clone()),
        ("email", email.into()),
        ("display_name", "同意太郎".into()),
        ("accept_terms", "1".into()),
        ("altcha", app.solve_challenge().await),
    ])
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let flow = field(&html, "flow_id");
    app.clock.advance(30 * SECOND);
    let code = app.code_for(email, 1).await;
    let res = app
        .client
        .post(app.url("/signup/verify"))
        .header(header::COOKIE, &visitor)
        .form(&[
            ("csrf_token", token.as_str()),
            ("flow_id", &flow),
            ("code", &code),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let me = cookie_pair(set_cookie(&res, SESSION).unwrap());
    assert_eq!(
        app.mails_to(email, 2).await.len(),
        2,
        "code and welcome only"
    );
    let json: Value = get(&app, "/api/v1/me", Lang::Ja, &me)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json["terms_version"], TERMS_VERSION);
    assert_eq!(
        json["terms_accepted_at"],
        T0.micros(),
        "when the box was ticked, not when the code came"
    );
    assert_eq!(json["terms_current"], true);
    // The terms page says so, and asks nothing.
    let terms = page(&app, "/terms", Lang::Ja, &me).await;
    assert!(
        terms.contains("2026-01-01 09:00:00 JST"),
        "the time of consent"
    );
    assert!(!terms.contains("action=\"/terms\""));

    // The API: the same rule, the same record.
    let api = "api-consent@example.jp";
    let res = app
        .client
        .post(app.url("/api/v1/signup"))
        .json(&serde_json::json!({"email": api, "display_name": "API", "altcha": app.solve_challenge().await}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "terms_not_accepted");
    assert_eq!(body["message"], t(Lang::Ja).err_terms_not_accepted);
    let member = app.sign_up(api, "API", 0).await;
    let json: Value = get(&app, "/api/v1/me", Lang::Ja, &member.session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json["terms_version"], TERMS_VERSION);
    // The OpenAPI document tells clients about the field.
    let doc: Value = get(&app, "/api/openapi.json", Lang::En, "")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["components"]["schemas"]["SignupRequest"]["properties"]["accept_terms"]["type"],
        "boolean"
    );
    app.stop().await;
}

async fn a_member_without_current_consent_is_asked_and_accepting_is_recorded(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let member = app.sign_up("older@example.jp", "古い会員", 0).await;
    let me: Value = get(&app, "/api/v1/me", Lang::En, &member.session)
        .await
        .json()
        .await
        .unwrap();
    let id = MemberId::from_uuid(me["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    // They accepted an older version.
    app.store
        .commit(&Changes::new().with(Write::AcceptTerms {
            member: id,
            terms: TermsConsent {
                version: "2020-01-01".into(),
                accepted_at: Timestamp::from_micros(0),
            },
        }))
        .await
        .unwrap();
    let html = page(&app, "/terms", Lang::En, &member.session).await;
    let asked = t(Lang::En)
        .terms_status_outdated
        .replace("{version}", "2020-01-01");
    assert!(html.contains(&escaped(&asked)), "the page says why it asks");
    assert!(html.contains("action=\"/terms\""));
    // A visitor sees the terms and no form.
    let visitor = page(&app, "/terms", Lang::En, "").await;
    assert!(!visitor.contains("action=\"/terms\""));
    // Without the CSRF token, or without a session: nothing is recorded.
    let res = app
        .client
        .post(app.url("/terms"))
        .header(header::COOKIE, &member.session)
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .client
        .post(app.url("/terms"))
        .form(&[("csrf_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let me: Value = get(&app, "/api/v1/me", Lang::En, &member.session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["terms_version"], "2020-01-01");
    assert_eq!(me["terms_current"], false);

    app.clock.advance(3600 * SECOND);
    let token = field(&html, "csrf_token");
    let res = app
        .client
        .post(app.url("/terms"))
        .header(header::COOKIE, &member.session)
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    let (status, after) = app.follow(res, "/terms", &member.session).await;
    assert_eq!(status, StatusCode::OK);
    assert!(after.contains(&escaped(&t(Lang::Ja).flash["terms_accepted"])));
    assert!(!after.contains("action=\"/terms\""), "asked no more");
    let me: Value = get(&app, "/api/v1/me", Lang::En, &member.session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["terms_version"], TERMS_VERSION);
    assert_eq!(me["terms_current"], true);
    assert_eq!(me["terms_accepted_at"], (T0 + 3600 * SECOND).micros());
    app.stop().await;
}

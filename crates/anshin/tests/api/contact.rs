//! The contact form (`/contact`, issue 12) over real HTTPS and real SMTP,
//! on SQLite and PostgreSQL: a message reaches the operator's support
//! address through the mail outbox, with the member's address prefilled
//! when signed in; it needs the bot challenge (C7) and the CSRF token; too
//! many are refused; the WAF's exclusion for prose fields (C6) lets
//! ordinary sentences in `message` through on this route while the same
//! text in another field is still blocked; and the message never reaches
//! the log.
//!
//! What an attacker would try here, and where it is answered:
//! - flood support from a script: a solved challenge per message
//!   (`c07_a_message_without_the_challenge_is_refused`) and the windows
//!   (`too_many_messages_are_refused_until_the_window_passes`);
//! - use the form to mail someone else: the only recipient is
//!   `operator.support_email`; the typed address is only quoted in the body
//!   (`a_message_reaches_support_by_smtp_and_never_the_log`);
//! - post it from another site: CSRF (`c07_a_message_without_the_challenge_is_refused`);
//! - inject markup into the support mail: the HTML body escapes it
//!   (`a_message_reaches_support_by_smtp_and_never_the_log`).

use anshin_core::i18n::{Catalog, Catalogs, Lang};
use anshin_testkit::anshin::config::WafMode;
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, SECOND, TestApp, backends, cookie_pair, set_cookie};
use serde_json::Value;
use std::sync::LazyLock;

backends!(
    a_message_reaches_support_by_smtp_and_never_the_log,
    c07_a_message_without_the_challenge_is_refused,
    too_many_messages_are_refused_until_the_window_passes,
    c06_the_prose_exclusion_lets_a_message_through_on_this_route,
);

const SESSION: &str = "__Host-anshin_session";
const SUPPORT: &str = "help@anshin-support.example.jp";

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| Catalogs::load().unwrap());

fn ja() -> &'static Catalog {
    CATALOGS.get(Lang::Ja)
}

fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

async fn spawn(
    b: Backend,
    configure: impl FnOnce(&mut anshin_testkit::anshin::config::Settings),
) -> TestApp {
    TestApp::spawn_mail_with(b, |s| {
        s.operator.support_email = SUPPORT.into();
        configure(s);
    })
    .await
}

/// A browser on the contact page: its cookie (the visitor's session, or
/// the member's) and the form's CSRF token, and the page.
async fn open_form(app: &TestApp, cookie: Option<&str>) -> (String, String, String) {
    let mut req = app.client.get(app.url("/contact"));
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let cookie = match cookie {
        Some(c) => c.to_owned(),
        None => cookie_pair(set_cookie(&res, SESSION).expect("a visitor session")),
    };
    let html = res.text().await.unwrap();
    let token = field(&html, "csrf_token");
    (cookie, token, html)
}

async fn send(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> Response {
    app.client
        .post(app.url("/contact"))
        .header(header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn a_message_reaches_support_by_smtp_and_never_the_log(b: Backend) {
    let app = spawn(b, |_| {}).await;
    let (cookie, token, html) = open_form(&app, None).await;
    // The form: a topic from the list, the text, a reply address (empty
    // for a visitor), the challenge widget.
    for topic in [
        "account", "purchase", "shipping", "selling", "privacy", "other",
    ] {
        assert!(
            html.contains(&format!("<option value=\"{topic}\"")),
            "{topic}"
        );
    }
    assert!(html.contains("<textarea id=\"f-message\" name=\"message\""));
    assert!(html.contains(
        "name=\"reply_email\" autocomplete=\"email\" maxlength=\"254\" required value=\"\""
    ));
    assert!(html.contains("data-altcha"));

    let message =
        "荷物がまだ届きません。\n追跡番号を教えてください。3 < 5 & \"7\" > 2 ZQX-secret-7781";
    let reply = "Hanako.Visitor@Example.JP";
    let altcha = app.solve_challenge().await;
    let res = send(
        &app,
        &cookie,
        &[
            ("csrf_token", &token),
            ("topic", "shipping"),
            ("message", message),
            ("reply_email", reply),
            ("altcha", &altcha),
        ],
    )
    .await;
    let (status, after) = app.follow(res, "/contact", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        after.contains(&escaped(&ja().flash["contact_sent"])),
        "we received your message"
    );
    assert!(
        !after.contains("ZQX-secret-7781"),
        "the form is empty again"
    );

    let mails = app.mails_to(SUPPORT, 1).await;
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.to, SUPPORT, "only support gets it");
    assert!(
        m.subject.contains("お問い合わせ") && m.subject.contains("配送"),
        "{}",
        m.subject
    );
    assert!(m.text.contains("荷物がまだ届きません。") && m.text.contains("ZQX-secret-7781"));
    assert!(
        m.text.contains("hanako.visitor@example.jp"),
        "the reply address, normalised"
    );
    assert!(m.text.contains(&ja().mail_contact_not_member));
    assert!(
        m.html.contains("3 &lt; 5 &amp; &quot;7&quot; &gt; 2"),
        "the HTML body escapes the text"
    );
    assert!(
        app.mails_to("hanako.visitor@example.jp", 0)
            .await
            .is_empty(),
        "no mail to the typed address"
    );

    // A member: the form holds their address, the mail their id.
    let member = app.sign_up("member-writes@example.jp", "会員", 0).await;
    let (_, token, html) = open_form(&app, Some(&member.session)).await;
    assert!(
        html.contains("value=\"member-writes@example.jp\""),
        "prefilled"
    );
    let me: Value = app
        .client
        .get(app.url("/api/v1/me"))
        .header(header::COOKIE, &member.session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let altcha = app.solve_challenge().await;
    let res = send(
        &app,
        &member.session,
        &[
            ("csrf_token", &token),
            ("topic", "account"),
            ("message", "表示名を変えたいです。ZQX-secret-7782"),
            ("reply_email", "member-writes@example.jp"),
            ("altcha", &altcha),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mails = app.mails_to(SUPPORT, 2).await;
    let m = mails
        .iter()
        .find(|m| m.text.contains("ZQX-secret-7782"))
        .unwrap();
    assert!(m.text.contains(me["id"].as_str().unwrap()), "the member id");
    app.stop().await;

    let logs = anshin_testkit::captured_logs();
    for secret in [
        "ZQX-secret-7781",
        "ZQX-secret-7782",
        "荷物がまだ届きません",
        "hanako.visitor",
        "Hanako.Visitor",
    ] {
        assert!(!logs.contains(secret), "the log holds {secret}");
    }
    assert!(logs.contains("contact message queued for support"));
}

async fn c07_a_message_without_the_challenge_is_refused(b: Backend) {
    let app = spawn(b, |_| {}).await;
    let (cookie, token, _) = open_form(&app, None).await;
    let base = [
        ("csrf_token", token.as_str()),
        ("topic", "other"),
        ("message", "ロボットからの ZQX-bot-1"),
        ("reply_email", "bot@example.jp"),
    ];
    // No challenge, then a forged one: the form again, saying why, with
    // what was typed.
    for (extra, want) in [
        (None, &ja().err_challenge_required),
        (
            Some("eyJub3QiOiJhIHNvbHV0aW9uIn0="),
            &ja().err_challenge_failed,
        ),
    ] {
        let mut form = base.to_vec();
        if let Some(a) = extra {
            form.push(("altcha", a));
        }
        let res = send(&app, &cookie, &form).await;
        assert_eq!(res.status(), StatusCode::OK);
        let html = res.text().await.unwrap();
        assert!(html.contains(&escaped(want)), "{want}");
        assert!(
            html.contains("ロボットからの ZQX-bot-1</textarea>"),
            "typed text kept"
        );
        assert!(html.contains("<option value=\"other\" selected>"));
    }
    // Without the CSRF token, or from another site: 403 before anything.
    let mut form = base.to_vec();
    form.retain(|(k, _)| *k != "csrf_token");
    let altcha = app.solve_challenge().await;
    form.push(("altcha", &altcha));
    let res = send(&app, &cookie, &form).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .client
        .post(app.url("/contact"))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .form(&base)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Wrong fields are named, and spend no challenge.
    let altcha = app.solve_challenge().await;
    let res = send(
        &app,
        &cookie,
        &[
            ("csrf_token", &token),
            ("topic", "refund-now"),
            ("message", "   "),
            ("reply_email", "nobody"),
            ("altcha", &altcha),
        ],
    )
    .await;
    let html = res.text().await.unwrap();
    for (f, code) in [
        ("topic", "unknown"),
        ("message", "required"),
        ("reply_email", "invalid_format"),
    ] {
        assert!(html.contains(&format!("id=\"{f}-error\"")), "{f}");
        assert!(
            html.contains(&escaped(ja().field_error(f, code))),
            "{f}.{code}"
        );
    }
    // The same solution still works once: it was not spent on the wrong form.
    let res = send(
        &app,
        &cookie,
        &[
            ("csrf_token", &token),
            ("topic", "other"),
            ("message", "人間です ZQX-human-1"),
            ("reply_email", "human@example.jp"),
            ("altcha", &altcha),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Only that one reached support.
    let mails = app.mails_to(SUPPORT, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mails_later = app.mails_to(SUPPORT, 1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails_later.len(), 1);
    assert!(mails[0].text.contains("ZQX-human-1"));
    app.stop().await;
}

async fn too_many_messages_are_refused_until_the_window_passes(b: Backend) {
    let app = spawn(b, |s| {
        s.contact.max_per_address = 2;
        s.contact.window_secs = 600;
    })
    .await;
    let (cookie, token, _) = open_form(&app, None).await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        let altcha = app.solve_challenge().await;
        let text = format!("{i} 回目のお問い合わせ");
        let res = send(
            &app,
            &cookie,
            &[
                ("csrf_token", &token),
                ("topic", "other"),
                ("message", &text),
                ("reply_email", "often@example.jp"),
                ("altcha", &altcha),
            ],
        )
        .await;
        statuses.push(res.status());
        if i == 2 {
            let html = res.text().await.unwrap();
            assert!(
                html.contains(&escaped(&ja().err_rate_limited)),
                "the form says why"
            );
            assert!(
                html.contains("2 回目のお問い合わせ</textarea>"),
                "typed text kept"
            );
        }
    }
    assert_eq!(
        statuses,
        [StatusCode::SEE_OTHER, StatusCode::SEE_OTHER, StatusCode::OK]
    );
    // After the window, the address may write again.
    app.clock.advance(601 * SECOND);
    let altcha = app.solve_challenge().await;
    let res = send(
        &app,
        &cookie,
        &[
            ("csrf_token", &token),
            ("topic", "other"),
            ("message", "また書きます"),
            ("reply_email", "often@example.jp"),
            ("altcha", &altcha),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mails = app.mails_to(SUPPORT, 3).await;
    assert_eq!(mails.len(), 3, "the refused one was not sent");
    assert!(!mails.iter().any(|m| m.text.contains("2 回目")));
    app.stop().await;
}

async fn c06_the_prose_exclusion_lets_a_message_through_on_this_route(b: Backend) {
    let app = spawn(b, |s| s.waf.mode = WafMode::Block).await;
    let (cookie, token, _) = open_form(&app, None).await;
    // Sentences the CRS alone would block, in the field named `message`.
    let prose = [
        "Bread & butter; set of 2 plates",
        "データの更新（update）は毎週月曜日です。",
    ];
    for text in prose {
        let altcha = app.solve_challenge().await;
        let res = send(
            &app,
            &cookie,
            &[
                ("csrf_token", &token),
                ("topic", "purchase"),
                ("message", text),
                ("reply_email", "prose@example.jp"),
                ("altcha", &altcha),
            ],
        )
        .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{text}");
        assert_eq!(res.headers()[header::LOCATION], "/contact");
    }
    let mails = app.mails_to(SUPPORT, 2).await;
    for text in prose {
        assert!(mails.iter().any(|m| m.text.contains(text)), "{text}");
    }
    // The exclusion is for that field only: the same words elsewhere,
    // and an attack in the message, are still refused before the handler.
    let altcha = app.solve_challenge().await;
    for form in [
        vec![
            ("csrf_token", token.as_str()),
            ("topic", "Bread & butter; set of 2 plates"),
            ("message", "こんにちは"),
            ("reply_email", "prose@example.jp"),
            ("altcha", &altcha),
        ],
        vec![
            ("csrf_token", token.as_str()),
            ("topic", "other"),
            ("message", "<script>alert(document.cookie)</script>"),
            ("reply_email", "prose@example.jp"),
            ("altcha", &altcha),
        ],
    ] {
        let res = send(&app, &cookie, &form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{form:?}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.mails_to(SUPPORT, 2).await.len(), 2);
    app.stop().await;
}

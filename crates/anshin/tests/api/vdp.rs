//! The vulnerability disclosure programme (C5; issue 18 acceptance 4) over
//! real HTTPS and SMTP, on SQLite and PostgreSQL:
//! - `/.well-known/security.txt` passes an RFC 9116 check written here
//!   (the required fields, `Expires` in the future and less than a year
//!   ahead, `Canonical` the URL it was served from, no unknown fields);
//! - a fixed `vdp.expires` close to its date is a self-scan finding;
//! - a report sent through `/security` (bot challenge, CSRF) is answered
//!   with a tracking id, acknowledged by mail with it, unreadable in the
//!   database files (SQLite file and WAL, `pg_dump`), the logs and the
//!   audit details, readable in the console by the `security` role (the
//!   view audited), triaged there (status, note: audited), and refused to
//!   the other roles.

use anshin_core::audit::AuditAction;
use anshin_core::selfscan::Report;
use anshin_domain::{Duration, StaffRole, Timestamp};
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, captured_logs, cookie_pair, set_cookie};

use crate::audit::entries;
use crate::member_data::{contains, database_bytes, encodings};
use crate::staff::{Now, csrf_of, enrolled, login, post_form};

backends!(
    c05_security_txt_passes_an_rfc_9116_check,
    c05_a_report_is_sealed_acknowledged_and_triaged_by_the_security_role_only,
);

const SESSION: &str = "__Host-anshin_session";
const CANARY: &str = "CANARY-vdp-7Q2W-reflected-xss-in-search";
const REPORTER: &str = "researcher.canary@example.org";

// ---------------------------------------------------------- RFC 9116

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339 in UTC, as RFC 9116 §2.5.5 shows it)
/// as seconds since the epoch; `None` for anything else.
fn parse_utc(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// RFC 9116's checks of a security.txt served at `served_url` at `now`
/// (seconds): every problem found, in words.
fn rfc9116_problems(text: &str, served_url: &str, now: i64) -> Vec<String> {
    const KNOWN: [&str; 9] = [
        "Acknowledgments",
        "Canonical",
        "Contact",
        "Encryption",
        "Expires",
        "Hiring",
        "Policy",
        "Preferred-Languages",
        "CSAF",
    ];
    let mut problems = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(": ") else {
            problems.push(format!("not a field: {line:?}"));
            continue;
        };
        if !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(name)) {
            problems.push(format!("unknown field {name}"));
        }
        fields.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let all = |n: &str| -> Vec<&str> {
        fields
            .iter()
            .filter(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let contacts = all("contact");
    if contacts.is_empty() {
        problems.push("no Contact".into());
    }
    for c in &contacts {
        if !(c.starts_with("mailto:") || c.starts_with("https://") || c.starts_with("tel:")) {
            problems.push(format!("Contact is not a mailto:, https: or tel: URI: {c}"));
        }
    }
    match all("expires").as_slice() {
        [one] => match parse_utc(one) {
            None => problems.push(format!("Expires is not an RFC 3339 UTC time: {one}")),
            Some(at) if at <= now => problems.push("Expires has passed".into()),
            Some(at) if at - now >= 365 * 86_400 => {
                problems.push("Expires is a year or more ahead".into())
            }
            Some(_) => {}
        },
        other => problems.push(format!("Expires must appear once, not {}", other.len())),
    }
    for single in ["preferred-languages"] {
        if all(single).len() > 1 {
            problems.push(format!("{single} more than once"));
        }
    }
    let canonical = all("canonical");
    if !canonical.contains(&served_url) {
        problems.push(format!("no Canonical names {served_url}: {canonical:?}"));
    }
    for p in all("policy").iter().chain(&canonical) {
        if !p.starts_with("https://") {
            problems.push(format!("not an https URI: {p}"));
        }
    }
    problems
}

#[test]
fn c05_the_rfc_9116_checker_finds_what_it_must() {
    let now = parse_utc("2026-12-06T00:00:00Z").unwrap();
    assert_eq!(now, 1_796_515_200);
    let url = "https://example.jp/.well-known/security.txt";
    let good = format!(
        "# comment\nContact: mailto:security@example.jp\nExpires: 2027-06-01T00:00:00Z\n\
         Canonical: {url}\nPolicy: https://example.jp/security\nPreferred-Languages: ja, en\n"
    );
    assert!(rfc9116_problems(&good, url, now).is_empty());
    for (bad, why) in [
        (
            good.replace("Contact: mailto:security@example.jp\n", ""),
            "no Contact",
        ),
        (good.replace("2027-06-01", "2026-12-01"), "passed"),
        (good.replace("2027-06-01", "2027-12-07"), "a year"),
        (
            good.replace("2027-06-01T00:00:00Z", "June 2027"),
            "RFC 3339",
        ),
        (
            good.replace("example.jp/.well", "evil.example/.well"),
            "Canonical",
        ),
        (format!("{good}Bounty: yes\n"), "unknown field"),
    ] {
        let p = rfc9116_problems(&bad, url, now);
        assert!(p.iter().any(|p| p.contains(why)), "{why}: {p:?}");
    }
}

async fn c05_security_txt_passes_an_rfc_9116_check(b: Backend) {
    let app = TestApp::spawn(b).await;
    let url = app.url("/.well-known/security.txt");
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    let text = res.text().await.unwrap();
    let now = app.clock.now_for_tests().micros() / 1_000_000;
    let problems = rfc9116_problems(&text, &url, now);
    assert!(problems.is_empty(), "{problems:?}\n{text}");
    assert!(text.contains("Preferred-Languages: ja, en\n"), "{text}");
    assert!(
        text.contains(&format!("Policy: {}\n", app.url("/security"))),
        "{text}"
    );
    let host = url::Url::parse(&url)
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains(&format!("Contact: mailto:security@{host}\n")),
        "the default contact is derived from the site: {text}"
    );

    // Expires moves with the clock: half a year on, it is still ahead.
    app.clock.advance(Duration::from_secs(200 * 86_400));
    let text = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let now = app.clock.now_for_tests().micros() / 1_000_000;
    assert!(rfc9116_problems(&text, &url, now).is_empty(), "{text}");
    app.stop().await;

    // A configured contact is what the file names.
    let app = TestApp::spawn_with(b, |s| {
        s.vdp.contact = Some("https://bugs.example.jp/report".into());
    })
    .await;
    let text = app
        .client
        .get(url_of(&app))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("Contact: https://bugs.example.jp/report\n"),
        "{text}"
    );
    app.stop().await;
}

fn url_of(app: &TestApp) -> String {
    app.url("/.well-known/security.txt")
}

#[test]
fn c05_a_fixed_expiry_near_its_date_is_a_self_scan_finding() {
    let now = Timestamp::from_micros(1_796_515_200_000_000);
    let at = |days: u64| {
        anshin_core::vdp::rfc3339(now.saturating_add(Duration::from_secs(days * 86_400)))
    };
    let found = |expires: Option<String>| {
        let mut settings = anshin_testkit::anshin::config::Settings::default();
        settings.vdp.expires = expires;
        let mut report = Report::default();
        anshin_testkit::anshin::selfscan::vdp_expiry(&mut report, &settings, now);
        report
            .findings
            .into_iter()
            .map(|f| f.id)
            .collect::<Vec<_>>()
    };
    assert!(found(None).is_empty(), "a computed Expires cannot lapse");
    assert!(found(Some(at(200))).is_empty(), "far enough");
    assert_eq!(found(Some(at(29))), ["security_txt_expiring"]);
    assert_eq!(found(Some(at(30))), ["security_txt_expiring"]);
    assert!(found(Some(at(31))).is_empty());
    let past = anshin_core::vdp::rfc3339(now.saturating_sub(Duration::from_secs(86_400)));
    assert_eq!(found(Some(past)), ["security_txt_expired"]);
}

// ------------------------------------------------------- the report

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// A visitor's browser on `/security` in `lang`: its cookie, the form's
/// CSRF token and the page.
async fn open_form(app: &TestApp, lang: &str) -> (String, String, String) {
    let res = app
        .client
        .get(app.url("/security"))
        .header(header::ACCEPT_LANGUAGE, lang)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let cookie = cookie_pair(set_cookie(&res, SESSION).expect("a visitor session"));
    let html = res.text().await.unwrap();
    let token = field(&html, "csrf_token");
    (cookie, token, html)
}

async fn send(app: &TestApp, cookie: &str, lang: &str, form: &[(&str, &str)]) -> Response {
    app.client
        .post(app.url("/security"))
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT_LANGUAGE, lang)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> Response {
    app.client
        .get(app.staff_url(path))
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
}

/// `needle` in the database bytes: in UTF-8, UTF-16LE or UTF-16BE, each
/// as the SQLite file holds it and as `pg_dump` prints a bytea (hex: a
/// plain `bytea` column would hide from a search for the text itself).
fn at_rest(db: &[u8], needle: &str) -> bool {
    encodings(needle).iter().any(|enc| {
        let hex: String = enc.iter().map(|b| format!("{b:02x}")).collect();
        contains(db, enc) || contains(db, hex.as_bytes())
    })
}

fn tracking_in(text: &str) -> String {
    let start = text.find("VDP-").expect("a tracking id");
    text[start..start + 16].to_owned()
}

async fn c05_a_report_is_sealed_acknowledged_and_triaged_by_the_security_role_only(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let message = format!(
        "The search page reflects q unescaped.\nSteps: open /search?q=... {CANARY}\nImpact: session theft."
    );

    // The page: policy and form in English.
    let (cookie, token, html) = open_form(&app, "en").await;
    for part in [
        "Safe harbour",
        "What not to do",
        "How fast we answer",
        "In scope",
        "/.well-known/security.txt",
        "data-altcha",
    ] {
        assert!(html.contains(part), "{part}");
    }

    // Without the challenge: refused, the input kept.
    let res = send(
        &app,
        &cookie,
        "en",
        &[
            ("csrf_token", &token),
            ("reply_email", REPORTER),
            ("message", &message),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let again = res.text().await.unwrap();
    assert!(again.contains("role=\"alert\""), "a reason is shown");
    assert!(
        again.contains(CANARY) && again.contains(REPORTER),
        "input kept"
    );
    assert!(!again.contains("VDP-"), "nothing taken");

    // A wrong address: the field's error, the text kept.
    let altcha = app.solve_challenge().await;
    let res = send(
        &app,
        &cookie,
        "en",
        &[
            ("csrf_token", &token),
            ("reply_email", "not-an-address"),
            ("message", &message),
            ("altcha", &altcha),
        ],
    )
    .await;
    let again = res.text().await.unwrap();
    assert!(again.contains("id=\"reply_email-error\""), "{again}");
    assert!(again.contains(CANARY));

    // Without the CSRF token: refused.
    let res = send(
        &app,
        &cookie,
        "en",
        &[("reply_email", REPORTER), ("message", &message)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // With everything: the tracking id on the page and in the mail.
    let altcha = app.solve_challenge().await;
    let res = send(
        &app,
        &cookie,
        "en",
        &[
            ("csrf_token", &token),
            ("reply_email", REPORTER),
            ("message", &message),
            ("altcha", &altcha),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let done = res.text().await.unwrap();
    assert!(done.contains("id=\"vdp-sent\""), "{done}");
    let tracking = tracking_in(&done);
    assert!(!done.contains(CANARY), "the form is empty again");
    let mails = app.mails_to(REPORTER, 1).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject.contains(&tracking), "{}", mails[0].subject);
    assert!(mails[0].text.contains(&tracking));
    assert!(
        !mails[0].text.contains(CANARY),
        "the acknowledgement never quotes the report"
    );

    // At rest: neither the text nor the address, in any encoding.
    let bytes = database_bytes(&app);
    for needle in [CANARY, REPORTER] {
        assert!(!at_rest(&bytes, needle), "{needle} in the database files");
    }
    assert!(
        contains(&bytes, tracking.as_bytes()),
        "the tracking id is clear"
    );
    // Nor in the logs or the audit details.
    let logs = captured_logs();
    assert!(!logs.contains(CANARY) && !logs.contains(REPORTER));
    let all = entries(&app).await;
    let received = all
        .iter()
        .find(|e| e.entry.action == AuditAction::VdpReportReceived)
        .expect("the arrival is audited");
    let details = received.entry.details.as_deref().unwrap_or_default();
    assert!(details.contains(&tracking), "{details}");
    for e in &all {
        let d = e.entry.details.as_deref().unwrap_or_default();
        assert!(!d.contains(CANARY) && !d.contains(REPORTER), "{d}");
    }

    // Other roles: refused, list and report alike.
    let mut others = Vec::new();
    for (email, role) in [
        ("support@example.jp", StaffRole::Support),
        ("admin@example.jp", StaffRole::Admin),
        ("finance@example.jp", StaffRole::Finance),
    ] {
        let secret = enrolled(&app, email, role).await;
        let c = login(&app, email, &secret).await;
        let res = get(&app, &c, "/vdp").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role:?}");
        let body = res.text().await.unwrap();
        assert!(!body.contains(&tracking), "{role:?}");
        others.push((role, c));
    }

    // The security role: the list, then the report, decrypted.
    let secret = enrolled(&app, "security@example.jp", StaffRole::Security).await;
    let sec = login(&app, "security@example.jp", &secret).await;
    let list = get(&app, &sec, "/vdp").await;
    assert_eq!(list.status(), StatusCode::OK);
    let list = list.text().await.unwrap();
    assert!(list.contains(&tracking), "{list}");
    assert!(
        !list.contains(CANARY) && !list.contains(REPORTER),
        "the list shows nothing personal"
    );
    let start = list.find("href=\"/vdp/").unwrap() + "href=\"".len();
    let path = list[start..start + list[start..].find('"').unwrap()].to_owned();
    for (role, c) in &others {
        let res = get(&app, c, &path).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role:?}");
        assert!(!res.text().await.unwrap().contains(CANARY), "{role:?}");
        let res = post_form(
            &app,
            &format!("{path}/status"),
            Some(c),
            &[("csrf_token", &csrf_of(c)), ("status", "rejected")],
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role:?}");
    }
    let before = entries(&app).await.len();
    let report = get(&app, &sec, &path).await;
    assert_eq!(report.status(), StatusCode::OK);
    let report = report.text().await.unwrap();
    assert!(
        report.contains(CANARY) && report.contains(REPORTER),
        "readable by security"
    );
    let after = entries(&app).await;
    assert_eq!(after.len(), before + 1, "one entry per view");
    assert_eq!(after[before].entry.action, AuditAction::VdpReportViewed);

    // Triage: a status and a note, each audited; the note sealed too.
    let csrf = csrf_of(&sec);
    let res = post_form(
        &app,
        &format!("{path}/status"),
        Some(&sec),
        &[("csrf_token", &csrf), ("status", "confirmed")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let note = "NOTE-CANARY-reproduced on staging";
    let res = post_form(
        &app,
        &format!("{path}/notes"),
        Some(&sec),
        &[("csrf_token", &csrf), ("note", note)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = post_form(
        &app,
        &format!("{path}/notes"),
        Some(&sec),
        &[("csrf_token", &csrf), ("note", "  ")],
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "an empty note is refused"
    );
    let actions: Vec<AuditAction> = entries(&app).await.iter().map(|e| e.entry.action).collect();
    assert!(actions.contains(&AuditAction::VdpStatusChanged));
    assert!(actions.contains(&AuditAction::VdpNoteAdded));
    let report = get(&app, &sec, &path).await.text().await.unwrap();
    assert!(
        report.contains("Confirmed") && report.contains(note),
        "{report}"
    );
    let bytes = database_bytes(&app);
    assert!(!at_rest(&bytes, note), "the note is sealed");
    for e in entries(&app).await {
        let d = e.entry.details.as_deref().unwrap_or_default();
        assert!(!d.contains("NOTE-CANARY"), "{d}");
    }
    app.stop().await;
}

// ---------------------------------------------------------- journey

backends!(c05_vdp_journey_a_report_filed_and_triaged_in_a_browser);

/// The disclosure programme in chromium (`e2e/vdp.spec.mjs`): a report
/// filed through `/security` (bot challenge solved by the widget) and
/// triaged in the console by a new member of the security team, in
/// Japanese on SQLite and in English on PostgreSQL, at 360 and 1280 px.
/// The acknowledgement mail carries the tracking id the page showed.
async fn c05_vdp_journey_a_report_filed_and_triaged_in_a_browser(b: Backend) {
    use anshin_core::i18n::{Catalogs, Lang};
    use axum::Router;
    use std::future::IntoFuture;
    use std::sync::Arc;

    let lang = match b {
        Backend::Sqlite => Lang::Ja,
        Backend::Postgres => Lang::En,
    };
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let app = Arc::new(TestApp::spawn_mail(b).await);
    let email = "vdp-triage@journey.example.jp";
    let enrolment = anshin_core::staff::add(&app.services, email, StaffRole::Security)
        .await
        .unwrap();
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
    let catalogs = Catalogs::load().unwrap();
    let c = catalogs.get(lang);
    let v = &c.vdp;
    let t = &c.staff;
    let report = match lang {
        Lang::Ja => "検索ページで q がエスケープされずに表示されます。JOURNEY-CANARY-31",
        Lang::En => "The search page shows q unescaped. JOURNEY-CANARY-31",
    };
    let words = serde_json::json!({
        "email": email,
        "reporter": "journey.researcher@example.org",
        "report": report,
        "note": "NOTE reproduced; fix planned",
        "vdp_title": v.title,
        "safe_harbour_title": v.safe_harbour_title,
        "dont_title": v.dont_title,
        "response_title": v.response_title,
        "sent_title": v.sent_title,
        "flash_logged_in": t.flash_logged_in,
        "list_title": t.vdp.title,
        "flash_status": t.vdp.flash_status,
        "flash_note": t.vdp.flash_note,
        "status_confirmed": t.vdp.status("confirmed"),
    });
    let out = tokio::process::Command::new("node")
        .arg(crate::journeys::repo_root().join("e2e/vdp.spec.mjs"))
        .arg(&app.origin)
        .arg(&app.staff_origin)
        .arg(app.staff_url(&enrolment.path()))
        .arg(&control)
        .arg(lang.code())
        .env("CHROMIUM", &chromium)
        .env("ANSHIN_CATALOG", words.to_string())
        .output()
        .await
        .expect("node: run scripts/setup --test");
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vdp journey ({}) failed:\n{}\n{stdout}",
        lang.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON result");
    assert_eq!(result["pages"], 7, "{result}");
    assert_eq!(result["checks"], 14, "{result}");
    let tracking = result["tracking"].as_str().unwrap().to_owned();
    assert!(tracking.starts_with("VDP-"), "{result}");
    let mails = app.mails_to("journey.researcher@example.org", 1).await;
    assert!(
        mails[0].text.contains(&tracking),
        "the mail has the page's tracking id"
    );
    assert!(!mails[0].text.contains("JOURNEY-CANARY-31"));
}

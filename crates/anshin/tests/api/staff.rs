//! The staff console (issue 14): its network allowlist (C20), staff
//! accounts with a TOTP second factor (C21) and the one access policy in
//! front of every route (C27). Every database test runs on SQLite and
//! PostgreSQL.

use anshin::web::console;
use anshin_core::access::{self, Action};
use anshin_core::domain::{StaffRole, Timestamp};
use anshin_core::i18n::{Catalogs, Lang};
use anshin_store::audit::{Actor, AuditAction};
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{SECOND, TestApp, backends, cookie_pair, set_cookie};

/// The secret shown on an enrolment page (`<code class="wrap">…</code>`).
fn secret_in(html: &str) -> String {
    let start = html
        .find("<code class=\"wrap\">")
        .expect("the secret on the page")
        + 19;
    let end = html[start..].find("</code>").unwrap() + start;
    html[start..end].to_owned()
}

pub(crate) fn code(secret: &str, at: Timestamp) -> String {
    anshin_core::staff::code_at(secret, at).unwrap()
}

pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> Response {
    let mut req = app
        .client
        .post(app.staff_url(path))
        .header(header::ORIGIN, &app.staff_origin)
        .form(form);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.send().await.unwrap()
}

/// Creates an account (as `anshin staff add` does), opens its enrolment
/// link and confirms a code: returns the TOTP secret. The clock then
/// moves on two steps, so the enrolment's code step is behind.
pub(crate) async fn enrolled(app: &TestApp, email: &str, role: StaffRole) -> String {
    let enrolment = anshin_core::staff::add(&app.services, email, role)
        .await
        .unwrap();
    let page = app
        .client
        .get(app.staff_url(&enrolment.path()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let secret = secret_in(&page.text().await.unwrap());
    let token = enrolment.path().split("token=").nth(1).unwrap().to_owned();
    let now = app.clock.now_for_tests();
    let res = post_form(
        app,
        "/enrol",
        None,
        &[("token", &token), ("code", &code(&secret, now))],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "enrolment confirmed");
    assert_eq!(res.headers()[header::LOCATION], "/login");
    // The link works once.
    let again = app
        .client
        .get(app.staff_url(&enrolment.path()))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    app.clock.advance(61 * SECOND);
    secret
}

/// Logs in; returns the `Cookie` header value of the staff session.
pub(crate) async fn login(app: &TestApp, email: &str, secret: &str) -> String {
    let now = app.clock.now_for_tests();
    let res = post_form(
        app,
        "/login",
        None,
        &[("email", email), ("code", &code(secret, now))],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "logged in");
    cookie_pair(set_cookie(&res, console::COOKIE).expect("a staff session cookie"))
}

pub(crate) fn csrf_of(cookie: &str) -> String {
    let token = cookie.split_once('=').unwrap().1;
    anshin_vault::SessionToken::parse(token)
        .unwrap()
        .csrf_token()
        .as_str()
        .to_owned()
}

pub(crate) trait Now {
    fn now_for_tests(&self) -> Timestamp;
}

impl Now for anshin_core::clock::ManualClock {
    fn now_for_tests(&self) -> Timestamp {
        use anshin_core::clock::Clock as _;
        self.now()
    }
}

/// The hashed URL of the stylesheet, as the login page links it.
async fn css_file(app: &TestApp) -> String {
    let html = app
        .client
        .get(app.staff_url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html.find("/static/app.").unwrap() + "/static/".len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// Sends one request for a console route as `cookie` (or nobody). An
/// incident route (`/incidents/{id}…`) names `incident`; other `{id}`s
/// name the `target` staff account.
async fn request(
    app: &TestApp,
    entry: &console::RouteEntry,
    cookie: Option<&str>,
    (target, incident): (&str, &str),
    css: &str,
) -> Response {
    let id = if entry.path.starts_with("/incidents/") {
        incident
    } else {
        target
    };
    let path = entry.path.replace("{id}", id).replace("{file}", css);
    if entry.method == anshin_testkit::reqwest::Method::GET {
        let mut req = app.client.get(app.staff_url(&path));
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        return req.send().await.unwrap();
    }
    let csrf = cookie.map(csrf_of).unwrap_or_default();
    let form = [
        ("csrf_token", csrf.as_str()),
        ("email", "matrix-new@example.jp"),
        ("role", "support"),
        ("code", "000000"),
        ("token", "x"),
    ];
    post_form(app, &path, cookie, &form).await
}

/// Acceptance 1: every role × every console route is allowed or refused
/// exactly as the policy says; without a session only the sign-in
/// routes answer, the rest send to the login page.
async fn c27_role_matrix_follows_the_policy(backend: anshin_testkit::Backend) {
    let app = TestApp::spawn(backend).await;
    let css = css_file(&app).await;
    let target = anshin_core::staff::add(&app.services, "target@example.jp", StaffRole::Support)
        .await
        .unwrap()
        .staff
        .to_string();
    // An open incident for the incident routes. The form below names
    // no member, staff account, notice or lessons and never confirms, so
    // an allowed act answers a page (an error or the confirmation) and
    // changes nothing.
    let incident = anshin_core::incidents::open(
        &app.services,
        &anshin_core::incidents::Doer::shell(),
        "matrix",
    )
    .await
    .unwrap()
    .to_string();
    let ids = (target.as_str(), incident.as_str());
    let routes = console::routes();
    // Logout last: it ends the session the others use.
    let mut entries: Vec<_> = routes.entries().to_vec();
    entries.sort_by_key(|e| e.action == Some(Action::SignOut));

    for entry in &entries {
        let res = request(&app, entry, None, ids, &css).await;
        let action = entry.action.unwrap();
        if access::rule(action).who == access::Who::Anyone {
            assert_ne!(
                res.status(),
                StatusCode::FORBIDDEN,
                "{} {}",
                entry.method,
                entry.path
            );
        } else {
            assert_eq!(
                res.status(),
                StatusCode::SEE_OTHER,
                "{} {}",
                entry.method,
                entry.path
            );
            assert_eq!(res.headers()[header::LOCATION], "/login");
        }
    }

    // Nobody in the matrix is on a shift. The counter's routes refuse an
    // allowed role off shift with a 403 page that says so (C24, ADR
    // 0017); that is the shift condition, not the role: a refused role
    // gets the plain 403 page, never the shift page.
    let catalogs = Catalogs::load().unwrap();
    let no_shift_page = |html: &str| {
        [Lang::Ja, Lang::En]
            .into_iter()
            .any(|l| html.contains(catalogs.get(l).staff.labels.no_shift_title.as_str()))
    };
    for role in StaffRole::ALL {
        let email = format!("{}@example.jp", role.as_str());
        let secret = enrolled(&app, &email, role).await;
        let cookie = login(&app, &email, &secret).await;
        for entry in &entries {
            let res = request(&app, entry, Some(&cookie), ids, &css).await;
            let action = entry.action.unwrap();
            let allowed = access::role_may(role, action);
            let status = res.status();
            let what = format!("{role} {} {}: {status}", entry.method, entry.path);
            let html = res.text().await.unwrap();
            if allowed && status == StatusCode::FORBIDDEN {
                assert!(access::rule(action).shift, "{what}");
                assert!(no_shift_page(&html), "{what}: not the shift page: {html}");
            } else if allowed {
                assert!(status.as_u16() < 500, "{what}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                assert!(
                    !no_shift_page(&html),
                    "{what}: a role refusal, not the shift page"
                );
            }
        }
    }
    // Nothing the matrix sent changed the incident: its timeline holds
    // only its opening (C28: an unconfirmed act is only a question).
    let timeline = app
        .store
        .incidents()
        .timeline(anshin_domain::IncidentId::parse(&incident).unwrap())
        .await
        .unwrap();
    assert_eq!(timeline.len(), 1, "{timeline:?}");

    // Step-up is a condition beyond the role: an admin whose second
    // factor is older than staff.step_up_secs is sent to prove it again.
    let secret = enrolled(&app, "admin2@example.jp", StaffRole::Admin).await;
    let cookie = login(&app, "admin2@example.jp", &secret).await;
    let list = |c: String| {
        let app = &app;
        async move {
            app.client
                .get(app.staff_url("/staff"))
                .header(header::COOKIE, c)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(list(cookie.clone()).await.status(), StatusCode::OK);
    app.clock.advance(301 * SECOND);
    let stale = list(cookie.clone()).await;
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
    assert_eq!(stale.headers()[header::LOCATION], "/step-up");
    let now = app.clock.now_for_tests();
    let csrf = csrf_of(&cookie);
    let up = post_form(
        &app,
        "/step-up",
        Some(&cookie),
        &[("csrf_token", &csrf), ("code", &code(&secret, now))],
    )
    .await;
    assert_eq!(up.status(), StatusCode::SEE_OTHER);
    let page = list(cookie.clone()).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("target@example.jp"));
}

/// Acceptance 1: the route-coverage test walks the console's routes (the
/// record the router is built from) and fails on any without a policy
/// entry; the guard refuses a route it cannot find (deny by default).
#[test]
fn c27_every_console_route_has_a_policy_entry() {
    let routes = console::routes();
    assert!(!routes.entries().is_empty());
    let mut seen = std::collections::HashSet::new();
    for e in routes.entries() {
        let action = e
            .action
            .unwrap_or_else(|| panic!("{} {} has no policy entry", e.method, e.path));
        assert_eq!(access::rule(action).action, action);
        assert!(
            seen.insert((e.method.clone(), e.path)),
            "{} {} twice",
            e.method,
            e.path
        );
        assert_eq!(
            console::action_of(routes.entries(), &e.method, e.path),
            Some(action)
        );
    }
    assert_eq!(
        console::action_of(
            routes.entries(),
            &anshin_testkit::reqwest::Method::DELETE,
            "/staff"
        ),
        None,
        "an unknown route has no action, so the guard refuses it"
    );
    // Every action is reachable from some route or is documented as
    // having none yet (none today).
    for a in Action::ALL {
        assert!(
            routes.entries().iter().any(|e| e.action == Some(a)),
            "{a:?} has no route"
        );
    }
}

/// Acceptance 1: docs/access-control.md is generated from the policy and
/// must match it. `ANSHIN_WRITE_DOCS=1` rewrites it.
#[test]
fn c27_access_control_doc_is_fresh() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/access-control.md");
    let generated = console::doc::access_control_md();
    if std::env::var_os("ANSHIN_WRITE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/access-control.md is stale: run `anshin staff policy-doc > docs/access-control.md` \
         (or this test with ANSHIN_WRITE_DOCS=1)"
    );
}

async fn assert_refused(res: Response) {
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(header::SET_COOKIE).is_none());
    let body = res.bytes().await.unwrap();
    assert!(body.is_empty(), "nothing beyond the refusal: {body:?}");
}

/// Acceptance 2: an address outside the allowlist gets a bare 403: no
/// login page, no asset; a spoofed X-Forwarded-For from an untrusted peer
/// does not help.
async fn c20_outside_the_allowlist_gets_only_a_refusal(backend: anshin_testkit::Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.staff.allowed_networks = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    for path in ["/login", "/", "/enrol?token=x", "/static/app.css", "/nope"] {
        assert_refused(app.client.get(app.staff_url(path)).send().await.unwrap()).await;
        let spoofed = app
            .client
            .get(app.staff_url(path))
            .header("x-forwarded-for", "10.1.2.3")
            .send()
            .await
            .unwrap();
        assert_refused(spoofed).await;
    }
    let post = post_form(
        &app,
        "/login",
        None,
        &[("email", "a@example.jp"), ("code", "123456")],
    )
    .await;
    assert_refused(post).await;
    // The public site is not the console's business: it still answers.
    let site = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(site.status(), StatusCode::OK);
}

/// Acceptance 2: behind a trusted proxy, the forwarded client decides;
/// a hop the client wrote itself in front of the proxy's does not.
async fn c20_a_trusted_proxy_forwards_the_client_address(backend: anshin_testkit::Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.staff.allowed_networks = vec!["10.0.0.0/8".parse().unwrap()];
        s.staff.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let get = |xff: Option<&'static str>| {
        let app = &app;
        async move {
            let mut req = app.client.get(app.staff_url("/login"));
            if let Some(x) = xff {
                req = req.header("x-forwarded-for", x);
            }
            req.send().await.unwrap()
        }
    };
    let inside = get(Some("10.1.2.3")).await;
    assert_eq!(inside.status(), StatusCode::OK);
    // The same headers and CSP as the site.
    assert_eq!(
        inside.headers()[header::CONTENT_SECURITY_POLICY],
        anshin::web::common::headers::CSP
    );
    assert_eq!(inside.headers()[header::CACHE_CONTROL], "no-store");
    assert!(
        inside
            .headers()
            .contains_key(header::STRICT_TRANSPORT_SECURITY)
    );
    assert!(inside.text().await.unwrap().contains("action=\"/login\""));
    assert_refused(get(Some("192.0.2.1")).await).await;
    assert_refused(get(Some("10.1.2.3, 192.0.2.1")).await).await;
    assert_refused(get(None).await).await;
}

/// An area's own list narrows the listener's: the admin area from
/// 10.0.0.0/8 only, so a loopback admin reaches home but not the staff
/// list (a bare refusal).
async fn c20_an_area_network_narrows_the_listener(backend: anshin_testkit::Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.staff.areas.insert(
            "admin".into(),
            anshin_core::staff::AreaSettings {
                allowed_networks: vec!["10.0.0.0/8".parse().unwrap()],
            },
        );
    })
    .await;
    let secret = enrolled(&app, "boss@example.jp", StaffRole::Admin).await;
    let cookie = login(&app, "boss@example.jp", &secret).await;
    let home = app
        .client
        .get(app.staff_url("/"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let list = app
        .client
        .get(app.staff_url("/staff"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_refused(list).await;
}

/// Acceptance 3 (TOTP part): with a moved clock, the code of the
/// previous and of the next 30-second step works, two steps back does
/// not, a code works once, the e-mail alone makes no session, and a
/// disabled account's session and login end.
async fn c21_totp_login_with_a_moved_clock(backend: anshin_testkit::Backend) {
    let app = TestApp::spawn(backend).await;
    let email = "worker@example.jp";
    let secret = enrolled(&app, email, StaffRole::ShippingWorker).await;
    app.clock.advance(120 * SECOND);
    let now = app.clock.now_for_tests();
    let at = |secs: i64| Timestamp::from_micros(now.micros() + secs * 1_000_000);

    // No session from the e-mail alone, nor with a missing code.
    for form in [vec![("email", email)], vec![("email", email), ("code", "")]] {
        let res = post_form(&app, "/login", None, &form).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(set_cookie(&res, console::COOKIE).is_none());
    }
    // Two steps back: refused.
    let old = post_form(
        &app,
        "/login",
        None,
        &[("email", email), ("code", &code(&secret, at(-60)))],
    )
    .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&old, console::COOKIE).is_none());
    // The previous step: accepted (one step of drift).
    let prev = code(&secret, at(-30));
    let res = post_form(&app, "/login", None, &[("email", email), ("code", &prev)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = cookie_pair(set_cookie(&res, console::COOKIE).unwrap());
    // The same code again: refused (each step works once).
    let replay = post_form(&app, "/login", None, &[("email", email), ("code", &prev)]).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    // The next step: accepted.
    let next = post_form(
        &app,
        "/login",
        None,
        &[("email", email), ("code", &code(&secret, at(30)))],
    )
    .await;
    assert_eq!(next.status(), StatusCode::SEE_OTHER);
    // Another account's code does not open this one.
    let other = enrolled(&app, "other@example.jp", StaffRole::Support).await;
    let now2 = app.clock.now_for_tests();
    let wrong = post_form(
        &app,
        "/login",
        None,
        &[("email", email), ("code", &code(&other, now2))],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    // The session works until the account is disabled; then it and the
    // login end at once.
    let home = |c: String| {
        let app = &app;
        async move {
            app.client
                .get(app.staff_url("/"))
                .header(header::COOKIE, c)
                .send()
                .await
                .unwrap()
        }
    };
    let page = home(cookie.clone()).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(email));
    anshin_core::staff::disable_by_email(&app.services, email)
        .await
        .unwrap();
    let gone = home(cookie.clone()).await;
    assert_eq!(gone.status(), StatusCode::SEE_OTHER);
    assert_eq!(gone.headers()[header::LOCATION], "/login");
    app.clock.advance(60 * SECOND);
    let now3 = app.clock.now_for_tests();
    let refused = post_form(
        &app,
        "/login",
        None,
        &[("email", email), ("code", &code(&secret, now3))],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // The idle timeout ends a session unused for staff.idle_timeout_secs.
    let other_cookie = login(&app, "other@example.jp", &other).await;
    assert_eq!(home(other_cookie.clone()).await.status(), StatusCode::OK);
    app.clock.advance(901 * SECOND);
    assert_eq!(home(other_cookie).await.status(), StatusCode::SEE_OTHER);
}

backends!(
    c27_role_matrix_follows_the_policy,
    c20_outside_the_allowlist_gets_only_a_refusal,
    c20_a_trusted_proxy_forwards_the_client_address,
    c20_an_area_network_narrows_the_listener,
    c21_totp_login_with_a_moved_clock,
);

fn anshin_cli(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_anshin"));
    cmd.args(args).env_remove("ANSHIN_DATABASE__URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `anshin staff add` prints a one-time enrolment link on the staff
/// listener; `list` shows the account; `disable` disables it; a taken
/// e-mail and an unknown role are refused with a clear message. On both
/// databases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c21_cli_adds_lists_and_disables_staff_on_both_databases() {
    let db = anshin_store_postgres::scratch::ScratchDatabase::create()
        .await
        .unwrap();
    for postgres in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap().to_owned();
        let mut env = vec![
            ("ANSHIN_DATA_DIR", data.as_str()),
            ("ANSHIN_LOG__LEVEL", "warn"),
        ];
        if postgres {
            env.push(("ANSHIN_DATABASE__URL", db.url()));
        }
        let run = |args: &[&str]| anshin_cli(args, &env);
        let (ok, out) = run(&["staff", "add", "Boss@Example.jp", "--role", "admin"]);
        assert!(ok, "{out}");
        assert!(out.contains("https://127.0.0.1:8444/enrol?token="), "{out}");
        let (ok, out) = run(&["staff", "add", "boss@example.jp", "--role", "support"]);
        assert!(!ok && out.contains("already"), "{out}");
        let (ok, out) = run(&["staff", "add", "x@example.jp", "--role", "root"]);
        assert!(!ok && out.contains("shipping_manager"), "{out}");
        let (ok, out) = run(&["staff", "list"]);
        assert!(ok, "{out}");
        assert!(
            out.contains("boss@example.jp\tadmin\tactive\tnot-enrolled"),
            "{out}"
        );
        let (ok, out) = run(&["staff", "disable", "boss@example.jp"]);
        assert!(ok, "{out}");
        let (_, out) = run(&["staff", "list"]);
        assert!(out.contains("boss@example.jp\tadmin\tdisabled"), "{out}");
        let (ok, out) = run(&["staff", "disable", "nobody@example.jp"]);
        assert!(!ok && out.contains("no such staff account"), "{out}");
    }
    let (ok, out) = anshin_cli(&["staff", "policy-doc"], &[]);
    assert!(ok);
    assert_eq!(out, console::doc::access_control_md());
}

/// The admin's pages: adding shows the one-time link (which enrols the
/// person), disabling asks first, then says what happened; the disabled
/// person's session ends at once. Both languages' words come from the
/// catalog.
async fn c21_admin_adds_and_disables_staff_in_the_console(backend: anshin_testkit::Backend) {
    let app = TestApp::spawn(backend).await;
    let secret = enrolled(&app, "root@example.jp", StaffRole::Admin).await;
    let cookie = login(&app, "root@example.jp", &secret).await;
    let csrf = csrf_of(&cookie);
    let t = &app
        .services
        .letters
        .catalogs
        .get(anshin_core::i18n::Lang::Ja)
        .staff;

    let added = post_form(
        &app,
        "/staff",
        Some(&cookie),
        &[
            ("csrf_token", &csrf),
            ("email", "new@example.jp"),
            ("role", "finance"),
        ],
    )
    .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let html = added.text().await.unwrap();
    assert!(html.contains(&t.staff_added), "says what happened");
    let link = secret_in(&html);
    assert!(
        link.starts_with(&format!("{}/enrol?token=", app.staff_origin)),
        "{link}"
    );
    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let new_secret = secret_in(&page.text().await.unwrap());
    let token = link.split("token=").nth(1).unwrap();
    let now = app.clock.now_for_tests();
    let done = post_form(
        &app,
        "/enrol",
        None,
        &[("token", token), ("code", &code(&new_secret, now))],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    app.clock.advance(31 * SECOND);
    let new_cookie = login(&app, "new@example.jp", &new_secret).await;

    let dup = post_form(
        &app,
        "/staff",
        Some(&cookie),
        &[
            ("csrf_token", &csrf),
            ("email", "new@example.jp"),
            ("role", "support"),
        ],
    )
    .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert!(dup.text().await.unwrap().contains(&t.email_taken));
    // No role is chosen for anyone: the list starts empty, and a form
    // without one comes back saying so, the address kept.
    let list = app
        .client
        .get(app.staff_url("/staff"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("<option value=\"\" selected disabled>"));
    let none = post_form(
        &app,
        "/staff",
        Some(&cookie),
        &[("csrf_token", &csrf), ("email", "norole@example.jp")],
    )
    .await;
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = none.text().await.unwrap();
    assert!(html.contains(&t.staff_role_required) && html.contains("norole@example.jp"));
    // Nobody disables their own account (no link; a forged post says why).
    let me = anshin_core::staff::list(&app.services)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.email.as_str() == "root@example.jp")
        .unwrap()
        .id;
    assert!(
        !html.contains(&format!("/staff/{me}/disable")),
        "no link to oneself"
    );
    let own = post_form(
        &app,
        &format!("/staff/{me}/disable"),
        Some(&cookie),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(own.status(), StatusCode::CONFLICT);
    assert!(
        own.text()
            .await
            .unwrap()
            .contains(&t.staff_cannot_disable_self)
    );

    let new_id = anshin_core::staff::list(&app.services)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.email.as_str() == "new@example.jp")
        .unwrap()
        .id;
    // Ask first: the confirmation page names the person and posts back.
    let ask = app
        .client
        .get(app.staff_url(&format!("/staff/{new_id}/disable")))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(ask.status(), StatusCode::OK);
    let html = ask.text().await.unwrap();
    assert!(html.contains("new@example.jp") && html.contains(&t.disable_submit));
    assert!(html.contains(&format!("action=\"/staff/{new_id}/disable\"")));
    // A form without the session's token changes nothing.
    let forged = post_form(
        &app,
        &format!("/staff/{new_id}/disable"),
        Some(&cookie),
        &[],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let res = post_form(
        &app,
        &format!("/staff/{new_id}/disable"),
        Some(&cookie),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/staff");
    let flash = cookie_pair(set_cookie(&res, console::FLASH_COOKIE).unwrap());
    let list = app
        .client
        .get(app.staff_url("/staff"))
        .header(header::COOKIE, format!("{cookie}; {flash}"))
        .send()
        .await
        .unwrap();
    assert!(list.text().await.unwrap().contains(&t.flash_disabled));
    let gone = app
        .client
        .get(app.staff_url("/"))
        .header(header::COOKIE, &new_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        gone.status(),
        StatusCode::SEE_OTHER,
        "the disabled person is out at once"
    );

    // English words when the browser asks for English.
    let en = &app
        .services
        .letters
        .catalogs
        .get(anshin_core::i18n::Lang::En)
        .staff;
    let home = app
        .client
        .get(app.staff_url("/"))
        .header(header::COOKIE, &cookie)
        .header(header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains(&en.home_lead) && home.contains(&en.actions["disable_staff"]));

    // C22: each of these acts is in the audit log, with who did it; a
    // wrong code too. Logout is recorded in its own bundle.
    let wrong = post_form(
        &app,
        "/login",
        None,
        &[("email", "root@example.jp"), ("code", "000000")],
    )
    .await;
    assert_ne!(wrong.status(), StatusCode::SEE_OTHER);
    let out = post_form(&app, "/logout", Some(&cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let root = anshin_core::staff::list(&app.services)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.email.as_str() == "root@example.jp")
        .unwrap()
        .id
        .as_uuid();
    let log = app.store.audit().entries(0, 1000).await.unwrap();
    let seen = |action: AuditAction, actor: Actor| {
        log.iter()
            .filter(|e| e.entry.action == action && e.entry.actor == actor)
            .count()
    };
    let me = Actor::Staff(root);
    assert_eq!(
        seen(AuditAction::StaffAdded, Actor::System),
        1,
        "root, at the shell"
    );
    assert_eq!(seen(AuditAction::StaffAdded, me), 1, "new@, by root");
    assert_eq!(seen(AuditAction::StaffTotpEnrolled, me), 1);
    assert_eq!(seen(AuditAction::StaffLogin, me), 1);
    assert!(seen(AuditAction::StaffListViewed, me) >= 1);
    assert_eq!(seen(AuditAction::StaffDisabled, me), 1);
    assert_eq!(seen(AuditAction::StaffLoginFailed, me), 1, "the wrong code");
    assert_eq!(seen(AuditAction::StaffLogout, me), 1);
    let disabled = log
        .iter()
        .find(|e| e.entry.action == AuditAction::StaffDisabled)
        .unwrap();
    assert_eq!(
        disabled.entry.target.as_ref().map(|t| t.id.clone()),
        Some(new_id.as_uuid().to_string()),
        "the record is the disabled account"
    );
    assert!(
        log.iter()
            .all(|e| e.entry.origin.as_deref() != Some("127.0.0.1")),
        "a network, never the address"
    );
}

backends!(c21_admin_adds_and_disables_staff_in_the_console);

/// The use cases staff call check the one policy themselves, whatever
/// door calls them (defence behind the console's guard).
async fn c27_core_use_cases_check_the_policy_themselves(backend: anshin_testkit::Backend) {
    use anshin_core::access::Decision;
    use anshin_core::staff::{StaffError, add_by, current, disable_by, list_by};
    let app = TestApp::spawn(backend).await;
    let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let mut actors = Vec::new();
    for (email, role) in [
        ("a@example.jp", StaffRole::Admin),
        ("s@example.jp", StaffRole::Support),
    ] {
        let secret = enrolled(&app, email, role).await;
        let cookie = login(&app, email, &secret).await;
        let token = anshin_vault::SessionToken::parse(cookie.split_once('=').unwrap().1).unwrap();
        actors.push(current(&app.services, &token).await.unwrap().unwrap());
    }
    let (admin, support) = (&actors[0], &actors[1]);
    let refused = |r: Result<_, StaffError>| match r {
        Err(StaffError::Refused(d)) => d,
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    };
    assert_eq!(
        refused(
            add_by(&app.services, support, ip, "x@example.jp", StaffRole::Admin)
                .await
                .map(|_| ())
        ),
        Decision::DenyRole
    );
    assert_eq!(
        refused(list_by(&app.services, support, ip).await.map(|_| ())),
        Decision::DenyRole
    );
    assert_eq!(
        refused(disable_by(&app.services, support, ip, admin.account.id).await),
        Decision::DenyRole
    );
    add_by(&app.services, admin, ip, "x@example.jp", StaffRole::Finance)
        .await
        .unwrap();
    app.clock.advance(301 * SECOND);
    assert_eq!(
        refused(list_by(&app.services, admin, ip).await.map(|_| ())),
        Decision::DenyStepUp
    );
}

backends!(c27_core_use_cases_check_the_policy_themselves);

/// The console guard's refusals of a signed-in member of staff are in
/// the audit log (C22, C27): who, which action, why, from which network;
/// being sent to log in is not. A failed step-up is recorded as well.
async fn c22_the_guard_records_a_refused_staff_request(backend: anshin_testkit::Backend) {
    let app = TestApp::spawn(backend).await;
    let secret = enrolled(&app, "helpdesk@example.jp", StaffRole::Support).await;
    let cookie = login(&app, "helpdesk@example.jp", &secret).await;
    let refusals = |log: &[anshin_store::StoredAuditEntry]| {
        log.iter()
            .filter(|e| e.entry.action == AuditAction::StaffActRefused)
            .cloned()
            .collect::<Vec<_>>()
    };
    let before = refusals(&app.store.audit().entries(0, 1000).await.unwrap()).len();
    // Not signed in: sent to the login page, nothing recorded.
    let res = app
        .client
        .get(app.staff_url("/staff"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Support may not list staff: refused and recorded once.
    let res = app
        .client
        .get(app.staff_url("/staff"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let log = refusals(&app.store.audit().entries(0, 1000).await.unwrap());
    assert_eq!(log.len(), before + 1, "{log:?}");
    let e = &log[log.len() - 1].entry;
    let id = anshin_core::staff::list(&app.services)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.email.as_str() == "helpdesk@example.jp")
        .unwrap()
        .id
        .as_uuid();
    assert_eq!(e.actor, Actor::Staff(id));
    assert_eq!(e.reason, "role_not_allowed");
    assert_eq!(e.origin.as_deref(), Some("127.0.0.0/24"));
    assert_eq!(
        e.details.as_deref(),
        Some(format!("{{\"action\":\"{}\"}}", Action::ListStaff.as_str()).as_str())
    );
    // A wrong second factor at step-up is recorded too.
    let res = post_form(
        &app,
        "/step-up",
        Some(&cookie),
        &[("csrf_token", &csrf_of(&cookie)), ("code", "000000")],
    )
    .await;
    assert_ne!(res.status(), StatusCode::SEE_OTHER, "no step-up");
    let failed: Vec<_> = app
        .store
        .audit()
        .entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == AuditAction::StaffStepUpFailed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].entry.actor, Actor::Staff(id));
    assert_eq!(failed[0].entry.reason, "wrong_code");
    app.stop().await;
}

backends!(c22_the_guard_records_a_refused_staff_request);

//! Changing a staff member's role (issue 14; C21, C22, C27): an admin in
//! the console (change role → confirm page → POST with CSRF and a recent
//! second factor → flash) or the operator at the shell
//! (`anshin staff role`). The change, the end of the person's sessions and
//! its one audit entry (`staff_role_changed`, old and new role, never an
//! e-mail) commit together or not at all; nobody changes their own role,
//! the last active administrator keeps it, a disabled account keeps it.
//! Every test runs on SQLite and PostgreSQL.

use std::process::Command;

use anshin::web::console;
use anshin_core::access::Decision;
use anshin_core::i18n::Lang;
use anshin_core::staff::{self, StaffError};
use anshin_domain::{StaffId, StaffRole};
use anshin_store::Actor;
use anshin_store::audit::AuditAction;
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{SECOND, TestApp, backends, cookie_pair, set_cookie};

use crate::audit::{entries, exec, refuse_audit_writes};
use crate::staff::{Now as _, code, csrf_of, enrolled, login, post_form};

async fn get(app: &TestApp, cookie: &str, path: &str) -> Response {
    app.client
        .get(app.staff_url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

async fn id_of(app: &TestApp, email: &str) -> StaffId {
    staff::list(&app.services)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.email.as_str() == email)
        .unwrap()
        .id
}

async fn role_of(app: &TestApp, id: StaffId) -> StaffRole {
    staff::find(&app.services, id).await.unwrap().unwrap().role
}

/// The `staff_role_changed` entries of the log.
async fn role_changes(app: &TestApp) -> Vec<anshin_store::StoredAuditEntry> {
    entries(app)
        .await
        .into_iter()
        .filter(|e| e.entry.action == AuditAction::StaffRoleChanged)
        .collect()
}

/// The current staff member a session cookie names.
async fn current(app: &TestApp, cookie: &str) -> staff::CurrentStaff {
    let token = anshin_vault::SessionToken::parse(cookie.split_once('=').unwrap().1).unwrap();
    staff::current(&app.services, &token)
        .await
        .unwrap()
        .unwrap()
}

/// The admin's way in the console: the staff list links to the role
/// page, which asks for the new role, then asks to confirm it (naming the
/// person, both roles and that their sessions end); the POST needs the
/// session's CSRF token; the list then says what happened. The role
/// changed, exactly one audit entry records it (who, whose, old and new
/// role, no e-mail), and the person's session no longer works: they log
/// in again and have the new role.
async fn c21_c22_an_admin_changes_a_role_audited_once_and_the_persons_sessions_end(
    b: anshin_testkit::Backend,
) {
    let app = TestApp::spawn(b).await;
    let root_secret = enrolled(&app, "root@example.jp", StaffRole::Admin).await;
    let worker_secret = enrolled(&app, "worker@example.jp", StaffRole::Support).await;
    let root = login(&app, "root@example.jp", &root_secret).await;
    let worker_cookie = login(&app, "worker@example.jp", &worker_secret).await;
    let csrf = csrf_of(&root);
    let (me, worker) = (
        id_of(&app, "root@example.jp").await,
        id_of(&app, "worker@example.jp").await,
    );
    let t = &app.services.letters.catalogs.get(Lang::Ja).staff;

    let list = get(&app, &root, "/staff").await.text().await.unwrap();
    assert!(list.contains(&format!("href=\"/staff/{worker}/role\"")));
    assert!(list.contains(&t.staff_change_role));
    assert!(
        !list.contains(&format!("/staff/{me}/role")),
        "no link to one's own role"
    );

    // Choose: every role but the current one; the page says what follows.
    let choose = get(&app, &root, &format!("/staff/{worker}/role")).await;
    assert_eq!(choose.status(), StatusCode::OK);
    let html = choose.text().await.unwrap();
    assert!(html.contains("worker@example.jp") && html.contains(&t.role_sessions_note));
    assert!(html.contains("<option value=\"finance\">"));
    assert!(
        !html.contains("<option value=\"support\">"),
        "not the current one"
    );
    assert!(
        !html.contains("method=\"post\" action=\"/staff/"),
        "nothing to post yet"
    );

    // Confirm: the question names both roles and posts back.
    let confirm = get(&app, &root, &format!("/staff/{worker}/role?role=finance")).await;
    assert_eq!(confirm.status(), StatusCode::OK);
    let html = confirm.text().await.unwrap();
    let question = t
        .role_confirm_lead
        .replace("{email}", "worker@example.jp")
        .replace("{from}", &t.roles["support"])
        .replace("{to}", &t.roles["finance"]);
    assert!(html.contains(&question), "{html}");
    assert!(html.contains(&format!("action=\"/staff/{worker}/role\"")));
    assert!(html.contains("name=\"role\" value=\"finance\""));
    assert!(html.contains(&t.role_submit));
    assert_eq!(
        role_of(&app, worker).await,
        StaffRole::Support,
        "asking changes nothing"
    );

    // A form without the session's token changes nothing.
    let forged = post_form(
        &app,
        &format!("/staff/{worker}/role"),
        Some(&root),
        &[("role", "finance")],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(role_of(&app, worker).await, StaffRole::Support);

    let res = post_form(
        &app,
        &format!("/staff/{worker}/role"),
        Some(&root),
        &[("csrf_token", &csrf), ("role", "finance")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/staff");
    let flash = cookie_pair(set_cookie(&res, console::FLASH_COOKIE).unwrap());
    let list = get(&app, &format!("{root}; {flash}"), "/staff").await;
    assert!(list.text().await.unwrap().contains(&t.flash_role_changed));
    assert_eq!(role_of(&app, worker).await, StaffRole::Finance);

    // Audited once: who, whose, the two roles; never an address.
    let log = role_changes(&app).await;
    assert_eq!(log.len(), 1, "{log:?}");
    let e = &log[0].entry;
    assert_eq!(e.actor, Actor::Staff(me.as_uuid()));
    assert_eq!(
        e.target.as_ref().map(|t| t.id.clone()),
        Some(worker.as_uuid().to_string())
    );
    assert_eq!(e.reason, "policy_allow");
    assert_eq!(
        e.details.as_deref(),
        Some("{\"from\":\"support\",\"to\":\"finance\"}")
    );
    assert!(log.iter().all(|e| {
        let text = format!("{:?}{:?}", e.entry.details, e.entry.target);
        !text.contains('@')
    }));

    // The person's session ended; a fresh login has the new role.
    let gone = get(&app, &worker_cookie, "/").await;
    assert_eq!(gone.status(), StatusCode::SEE_OTHER);
    assert_eq!(gone.headers()[header::LOCATION], "/login");
    app.clock.advance(31 * SECOND);
    let again = login(&app, "worker@example.jp", &worker_secret).await;
    assert_eq!(current(&app, &again).await.account.role, StaffRole::Finance);
    let home = get(&app, &again, "/").await.text().await.unwrap();
    assert!(
        home.contains(&t.roles["finance"]),
        "the home page names the new role"
    );
    // The admin's own session is untouched.
    assert_eq!(get(&app, &root, "/staff").await.status(), StatusCode::OK);

    // The same role again: said so, nothing recorded.
    let same = post_form(
        &app,
        &format!("/staff/{worker}/role"),
        Some(&root),
        &[("csrf_token", &csrf), ("role", "finance")],
    )
    .await;
    assert_eq!(same.status(), StatusCode::CONFLICT);
    assert!(same.text().await.unwrap().contains(&t.staff_role_same));
    // No role chosen: asked again.
    let none = post_form(
        &app,
        &format!("/staff/{worker}/role"),
        Some(&root),
        &[("csrf_token", &csrf), ("role", "root")],
    )
    .await;
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.text().await.unwrap().contains(&t.staff_role_required));
    assert_eq!(role_changes(&app).await.len(), 1);

    // English words when the browser asks for English.
    let en = &app.services.letters.catalogs.get(Lang::En).staff;
    let page = app
        .client
        .get(app.staff_url(&format!("/staff/{worker}/role?role=security")))
        .header(header::COOKIE, &root)
        .header(header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&en.role_submit) && page.contains(&en.role_sessions_note));
    let home = app
        .client
        .get(app.staff_url("/"))
        .header(header::COOKIE, &root)
        .header(header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains(&en.actions["change_staff_role"]));
    app.stop().await;
}

/// Refusals, in the console and in the core use case itself: another
/// role than admin (403, the policy's refusal recorded), a second factor
/// older than `staff.step_up_secs` (sent to step up), one's own role, the
/// last active administrator, a disabled account. None changes a role or
/// writes a `staff_role_changed` entry.
async fn c27_a_role_change_is_refused_for_other_roles_without_step_up_for_oneself_the_last_admin_and_a_disabled_account(
    b: anshin_testkit::Backend,
) {
    let app = TestApp::spawn(b).await;
    let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let t = &app.services.letters.catalogs.get(Lang::Ja).staff;
    let root_secret = enrolled(&app, "root@example.jp", StaffRole::Admin).await;
    let mut others = Vec::new();
    for role in StaffRole::ALL
        .into_iter()
        .filter(|r| *r != StaffRole::Admin)
    {
        let email = format!("{}@example.jp", role.as_str());
        let secret = enrolled(&app, &email, role).await;
        let cookie = login(&app, &email, &secret).await;
        others.push((role, cookie));
    }
    // The admin logs in last, so their second factor is fresh.
    let root = login(&app, "root@example.jp", &root_secret).await;
    let csrf = csrf_of(&root);
    let me = id_of(&app, "root@example.jp").await;
    let target = id_of(&app, "support@example.jp").await;
    let post = |cookie: String, who: StaffId, role: &'static str| {
        let app = &app;
        async move {
            post_form(
                app,
                &format!("/staff/{who}/role"),
                Some(&cookie),
                &[("csrf_token", &csrf_of(&cookie)), ("role", role)],
            )
            .await
        }
    };

    // Every other role: 403 for the page and the POST.
    for (role, cookie) in &others {
        let page = get(&app, cookie, &format!("/staff/{target}/role")).await;
        assert_eq!(page.status(), StatusCode::FORBIDDEN, "{role}");
        let res = post(cookie.clone(), target, "admin").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role}");
    }
    // And the use case refuses them itself, recording the refusal.
    let support = current(&app, &others[1].1).await;
    assert_eq!(support.account.role, StaffRole::Support);
    let refused_before = entries(&app)
        .await
        .iter()
        .filter(|e| e.entry.action == AuditAction::StaffActRefused)
        .count();
    match staff::change_role_by(&app.services, &support, ip, target, StaffRole::Admin).await {
        Err(StaffError::Refused(d)) => assert_eq!(d, Decision::DenyRole),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let refused_after = entries(&app)
        .await
        .iter()
        .filter(|e| e.entry.action == AuditAction::StaffActRefused)
        .count();
    assert_eq!(refused_after, refused_before + 1);

    // One's own role: no link, the page says why, a forged POST too, and
    // the use case refuses it whatever door calls.
    let own = get(&app, &root, &format!("/staff/{me}/role")).await;
    assert_eq!(own.status(), StatusCode::CONFLICT);
    let html = own.text().await.unwrap();
    assert!(html.contains(&t.staff_cannot_change_own_role));
    assert!(!html.contains("<select"), "nothing to choose");
    let res = post(root.clone(), me, "support").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&t.staff_cannot_change_own_role)
    );
    let admin = current(&app, &root).await;
    assert!(matches!(
        staff::change_role_by(&app.services, &admin, ip, me, StaffRole::Support).await,
        Err(StaffError::OwnRole)
    ));

    // The last active administrator: the shell's door cannot demote them.
    assert!(matches!(
        staff::change_role(&app.services, me, StaffRole::Security).await,
        Err(StaffError::LastAdmin)
    ));
    assert_eq!(role_of(&app, me).await, StaffRole::Admin);

    // A disabled account keeps its role.
    let finance = id_of(&app, "finance@example.jp").await;
    staff::disable(&app.services, finance).await.unwrap();
    let page = get(&app, &root, &format!("/staff/{finance}/role")).await;
    assert_eq!(page.status(), StatusCode::CONFLICT);
    assert!(page.text().await.unwrap().contains(&t.staff_role_disabled));
    let res = post(root.clone(), finance, "admin").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains(&t.staff_role_disabled));
    assert_eq!(role_of(&app, finance).await, StaffRole::Finance);
    assert!(matches!(
        staff::change_role(&app.services, finance, StaffRole::Admin).await,
        Err(StaffError::NotActive)
    ));
    assert!(matches!(
        staff::change_role(
            &app.services,
            StaffId::from_uuid(uuid::Uuid::now_v7()),
            StaffRole::Admin
        )
        .await,
        Err(StaffError::NotFound)
    ));

    // A stale second factor: sent to step up, nothing changed; after
    // stepping up it works.
    app.clock.advance(301 * SECOND);
    let res = post(root.clone(), target, "security").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/step-up");
    let page = get(&app, &root, &format!("/staff/{target}/role")).await;
    assert_eq!(page.headers()[header::LOCATION], "/step-up");
    let stale = current(&app, &root).await;
    match staff::change_role_by(&app.services, &stale, ip, target, StaffRole::Security).await {
        Err(StaffError::Refused(d)) => assert_eq!(d, Decision::DenyStepUp),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(role_of(&app, target).await, StaffRole::Support);
    assert!(role_changes(&app).await.is_empty(), "nothing was changed");
    let now = app.clock.now_for_tests();
    let up = post_form(
        &app,
        "/step-up",
        Some(&root),
        &[("csrf_token", &csrf), ("code", &code(&root_secret, now))],
    )
    .await;
    assert_eq!(up.status(), StatusCode::SEE_OTHER);
    let res = post(root.clone(), target, "security").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(role_of(&app, target).await, StaffRole::Security);
    assert_eq!(role_changes(&app).await.len(), 1);
    app.stop().await;
}

/// The audit entry is part of the change: when it cannot be written
/// (a trigger refuses audit inserts), the role stays, the person's
/// session stays, and nothing is recorded; the admin sees a refusal.
async fn c22_a_role_change_whose_audit_entry_cannot_be_written_changes_nothing(
    b: anshin_testkit::Backend,
) {
    let app = TestApp::spawn(b).await;
    let root_secret = enrolled(&app, "root@example.jp", StaffRole::Admin).await;
    let worker_secret = enrolled(&app, "worker@example.jp", StaffRole::Support).await;
    let root = login(&app, "root@example.jp", &root_secret).await;
    let worker_cookie = login(&app, "worker@example.jp", &worker_secret).await;
    let worker = id_of(&app, "worker@example.jp").await;
    // The page is seen before the log breaks (its view is not the act).
    assert_eq!(
        get(&app, &root, &format!("/staff/{worker}/role?role=admin"))
            .await
            .status(),
        StatusCode::OK
    );
    let before = entries(&app).await.len();
    refuse_audit_writes(&app).await;
    let res = post_form(
        &app,
        &format!("/staff/{worker}/role"),
        Some(&root),
        &[("csrf_token", &csrf_of(&root)), ("role", "admin")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        role_of(&app, worker).await,
        StaffRole::Support,
        "the role stays"
    );
    assert!(matches!(
        staff::change_role(&app.services, worker, StaffRole::Admin).await,
        Err(StaffError::Store(_))
    ));
    assert_eq!(role_of(&app, worker).await, StaffRole::Support);
    let drop = match app.backend {
        anshin_testkit::Backend::Sqlite => "DROP TRIGGER audit_test_refuse;",
        anshin_testkit::Backend::Postgres => "DROP TRIGGER audit_test_refuse ON audit_entries;",
    };
    exec(&app, drop).await.unwrap();
    assert_eq!(entries(&app).await.len(), before, "nothing recorded");
    assert_eq!(
        get(&app, &worker_cookie, "/").await.status(),
        StatusCode::OK,
        "the person's session stays"
    );
    app.stop().await;
}

/// Runs `anshin <args>` on the app's database: (exit code, output).
fn anshin(app: &TestApp, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_anshin"))
        .args(args)
        .env("ANSHIN_DATA_DIR", &app.data_dir)
        .env("ANSHIN_DATABASE__URL", &app.database_url)
        .env("ANSHIN_KEYS__FILE", &app.keys_file)
        .env("ANSHIN_LOG__LEVEL", "warn")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// `anshin staff role ID|EMAIL --role ROLE` against a running server's
/// database: the role changes, the person's live console session ends,
/// one entry records it with the system as the actor; each refusal exits
/// 1 with a message that says why, a missing `--role` is a usage error
/// (exit 2).
async fn c21_the_command_line_changes_a_role_with_clear_refusals(b: anshin_testkit::Backend) {
    let app = TestApp::spawn(b).await;
    let root = staff::add(&app.services, "root@example.jp", StaffRole::Admin)
        .await
        .unwrap()
        .staff;
    let worker_secret = enrolled(&app, "worker@example.jp", StaffRole::Support).await;
    let worker_cookie = login(&app, "worker@example.jp", &worker_secret).await;
    let worker = id_of(&app, "worker@example.jp").await;

    let (code, out) = anshin(
        &app,
        &[
            "staff",
            "role",
            "Worker@Example.jp",
            "--role",
            "shipping_manager",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "staff account {worker}: role changed from support to shipping_manager"
        )),
        "{out}"
    );
    assert!(out.contains("sessions ended"), "{out}");
    assert_eq!(role_of(&app, worker).await, StaffRole::ShippingManager);
    assert_eq!(
        get(&app, &worker_cookie, "/").await.headers()[header::LOCATION],
        "/login",
        "the live session ended"
    );
    let log = role_changes(&app).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].entry.actor, Actor::System);
    assert_eq!(log[0].entry.reason, "command_line");
    assert_eq!(
        log[0].entry.details.as_deref(),
        Some("{\"from\":\"support\",\"to\":\"shipping_manager\"}")
    );

    // By id; then the refusals, each with its reason and exit 1.
    let (code, out) = anshin(
        &app,
        &["staff", "role", &worker.to_string(), "--role", "admin"],
    );
    assert_eq!(code, 0, "{out}");
    let unknown = uuid::Uuid::now_v7().to_string();
    let refusals: [(&[&str], &str); 5] = [
        (
            &["staff", "role", "worker@example.jp", "--role", "admin"],
            "has this role already",
        ),
        (
            &["staff", "role", "worker@example.jp", "--role", "root"],
            "one of: admin, security, support, finance, shipping_worker, shipping_manager",
        ),
        (
            &["staff", "role", "nobody@example.jp", "--role", "support"],
            "no such staff account",
        ),
        (
            &["staff", "role", "not an address", "--role", "support"],
            "not a staff id or e-mail address",
        ),
        (
            &["staff", "role", &unknown, "--role", "support"],
            "no such staff account",
        ),
    ];
    for (args, says) in &refusals {
        let (code, out) = anshin(&app, args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(out.contains(says), "{args:?}: {out}");
    }
    // root@ and worker@ are both administrators now: root@ may be
    // demoted, and then worker@ is the last one.
    let (code, out) = anshin(
        &app,
        &["staff", "role", "root@example.jp", "--role", "finance"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(role_of(&app, root).await, StaffRole::Finance);
    let (code, out) = anshin(
        &app,
        &["staff", "role", "worker@example.jp", "--role", "support"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("last active administrator"), "{out}");
    assert_eq!(role_of(&app, worker).await, StaffRole::Admin);
    let (code, out) = anshin(&app, &["staff", "disable", "root@example.jp"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = anshin(
        &app,
        &["staff", "role", "root@example.jp", "--role", "support"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("disabled"), "{out}");
    let (code, out) = anshin(&app, &["staff", "role", "worker@example.jp"]);
    assert_eq!(code, 2, "a usage error: {out}");
    assert!(out.contains("--role"), "{out}");
    assert_eq!(role_changes(&app).await.len(), 3, "only the changes made");
    app.stop().await;
}

backends!(
    c21_c22_an_admin_changes_a_role_audited_once_and_the_persons_sessions_end,
    c27_a_role_change_is_refused_for_other_roles_without_step_up_for_oneself_the_last_admin_and_a_disabled_account,
    c22_a_role_change_whose_audit_entry_cannot_be_written_changes_nothing,
    c21_the_command_line_changes_a_role_with_clear_refusals,
);

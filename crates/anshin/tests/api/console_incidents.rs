//! Incident response in the staff console (C28, issue 14): every
//! `anshin incident` act is also a console action for the `security`
//! role, asked first on a confirmation page, taken with the staff member
//! recorded as the doer (audit log and timeline), refused without a
//! recent second factor and for other roles (by the console's guard and
//! again by the core), and not taken at all when its audit entry cannot
//! be written (C22, C27). Every test runs on SQLite and PostgreSQL.

use anshin_core::incidents::{self, Doer, IncidentError};
use anshin_core::staff::CurrentStaff;
use anshin_domain::{EmailAddress, IncidentId, MemberId, StaffRole, StaffStatus};
use anshin_store::audit::{Actor, AuditAction};
use anshin_store::{IncidentStatus, StoredAuditEntry, TimelineEntry};
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::{Backend, SECOND, TestApp, backends, set_cookie};

use crate::audit::{entries, refuse_audit_writes};
use crate::staff::{Now as _, code, csrf_of, enrolled, login, post_form};

const FLASH: &str = "__Host-anshin_staff_flash";

async fn member_id(app: &TestApp, email: &str) -> MemberId {
    app.store
        .accounts()
        .find_member_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// `GET /api/v1/me`: 200 while a member session works, 401 after.
async fn me(app: &TestApp, cookie: &str) -> StatusCode {
    app.client
        .get(app.url("/api/v1/me"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .status()
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

/// Posts an act's form (English pages).
async fn post(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)]) -> Response {
    let csrf = csrf_of(cookie);
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    app.client
        .post(app.staff_url(path))
        .header(header::ORIGIN, &app.staff_origin)
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT_LANGUAGE, "en")
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// An act as a person takes it: the form is answered with the
/// confirmation page (which changes nothing and says `what`), then the
/// confirmed form is sent; returns that answer.
async fn confirmed(
    app: &TestApp,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
    what: &str,
) -> Response {
    let before = entries(app).await.len();
    let ask = post(app, cookie, path, fields).await;
    assert_eq!(
        ask.status(),
        StatusCode::OK,
        "{path}: the confirmation page"
    );
    let html = ask.text().await.unwrap();
    assert!(
        html.contains("name=\"confirm\" value=\"1\""),
        "{path}: {html}"
    );
    assert!(html.contains(what), "{path} says {what:?}: {html}");
    assert_eq!(
        entries(app).await.len(),
        before,
        "{path}: asking changes nothing"
    );
    let mut form = fields.to_vec();
    form.push(("confirm", "1"));
    post(app, cookie, path, &form).await
}

/// The flash code a redirect carries, after checking it goes to `to`.
fn flash_of(res: &Response, to: &str) -> String {
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{:?}", res.headers());
    assert_eq!(res.headers()[header::LOCATION], to);
    let c = set_cookie(res, FLASH).expect("a flash");
    c.split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

async fn timeline(app: &TestApp, id: IncidentId) -> Vec<TimelineEntry> {
    app.store.incidents().timeline(id).await.unwrap()
}

/// What one act added: its audit entries and its timeline lines since
/// `(audit, lines)`.
async fn added(
    app: &TestApp,
    id: IncidentId,
    (audit, lines): (usize, usize),
) -> (Vec<StoredAuditEntry>, Vec<TimelineEntry>) {
    let a = entries(app).await;
    let t = timeline(app, id).await;
    (a[audit..].to_vec(), t[lines..].to_vec())
}

async fn mark(app: &TestApp, id: IncidentId) -> (usize, usize) {
    (entries(app).await.len(), timeline(app, id).await.len())
}

/// Asserts that an act wrote exactly `audit` entries (all by the staff
/// member but those `by_system`) and the timeline `lines`, each naming
/// the staff member.
fn recorded(
    (entries, lines): &(Vec<StoredAuditEntry>, Vec<TimelineEntry>),
    staff: uuid::Uuid,
    audit: &[AuditAction],
    timeline: &[&str],
) {
    let actions: Vec<_> = entries.iter().map(|e| e.entry.action).collect();
    assert_eq!(actions, audit);
    for e in entries {
        if e.entry.action != AuditAction::KeyRotated {
            assert_eq!(e.entry.actor, Actor::Staff(staff), "{:?}", e.entry.action);
            assert_eq!(e.entry.reason, "policy_allow");
            assert_eq!(e.entry.origin.as_deref(), Some("127.0.0.0/24"));
        }
    }
    let codes: Vec<_> = lines.iter().map(|l| l.action.as_str()).collect();
    assert_eq!(codes, timeline);
    for l in lines {
        assert_eq!(l.actor, format!("staff:{staff}"), "not \"system\"");
    }
}

async fn staff_uuid(app: &TestApp, email: &str) -> uuid::Uuid {
    app.store
        .staff()
        .find_staff_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
        .as_uuid()
}

/// Every act from the console: the confirmation page first, then the
/// act's effect, exactly its audit entries and timeline lines with the
/// security staff member as the doer, and a flash saying what happened;
/// errors in words.
async fn c28_security_takes_every_incident_act_in_the_console(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let hana = app
        .member_with_password("hana@example.jp", "lantern orbit tangerine seventeen")
        .await;
    let ken = app.sign_up("ken@example.jp", "Ken", 0).await;
    let hana_id = member_id(&app, "hana@example.jp").await;
    let ken_id = member_id(&app, "ken@example.jp").await;
    let secret = enrolled(&app, "lead@example.jp", StaffRole::Security).await;
    let sec = login(&app, "lead@example.jp", &secret).await;
    let lead = staff_uuid(&app, "lead@example.jp").await;

    // The list, empty, with the form that opens one.
    let res = get(&app, &sec, "/incidents").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"incidents-none\""), "{html}");
    assert!(html.contains("action=\"/incidents\""), "{html}");
    // A bad title is said in words.
    let res = post(&app, &sec, "/incidents", &[("title", "  ")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("1 to 200 characters"));

    // Open.
    let before = entries(&app).await.len();
    let res = confirmed(
        &app,
        &sec,
        "/incidents",
        &[("title", "credential stuffing")],
        "A new incident “credential stuffing” will be opened",
    )
    .await;
    let to = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(flash_of(&res, &to), "incident_opened");
    let id = IncidentId::parse(to.trim_start_matches("/incidents/")).unwrap();
    let new = added(&app, id, (before, 0)).await;
    recorded(&new, lead, &[AuditAction::IncidentOpened], &["opened"]);
    let rec = app
        .store
        .incidents()
        .find_incident(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.opened_by, format!("staff:{lead}"));
    // The flash is shown on the incident's page, once.
    let res = app
        .client
        .get(app.staff_url(&to))
        .header(header::COOKIE, format!("{sec}; {FLASH}=incident_opened"))
        .header(header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("The incident was opened."), "{html}");
    assert!(html.contains("credential stuffing") && html.contains("id=\"timeline\""));
    let path = |act: &str| format!("/incidents/{id}/{act}");

    // End one member's sessions.
    let at = mark(&app, id).await;
    let ken_s = ken_id.to_string();
    let res = confirmed(
        &app,
        &sec,
        &path("end-sessions"),
        &[("scope", "member"), ("member", &ken_s)],
        &format!("Every session of member {ken_id} will end now"),
    )
    .await;
    assert_eq!(flash_of(&res, &to), "incident_sessions_ended.1.0");
    assert_eq!(me(&app, &ken.session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &hana.session).await, StatusCode::OK);
    recorded(
        &added(&app, id, at).await,
        lead,
        &[AuditAction::IncidentSessionsEnded],
        &["sessions_ended"],
    );

    // Lock, then unlock.
    let hana_s = hana_id.to_string();
    let at = mark(&app, id).await;
    let res = confirmed(
        &app,
        &sec,
        &path("lock"),
        &[("member", &hana_s)],
        &format!("Member {hana_id} will be locked"),
    )
    .await;
    assert_eq!(flash_of(&res, &to), "incident_locked");
    assert!(app.store.incidents().is_locked(hana_id).await.unwrap());
    assert_eq!(me(&app, &hana.session).await, StatusCode::UNAUTHORIZED);
    recorded(
        &added(&app, id, at).await,
        lead,
        &[AuditAction::IncidentMemberLocked],
        &["member_locked"],
    );
    let at = mark(&app, id).await;
    let res = confirmed(
        &app,
        &sec,
        &path("unlock"),
        &[("member", &hana_s)],
        "will be lifted",
    )
    .await;
    assert_eq!(flash_of(&res, &to), "incident_unlocked");
    assert!(!app.store.incidents().is_locked(hana_id).await.unwrap());
    recorded(
        &added(&app, id, at).await,
        lead,
        &[AuditAction::IncidentMemberUnlocked],
        &["member_unlocked"],
    );

    // Force a password reset for one member.
    let at = mark(&app, id).await;
    let res = confirmed(
        &app,
        &sec,
        &path("password-reset"),
        &[("scope", "member"), ("member", &hana_s)],
        &format!("The password of member {hana_id} will be removed"),
    )
    .await;
    assert_eq!(flash_of(&res, &to), "incident_password_reset");
    let record = app
        .store
        .accounts()
        .find_member(hana_id)
        .await
        .unwrap()
        .unwrap();
    assert!(record.password_hash.is_none());
    recorded(
        &added(&app, id, at).await,
        lead,
        &[AuditAction::IncidentPasswordReset],
        &["password_reset"],
    );

    // Notify one member with a notice; the page shows the progress.
    let at = mark(&app, id).await;
    let res = confirmed(
        &app,
        &sec,
        &path("notify"),
        &[
            ("template", "sessions-ended"),
            ("audience", "members"),
            ("members", &ken_s),
        ],
        "will be mailed to 1 member(s)",
    )
    .await;
    assert_eq!(flash_of(&res, &to), "incident_notify_done.1.1");
    recorded(
        &added(&app, id, at).await,
        lead,
        &[
            AuditAction::IncidentMembersNotified,
            AuditAction::IncidentMembersNotified,
            AuditAction::IncidentMembersNotified,
        ],
        &["notify_started", "notify_finished"],
    );
    let html = get(&app, &sec, &to).await.text().await.unwrap();
    assert!(html.contains("1 of 1 members mailed"), "{html}");
    assert!(html.contains("Finished."), "{html}");
    // Again: finished before, nobody mailed twice, said so.
    let res = confirmed(
        &app,
        &sec,
        &path("notify"),
        &[
            ("template", "sessions-ended"),
            ("audience", "members"),
            ("members", &ken_s),
        ],
        "will be mailed to 1 member(s)",
    )
    .await;
    assert_eq!(flash_of(&res, &to), "incident_notify_already.1.1");

    // Disable a staff account named by its e-mail; not one's own.
    let ops = enrolled(&app, "ops@example.jp", StaffRole::Support).await;
    let ops_cookie = login(&app, "ops@example.jp", &ops).await;
    let res = post(
        &app,
        &sec,
        &path("disable-staff"),
        &[("staff", "lead@example.jp")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("You cannot disable your own account")
    );
    let at = mark(&app, id).await;
    let res = confirmed(
        &app,
        &sec,
        &path("disable-staff"),
        &[("staff", "ops@example.jp")],
        "The staff account ops@example.jp (Support) will be disabled",
    )
    .await;
    assert_eq!(flash_of(&res, &to), "incident_staff_disabled");
    let ops_id = app
        .store
        .staff()
        .find_staff_by_email(&EmailAddress::parse("ops@example.jp").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ops_id.status, StaffStatus::Disabled);
    assert_eq!(
        get(&app, &ops_cookie, "/").await.status(),
        StatusCode::SEE_OTHER
    );
    recorded(
        &added(&app, id, at).await,
        lead,
        &[AuditAction::StaffDisabled],
        &["staff_disabled"],
    );

    // Rotate keys: recorded before and after, the rotation's own entry
    // between.
    let version = app.services.keys.ring().current_version();
    let at = mark(&app, id).await;
    let res = confirmed(
        &app,
        &sec,
        &path("rotate-keys"),
        &[],
        "A new key encryption key version will be made",
    )
    .await;
    let flash = flash_of(&res, &to);
    assert!(
        flash.starts_with(&format!("incident_keys_rotated.{}.", version + 1)),
        "{flash}"
    );
    assert_eq!(app.services.keys.ring().current_version(), version + 1);
    recorded(
        &added(&app, id, at).await,
        lead,
        &[
            AuditAction::IncidentKeysRotated,
            AuditAction::KeyRotated,
            AuditAction::IncidentKeysRotated,
        ],
        &["key_rotation_started", "key_rotation_finished"],
    );

    // End every member session.
    let again = app.log_in_again("ken@example.jp").await;
    assert_eq!(me(&app, &again).await, StatusCode::OK);
    let at = mark(&app, id).await;
    let res = confirmed(
        &app,
        &sec,
        &path("end-sessions"),
        &[("scope", "all_members")],
        "Every member session will end now",
    )
    .await;
    assert!(flash_of(&res, &to).starts_with("incident_sessions_ended."));
    assert_eq!(me(&app, &again).await, StatusCode::UNAUTHORIZED);
    recorded(
        &added(&app, id, at).await,
        lead,
        &[AuditAction::IncidentSessionsEnded],
        &["sessions_ended"],
    );

    // Errors in words, nothing done.
    let at = mark(&app, id).await;
    let nobody = MemberId::from_uuid(uuid::Uuid::now_v7()).to_string();
    let res = post(&app, &sec, &path("lock"), &[("member", &nobody)]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("No member has this id."));
    let res = post(
        &app,
        &sec,
        &path("lock"),
        &[("member", "hana@example.jp"), ("confirm", "1")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Type a member id"));
    let res = post(&app, &sec, &path("end-sessions"), &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Choose whose sessions to end.")
    );
    let res = get(&app, &sec, &format!("/incidents/{nobody}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("There is no such incident.")
    );
    assert_eq!(mark(&app, id).await, at, "nothing recorded");

    // End every staff session: the lead's own too, who logs in again.
    let at = mark(&app, id).await;
    let res = confirmed(
        &app,
        &sec,
        &path("end-sessions"),
        &[("scope", "all_staff")],
        "Every staff session will end now, yours too",
    )
    .await;
    assert!(flash_of(&res, &to).starts_with("incident_sessions_ended.0."));
    let res = get(&app, &sec, &to).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/login");
    recorded(
        &added(&app, id, at).await,
        lead,
        &[AuditAction::IncidentSessionsEnded],
        &["sessions_ended"],
    );
    app.clock.advance(31 * SECOND);
    let sec = login(&app, "lead@example.jp", &secret).await;

    // Close with lessons; no act after it.
    let at = mark(&app, id).await;
    let res = confirmed(
        &app,
        &sec,
        &path("close"),
        &[(
            "lessons",
            "rate-limit logins per account\nwatch the WAF alerts",
        )],
        "The incident will be closed",
    )
    .await;
    assert_eq!(flash_of(&res, &to), "incident_closed");
    let rec = app
        .store
        .incidents()
        .find_incident(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, IncidentStatus::Closed);
    assert_eq!(
        rec.lessons.as_deref(),
        Some("rate-limit logins per account\nwatch the WAF alerts")
    );
    recorded(
        &added(&app, id, at).await,
        lead,
        &[AuditAction::IncidentClosed],
        &["closed"],
    );
    let html = get(&app, &sec, &to).await.text().await.unwrap();
    assert!(html.contains("id=\"incident-closed\""), "{html}");
    assert!(!html.contains("/lock\""), "no act forms: {html}");
    let at = mark(&app, id).await;
    let res = post(
        &app,
        &sec,
        &path("lock"),
        &[("member", &hana_s), ("confirm", "1")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("This incident is closed")
    );
    assert!(!app.store.incidents().is_locked(hana_id).await.unwrap());
    assert_eq!(mark(&app, id).await, at);
    // The list shows it closed; Japanese too.
    let ja = app
        .client
        .get(app.staff_url(&to))
        .header(header::COOKIE, &sec)
        .header(header::ACCEPT_LANGUAGE, "ja")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ja.contains("経過記録") && ja.contains("教訓"), "{ja}");
    app.stop().await;
}

/// The session facts of a logged-in staff member, as the console has them.
async fn current_of(app: &TestApp, cookie: &str) -> CurrentStaff {
    let token = anshin_vault::SessionToken::parse(cookie.split_once('=').unwrap().1).unwrap();
    anshin_core::staff::current(&app.services, &token)
        .await
        .unwrap()
        .unwrap()
}

async fn unchanged(app: &TestApp, hana: MemberId, id: IncidentId) {
    assert!(!app.store.incidents().is_locked(hana).await.unwrap());
    assert_eq!(timeline(app, id).await.len(), 1, "only the opening");
}

/// Support and finance get 403 on every incident page and act; admin
/// reads incidents but may not act; security without a recent second
/// factor is sent to step up; nothing happens in any of these. The core
/// acts refuse a staff doer the policy refuses, whatever door calls them.
async fn c27_incident_acts_need_the_security_role_and_a_fresh_second_factor(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let hana = app.sign_up("hana@example.jp", "Hana", 0).await;
    let hana_id = member_id(&app, "hana@example.jp").await;
    let id = incidents::open(&app.services, &Doer::shell(), "lost backup tape")
        .await
        .unwrap();
    let hana_s = hana_id.to_string();
    let lock = format!("/incidents/{id}/lock");
    let page = format!("/incidents/{id}");
    let refusals = |log: &[StoredAuditEntry]| {
        log.iter()
            .filter(|e| e.entry.action == AuditAction::StaffActRefused)
            .count()
    };

    for (email, role) in [
        ("help@example.jp", StaffRole::Support),
        ("money@example.jp", StaffRole::Finance),
    ] {
        let secret = enrolled(&app, email, role).await;
        let cookie = login(&app, email, &secret).await;
        let before = refusals(&entries(&app).await);
        for path in ["/incidents", page.as_str()] {
            assert_eq!(
                get(&app, &cookie, path).await.status(),
                StatusCode::FORBIDDEN,
                "{role} GET {path}"
            );
        }
        let res = post(
            &app,
            &cookie,
            &lock,
            &[("member", &hana_s), ("confirm", "1")],
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role}");
        assert!(
            !res.text().await.unwrap().contains(&hana_s),
            "nothing about the member"
        );
        assert_eq!(
            refusals(&entries(&app).await),
            before + 3,
            "each refusal recorded"
        );
        unchanged(&app, hana_id, id).await;
        // The core refuses them too.
        let doer = Doer::staff(
            &current_of(&app, &cookie).await,
            "127.0.0.1".parse().unwrap(),
        );
        assert!(matches!(
            incidents::lock_member(&app.services, &doer, id, hana_id).await,
            Err(IncidentError::Refused(
                anshin_core::access::Decision::DenyRole
            ))
        ));
        assert!(matches!(
            incidents::list(&app.services, &doer).await,
            Err(IncidentError::Refused(_))
        ));
        unchanged(&app, hana_id, id).await;
    }

    // Admin: reads, may not act.
    let secret = enrolled(&app, "root@example.jp", StaffRole::Admin).await;
    let admin = login(&app, "root@example.jp", &secret).await;
    let res = get(&app, &admin, "/incidents").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("lost backup tape"), "{html}");
    assert!(
        !html.contains("action=\"/incidents\""),
        "no open form: {html}"
    );
    let res = get(&app, &admin, &page).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"incident-read-only\""), "{html}");
    assert!(!html.contains("/lock\""), "{html}");
    for (act, fields) in [
        ("lock", vec![("member", hana_s.as_str()), ("confirm", "1")]),
        (
            "end-sessions",
            vec![("scope", "all_members"), ("confirm", "1")],
        ),
        ("close", vec![("lessons", "x"), ("confirm", "1")]),
    ] {
        let res = post(&app, &admin, &format!("/incidents/{id}/{act}"), &fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "admin {act}");
    }
    let res = post(
        &app,
        &admin,
        "/incidents",
        &[("title", "x"), ("confirm", "1")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "admin opens none");
    assert_eq!(me(&app, &hana.session).await, StatusCode::OK);
    unchanged(&app, hana_id, id).await;
    let doer = Doer::staff(
        &current_of(&app, &admin).await,
        "127.0.0.1".parse().unwrap(),
    );
    assert!(matches!(
        incidents::close(&app.services, &doer, id, "x").await,
        Err(IncidentError::Refused(
            anshin_core::access::Decision::DenyRole
        ))
    ));

    // Security with a stale second factor: sent to step up, nothing done.
    let secret = enrolled(&app, "lead@example.jp", StaffRole::Security).await;
    let sec = login(&app, "lead@example.jp", &secret).await;
    assert_eq!(get(&app, &sec, &page).await.status(), StatusCode::OK);
    app.clock.advance(301 * SECOND);
    for res in [
        get(&app, &sec, &page).await,
        post(&app, &sec, &lock, &[("member", &hana_s)]).await,
        post(&app, &sec, &lock, &[("member", &hana_s), ("confirm", "1")]).await,
    ] {
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[header::LOCATION], "/step-up");
    }
    unchanged(&app, hana_id, id).await;
    let stale = Doer::staff(&current_of(&app, &sec).await, "127.0.0.1".parse().unwrap());
    assert!(matches!(
        incidents::lock_member(&app.services, &stale, id, hana_id).await,
        Err(IncidentError::Refused(
            anshin_core::access::Decision::DenyStepUp
        ))
    ));
    unchanged(&app, hana_id, id).await;
    // After a step-up, the act goes through.
    let up = post_form(
        &app,
        "/step-up",
        Some(&sec),
        &[
            ("csrf_token", &csrf_of(&sec)),
            ("code", &code(&secret, app.clock.now_for_tests())),
        ],
    )
    .await;
    assert_eq!(up.status(), StatusCode::SEE_OTHER);
    let res = post(&app, &sec, &lock, &[("member", &hana_s), ("confirm", "1")]).await;
    assert_eq!(flash_of(&res, &page), "incident_locked");
    assert!(app.store.incidents().is_locked(hana_id).await.unwrap());
    app.stop().await;
}

/// With the audit write made to fail, an act from the console does not
/// happen, and the page says so in words (C22): no lock, sessions kept,
/// the incident still open, no timeline line.
async fn c22_an_incident_act_whose_audit_write_fails_does_not_happen_in_the_console(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let hana = app.sign_up("hana@example.jp", "Hana", 0).await;
    let hana_id = member_id(&app, "hana@example.jp").await;
    let secret = enrolled(&app, "lead@example.jp", StaffRole::Security).await;
    let sec = login(&app, "lead@example.jp", &secret).await;
    let id = incidents::open(&app.services, &Doer::shell(), "audit down")
        .await
        .unwrap();
    let hana_s = hana_id.to_string();
    refuse_audit_writes(&app).await;
    let before = entries(&app).await.len();
    for (act, fields) in [
        ("lock", vec![("member", hana_s.as_str())]),
        ("end-sessions", vec![("scope", "all_members")]),
        ("password-reset", vec![("scope", "all")]),
        ("close", vec![("lessons", "none")]),
    ] {
        let mut form = fields.clone();
        form.push(("confirm", "1"));
        let res = post(&app, &sec, &format!("/incidents/{id}/{act}"), &form).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{act}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("could not be recorded in the audit log, so it did not happen"),
            "{act}: {html}"
        );
    }
    assert!(!app.store.incidents().is_locked(hana_id).await.unwrap());
    assert_eq!(me(&app, &hana.session).await, StatusCode::OK);
    let rec = app
        .store
        .incidents()
        .find_incident(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, IncidentStatus::Open);
    assert_eq!(timeline(&app, id).await.len(), 1);
    assert_eq!(entries(&app).await.len(), before);
    app.stop().await;
}

/// A notification's progress on the incident's page, and its continuation
/// from the console: a run that stopped after the first member (as a
/// killed one leaves it) shows "1 of 3" and "not finished" with a button;
/// another notice is refused in words while it is unfinished; continuing
/// asks first (saying it continues), mails only the other two, and says
/// "3 of 3".
async fn c28_the_console_shows_a_notifications_progress_and_continues_it(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let mut ids = Vec::new();
    for (i, email) in ["a@example.jp", "b@example.jp", "c@example.jp"]
        .iter()
        .enumerate()
    {
        app.sign_up(email, &format!("M{i}"), 0).await;
        ids.push(member_id(&app, email).await);
    }
    ids.sort();
    let secret = enrolled(&app, "lead@example.jp", StaffRole::Security).await;
    let sec = login(&app, "lead@example.jp", &secret).await;
    let lead = staff_uuid(&app, "lead@example.jp").await;
    let id = incidents::open(&app.services, &Doer::shell(), "notify")
        .await
        .unwrap();
    // What a run killed after its first batch (of one member) leaves.
    app.store
        .commit(
            &anshin_store::Changes::new().with(anshin_store::Write::StartNotify {
                incident: id,
                template: "sessions-ended".into(),
                audience: anshin_store::NotifyAudience::All.to_text(),
                total: 3,
            }),
        )
        .await
        .unwrap();
    app.store
        .commit(
            &anshin_store::Changes::new().with(anshin_store::Write::AdvanceNotify {
                incident: id,
                from: None,
                to: ids[0],
                sent: 1,
            }),
        )
        .await
        .unwrap();
    let to = format!("/incidents/{id}");
    let html = get(&app, &sec, &to).await.text().await.unwrap();
    assert!(html.contains("1 of 3 members mailed"), "{html}");
    assert!(html.contains("Not finished."), "{html}");
    assert!(
        html.contains("name=\"template\" value=\"sessions-ended\"")
            && html.contains("name=\"audience\" value=\"all\""),
        "the button continues the same notice to the same members: {html}"
    );
    // Another notice while this one is unfinished: refused, in words.
    let res = post(
        &app,
        &sec,
        &format!("{to}/notify"),
        &[
            ("template", "password-reset"),
            ("audience", "all"),
            ("confirm", "1"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("is under way in this incident")
    );
    // Continue: asked first, then only the two others are mailed.
    let at = mark(&app, id).await;
    let res = confirmed(
        &app,
        &sec,
        &format!("{to}/notify"),
        &[("template", "sessions-ended"), ("audience", "all")],
        "It continues the notification stopped at 1 of 3",
    )
    .await;
    assert_eq!(flash_of(&res, &to), "incident_notify_done.3.3");
    let new = added(&app, id, at).await;
    recorded(
        &new,
        lead,
        &[
            AuditAction::IncidentMembersNotified,
            AuditAction::IncidentMembersNotified,
        ],
        &["notify_finished"],
    );
    let batch: serde_json::Value =
        serde_json::from_str(new.0[0].entry.details.as_deref().unwrap()).unwrap();
    assert_eq!(batch["mails"], 2, "none for the first member again");
    let html = get(&app, &sec, &to).await.text().await.unwrap();
    assert!(html.contains("3 of 3 members mailed") && html.contains("Finished."));
    app.stop().await;
}

backends!(
    c28_the_console_shows_a_notifications_progress_and_continues_it,
    c28_security_takes_every_incident_act_in_the_console,
    c27_incident_acts_need_the_security_role_and_a_fresh_second_factor,
    c22_an_incident_act_whose_audit_write_fails_does_not_happen_in_the_console,
);

//! Incident response (C28; issue 14, acceptance 6): `anshin incident
//! end-sessions --all`, run as the real binary against two running
//! instances on one PostgreSQL database, ends every member session on
//! both; each containment act writes its audit entry and its timeline
//! line and takes effect, or (when the audit write fails) does not happen
//! at all; the member notification resumes where it stopped. Every test
//! runs on SQLite and PostgreSQL (the two-instance one on SQLite with one
//! instance: a file database is not shared between hosts).

use std::process::Command;

use anshin_core::incidents::{self, Audience, Doer, IncidentError, Members};
use anshin_core::mail::compose::IncidentTemplate;
use anshin_domain::{EmailAddress, IncidentId, MemberId};
use anshin_store::audit::{Actor, AuditAction};
use anshin_store::{IncidentStatus, Write};
use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, cookie_pair, set_cookie};
use serde_json::json;

use crate::staff::{enrolled, login};

const BIN: &str = env!("CARGO_BIN_EXE_anshin");

/// Runs `anshin <args>` on the app's data directory, database and key
/// ring, as an operator would on the server.
fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
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
    (out.status.success(), text)
}

async fn member_id(app: &TestApp, email: &str) -> MemberId {
    app.store
        .accounts()
        .find_member_by_email(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// `GET /api/v1/me` with a session cookie: 200 while it works, 401 after.
async fn me(app: &TestApp, cookie: &str) -> StatusCode {
    app.client
        .get(app.url("/api/v1/me"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .status()
}

/// The staff console's home with a staff cookie: 200 while the session
/// works, a redirect to the login after.
async fn staff_home(app: &TestApp, cookie: &str) -> StatusCode {
    app.client
        .get(app.staff_url("/"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .status()
}

async fn password_login(app: &TestApp, email: &str, password: &str) -> StatusCode {
    app.client
        .post(app.url("/api/v1/login/password"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn audit_actions(app: &TestApp) -> Vec<(AuditAction, Actor, Option<String>)> {
    app.store
        .audit()
        .entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.entry.action, e.entry.actor, e.entry.details))
        .collect()
}

async fn count(app: &TestApp, action: AuditAction) -> usize {
    audit_actions(app)
        .await
        .iter()
        .filter(|(a, _, _)| *a == action)
        .count()
}

async fn timeline_actions(app: &TestApp, id: IncidentId) -> Vec<String> {
    app.store
        .incidents()
        .timeline(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// Acceptance 6: the real `anshin incident end-sessions --all` against
/// two running instances on one PostgreSQL database (SQLite: one
/// instance). Members logged in on both instances (one member on both at
/// once) and a staff member in the console: after the command every
/// member session fails on its next request on either instance; the
/// staff session lasts until `--staff`. The act is in the audit log and
/// the incident's timeline; the command line is the actor.
async fn c28_cli_end_sessions_all_ends_every_member_session_on_both_instances(b: Backend) {
    let a = TestApp::spawn_mail(b).await;
    let other = match b {
        Backend::Postgres => Some(a.sibling().await),
        Backend::Sqlite => None,
    };
    let second = other.as_ref().unwrap_or(&a);
    let hana = a.sign_up("hana@example.jp", "Hana", 0).await.session;
    let ken = second.sign_up("ken@example.jp", "Ken", 0).await.session;
    let hana_on_second = second.log_in_again("hana@example.jp").await;
    let sessions = [&hana, &ken, &hana_on_second];
    for s in sessions {
        assert_eq!(me(&a, s).await, StatusCode::OK);
        assert_eq!(me(second, s).await, StatusCode::OK);
    }
    let secret = enrolled(&a, "sec@example.jp", anshin_domain::StaffRole::Security).await;
    let staff_cookie = login(&a, "sec@example.jp", &secret).await;
    assert_eq!(staff_home(&a, &staff_cookie).await, StatusCode::OK);

    // Acts need an open incident, and say so.
    let (ok, out) = cli(&a, &["incident", "end-sessions", "--all"]);
    assert!(!ok && out.contains("no open incident"), "{out}");
    let (ok, out) = cli(&a, &["incident", "open", "--title", "stolen laptop"]);
    assert!(ok, "{out}");
    let id = out
        .split_whitespace()
        .nth(1)
        .and_then(IncidentId::parse)
        .unwrap_or_else(|| panic!("an incident id in {out:?}"));
    let (ok, out) = cli(&a, &["incident", "end-sessions"]);
    assert!(
        !ok && out.contains("--all, --member ID and/or --staff"),
        "{out}"
    );

    let (ok, out) = cli(&a, &["incident", "end-sessions", "--all"]);
    assert!(ok, "{out}");
    assert!(out.contains("ended member sessions"), "{out}");
    for s in sessions {
        assert_eq!(me(&a, s).await, StatusCode::UNAUTHORIZED, "instance 1");
        assert_eq!(me(second, s).await, StatusCode::UNAUTHORIZED, "instance 2");
    }
    assert_eq!(
        staff_home(&a, &staff_cookie).await,
        StatusCode::OK,
        "staff sessions only with --staff"
    );
    let (ok, out) = cli(&a, &["incident", "end-sessions", "--staff"]);
    assert!(ok, "{out}");
    assert_eq!(staff_home(&a, &staff_cookie).await, StatusCode::SEE_OTHER);

    // A member logs in again afterwards: sessions ended, accounts not.
    let again = second.log_in_again("ken@example.jp").await;
    assert_eq!(me(&a, &again).await, StatusCode::OK);

    let ended: Vec<_> = audit_actions(&a)
        .await
        .into_iter()
        .filter(|(a, _, _)| *a == AuditAction::IncidentSessionsEnded)
        .collect();
    assert_eq!(ended.len(), 2, "one entry per act");
    assert!(ended.iter().all(|(_, actor, _)| *actor == Actor::System));
    let details = ended[0].2.as_deref().unwrap();
    assert!(details.contains(&id.to_string()) && details.contains("\"all\""));
    assert_eq!(
        timeline_actions(&a, id).await,
        ["opened", "sessions_ended", "sessions_ended"]
    );
    let (ok, out) = cli(&a, &["incident", "show", &id.to_string()]);
    assert!(ok, "{out}");
    assert!(out.contains("stolen laptop") && out.contains("system\tsessions_ended"));
    let (ok, out) = cli(&a, &["incident", "list"]);
    assert!(ok && out.contains(&format!("{id}\topen")), "{out}");
    // The chain still verifies with the incident's entries in it.
    let (ok, out) = cli(&a, &["audit", "verify"]);
    assert!(ok, "{out}");

    let (ok, out) = cli(&a, &["incident", "notify", "--template", "nope", "--all"]);
    assert!(!ok && out.contains("sessions-ended, password-reset, data-exposure"));
    let (ok, out) = cli(&a, &["incident", "lock", "--member", "hana"]);
    assert!(!ok && out.contains("not a member id"), "{out}");
    let (ok, out) = cli(&a, &["incident", "close", "--lessons", "  "]);
    assert!(!ok && out.contains("lessons learned"), "{out}");
    let (ok, out) = cli(
        &a,
        &[
            "incident",
            "close",
            "--lessons",
            "laptops get disk encryption",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = cli(&a, &["incident", "end-sessions", "--all"]);
    assert!(!ok && out.contains("no open incident"), "{out}");
    let (ok, out) = cli(
        &a,
        &[
            "incident",
            "--incident",
            &id.to_string(),
            "end-sessions",
            "--all",
        ],
    );
    assert!(!ok && out.contains("closed"), "{out}");
    let (_, out) = cli(&a, &["incident", "show", &id.to_string()]);
    assert!(
        out.contains("lessons: laptops get disk encryption"),
        "{out}"
    );
    if let Some(o) = other {
        o.stop().await;
    }
    a.stop().await;
}

/// Each act: its effect, one audit entry, one timeline line (the shell's
/// acts name the system as the actor, like `anshin staff add`).
async fn c28_each_incident_act_is_audited_timelined_and_takes_effect(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let svc = &app.services;
    let doer = Doer::shell();
    let hana = app
        .member_with_password("hana@example.jp", "lantern orbit tangerine seventeen")
        .await;
    let ken = app.sign_up("ken@example.jp", "Ken", 0).await;
    let hana_id = member_id(&app, "hana@example.jp").await;
    let ken_id = member_id(&app, "ken@example.jp").await;

    let id = incidents::open(svc, &doer, "phishing wave").await.unwrap();
    assert_eq!(count(&app, AuditAction::IncidentOpened).await, 1);
    assert_eq!(incidents::resolve(svc, None).await.unwrap().id, id);

    // end_sessions for one member: only theirs.
    incidents::end_sessions(svc, &doer, id, Members::One(ken_id), false)
        .await
        .unwrap();
    assert_eq!(me(&app, &ken.session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &hana.session).await, StatusCode::OK);
    assert_eq!(count(&app, AuditAction::IncidentSessionsEnded).await, 1);

    // lock: sessions end, no login by password or code until unlocked.
    incidents::lock_member(svc, &doer, id, hana_id)
        .await
        .unwrap();
    assert_eq!(me(&app, &hana.session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        password_login(&app, "hana@example.jp", "lantern orbit tangerine seventeen").await,
        StatusCode::UNAUTHORIZED,
        "a locked member cannot log in"
    );
    assert!(app.store.incidents().is_locked(hana_id).await.unwrap());
    assert_eq!(count(&app, AuditAction::IncidentMemberLocked).await, 1);
    let nobody = MemberId::from_uuid(uuid::Uuid::now_v7());
    assert!(matches!(
        incidents::lock_member(svc, &doer, id, nobody).await,
        Err(IncidentError::MemberNotFound(_))
    ));
    incidents::unlock_member(svc, &doer, id, hana_id)
        .await
        .unwrap();
    assert_eq!(
        password_login(&app, "hana@example.jp", "lantern orbit tangerine seventeen").await,
        StatusCode::OK
    );

    // force_password_reset: the password stops working, sessions end, a
    // code login still works.
    let res = app
        .client
        .post(app.url("/api/v1/login/password"))
        .json(&json!({"email": "hana@example.jp", "password": "lantern orbit tangerine seventeen"}))
        .send()
        .await
        .unwrap();
    let fresh = cookie_pair(set_cookie(&res, "__Host-anshin_session").unwrap());
    incidents::force_password_reset(svc, &doer, id, Some(hana_id))
        .await
        .unwrap();
    assert_eq!(me(&app, &fresh).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        password_login(&app, "hana@example.jp", "lantern orbit tangerine seventeen").await,
        StatusCode::UNAUTHORIZED
    );
    let record = app
        .store
        .accounts()
        .find_member(hana_id)
        .await
        .unwrap()
        .unwrap();
    assert!(record.password_hash.is_none());
    let by_code = app.log_in_again("hana@example.jp").await;
    assert_eq!(me(&app, &by_code).await, StatusCode::OK);
    assert_eq!(count(&app, AuditAction::IncidentPasswordReset).await, 1);

    // force_password_reset for all: every password, every member session.
    hana_set_password(&app, &by_code).await;
    incidents::force_password_reset(svc, &doer, id, None)
        .await
        .unwrap();
    assert_eq!(me(&app, &by_code).await, StatusCode::UNAUTHORIZED);
    assert!(
        app.store
            .accounts()
            .find_member(hana_id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .is_none()
    );

    // disable_staff: the staff module's disable, in the incident.
    let secret = enrolled(&app, "ops@example.jp", anshin_domain::StaffRole::Support).await;
    let staff_cookie = login(&app, "ops@example.jp", &secret).await;
    let staff_id = app
        .store
        .staff()
        .find_staff_by_email(&EmailAddress::parse("ops@example.jp").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    incidents::disable_staff(svc, &doer, id, staff_id)
        .await
        .unwrap();
    assert_eq!(staff_home(&app, &staff_cookie).await, StatusCode::SEE_OTHER);
    let staff = app
        .store
        .staff()
        .find_staff(staff_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(staff.status, anshin_domain::StaffStatus::Disabled);
    let disabled: Vec<_> = audit_actions(&app)
        .await
        .into_iter()
        .filter(|(a, _, _)| *a == AuditAction::StaffDisabled)
        .collect();
    assert_eq!(disabled.len(), 1);
    assert!(disabled[0].2.as_deref().unwrap().contains(&id.to_string()));

    // rotate_keys: the existing rotation, recorded before and after.
    let before = app.services.keys.ring().current_version();
    let (version, _) = incidents::rotate_keys(svc, &doer, id).await.unwrap();
    assert_eq!(version, before + 1);
    assert_eq!(app.services.keys.ring().current_version(), version);
    assert_eq!(count(&app, AuditAction::IncidentKeysRotated).await, 2);
    assert_eq!(count(&app, AuditAction::KeyRotated).await, 1);
    // Members' data still opens under the new KEK.
    assert_eq!(
        me(&app, &app.log_in_again("ken@example.jp").await).await,
        StatusCode::OK
    );

    // notify: one mail per named member, in their language, via the outbox.
    let ken_mails = app.mails_to("ken@example.jp", 0).await.len();
    let mut seen = Vec::new();
    let report = incidents::notify(
        svc,
        &doer,
        id,
        IncidentTemplate::DataExposure,
        Audience::Members(vec![ken_id]),
        &mut |sent, total| seen.push((sent, total)),
    )
    .await
    .unwrap();
    assert_eq!((report.sent, report.total, report.resumed), (1, 1, false));
    assert_eq!(seen.last(), Some(&(1, 1)));
    let subjects: Vec<String> = [anshin_core::i18n::Lang::Ja, anshin_core::i18n::Lang::En]
        .into_iter()
        .map(|l| {
            app.services
                .letters
                .catalogs
                .get(l)
                .mail_incident_data_exposure_subject
                .clone()
        })
        .collect();
    let t = &subjects;
    // Waits (up to the kit's 30 s) for the notice among later mails (the
    // login notice of the last login may arrive first).
    let mut n = ken_mails + 1;
    while !app
        .mails_to("ken@example.jp", n)
        .await
        .iter()
        .any(|m| t.contains(&m.subject))
    {
        n += 1;
    }
    assert_eq!(
        app.mails_to("hana@example.jp", 0)
            .await
            .iter()
            .filter(|m| t.contains(&m.subject))
            .count(),
        0
    );
    assert_eq!(
        count(&app, AuditAction::IncidentMembersNotified).await,
        3,
        "start, batch, end"
    );
    // Run again: finished before, nothing mailed twice.
    let again = incidents::notify(
        svc,
        &doer,
        id,
        IncidentTemplate::DataExposure,
        Audience::Members(vec![ken_id]),
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert!(again.already_done);

    // close, with lessons; no act after it.
    incidents::close(svc, &doer, id, "train staff on phishing")
        .await
        .unwrap();
    let (rec, timeline) = incidents::show(svc, &doer, id).await.unwrap();
    assert_eq!(rec.status, IncidentStatus::Closed);
    assert_eq!(rec.lessons.as_deref(), Some("train staff on phishing"));
    assert!(matches!(
        incidents::lock_member(svc, &doer, id, ken_id).await,
        Err(IncidentError::Closed)
    ));
    let actions: Vec<_> = timeline.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "opened",
            "sessions_ended",
            "member_locked",
            "member_unlocked",
            "password_reset",
            "password_reset",
            "staff_disabled",
            "key_rotation_started",
            "key_rotation_finished",
            "notify_started",
            "notify_finished",
            "closed",
        ]
    );
    assert!(timeline.iter().all(|e| e.actor == "system"));
    assert_eq!(count(&app, AuditAction::IncidentClosed).await, 1);
    app.stop().await;
}

async fn hana_set_password(app: &TestApp, cookie: &str) {
    let res = app
        .client
        .put(app.url("/api/v1/me/password"))
        .header(header::COOKIE, cookie)
        .json(&json!({"password": "copper meadow lantern ninety"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

/// The notification resumes where the last committed batch ended: after
/// a run stopped past the first member, running it again mails only the
/// others, through the CLI with a progress report; another template is
/// refused while one is under way.
async fn c28_notify_resumes_where_it_stopped(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let svc = &app.services;
    let doer = Doer::shell();
    let mut ids = Vec::new();
    for (i, email) in ["a@example.jp", "b@example.jp", "c@example.jp"]
        .iter()
        .enumerate()
    {
        app.sign_up(email, &format!("M{i}"), 0).await;
        ids.push(member_id(&app, email).await);
    }
    ids.sort();
    let id = incidents::open(svc, &doer, "notify test").await.unwrap();
    // What a run that was killed after its first batch (of one member)
    // left behind: the start, and the progress of that batch.
    let audience = anshin_store::NotifyAudience::All.to_text();
    app.store
        .commit(&anshin_store::Changes::new().with(Write::StartNotify {
            incident: id,
            template: "sessions-ended".into(),
            audience,
            total: 3,
        }))
        .await
        .unwrap();
    app.store
        .commit(&anshin_store::Changes::new().with(Write::AdvanceNotify {
            incident: id,
            from: None,
            to: ids[0],
            sent: 1,
        }))
        .await
        .unwrap();
    // A second run cannot take the same step (the progress moved).
    let stale = app
        .store
        .commit(&anshin_store::Changes::new().with(Write::AdvanceNotify {
            incident: id,
            from: None,
            to: ids[0],
            sent: 1,
        }))
        .await;
    assert!(
        stale
            .unwrap_err()
            .is_precondition(anshin_store::guards::NOTIFY_MOVED)
    );

    let (ok, out) = cli(
        &app,
        &[
            "incident",
            "notify",
            "--template",
            "password-reset",
            "--all",
        ],
    );
    assert!(!ok && out.contains("under way"), "{out}");
    let (ok, out) = cli(
        &app,
        &[
            "incident",
            "notify",
            "--template",
            "sessions-ended",
            "--all",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("3 of 3 member(s) mailed (resumed)"), "{out}");
    assert!(
        out.contains("progress 3/3"),
        "plain progress lines off a terminal: {out}"
    );
    let rec = app
        .store
        .incidents()
        .find_incident(id)
        .await
        .unwrap()
        .unwrap();
    let n = rec.notify.unwrap();
    assert_eq!((n.sent, n.total), (3, 3));
    assert!(n.finished_at.is_some());
    // The CLI queued mails for the two members after the cursor only
    // (its clock is the real one, so the test server, whose clock stands
    // at T0, does not send them yet: the outbox holds them).
    // This run queued mails for the two members after the cursor only.
    let batches: Vec<serde_json::Value> = audit_actions(&app)
        .await
        .into_iter()
        .filter(|(a, _, _)| *a == AuditAction::IncidentMembersNotified)
        .map(|(_, _, d)| serde_json::from_str(&d.unwrap()).unwrap())
        .filter(|d: &serde_json::Value| d["phase"] == "batch")
        .collect();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0]["mails"], 2, "none for the first member again");
    assert_eq!(batches[0]["through"], json!(ids[2]));
    let (ok, out) = cli(
        &app,
        &[
            "incident",
            "notify",
            "--template",
            "sessions-ended",
            "--all",
        ],
    );
    assert!(ok && out.contains("nothing to do"), "{out}");
    assert_eq!(
        timeline_actions(&app, id).await,
        ["opened", "notify_finished"],
        "the start was simulated without its line; the end has one"
    );
    app.stop().await;
}

/// With the audit write made to fail, an act is refused and has no
/// effect: sessions stay, nobody is locked, no password is removed, the
/// key ring does not rotate, no timeline line is written.
async fn c28_an_act_whose_audit_write_fails_does_not_happen(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let svc = &app.services;
    let doer = Doer::shell();
    let hana = app
        .member_with_password("hana@example.jp", "lantern orbit tangerine seventeen")
        .await;
    let hana_id = member_id(&app, "hana@example.jp").await;
    let id = incidents::open(svc, &doer, "audit down").await.unwrap();
    crate::audit::refuse_audit_writes(&app).await;

    assert!(
        incidents::end_sessions(svc, &doer, id, Members::All, true)
            .await
            .is_err()
    );
    assert_eq!(me(&app, &hana.session).await, StatusCode::OK);
    assert!(
        incidents::lock_member(svc, &doer, id, hana_id)
            .await
            .is_err()
    );
    assert!(!app.store.incidents().is_locked(hana_id).await.unwrap());
    assert!(
        incidents::force_password_reset(svc, &doer, id, None)
            .await
            .is_err()
    );
    // (No login either while the log is down: a login is audited too.)
    assert!(
        app.store
            .accounts()
            .find_member(hana_id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .is_some(),
        "the password stays"
    );
    let version = app.services.keys.ring().current_version();
    assert!(incidents::rotate_keys(svc, &doer, id).await.is_err());
    assert_eq!(app.services.keys.ring().current_version(), version);
    assert!(incidents::close(svc, &doer, id, "lessons").await.is_err());
    assert!(incidents::open(svc, &doer, "second").await.is_err());
    assert_eq!(timeline_actions(&app, id).await, ["opened"]);
    assert_eq!(
        app.store
            .incidents()
            .find_incident(id)
            .await
            .unwrap()
            .unwrap()
            .status,
        IncidentStatus::Open
    );
    app.stop().await;
}

backends!(
    c28_cli_end_sessions_all_ends_every_member_session_on_both_instances,
    c28_each_incident_act_is_audited_timelined_and_takes_effect,
    c28_notify_resumes_where_it_stopped,
    c28_an_act_whose_audit_write_fails_does_not_happen,
);

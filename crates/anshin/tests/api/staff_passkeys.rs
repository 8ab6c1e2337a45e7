//! Staff passkeys (issue 14, acceptance 3; C21): registration and login
//! with a software authenticator that speaks the real WebAuthn formats
//! (`anshin_testkit::webauthn`), through the console's own routes, on
//! SQLite and PostgreSQL. The ceremony state lives in the database; a
//! ceremony works once; a wrong signature, a replayed answer, another
//! staff member's credential and the e-mail alone make no session.

use anshin::web::console;
use anshin_core::domain::StaffRole;
use anshin_store::audit::{Actor, AuditAction};
use anshin_testkit::reqwest::{Response, StatusCode, header};
use anshin_testkit::webauthn::{Attestation, SoftAuthenticator, set_user_handle, tamper};
use anshin_testkit::{SECOND, TestApp, backends, cookie_pair, set_cookie};
use serde_json::Value;

use crate::staff::{csrf_of, enrolled, login, post_form};

/// Starts a ceremony: `(ceremony token, options)`.
async fn options(app: &TestApp, path: &str, cookie: Option<&str>) -> (String, Value) {
    let csrf = cookie.map(csrf_of).unwrap_or_default();
    let res = post_form(app, path, cookie, &[("csrf_token", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = res.json().await.unwrap();
    (
        v["ceremony"].as_str().unwrap().to_owned(),
        v["options"].clone(),
    )
}

/// Adds a passkey to the logged-in `cookie`'s account with `auth`.
async fn register(
    app: &TestApp,
    cookie: &str,
    auth: &mut SoftAuthenticator,
    name: &str,
) -> Response {
    let (ceremony, opts) = options(app, "/security/passkeys/options", Some(cookie)).await;
    let answer = auth.register(&opts).unwrap();
    let csrf = csrf_of(cookie);
    post_form(
        app,
        "/security/passkeys",
        Some(cookie),
        &[
            ("csrf_token", &csrf),
            ("ceremony", &ceremony),
            ("name", name),
            ("credential", &answer.to_string()),
        ],
    )
    .await
}

async fn post_login(app: &TestApp, email: &str, ceremony: &str, answer: &Value) -> Response {
    post_form(
        app,
        "/login/passkey",
        None,
        &[
            ("email", email),
            ("ceremony", ceremony),
            ("credential", &answer.to_string()),
        ],
    )
    .await
}

/// A refusal: 401 with the login page, and no session cookie.
fn assert_no_session(res: &Response, what: &str) {
    assert!(
        set_cookie(res, console::COOKIE).is_none(),
        "{what}: no session cookie"
    );
    assert_ne!(res.status(), StatusCode::SEE_OTHER, "{what}: not logged in");
}

async fn staff_id(app: &TestApp, email: &str) -> uuid::Uuid {
    anshin_core::staff::list(&app.services)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.email.as_str() == email)
        .unwrap()
        .id
        .as_uuid()
}

/// Acceptance 3: a staff member adds passkeys on their security page
/// (`none` and `packed` attestation), logs in with e-mail + passkey, sees
/// when it was used, and removes one, which then logs in no more. Every
/// step is in the audit log.
async fn c21_passkey_registration_and_login_with_a_software_authenticator(
    backend: anshin_testkit::Backend,
) {
    let app = TestApp::spawn(backend).await;
    let email = "pk-admin@example.jp";
    let secret = enrolled(&app, email, StaffRole::Admin).await;
    let cookie = login(&app, email, &secret).await;

    let page = app
        .client
        .get(app.staff_url("/security"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);

    // The registration options: this RP (a domain name), the staff id as
    // the user handle, a discoverable credential with user verification.
    let (ceremony, opts) = options(&app, "/security/passkeys/options", Some(&cookie)).await;
    let pk = &opts["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    let me = staff_id(&app, email).await;
    let mut auth = SoftAuthenticator::new(&app.staff_passkey_origin());
    let answer = auth.register(&opts).unwrap();
    assert_eq!(
        auth.credentials[0].user_handle,
        me.as_bytes().to_vec(),
        "the user handle is the staff id"
    );
    let form = |c: &str| {
        vec![
            ("csrf_token".to_owned(), csrf_of(&cookie)),
            ("ceremony".to_owned(), c.to_owned()),
            ("name".to_owned(), "work laptop".to_owned()),
            ("credential".to_owned(), answer.to_string()),
        ]
    };
    let added = app
        .client
        .post(app.staff_url("/security/passkeys"))
        .header(header::ORIGIN, &app.staff_origin)
        .header(header::COOKIE, &cookie)
        .form(&form(&ceremony))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(added.headers()[header::LOCATION], "/security");
    // The same answer again: the ceremony was used.
    let again = app
        .client
        .post(app.staff_url("/security/passkeys"))
        .header(header::ORIGIN, &app.staff_origin)
        .header(header::COOKIE, &cookie)
        .form(&form(&ceremony))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The options exclude what the person has: the same authenticator
    // refuses to make a second credential; another one (packed
    // self-attestation) adds a second passkey.
    let (_, opts2) = options(&app, "/security/passkeys/options", Some(&cookie)).await;
    assert!(auth.register(&opts2).is_err(), "excluded credential");
    let mut phone = SoftAuthenticator::new(&app.staff_passkey_origin());
    phone.attestation = Attestation::PackedSelf;
    let res = register(&app, &cookie, &mut phone, "phone").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app
        .client
        .get(app.staff_url("/security"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("work laptop") && page.contains("phone"),
        "{page}"
    );

    // Login with e-mail + passkey: a session, and the passkey's counter
    // and last use are recorded.
    let (ceremony, opts) = options(&app, "/login/passkey/options", None).await;
    assert_eq!(opts["publicKey"]["rpId"], "localhost");
    assert!(
        opts["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "the login options name no credential (no account is revealed)"
    );
    let answer = auth.login(&opts).unwrap();
    let res = post_login(&app, email, &ceremony, &answer).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "logged in with a passkey"
    );
    assert_eq!(res.headers()[header::LOCATION], "/");
    let session = cookie_pair(set_cookie(&res, console::COOKIE).unwrap());
    let home = app
        .client
        .get(app.staff_url("/"))
        .header(header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let stored = app
        .store
        .staff_passkeys()
        .list_staff_passkeys(anshin_core::domain::StaffId::from_uuid(me))
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored[0].last_used_at.is_some(), "the laptop was used");
    assert!(stored[1].last_used_at.is_none(), "the phone was not");
    assert!(
        stored[0].passkey.contains("\"counter\":1"),
        "the counter moved"
    );

    // The phone logs in too (second credential); then it is removed and
    // logs in no more.
    let (ceremony, opts) = options(&app, "/login/passkey/options", None).await;
    let res = post_login(&app, email, &ceremony, &phone.login(&opts).unwrap()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // Step-up with a passkey: once the second factor is old, managing
    // passkeys sends to /step-up; a tampered answer is refused, a genuine
    // one (a step-up ceremony naming the person's own credentials) makes
    // the session fresh again.
    app.clock.advance(301 * SECOND);
    let stale = post_form(
        &app,
        "/security/passkeys/options",
        Some(&session),
        &[("csrf_token", &csrf_of(&session))],
    )
    .await;
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
    assert_eq!(stale.headers()[header::LOCATION], "/step-up");
    let step = |c: &str, a: &Value| {
        vec![
            ("csrf_token".to_owned(), csrf_of(&session)),
            ("ceremony".to_owned(), c.to_owned()),
            ("credential".to_owned(), a.to_string()),
        ]
    };
    let (ceremony, opts) = options(&app, "/step-up/passkey/options", Some(&session)).await;
    assert_eq!(
        opts["publicKey"]["allowCredentials"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "the person's own two passkeys"
    );
    let mut forged = auth.login(&opts).unwrap();
    tamper(&mut forged, "signature");
    let refused = app
        .client
        .post(app.staff_url("/step-up/passkey"))
        .header(header::ORIGIN, &app.staff_origin)
        .header(header::COOKIE, &session)
        .form(&step(&ceremony, &forged))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let (ceremony, opts) = options(&app, "/step-up/passkey/options", Some(&session)).await;
    let up = app
        .client
        .post(app.staff_url("/step-up/passkey"))
        .header(header::ORIGIN, &app.staff_origin)
        .header(header::COOKIE, &session)
        .form(&step(&ceremony, &auth.login(&opts).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), StatusCode::SEE_OTHER);
    assert_eq!(up.headers()[header::LOCATION], "/");
    let fresh = post_form(
        &app,
        "/security/passkeys/options",
        Some(&session),
        &[("csrf_token", &csrf_of(&session))],
    )
    .await;
    assert_eq!(fresh.status(), StatusCode::OK, "stepped up with a passkey");

    let removed = post_form(
        &app,
        &format!("/security/passkeys/{}/remove", stored[1].id),
        Some(&session),
        &[("csrf_token", &csrf_of(&session))],
    )
    .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let (ceremony, opts) = options(&app, "/login/passkey/options", None).await;
    let res = post_login(&app, email, &ceremony, &phone.login(&opts).unwrap()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_no_session(&res, "a removed passkey");
    // Removing someone else's (or an unknown) passkey: not found.
    let gone = post_form(
        &app,
        &format!("/security/passkeys/{}/remove", stored[1].id),
        Some(&session),
        &[("csrf_token", &csrf_of(&session))],
    )
    .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    let log = app.store.audit().entries(0, 1000).await.unwrap();
    let seen = |action: AuditAction, reason: Option<&str>| {
        log.iter()
            .filter(|e| {
                e.entry.action == action
                    && e.entry.actor == Actor::Staff(me)
                    && reason.is_none_or(|r| e.entry.reason == r)
            })
            .count()
    };
    assert_eq!(seen(AuditAction::StaffPasskeyAdded, None), 2);
    assert_eq!(seen(AuditAction::StaffPasskeyRemoved, None), 1);
    assert_eq!(seen(AuditAction::StaffLogin, Some("passkey")), 2);
    assert_eq!(seen(AuditAction::StaffLogin, Some("totp")), 1);
    assert_eq!(
        seen(
            AuditAction::StaffLoginFailed,
            Some("passkey_unknown_credential")
        ),
        1
    );
}

backends!(c21_passkey_registration_and_login_with_a_software_authenticator);

/// Acceptance 3: no session from a wrong signature, a replayed answer
/// (the same ceremony twice, or an old answer to a new challenge),
/// another staff member's credential (by e-mail, or with its user handle
/// forged), or the e-mail alone. A refused answer uses its ceremony up.
async fn c21_passkey_login_refuses_forgeries_replays_other_accounts_and_the_email_alone(
    backend: anshin_testkit::Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (a, b) = ("pk-a@example.jp", "pk-b@example.jp");
    let mut auth_a = SoftAuthenticator::new(&app.staff_passkey_origin());
    let mut auth_b = SoftAuthenticator::new(&app.staff_passkey_origin());
    for (email, auth) in [(a, &mut auth_a), (b, &mut auth_b)] {
        let secret = enrolled(&app, email, StaffRole::Support).await;
        let cookie = login(&app, email, &secret).await;
        let res = register(&app, &cookie, auth, "key").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{email}");
    }
    let id_b = staff_id(&app, b).await;

    // A wrong signature; then the right one for the same ceremony: used
    // up by the refusal.
    let (ceremony, opts) = options(&app, "/login/passkey/options", None).await;
    let good = auth_a.login(&opts).unwrap();
    let mut forged = good.clone();
    tamper(&mut forged, "signature");
    let res = post_login(&app, a, &ceremony, &forged).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_no_session(&res, "a wrong signature");
    let res = post_login(&app, a, &ceremony, &good).await;
    assert_no_session(&res, "a ceremony used up by a refused answer");

    // Signed authenticator data changed (user verification flag off).
    let (ceremony, opts) = options(&app, "/login/passkey/options", None).await;
    let mut changed = auth_a.login(&opts).unwrap();
    tamper(&mut changed, "authenticatorData");
    assert_no_session(
        &post_login(&app, a, &ceremony, &changed).await,
        "changed data",
    );

    // Replays: the same answer twice; an old answer to a new challenge.
    let (ceremony, opts) = options(&app, "/login/passkey/options", None).await;
    let answer = auth_a.login(&opts).unwrap();
    let first = post_login(&app, a, &ceremony, &answer).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER, "the genuine answer");
    let replay = post_login(&app, a, &ceremony, &answer).await;
    assert_no_session(&replay, "the same ceremony again");
    let (fresh, _) = options(&app, "/login/passkey/options", None).await;
    assert_no_session(
        &post_login(&app, a, &fresh, &answer).await,
        "an old answer to a new challenge",
    );

    // Another staff member's credential: B's passkey with A's e-mail;
    // A's passkey with its user handle forged to B's id, with B's e-mail.
    let (ceremony, opts) = options(&app, "/login/passkey/options", None).await;
    let theirs = auth_b.login(&opts).unwrap();
    assert_no_session(
        &post_login(&app, a, &ceremony, &theirs).await,
        "B's key, A's e-mail",
    );
    let (ceremony, opts) = options(&app, "/login/passkey/options", None).await;
    let mut handle = auth_a.login(&opts).unwrap();
    set_user_handle(&mut handle, id_b.as_bytes());
    assert_no_session(
        &post_login(&app, b, &ceremony, &handle).await,
        "A's key with B's user handle",
    );

    // The e-mail alone: without an answer, with an empty one, with a
    // made-up ceremony; and the TOTP form without a code.
    let alone = post_form(&app, "/login/passkey", None, &[("email", b)]).await;
    assert_no_session(&alone, "the e-mail alone (passkey form)");
    let (ceremony, _) = options(&app, "/login/passkey/options", None).await;
    assert_no_session(
        &post_form(
            &app,
            "/login/passkey",
            None,
            &[("email", b), ("ceremony", &ceremony), ("credential", "{}")],
        )
        .await,
        "an empty answer",
    );
    assert_no_session(
        &post_form(
            &app,
            "/login/passkey",
            None,
            &[("email", b), ("ceremony", "made-up"), ("credential", "{}")],
        )
        .await,
        "a made-up ceremony",
    );
    assert_no_session(
        &post_form(&app, "/login", None, &[("email", b)]).await,
        "the e-mail alone (code form)",
    );

    // B still logs in with B's own passkey (nothing above locked B out).
    let (ceremony, opts) = options(&app, "/login/passkey/options", None).await;
    let res = post_login(&app, b, &ceremony, &auth_b.login(&opts).unwrap()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // Every refusal is in the audit log, with the check that failed.
    let log = app.store.audit().entries(0, 1000).await.unwrap();
    let reasons: Vec<&str> = log
        .iter()
        .filter(|e| e.entry.action == AuditAction::StaffLoginFailed)
        .map(|e| e.entry.reason.as_str())
        .collect();
    for expected in [
        "passkey_assertion_invalid",
        "passkey_ceremony_unknown_or_used",
        "passkey_credential_of_another_account",
    ] {
        assert!(reasons.contains(&expected), "{expected} in {reasons:?}");
    }
}

backends!(c21_passkey_login_refuses_forgeries_replays_other_accounts_and_the_email_alone);

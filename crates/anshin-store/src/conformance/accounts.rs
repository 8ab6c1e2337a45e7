//! Members, e-mail code flows (C11), login history (C10), known devices
//! and the login mail (C9), passwords (C12).

use super::fixtures::{
    at, commit, commit_fails, display_name, email, join_all, login, login_event, login_flow, mail,
    new_id, new_member, secs, sign_up, try_commit, visitor_session,
};
use crate::{
    Attempt, Changes, FlowPurpose, Lang, LoginMethod, LoginOutcome, MailStatus, Store, StoreError,
    TermsConsent, Timestamp, Write, guards,
};

/// A member reads back as created, by id and by (normalised) address.
pub async fn a_member_keeps_every_field_and_is_found_by_id_and_address(store: &dyn Store) {
    let now = at(0);
    let mut m = new_member("taro@example.jp", now);
    m.display_name = display_name("山田 太郎");
    m.language = Lang::En;
    m.terms = TermsConsent {
        version: "2026-12-01".into(),
        accepted_at: at(-30),
    };
    commit(store, Changes::new().with(Write::CreateMember(m.clone()))).await;
    let a = store.accounts();
    let found = a.find_member(m.id).await.expect("find").expect("member");
    assert_eq!(found.id, m.id);
    assert_eq!(found.email, m.email);
    assert_eq!(found.display_name, m.display_name);
    assert_eq!(found.language, Lang::En);
    assert_eq!(found.created_at, now);
    assert_eq!(
        found.password_hash, None,
        "members start without a password"
    );
    assert_eq!(found.password_changed_at, None);
    assert_eq!(
        found.terms,
        Some(TermsConsent {
            version: "2026-12-01".into(),
            accepted_at: at(-30),
        }),
        "the consent given at sign-up, with its own time"
    );
    let by_address = a
        .find_member_by_email(&email("  Taro@EXAMPLE.jp "))
        .await
        .expect("find")
        .expect("found by the normalised address");
    assert_eq!(by_address, found);
    assert!(
        a.find_member_by_email(&email("jiro@example.jp"))
            .await
            .expect("find")
            .is_none()
    );
}

/// One address, one account: a second sign-up with a taken address fails
/// with a conflict and writes nothing of its bundle.
pub async fn c11_sign_up_with_a_taken_address_is_a_conflict_and_writes_nothing(store: &dyn Store) {
    let now = at(0);
    let id = sign_up(store, "c@example.jp", now, 10).await;
    let again = new_member("C@example.jp", now);
    let again_id = again.id;
    let mut bundle = login(again_id, 11, now, LoginMethod::Signup);
    bundle.writes.insert(0, Write::CreateMember(again));
    let pending = store
        .mail()
        .count_by_status(MailStatus::Pending)
        .await
        .expect("count");
    let err = commit_fails(store, bundle).await;
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "a second member with the same e-mail: {err:?}"
    );
    let a = store.accounts();
    assert!(a.find_member(again_id).await.expect("find").is_none());
    assert_eq!(
        a.find_member_by_email(&email("c@example.jp"))
            .await
            .expect("find")
            .expect("first member")
            .id,
        id
    );
    assert!(
        store
            .sessions()
            .find_live(&[11; 32], now)
            .await
            .expect("find")
            .is_none(),
        "the refused sign-up wrote a session"
    );
    assert_eq!(
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count"),
        pending,
        "the refused sign-up queued a mail"
    );
}

/// A flow reads back as started, and a reserved attempt hands out the code
/// hash to compare with.
pub async fn c11_a_flow_keeps_every_field(store: &dyn Store) {
    let now = at(0);
    let mut f = login_flow("new@example.jp", None, now);
    f.purpose = FlowPurpose::Signup;
    f.display_name = Some(display_name("花子"));
    f.language = Lang::En;
    f.terms_version = Some("2026-12-01".into());
    f.code_hash = [42; 32];
    f.session_id = Some(new_id());
    commit(store, Changes::new().with(Write::StartFlow(f.clone()))).await;
    let a = store.accounts();
    let found = a.find_flow(f.id).await.expect("find").expect("flow");
    assert_eq!(found.id, f.id);
    assert_eq!(found.purpose, FlowPurpose::Signup);
    assert_eq!(found.email, f.email);
    assert_eq!(found.member_id, None);
    assert_eq!(found.display_name, f.display_name);
    assert_eq!(found.language, Lang::En);
    assert_eq!(found.session_id, f.session_id);
    assert_eq!(found.terms_version.as_deref(), Some("2026-12-01"));
    assert_eq!(found.created_at, now);
    assert_eq!(found.expires_at, now + secs(600));
    assert_eq!(found.attempts, 0);
    assert_eq!(found.consumed_at, None);
    match a.reserve_attempt(f.id, now, 5).await.expect("reserve") {
        Attempt::Reserved { flow, code_hash } => {
            assert_eq!(code_hash, [42; 32]);
            assert_eq!(flow.attempts, 1, "the reserved attempt is counted");
            assert_eq!(flow.id, f.id);
        }
        Attempt::Dead => panic!("a fresh flow is dead"),
    }
    assert!(
        a.find_flow(crate::FlowId::from_uuid(uuid::Uuid::now_v7()))
            .await
            .expect("find")
            .is_none()
    );
}

/// A later acceptance of new terms replaces the recorded version and
/// time, only for that member; accepting for a member who is gone changes
/// nothing and is no error.
pub async fn terms_acceptance_replaces_the_recorded_consent_of_that_member_only(store: &dyn Store) {
    let first = sign_up(store, "first@example.jp", at(0), 1).await;
    let second = sign_up(store, "second@example.jp", at(0), 2).await;
    let newer = TermsConsent {
        version: "2027-04-01".into(),
        accepted_at: at(3_600),
    };
    commit(
        store,
        Changes::new().with(Write::AcceptTerms {
            member: first,
            terms: newer.clone(),
        }),
    )
    .await;
    let a = store.accounts();
    let found = a.find_member(first).await.expect("find").expect("member");
    assert_eq!(found.terms, Some(newer));
    let other = a.find_member(second).await.expect("find").expect("member");
    assert_eq!(
        other.terms.map(|t| t.version).as_deref(),
        Some("2026-12-01"),
        "another member's consent is untouched"
    );
    commit(
        store,
        Changes::new().with(Write::AcceptTerms {
            member: crate::MemberId::from_uuid(uuid::Uuid::now_v7()),
            terms: TermsConsent {
                version: "2027-04-01".into(),
                accepted_at: at(3_600),
            },
        }),
    )
    .await;
}

pub async fn c11_code_attempts_are_bounded_and_inherited_by_a_new_code(store: &dyn Store) {
    let now = at(0);
    let a = store.accounts();
    let f1 = login_flow("a@example.jp", None, now);
    commit(store, Changes::new().with(Write::StartFlow(f1.clone()))).await;
    for _ in 0..3 {
        assert!(matches!(
            a.reserve_attempt(f1.id, now, 5).await.expect("reserve"),
            Attempt::Reserved { .. }
        ));
    }
    // A new code supersedes the old flow and keeps its count.
    let f2 = login_flow("a@example.jp", None, now + secs(1));
    commit(store, Changes::new().with(Write::StartFlow(f2.clone()))).await;
    assert_eq!(
        a.reserve_attempt(f1.id, now + secs(2), 5)
            .await
            .expect("old"),
        Attempt::Dead,
        "superseded flow still alive"
    );
    let old = a.find_flow(f1.id).await.expect("find").expect("old flow");
    assert_eq!(
        old.consumed_at,
        Some(now + secs(1)),
        "superseded at the new flow's start"
    );
    let found = a.find_flow(f2.id).await.expect("find").expect("flow");
    assert_eq!(found.attempts, 3, "new code reset the count");
    for _ in 0..2 {
        assert!(matches!(
            a.reserve_attempt(f2.id, now + secs(2), 5)
                .await
                .expect("reserve"),
            Attempt::Reserved { .. }
        ));
    }
    assert_eq!(
        a.reserve_attempt(f2.id, now + secs(2), 5)
            .await
            .expect("6th"),
        Attempt::Dead
    );
    // Expired flows are dead.
    let f3 = login_flow("b@example.jp", None, now);
    commit(store, Changes::new().with(Write::StartFlow(f3.clone()))).await;
    assert_eq!(
        a.reserve_attempt(f3.id, f3.expires_at, 5)
            .await
            .expect("expired"),
        Attempt::Dead
    );
    // An expired flow's count is not inherited: its code is gone anyway.
    let f4 = login_flow("b@example.jp", None, f3.expires_at);
    commit(store, Changes::new().with(Write::StartFlow(f4.clone()))).await;
    assert_eq!(
        a.find_flow(f4.id)
            .await
            .expect("find")
            .expect("f4")
            .attempts,
        0
    );
    // The resend limit counts every flow of the address since a moment.
    assert_eq!(
        a.count_flows_since(&email("a@example.jp"), now)
            .await
            .expect("count"),
        2
    );
    assert_eq!(
        a.count_flows_since(&email("a@example.jp"), now + secs(1))
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        a.count_flows_since(&email("nobody@example.jp"), Timestamp::EPOCH)
            .await
            .expect("count"),
        0
    );
}

pub async fn c11_parallel_code_attempts_never_exceed_the_limit(store: &dyn Store) {
    let now = at(0);
    let f = login_flow("race@example.jp", None, now);
    commit(store, Changes::new().with(Write::StartFlow(f.clone()))).await;
    let tries = (0..20).map(|_| store.accounts().reserve_attempt(f.id, now, 5));
    let results = join_all(tries).await;
    let reserved = results
        .iter()
        .filter(|r| matches!(r, Ok(Attempt::Reserved { .. })))
        .count();
    let dead = results
        .iter()
        .filter(|r| matches!(r, Ok(Attempt::Dead)))
        .count();
    assert_eq!(
        reserved, 5,
        "parallel requests got more attempts than allowed"
    );
    assert_eq!(dead, 15, "every other attempt is refused, none errs");
    assert_eq!(
        store
            .accounts()
            .find_flow(f.id)
            .await
            .expect("find")
            .expect("flow")
            .attempts,
        5
    );
}

/// Several code requests for one address at once (a double click, or an
/// attacker after more guesses): afterwards one flow is live, the others
/// superseded, so parallel requests cannot multiply the attempts.
pub async fn c11_parallel_code_requests_leave_one_live_flow(store: &dyn Store) {
    let now = at(0);
    let flows: Vec<_> = (0..10)
        .map(|_| login_flow("many@example.jp", None, now))
        .collect();
    let starts = flows
        .iter()
        .map(|f| try_commit(store, Changes::new().with(Write::StartFlow(f.clone()))));
    for r in join_all(starts).await {
        r.expect("start (no error under contention)");
    }
    let mut live = 0;
    for f in &flows {
        let found = store
            .accounts()
            .find_flow(f.id)
            .await
            .expect("find")
            .expect("every flow is recorded");
        if found.consumed_at.is_none() {
            live += 1;
        }
    }
    assert_eq!(live, 1, "parallel code requests left several live flows");
}

/// A new code requested while attempts are being counted on the old one
/// inherits every attempt the old flow counted: none is lost in between.
pub async fn c11_a_new_code_inherits_attempts_counted_while_it_is_requested(store: &dyn Store) {
    for round in 0..10u8 {
        let now = at(i64::from(round));
        let address = format!("inherit{round}@example.jp");
        let old = login_flow(&address, None, now);
        commit(store, Changes::new().with(Write::StartFlow(old.clone()))).await;
        let new = login_flow(&address, None, now);
        let reserves = (0..3).map(|_| async {
            store
                .accounts()
                .reserve_attempt(old.id, now, 5)
                .await
                .map(|_| ())
        });
        let start = async {
            store
                .commit(&Changes::new().with(Write::StartFlow(new.clone())))
                .await
        };
        let (reserved, started) = tokio::join!(join_all(reserves), start);
        started.expect("start");
        for r in reserved {
            r.expect("reserve");
        }
        let a = store.accounts();
        let old = a.find_flow(old.id).await.expect("find").expect("old");
        let new = a.find_flow(new.id).await.expect("find").expect("new");
        assert!(
            old.consumed_at.is_some(),
            "round {round}: old flow still live"
        );
        assert_eq!(
            new.attempts, old.attempts,
            "round {round}: attempts lost between the old code and the new"
        );
    }
}

/// A code logs in once: the second login with the same flow fails on the
/// flow guard and leaves no session, history entry, device or mail.
pub async fn c11_a_code_logs_in_once_and_the_refused_second_login_writes_nothing(
    store: &dyn Store,
) {
    let now = at(0);
    let id = sign_up(store, "c@example.jp", now, 10).await;
    let f = login_flow("c@example.jp", Some(id), now);
    commit(store, Changes::new().with(Write::StartFlow(f.clone()))).await;
    let with_flow = |seed| {
        let mut bundle = login(id, seed, now + secs(1), LoginMethod::Code);
        bundle.writes.insert(
            0,
            Write::ConsumeFlow {
                flow: f.id,
                at: now + secs(1),
            },
        );
        bundle
    };
    commit(store, with_flow(12)).await;
    let pending = store
        .mail()
        .count_by_status(MailStatus::Pending)
        .await
        .expect("count");
    let err = commit_fails(store, with_flow(13)).await;
    assert!(
        err.is_precondition(guards::FLOW_CONSUMED),
        "a flow logged in twice: {err:?}"
    );
    assert!(
        store
            .sessions()
            .find_live(&[13; 32], now + secs(2))
            .await
            .expect("find")
            .is_none(),
        "the refused login wrote a session"
    );
    let a = store.accounts();
    assert!(
        !a.device_known(id, &[13; 32]).await.expect("device"),
        "the refused login remembered its device"
    );
    assert_eq!(
        a.list_login_events(id, 10, 0).await.expect("events").len(),
        2,
        "sign-up and one login recorded, not the refused one"
    );
    assert_eq!(
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count"),
        pending,
        "the refused login queued its mail"
    );
    assert_eq!(
        a.find_flow(f.id)
            .await
            .expect("find")
            .expect("flow")
            .consumed_at,
        Some(now + secs(1)),
        "consumed by the first login"
    );
    assert_eq!(
        a.reserve_attempt(f.id, now + secs(2), 5)
            .await
            .expect("reserve"),
        Attempt::Dead,
        "a consumed flow takes no more attempts"
    );
}

/// A login writes its session, its history entry, the known device and the
/// login mail in one commit, and ends the visitor's session it replaces.
pub async fn c09_login_writes_session_history_known_device_and_mail_together(store: &dyn Store) {
    let now = at(0);
    let id = sign_up(store, "c@example.jp", now, 10).await;
    let visitor = visitor_session(11, now);
    commit(
        store,
        Changes::new().with(Write::CreateSession(visitor.clone())),
    )
    .await;
    let before = store
        .mail()
        .count_by_status(MailStatus::Pending)
        .await
        .expect("count");
    assert_eq!(before, 1, "the sign-up queued its mail with it");

    let mut bundle = login(id, 12, now + secs(1), LoginMethod::Code);
    bundle.writes.push(Write::EndSession(visitor.id));
    commit(store, bundle).await;

    let s = store
        .sessions()
        .find_live(&[12; 32], now + secs(2))
        .await
        .expect("find")
        .expect("session");
    assert_eq!(s.member(), Some(id));
    assert!(
        store
            .sessions()
            .find_live(&visitor.token_hash, now + secs(2))
            .await
            .expect("find")
            .is_none(),
        "the visitor's session survived the login"
    );
    let a = store.accounts();
    let events = a.list_login_events(id, 10, 0).await.expect("events");
    assert_eq!(
        events
            .iter()
            .map(|e| (e.method, e.outcome))
            .collect::<Vec<_>>(),
        [
            (LoginMethod::Code, LoginOutcome::Success),
            (LoginMethod::Signup, LoginOutcome::Success)
        ],
        "sign-up and login recorded, newest first"
    );
    assert!(a.device_known(id, &[12; 32]).await.expect("device"));
    assert!(a.device_known(id, &[10; 32]).await.expect("device"));
    assert!(!a.device_known(id, &[99; 32]).await.expect("device"));
    let other = sign_up(store, "other@example.jp", now, 20).await;
    assert!(
        !a.device_known(other, &[12; 32]).await.expect("device"),
        "a device is known per member"
    );
    assert_eq!(
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count"),
        before + 2,
        "the login and the second sign-up queued one mail each"
    );
    assert_eq!(
        a.find_member_by_email(&email("c@example.jp"))
            .await
            .expect("find")
            .expect("member")
            .id,
        id
    );
}

/// Seeing a known device again is not an error; it stays known.
pub async fn c09_remembering_a_known_device_again_keeps_it_known(store: &dyn Store) {
    let now = at(0);
    let id = sign_up(store, "dev@example.jp", now, 10).await;
    // The sign-up remembered device [10; 32]; a later login from it
    // remembers it again, in the same bundle as the new session.
    let mut again = login(id, 11, now + secs(60), LoginMethod::Password);
    again.writes.push(Write::RememberDevice {
        member: id,
        device_hash: [10; 32],
        at: now + secs(60),
    });
    commit(store, again).await;
    commit(
        store,
        Changes::new().with(Write::RememberDevice {
            member: id,
            device_hash: [10; 32],
            at: now + secs(120),
        }),
    )
    .await;
    let a = store.accounts();
    assert!(a.device_known(id, &[10; 32]).await.expect("device"));
    assert!(a.device_known(id, &[11; 32]).await.expect("device"));
}

/// The history is the member's own, newest first, at most `limit`
/// entries, and keeps failures as well as successes.
pub async fn c10_login_history_lists_newest_first_in_pages(store: &dyn Store) {
    let now = at(0);
    let id = sign_up(store, "hist@example.jp", now, 1).await;
    let other = sign_up(store, "hist2@example.jp", now, 2).await;
    let outcomes = [
        (LoginMethod::Password, LoginOutcome::Failure),
        (LoginMethod::Password, LoginOutcome::ChallengeFailed),
        (LoginMethod::Lock, LoginOutcome::Locked),
        (LoginMethod::Unlock, LoginOutcome::Success),
        (LoginMethod::Reauth, LoginOutcome::Success),
    ];
    let mut changes = Changes::new();
    for (i, (method, outcome)) in (1i64..).zip(outcomes) {
        let mut ev = login_event(id, at(i * 10), method, outcome);
        ev.ip = format!("192.0.2.{i}");
        ev.device = format!("device {i}");
        changes.push(Write::RecordLoginEvent(ev));
    }
    commit(store, changes).await;
    let a = store.accounts();
    let all = a.list_login_events(id, 100, 0).await.expect("events");
    assert_eq!(all.len(), 6, "sign-up and five entries");
    assert_eq!(
        all.iter().map(|e| e.at).collect::<Vec<_>>(),
        [at(50), at(40), at(30), at(20), at(10), at(0)],
        "newest first"
    );
    assert_eq!(all[0].method, LoginMethod::Reauth);
    assert_eq!(all[2].outcome, LoginOutcome::Locked);
    assert_eq!(all[4].outcome, LoginOutcome::Failure);
    assert_eq!(all[4].ip, "192.0.2.1");
    assert_eq!(all[4].device, "device 1");
    let two = a.list_login_events(id, 2, 0).await.expect("events");
    assert_eq!(two, all[..2].to_vec());
    // Pages: the next two after the newest two, and nothing past the end.
    let next = a.list_login_events(id, 2, 2).await.expect("events");
    assert_eq!(next, all[2..4.min(all.len())].to_vec());
    assert!(
        a.list_login_events(id, 2, all.len() as i64)
            .await
            .expect("events")
            .is_empty()
    );
    assert_eq!(
        a.list_login_events(other, 100, 0)
            .await
            .expect("events")
            .len(),
        1,
        "another member's history is their own"
    );
}

/// The password hash can be set (with its notice mail, C12), upgraded
/// only from the current hash, and removed (password-less again).
pub async fn c12_password_hash_is_set_upgraded_only_from_the_current_one_and_removed(
    store: &dyn Store,
) {
    let now = at(0);
    let id = sign_up(store, "f@example.jp", now, 30).await;
    let before = store
        .mail()
        .count_by_status(MailStatus::Pending)
        .await
        .expect("count");
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$x$y";
    commit(
        store,
        Changes::new()
            .with(Write::SetPasswordHash {
                member: id,
                hash: Some(hash.into()),
                at: now + secs(10),
            })
            .mail(super::fixtures::mail("password_changed", now + secs(10))),
    )
    .await;
    let a = store.accounts();
    let m = a.find_member(id).await.expect("find").expect("m");
    assert_eq!(m.password_hash.as_deref(), Some(hash));
    assert_eq!(m.password_changed_at, Some(now + secs(10)));
    assert_eq!(
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count"),
        before + 1,
        "the notice is queued with the change"
    );
    assert!(
        !a.upgrade_password_hash(id, "stale", "new")
            .await
            .expect("upgrade"),
        "upgraded from a hash that is no longer stored"
    );
    assert_eq!(
        a.find_member(id)
            .await
            .expect("find")
            .expect("m")
            .password_hash
            .as_deref(),
        Some(hash)
    );
    assert!(
        a.upgrade_password_hash(id, hash, "rehashed")
            .await
            .expect("upgrade")
    );
    let m = a.find_member(id).await.expect("find").expect("m");
    assert_eq!(m.password_hash.as_deref(), Some("rehashed"));
    assert_eq!(
        m.password_changed_at,
        Some(now + secs(10)),
        "a rehash is not a password change"
    );
    commit(
        store,
        Changes::new().with(Write::SetPasswordHash {
            member: id,
            hash: None,
            at: now + secs(20),
        }),
    )
    .await;
    let m = a.find_member(id).await.expect("find").expect("m");
    assert_eq!(m.password_hash, None);
    assert_eq!(m.password_changed_at, Some(now + secs(20)));
    assert!(
        !a.upgrade_password_hash(id, "rehashed", "x")
            .await
            .expect("upgrade"),
        "a removed password came back through the rehash"
    );
}

/// A display name change is stored; one for a member that does not exist
/// fails its whole bundle.
pub async fn a_display_name_change_is_stored_and_needs_the_member(store: &dyn Store) {
    let now = at(0);
    let id = sign_up(store, "name@example.jp", now, 30).await;
    commit(
        store,
        Changes::new().with(Write::SetDisplayName {
            member: id,
            name: display_name("新しい 名前"),
            at: now + secs(1),
        }),
    )
    .await;
    let a = store.accounts();
    let m = a.find_member(id).await.expect("find").expect("m");
    assert_eq!(m.display_name, display_name("新しい 名前"));
    let pending = store
        .mail()
        .count_by_status(MailStatus::Pending)
        .await
        .expect("count");
    let err = commit_fails(
        store,
        Changes::new()
            .with(Write::SetDisplayName {
                member: new_id(),
                name: display_name("誰か"),
                at: now + secs(2),
            })
            .mail(mail("never", now)),
    )
    .await;
    assert!(err.is_precondition(guards::MEMBER_NOT_FOUND), "{err:?}");
    assert_eq!(
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count"),
        pending,
        "the refused bundle queued its mail"
    );
}

/// An e-mail change moves the address logins look the member up by, in
/// the same commit as its notice, and ends every live code flow of the
/// member: a code mailed to the old address logs nobody in afterwards.
pub async fn c11_an_email_change_moves_the_lookup_and_ends_the_members_live_flows(
    store: &dyn Store,
) {
    let now = at(0);
    let id = sign_up(store, "old@example.jp", now, 31).await;
    let other = sign_up(store, "bystander@example.jp", now, 32).await;
    let old_login = login_flow("old@example.jp", Some(id), now);
    let mut reauth = login_flow("old@example.jp", Some(id), now);
    reauth.purpose = FlowPurpose::Reauth;
    let bystander = login_flow("bystander@example.jp", Some(other), now);
    let mut change = login_flow("new@example.jp", Some(id), now);
    change.purpose = FlowPurpose::EmailChange;
    for f in [&old_login, &reauth, &bystander, &change] {
        commit(store, Changes::new().with(Write::StartFlow(f.clone()))).await;
    }
    let pending = store
        .mail()
        .count_by_status(MailStatus::Pending)
        .await
        .expect("count");
    let later = now + secs(60);
    commit(
        store,
        Changes::new()
            .with(Write::ConsumeFlow {
                flow: change.id,
                at: later,
            })
            .with(Write::ChangeEmail {
                member: id,
                from: email("old@example.jp"),
                to: email("New@Example.jp"),
                at: later,
            })
            .mail(mail("email_changed", later)),
    )
    .await;
    let a = store.accounts();
    assert!(
        a.find_member_by_email(&email("old@example.jp"))
            .await
            .expect("find")
            .is_none(),
        "the old address still finds the account"
    );
    let m = a
        .find_member_by_email(&email("new@example.jp"))
        .await
        .expect("find")
        .expect("the new address finds the account");
    assert_eq!(m.id, id);
    assert_eq!(m.email, email("new@example.jp"));
    for (f, what) in [
        (&old_login, "login code to the old address"),
        (&reauth, "re-authentication code"),
        (&change, "the change's own code"),
    ] {
        assert_eq!(
            a.reserve_attempt(f.id, later, 5).await.expect("reserve"),
            Attempt::Dead,
            "{what} still works"
        );
        assert_eq!(
            a.find_flow(f.id)
                .await
                .expect("find")
                .expect("flow")
                .consumed_at,
            Some(later)
        );
    }
    assert!(
        matches!(
            a.reserve_attempt(bystander.id, later, 5)
                .await
                .expect("reserve"),
            Attempt::Reserved { .. }
        ),
        "another member's flow was ended"
    );
    assert_eq!(
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count"),
        pending + 1,
        "the notice is queued with the change"
    );
}

/// A change to an address another member has is a conflict; one decided
/// from an address the member no longer has fails its guard. Either way
/// nothing of the bundle is written: no address, no consumed flow, no mail.
pub async fn c11_an_email_change_to_a_taken_or_from_a_stale_address_writes_nothing(
    store: &dyn Store,
) {
    let now = at(0);
    let id = sign_up(store, "mine@example.jp", now, 33).await;
    sign_up(store, "taken@example.jp", now, 34).await;
    let mut change = login_flow("taken@example.jp", Some(id), now);
    change.purpose = FlowPurpose::EmailChange;
    let pending_login = login_flow("mine@example.jp", Some(id), now);
    for f in [&change, &pending_login] {
        commit(store, Changes::new().with(Write::StartFlow(f.clone()))).await;
    }
    let pending = store
        .mail()
        .count_by_status(MailStatus::Pending)
        .await
        .expect("count");
    let bundle = |from: &str, to: &str| {
        Changes::new()
            .with(Write::ConsumeFlow {
                flow: change.id,
                at: now,
            })
            .with(Write::ChangeEmail {
                member: id,
                from: email(from),
                to: email(to),
                at: now,
            })
            .mail(mail("email_changed", now))
    };
    let err = commit_fails(store, bundle("mine@example.jp", "taken@example.jp")).await;
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = commit_fails(store, bundle("stale@example.jp", "free@example.jp")).await;
    assert!(err.is_precondition(guards::EMAIL_CHANGED), "{err:?}");
    let a = store.accounts();
    assert_eq!(
        a.find_member(id).await.expect("find").expect("m").email,
        email("mine@example.jp")
    );
    for f in [&change, &pending_login] {
        assert_eq!(
            a.find_flow(f.id)
                .await
                .expect("find")
                .expect("flow")
                .consumed_at,
            None,
            "a refused change ended a flow"
        );
    }
    assert_eq!(
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count"),
        pending
    );
}

/// E-mail changes are counted per member, whatever address each named,
/// and only those of the purpose asked for.
pub async fn c11_member_flows_are_counted_per_member_and_purpose(store: &dyn Store) {
    let now = at(0);
    let id = sign_up(store, "counted@example.jp", now, 35).await;
    let other = sign_up(store, "other@example.jp", now, 36).await;
    for (i, address) in ["a@example.jp", "b@example.jp", "c@example.jp"]
        .into_iter()
        .enumerate()
    {
        let mut f = login_flow(address, Some(id), at(i64::try_from(i).expect("small")));
        f.purpose = FlowPurpose::EmailChange;
        commit(store, Changes::new().with(Write::StartFlow(f))).await;
    }
    let mut theirs = login_flow("d@example.jp", Some(other), now);
    theirs.purpose = FlowPurpose::EmailChange;
    commit(store, Changes::new().with(Write::StartFlow(theirs))).await;
    commit(
        store,
        Changes::new().with(Write::StartFlow(login_flow(
            "counted@example.jp",
            Some(id),
            now,
        ))),
    )
    .await;
    let a = store.accounts();
    let count = |since| a.count_member_flows_since(id, FlowPurpose::EmailChange, since);
    assert_eq!(count(now).await.expect("count"), 3);
    assert_eq!(count(at(1)).await.expect("count"), 2);
    assert_eq!(count(at(3)).await.expect("count"), 0);
    assert_eq!(
        a.count_member_flows_since(id, FlowPurpose::Login, now)
            .await
            .expect("count"),
        1
    );
}

/// The retention purge (C26) deletes every member's login events older
/// than the cut-off, and only those.
pub async fn c26_purging_login_history_deletes_only_events_before_the_cut_off(store: &dyn Store) {
    let id = sign_up(store, "old-hist@example.jp", at(0), 1).await;
    let other = sign_up(store, "new-hist@example.jp", at(0), 2).await;
    let mut changes = Changes::new();
    for t in [10, 20, 30] {
        changes.push(Write::RecordLoginEvent(login_event(
            id,
            at(t),
            LoginMethod::Password,
            LoginOutcome::Success,
        )));
    }
    changes.push(Write::RecordLoginEvent(login_event(
        other,
        at(25),
        LoginMethod::Password,
        LoginOutcome::Failure,
    )));
    commit(store, changes).await;
    let a = store.accounts();
    assert_eq!(a.purge_login_events(at(0)).await.expect("purge"), 0);
    // Before at(20): both sign-ups (at 0) and the event at 10.
    assert_eq!(a.purge_login_events(at(20)).await.expect("purge"), 3);
    let left = a.list_login_events(id, 100, 0).await.expect("events");
    assert_eq!(
        left.iter().map(|e| e.at).collect::<Vec<_>>(),
        [at(30), at(20)]
    );
    let left = a.list_login_events(other, 100, 0).await.expect("events");
    assert_eq!(left.iter().map(|e| e.at).collect::<Vec<_>>(), [at(25)]);
    assert_eq!(a.purge_login_events(at(20)).await.expect("purge"), 0);
}

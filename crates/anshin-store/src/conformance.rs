//! The conformance suite: every backend runs these same checks against a
//! real, freshly migrated database (see each backend's `tests/`). A backend
//! that passes them behaves as the application expects.

// This module is test code that backends run from their own tests; a panic
// with a message is how it reports a difference.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use uuid::Uuid;

use crate::{
    AddressRecord, Attempt, FlowPurpose, KekRetirement, LoginWrite, NewFlow, NewLoginEvent,
    NewMail, NewMember, NewSession, SessionLogin, Store, StoreError,
};

/// Runs every check in order; panics (this is test code) on the first
/// difference, naming it.
pub async fn run_all(store: &dyn Store) {
    schema_is_current_after_migrate(store).await;
    migrate_is_idempotent(store).await;
    sessions_round_trip(store).await;
    sessions_expire_by_idle_and_absolute_deadline(store).await;
    session_token_hashes_are_unique(store).await;
    sessions_delete_and_purge(store).await;
    code_attempts_are_bounded_and_inherited(store).await;
    parallel_attempts_never_exceed_the_limit(store).await;
    login_consumes_its_flow_once_and_writes_everything(store).await;
    member_sessions_list_and_end(store).await;
    password_hash_can_be_removed(store).await;
    mail_outbox_claims_with_a_lease(store).await;
    key_check_keeps_the_first_value(store).await;
    account_lock_starts_at_the_threshold_and_grows(store).await;
    parallel_attempts_never_pass_the_lock(store).await;
    windowed_failures_and_unlock_tokens(store).await;
    c07_challenge_solution_is_accepted_once(store).await;
    c07_parallel_consumes_accept_a_challenge_once(store).await;
    c07_expired_challenges_are_purged(store).await;
    member_data_round_trip_defaults_and_shred(store).await;
    member_data_maintenance_is_compare_and_swap(store).await;
    c13_set_default_address_touches_only_the_flag_of_the_owners_address(store).await;
    c13_parallel_default_changes_and_edits_keep_one_default_and_every_edit(store).await;
    c13_retired_kek_version_takes_no_new_data_key(store).await;
    c13_retire_and_a_new_data_key_never_both_succeed(store).await;
}

fn session(seed: u8, now: i64) -> NewSession {
    NewSession {
        id: Uuid::now_v7(),
        token_hash: [seed; 32],
        created_at: now,
        absolute_expires_at: now + 1_000,
        idle_expires_at: now + 100,
        login: None,
    }
}

pub async fn schema_is_current_after_migrate(store: &dyn Store) {
    store.migrate().await.expect("migrate");
    store.ping().await.expect("ping");
    let status = store.schema_status().await.expect("schema status");
    assert!(status.known > 0, "no migrations embedded");
    assert!(status.is_current(), "schema not current: {status:?}");
}

pub async fn migrate_is_idempotent(store: &dyn Store) {
    store.migrate().await.expect("first migrate");
    store.migrate().await.expect("second migrate");
    assert!(store.schema_status().await.expect("status").is_current());
}

pub async fn sessions_round_trip(store: &dyn Store) {
    let now = 1_700_000_000_000_000;
    let new = session(1, now);
    store.sessions().create(&new).await.expect("create");
    let found = store
        .sessions()
        .find_live(&new.token_hash, now + 1)
        .await
        .expect("find")
        .expect("session present");
    assert_eq!(found.id, new.id);
    assert_eq!(found.token_hash, new.token_hash);
    assert_eq!(found.created_at, now);
    assert_eq!(found.last_seen_at, now);
    assert_eq!(found.absolute_expires_at, new.absolute_expires_at);
    assert_eq!(found.idle_expires_at, new.idle_expires_at);

    store
        .sessions()
        .touch(new.id, now + 50, now + 150)
        .await
        .expect("touch");
    let touched = store
        .sessions()
        .find_live(&new.token_hash, now + 120)
        .await
        .expect("find after touch")
        .expect("touch extended the idle deadline");
    assert_eq!(touched.last_seen_at, now + 50);
    assert_eq!(touched.idle_expires_at, now + 150);
}

pub async fn sessions_expire_by_idle_and_absolute_deadline(store: &dyn Store) {
    let now = 1_700_000_100_000_000;
    let new = session(2, now);
    store.sessions().create(&new).await.expect("create");
    let repo = store.sessions();
    assert!(
        repo.find_live(&new.token_hash, now + 99)
            .await
            .expect("find")
            .is_some()
    );
    assert!(
        repo.find_live(&new.token_hash, now + 100)
            .await
            .expect("find")
            .is_none(),
        "idle deadline not enforced"
    );
    // Keep it active past the absolute deadline: it must still die.
    repo.touch(new.id, now + 990, now + 2_000)
        .await
        .expect("touch");
    assert!(
        repo.find_live(&new.token_hash, now + 999)
            .await
            .expect("find")
            .is_some()
    );
    assert!(
        repo.find_live(&new.token_hash, now + 1_000)
            .await
            .expect("find")
            .is_none(),
        "absolute deadline not enforced"
    );
}

pub async fn session_token_hashes_are_unique(store: &dyn Store) {
    let now = 1_700_000_200_000_000;
    let first = session(3, now);
    store.sessions().create(&first).await.expect("create");
    let mut second = session(3, now);
    second.id = Uuid::now_v7();
    let err = store.sessions().create(&second).await;
    assert!(
        matches!(err, Err(crate::StoreError::Conflict(_))),
        "duplicate token hash accepted: {err:?}"
    );
}

pub async fn sessions_delete_and_purge(store: &dyn Store) {
    let now = 1_700_000_300_000_000;
    let repo = store.sessions();
    let a = session(4, now);
    let b = session(5, now);
    repo.create(&a).await.expect("create a");
    repo.create(&b).await.expect("create b");
    assert!(repo.delete(a.id).await.expect("delete"));
    assert!(!repo.delete(a.id).await.expect("delete again"));
    assert!(
        repo.find_live(&a.token_hash, now)
            .await
            .expect("find")
            .is_none()
    );
    // Everything created by the checks above has expired by now + 10_000_000.
    let purged = repo.purge_expired(now + 10_000_000).await.expect("purge");
    assert!(purged >= 1, "purge removed nothing");
    assert!(
        repo.find_live(&b.token_hash, now)
            .await
            .expect("find")
            .is_none()
    );
}

fn mail(now: i64) -> NewMail {
    NewMail {
        id: Uuid::now_v7(),
        kind: "test",
        created_at: now,
        payload: vec![1, 2, 3],
    }
}

fn flow(email: &str, member: Option<Uuid>, now: i64) -> NewFlow {
    NewFlow {
        id: Uuid::now_v7(),
        purpose: FlowPurpose::Login,
        email: email.to_owned(),
        member_id: member,
        display_name: None,
        language: "ja".into(),
        code_hash: [7; 32],
        created_at: now,
        expires_at: now + 600_000_000,
    }
}

fn member(email: &str, now: i64) -> NewMember {
    NewMember {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        display_name: "Test".into(),
        language: "ja".into(),
        created_at: now,
    }
}

fn login_write(
    member_id: Uuid,
    consume: Option<Uuid>,
    create: Option<NewMember>,
    now: i64,
    seed: u8,
) -> LoginWrite {
    LoginWrite {
        consume_flow: consume,
        create_member: create,
        session: NewSession {
            id: Uuid::now_v7(),
            token_hash: [seed; 32],
            created_at: now,
            absolute_expires_at: now + 1_000_000_000,
            idle_expires_at: now + 1_000_000_000,
            login: Some(SessionLogin {
                member_id,
                authenticated_at: now,
                ip: "192.0.2.1".into(),
                device: "Firefox on Linux".into(),
                method: "code".into(),
            }),
        },
        end_session: None,
        event: NewLoginEvent {
            id: Uuid::now_v7(),
            member_id,
            at: now,
            ip: "192.0.2.1".into(),
            device: "Firefox on Linux".into(),
            method: "code".into(),
            outcome: "success".into(),
        },
        device_hash: [seed; 32],
        mail: mail(now),
    }
}

/// A signed-up member, created through `complete_login` as sign-up does.
async fn signed_up(store: &dyn Store, email: &str, now: i64, seed: u8) -> Uuid {
    let m = member(email, now);
    let id = m.id;
    let w = login_write(id, None, Some(m), now, seed);
    assert!(store.accounts().complete_login(&w).await.expect("sign up"));
    id
}

pub async fn code_attempts_are_bounded_and_inherited(store: &dyn Store) {
    let now = 1_700_001_000_000_000;
    let a = store.accounts();
    let f1 = flow("a@example.jp", None, now);
    a.start_flow(&f1, now, &mail(now)).await.expect("start");
    for _ in 0..3 {
        assert!(matches!(
            a.reserve_attempt(f1.id, now, 5).await.expect("reserve"),
            Attempt::Reserved { .. }
        ));
    }
    // A new code supersedes the old flow and keeps its count.
    let f2 = flow("a@example.jp", None, now + 1);
    a.start_flow(&f2, now + 1, &mail(now + 1))
        .await
        .expect("start 2");
    assert_eq!(
        a.reserve_attempt(f1.id, now + 2, 5).await.expect("old"),
        Attempt::Dead,
        "superseded flow still alive"
    );
    let found = a.find_flow(f2.id).await.expect("find").expect("flow");
    assert_eq!(found.attempts, 3, "new code reset the count");
    for _ in 0..2 {
        assert!(matches!(
            a.reserve_attempt(f2.id, now + 2, 5).await.expect("reserve"),
            Attempt::Reserved { .. }
        ));
    }
    assert_eq!(
        a.reserve_attempt(f2.id, now + 2, 5).await.expect("6th"),
        Attempt::Dead
    );
    // Expired flows are dead.
    let f3 = flow("b@example.jp", None, now);
    a.start_flow(&f3, now, &mail(now)).await.expect("start 3");
    assert_eq!(
        a.reserve_attempt(f3.id, f3.expires_at, 5)
            .await
            .expect("expired"),
        Attempt::Dead
    );
    assert_eq!(
        a.count_flows_since("a@example.jp", now)
            .await
            .expect("count"),
        2
    );
}

pub async fn parallel_attempts_never_exceed_the_limit(store: &dyn Store) {
    let now = 1_700_002_000_000_000;
    let f = flow("race@example.jp", None, now);
    store
        .accounts()
        .start_flow(&f, now, &mail(now))
        .await
        .expect("start");
    let tries = (0..20).map(|_| store.accounts().reserve_attempt(f.id, now, 5));
    let results = futures_join_all(tries).await;
    let reserved = results
        .into_iter()
        .filter(|r| matches!(r, Ok(Attempt::Reserved { .. })))
        .count();
    assert_eq!(
        reserved, 5,
        "parallel requests got more attempts than allowed"
    );
}

/// A tiny join_all, to keep this crate free of extra dependencies.
async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out = Vec::new();
    // Poll them concurrently through tokio's join machinery.
    let handles: Vec<_> = set.into_iter().collect();
    for r in join_all_boxed(handles).await {
        out.push(r);
    }
    out
}

async fn join_all_boxed<F: std::future::Future + Unpin>(mut futs: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut results: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if results[i].is_none() {
                match std::pin::Pin::new(&mut *f).poll(cx) {
                    Poll::Ready(v) => results[i] = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

pub async fn login_consumes_its_flow_once_and_writes_everything(store: &dyn Store) {
    let now = 1_700_003_000_000_000;
    let id = signed_up(store, "c@example.jp", now, 10).await;
    let a = store.accounts();
    let again = login_write(
        Uuid::now_v7(),
        None,
        Some(member("c@example.jp", now)),
        now,
        11,
    );
    assert!(
        matches!(
            a.complete_login(&again).await,
            Err(crate::StoreError::Conflict(_))
        ),
        "a second member with the same e-mail"
    );
    let f = flow("c@example.jp", Some(id), now);
    a.start_flow(&f, now, &mail(now)).await.expect("start");
    let first = login_write(id, Some(f.id), None, now + 1, 12);
    let second = login_write(id, Some(f.id), None, now + 1, 13);
    assert!(a.complete_login(&first).await.expect("first"));
    assert!(
        !a.complete_login(&second).await.expect("second"),
        "a flow logged in twice"
    );
    assert!(
        store
            .sessions()
            .find_live(&[13; 32], now + 2)
            .await
            .expect("find")
            .is_none(),
        "the refused login wrote a session"
    );
    let s = store
        .sessions()
        .find_live(&[12; 32], now + 2)
        .await
        .expect("find")
        .expect("session");
    assert_eq!(s.login.expect("member session").member_id, id);
    let events = a.list_login_events(id, 10).await.expect("events");
    assert_eq!(events.len(), 2, "sign-up and login recorded");
    assert!(a.device_known(id, &[12; 32]).await.expect("device"));
    assert!(!a.device_known(id, &[99; 32]).await.expect("device"));
    assert_eq!(
        a.find_member_by_email("c@example.jp")
            .await
            .expect("find")
            .expect("member")
            .id,
        id
    );
}

pub async fn member_sessions_list_and_end(store: &dyn Store) {
    let now = 1_700_004_000_000_000;
    let id = signed_up(store, "d@example.jp", now, 20).await;
    let a = store.accounts();
    assert!(
        a.complete_login(&login_write(id, None, None, now + 1, 21))
            .await
            .expect("login")
    );
    assert!(
        a.complete_login(&login_write(id, None, None, now + 2, 22))
            .await
            .expect("login")
    );
    let s = store.sessions();
    let list = s.list_for_member(id, now + 3).await.expect("list");
    assert_eq!(list.len(), 3);
    let keep = list[0].id;
    let other_member = signed_up(store, "e@example.jp", now, 23).await;
    assert!(
        !s.delete_for_member(other_member, keep)
            .await
            .expect("delete"),
        "ended another member's session"
    );
    assert!(s.delete_for_member(id, list[2].id).await.expect("delete"));
    assert_eq!(
        s.delete_all_for_member(id, Some(keep))
            .await
            .expect("others"),
        1
    );
    let left = s.list_for_member(id, now + 3).await.expect("list");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, keep);
}

pub async fn password_hash_can_be_removed(store: &dyn Store) {
    let now = 1_700_005_000_000_000;
    let id = signed_up(store, "f@example.jp", now, 30).await;
    let a = store.accounts();
    a.set_password_hash(
        id,
        Some("$argon2id$v=19$m=19456,t=2,p=1$x$y"),
        now,
        Some(&mail(now)),
    )
    .await
    .expect("set");
    assert!(
        a.find_member(id)
            .await
            .expect("find")
            .expect("m")
            .password_hash
            .is_some()
    );
    assert!(
        !a.upgrade_password_hash(id, "stale", "new")
            .await
            .expect("upgrade")
    );
    a.set_password_hash(id, None, now, None)
        .await
        .expect("remove");
    let m = a.find_member(id).await.expect("find").expect("m");
    assert_eq!(m.password_hash, None);
}

pub async fn mail_outbox_claims_with_a_lease(store: &dyn Store) {
    let now = 1_800_000_000_000_000;
    let m = store.mail();
    // Drain what earlier checks queued.
    while let Some(item) = m.claim_due(now, now + 10).await.expect("drain") {
        m.mark_sent(item.id, now).await.expect("sent");
    }
    let queued = mail(now);
    m.enqueue(&queued).await.expect("enqueue");
    let item = m
        .claim_due(now, now + 100)
        .await
        .expect("claim")
        .expect("item");
    assert_eq!(item.id, queued.id);
    assert_eq!(item.payload, vec![1, 2, 3]);
    assert_eq!(item.attempts, 1);
    assert!(
        m.claim_due(now + 50, now + 150)
            .await
            .expect("claim")
            .is_none(),
        "leased row claimed twice"
    );
    let again = m
        .claim_due(now + 100, now + 200)
        .await
        .expect("claim")
        .expect("lease expired");
    assert_eq!(again.attempts, 2);
    m.mark_retry(again.id, now + 1_000, "421 try later")
        .await
        .expect("retry");
    assert!(
        m.claim_due(now + 500, now + 600)
            .await
            .expect("claim")
            .is_none(),
        "retried before its time"
    );
    let third = m
        .claim_due(now + 1_000, now + 1_100)
        .await
        .expect("claim")
        .expect("due");
    m.mark_sent(third.id, now + 1_000).await.expect("sent");
    assert!(
        m.claim_due(now + 5_000, now + 6_000)
            .await
            .expect("claim")
            .is_none()
    );
    let failed = mail(now);
    m.enqueue(&failed).await.expect("enqueue");
    let item = m
        .claim_due(now + 5_000, now + 6_000)
        .await
        .expect("claim")
        .expect("item");
    m.mark_failed(item.id, "550 no such user")
        .await
        .expect("failed");
    assert_eq!(m.count_by_status("failed").await.expect("count"), 1);
    assert!(
        m.claim_due(now + 9_000, now + 9_100)
            .await
            .expect("claim")
            .is_none()
    );
}

pub async fn key_check_keeps_the_first_value(store: &dyn Store) {
    assert_eq!(store.key_check(b"first").await.expect("set"), b"first");
    assert_eq!(store.key_check(b"second").await.expect("get"), b"first");
}

const POLICY: crate::LockPolicy = crate::LockPolicy {
    threshold: 10,
    delays: [60, 300, 900, 3600],
};

pub async fn account_lock_starts_at_the_threshold_and_grows(store: &dyn Store) {
    use crate::Reservation;
    let t = store.throttle();
    let now = 1_900_000_000_000_000;
    for i in 1..=9 {
        assert_eq!(
            t.reserve_attempt("acct:lock@example.jp", now, &POLICY)
                .await
                .expect("reserve"),
            Reservation::Allowed {
                count: i,
                locked_now: false
            }
        );
    }
    assert_eq!(
        t.reserve_attempt("acct:lock@example.jp", now, &POLICY)
            .await
            .expect("10th"),
        Reservation::Allowed {
            count: 10,
            locked_now: true
        }
    );
    assert_eq!(
        t.reserve_attempt("acct:lock@example.jp", now + 59, &POLICY)
            .await
            .expect("locked"),
        Reservation::Locked { until: now + 60 }
    );
    // After the first delay, ten more failures lock for the second delay.
    for _ in 11..=19 {
        assert!(matches!(
            t.reserve_attempt("acct:lock@example.jp", now + 60, &POLICY)
                .await
                .expect("r"),
            Reservation::Allowed {
                locked_now: false,
                ..
            }
        ));
    }
    assert_eq!(
        t.reserve_attempt("acct:lock@example.jp", now + 60, &POLICY)
            .await
            .expect("20th"),
        Reservation::Allowed {
            count: 20,
            locked_now: true
        }
    );
    assert_eq!(
        t.reserve_attempt("acct:lock@example.jp", now + 61, &POLICY)
            .await
            .expect("locked"),
        Reservation::Locked {
            until: now + 60 + 300
        }
    );
    assert_eq!(
        t.consecutive_failures("acct:lock@example.jp")
            .await
            .expect("read"),
        20,
        "locked attempts are not counted"
    );
    t.reset("acct:lock@example.jp").await.expect("reset");
    assert_eq!(
        t.consecutive_failures("acct:lock@example.jp")
            .await
            .expect("read"),
        0
    );
    assert_eq!(
        t.consecutive_failures("acct:never@example.jp")
            .await
            .expect("read"),
        0
    );
    assert_eq!(
        t.reserve_attempt("acct:lock@example.jp", now + 62, &POLICY)
            .await
            .expect("after reset"),
        Reservation::Allowed {
            count: 1,
            locked_now: false
        }
    );
}

pub async fn parallel_attempts_never_pass_the_lock(store: &dyn Store) {
    let now = 1_900_000_100_000_000;
    let tries = (0..50).map(|_| {
        store
            .throttle()
            .reserve_attempt("acct:race@example.jp", now, &POLICY)
    });
    let results = futures_join_all(tries).await;
    let allowed = results
        .iter()
        .filter(|r| matches!(r, Ok(crate::Reservation::Allowed { .. })))
        .count();
    let locked = results
        .iter()
        .filter(|r| matches!(r, Ok(crate::Reservation::Locked { .. })))
        .count();
    assert_eq!(
        allowed, 10,
        "parallel attempts got past the lock: {results:?}"
    );
    assert_eq!(locked, 40);
}

pub async fn windowed_failures_and_unlock_tokens(store: &dyn Store) {
    let t = store.throttle();
    let now = 1_900_000_200_000_000;
    let keys = vec!["ip:192.0.2.7".to_owned(), "global".to_owned()];
    for _ in 0..3 {
        t.note_failure(&keys, now, 1_000).await.expect("note");
    }
    assert_eq!(
        t.failures_in_window("ip:192.0.2.7", now + 999, 1_000)
            .await
            .expect("count"),
        3
    );
    assert_eq!(
        t.failures_in_window("ip:192.0.2.7", now + 1_000, 1_000)
            .await
            .expect("count"),
        0,
        "window over"
    );
    t.note_failure(&keys, now + 1_000, 1_000)
        .await
        .expect("note");
    assert_eq!(
        t.failures_in_window("ip:192.0.2.7", now + 1_001, 1_000)
            .await
            .expect("count"),
        1,
        "new window"
    );
    t.create_unlock_token(&[9; 32], "lock@example.jp", now, now + 100)
        .await
        .expect("token");
    assert_eq!(
        t.take_unlock_token(&[8; 32], now).await.expect("take"),
        None
    );
    assert_eq!(
        t.take_unlock_token(&[9; 32], now)
            .await
            .expect("take")
            .as_deref(),
        Some("lock@example.jp")
    );
    assert_eq!(
        t.take_unlock_token(&[9; 32], now).await.expect("again"),
        None,
        "unlock token used twice"
    );
    t.create_unlock_token(&[10; 32], "lock@example.jp", now, now + 100)
        .await
        .expect("token");
    assert_eq!(
        t.take_unlock_token(&[10; 32], now + 100)
            .await
            .expect("expired"),
        None
    );
}

pub async fn c07_challenge_solution_is_accepted_once(store: &dyn Store) {
    let now = 1_700_003_000_000_000;
    let repo = store.challenges();
    assert!(repo.consume(&[7; 32], now + 100).await.expect("first"));
    assert!(
        !repo.consume(&[7; 32], now + 100).await.expect("replay"),
        "a replayed challenge was accepted twice"
    );
    assert!(
        repo.consume(&[8; 32], now + 100).await.expect("other"),
        "a different challenge is independent"
    );
}

pub async fn c07_parallel_consumes_accept_a_challenge_once(store: &dyn Store) {
    let now = 1_700_003_100_000_000;
    let tries = (0..10).map(|_| store.challenges().consume(&[9; 32], now + 100));
    let accepted = futures_join_all(tries)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    assert_eq!(accepted, 1, "parallel submissions of one solution");
}

pub async fn c07_expired_challenges_are_purged(store: &dyn Store) {
    let now = 1_700_003_200_000_000;
    let repo = store.challenges();
    assert!(repo.consume(&[10; 32], now + 10).await.expect("short"));
    assert!(repo.consume(&[11; 32], now + 1_000).await.expect("long"));
    let purged = repo.purge_expired(now + 10).await.expect("purge");
    assert!(purged >= 1, "the expired row was not purged");
    // The purged one is gone (insertable again), the live one is kept.
    assert!(repo.consume(&[10; 32], now + 2_000).await.expect("again"));
    assert!(!repo.consume(&[11; 32], now + 1_000).await.expect("kept"));
}

/// Member data: the first key wins, addresses keep one default, and
/// shredding the key deletes every value by cascade.
pub async fn member_data_round_trip_defaults_and_shred(store: &dyn Store) {
    let now = 9_000;
    let id = signed_up(store, "md@example.jp", now, 71).await;
    let md = store.member_data();
    assert!(md.member_key(id).await.expect("key").is_none());
    let k = md
        .create_member_key(id, b"first", 1, now)
        .await
        .expect("create");
    assert_eq!(k.wrapped_key, b"first");
    let again = md
        .create_member_key(id, b"second", 1, now)
        .await
        .expect("create again");
    assert_eq!(again.wrapped_key, b"first", "the first key wins");

    md.set_phone(id, b"ct1", &[1; 32], now)
        .await
        .expect("phone");
    md.set_phone(id, b"ct2", &[2; 32], now)
        .await
        .expect("phone again");
    assert_eq!(
        md.phone(id).await.expect("phone").as_deref(),
        Some(&b"ct2"[..])
    );
    assert_eq!(
        md.members_with_phone(&[2; 32]).await.expect("index"),
        vec![id]
    );
    assert!(
        md.members_with_phone(&[1; 32])
            .await
            .expect("index")
            .is_empty()
    );

    let mut ids = Vec::new();
    for (i, default) in [(0u8, false), (1, false), (2, true)] {
        let a = crate::AddressRecord {
            id: Uuid::now_v7(),
            member_id: id,
            is_default: default,
            ciphertext: vec![i],
            created_at: now + i64::from(i),
            updated_at: now,
        };
        md.add_address(&a).await.expect("add");
        ids.push(a.id);
    }
    let defaults =
        |list: Vec<crate::AddressRecord>| list.iter().map(|a| a.is_default).collect::<Vec<_>>();
    assert_eq!(
        defaults(md.list_addresses(id).await.expect("list")),
        [false, false, true]
    );
    assert!(
        md.update_address(id, ids[0], b"new", true, now)
            .await
            .expect("update")
    );
    assert_eq!(
        defaults(md.list_addresses(id).await.expect("list")),
        [true, false, false]
    );
    assert!(
        !md.update_address(Uuid::now_v7(), ids[0], b"x", false, now)
            .await
            .expect("other member")
    );
    assert!(md.delete_address(id, ids[0]).await.expect("delete"));
    assert_eq!(
        defaults(md.list_addresses(id).await.expect("list")),
        [true, false],
        "oldest promoted"
    );
    assert!(!md.delete_address(id, ids[0]).await.expect("delete twice"));

    let mail = NewMail {
        id: Uuid::now_v7(),
        kind: "bank_account_changed",
        created_at: now,
        payload: vec![1],
    };
    md.set_bank_account(id, b"bank", now, &mail)
        .await
        .expect("bank");
    assert_eq!(
        md.bank_account(id).await.expect("bank").as_deref(),
        Some(&b"bank"[..])
    );
    assert!(
        store
            .mail()
            .count_by_status("pending")
            .await
            .expect("count")
            >= 1
    );

    let usage = md.kek_usage().await.expect("usage");
    assert!(
        usage
            .iter()
            .any(|u| u.kek_version == 1 && u.data_keys >= 1 && u.values >= 4)
    );

    assert!(md.shred(id).await.expect("shred"));
    assert!(md.member_key(id).await.expect("key").is_none());
    assert!(md.phone(id).await.expect("phone").is_none());
    assert!(md.bank_account(id).await.expect("bank").is_none());
    assert!(md.list_addresses(id).await.expect("list").is_empty());
    assert!(!md.shred(id).await.expect("shred twice"));
}

/// Rewrap and reseal apply only to rows still holding the old bytes, in id
/// order, and reseal records its progress in the same transaction.
pub async fn member_data_maintenance_is_compare_and_swap(store: &dyn Store) {
    let now = 10_000;
    let id = signed_up(store, "cas@example.jp", now, 72).await;
    let md = store.member_data();
    md.create_member_key(id, b"w1", 1, now).await.expect("key");
    let keys = md.wrapped_keys_after(None, 1000).await.expect("keys");
    assert!(keys.iter().any(|k| k.member_id == id));
    let stale = crate::Rewrap {
        member_id: id,
        old: b"nope".to_vec(),
        new: b"w2".to_vec(),
        new_version: 2,
    };
    assert_eq!(
        md.replace_wrapped_keys(&[stale], now)
            .await
            .expect("rewrap"),
        0
    );
    let good = crate::Rewrap {
        member_id: id,
        old: b"w1".to_vec(),
        new: b"w2".to_vec(),
        new_version: 2,
    };
    assert_eq!(
        md.replace_wrapped_keys(&[good], now).await.expect("rewrap"),
        1
    );
    assert_eq!(
        md.member_key(id)
            .await
            .expect("key")
            .expect("some")
            .kek_version,
        2
    );

    md.set_phone(id, b"p1", &[3; 32], now).await.expect("phone");
    let page = md
        .sealed_after(crate::SealedTable::Phones, None, 1000)
        .await
        .expect("page");
    assert!(page.iter().any(|v| v.id == id && v.ciphertext == b"p1"));
    assert!(
        md.sealed_after(crate::SealedTable::Phones, Some(id), 1000)
            .await
            .expect("after")
            .iter()
            .all(|v| v.id > id)
    );
    let progress = crate::ReencryptProgress {
        stage: crate::SealedTable::Phones,
        last_id: id,
        done: 1,
    };
    let reseals = [
        crate::Reseal {
            id,
            old: b"p1".to_vec(),
            new: b"p2".to_vec(),
        },
        crate::Reseal {
            id,
            old: b"p1".to_vec(),
            new: b"p3".to_vec(),
        },
    ];
    assert_eq!(
        md.reseal(crate::SealedTable::Phones, &reseals, &progress, now)
            .await
            .expect("reseal"),
        1
    );
    assert_eq!(
        md.phone(id).await.expect("phone").as_deref(),
        Some(&b"p2"[..])
    );
    assert_eq!(
        md.reencrypt_progress().await.expect("progress"),
        Some(progress)
    );
    md.clear_reencrypt_progress().await.expect("clear");
    assert_eq!(md.reencrypt_progress().await.expect("progress"), None);
    md.shred(id).await.expect("cleanup");
}

/// A member with a data key under `kek_version` and `n` addresses
/// (ciphertexts `[0]`, `[1]`, ...; the first is the default). Returns the
/// member and the address ids, oldest first.
async fn member_with_addresses(
    store: &dyn Store,
    email: &str,
    seed: u8,
    n: u8,
    now: i64,
) -> (Uuid, Vec<Uuid>) {
    let id = signed_up(store, email, now, seed).await;
    let md = store.member_data();
    md.create_member_key(id, b"wrapped", 1, now)
        .await
        .expect("key");
    let mut ids = Vec::new();
    for i in 0..n {
        let a = AddressRecord {
            id: Uuid::now_v7(),
            member_id: id,
            is_default: false,
            ciphertext: vec![i],
            created_at: now + i64::from(i),
            updated_at: now,
        };
        md.add_address(&a).await.expect("add");
        ids.push(a.id);
    }
    (id, ids)
}

/// (id, is_default, ciphertext) of each address, oldest first.
async fn address_rows(store: &dyn Store, member: Uuid) -> Vec<(Uuid, bool, Vec<u8>)> {
    store
        .member_data()
        .list_addresses(member)
        .await
        .expect("list")
        .into_iter()
        .map(|a| (a.id, a.is_default, a.ciphertext))
        .collect()
}

/// "Make default" sets the flag of the owner's address and clears the
/// others in one transaction, and never writes a ciphertext: an edit saved
/// between the page's read and this call is kept. Another member's id, or
/// no address at all, changes nothing.
pub async fn c13_set_default_address_touches_only_the_flag_of_the_owners_address(
    store: &dyn Store,
) {
    let now = 11_000;
    let md = store.member_data();
    let (owner, ids) = member_with_addresses(store, "default@example.jp", 150, 3, now).await;
    let (other, other_ids) = member_with_addresses(store, "other@example.jp", 151, 1, now).await;
    let before = address_rows(store, owner).await;
    let other_before = address_rows(store, other).await;
    assert_eq!(
        before.iter().map(|a| a.1).collect::<Vec<_>>(),
        [true, false, false]
    );

    // Someone else's address id, an unknown id, a member without a key:
    // false, and no flag moved (the cleared default is rolled back).
    assert!(
        !md.set_default_address(other, ids[2], now)
            .await
            .expect("other's id")
    );
    assert!(
        !md.set_default_address(owner, other_ids[0], now)
            .await
            .expect("owner with the other's id")
    );
    assert!(
        !md.set_default_address(owner, Uuid::now_v7(), now)
            .await
            .expect("unknown id")
    );
    assert!(
        !md.set_default_address(Uuid::now_v7(), ids[2], now)
            .await
            .expect("no such member")
    );
    assert_eq!(address_rows(store, owner).await, before, "owner unchanged");
    assert_eq!(
        address_rows(store, other).await,
        other_before,
        "other unchanged"
    );

    // The page read the third address, then an edit of it was saved, then
    // the owner pressed "make default": the edit stays.
    let stale = before[2].2.clone();
    assert!(
        md.update_address(owner, ids[2], b"edited", false, now + 1)
            .await
            .expect("edit")
    );
    assert!(
        md.set_default_address(owner, ids[2], now + 2)
            .await
            .expect("make default")
    );
    let after = address_rows(store, owner).await;
    assert_eq!(
        after.iter().map(|a| a.1).collect::<Vec<_>>(),
        [false, false, true],
        "exactly one default, the chosen one"
    );
    assert_eq!(after[2].2, b"edited", "the edit is kept");
    assert_ne!(after[2].2, stale);
    assert_eq!(after[0].2, before[0].2, "other ciphertexts untouched");
    assert_eq!(after[1].2, before[1].2, "other ciphertexts untouched");
    let updated = md
        .list_addresses(owner)
        .await
        .expect("list")
        .into_iter()
        .find(|a| a.id == ids[2])
        .expect("present")
        .updated_at;
    assert_eq!(updated, now + 2);
    // Again on the default: still exactly one.
    assert!(
        md.set_default_address(owner, ids[2], now + 3)
            .await
            .expect("again")
    );
    assert_eq!(
        address_rows(store, owner)
            .await
            .iter()
            .filter(|a| a.1)
            .count(),
        1
    );
    md.shred(owner).await.expect("cleanup");
    md.shred(other).await.expect("cleanup");
}

/// Many "make default" presses on different addresses at once, while the
/// member edits one of them: every call succeeds, exactly one address is
/// the default afterwards, and the last edit is what is stored.
pub async fn c13_parallel_default_changes_and_edits_keep_one_default_and_every_edit(
    store: &dyn Store,
) {
    let now = 12_000;
    let md = store.member_data();
    let (owner, ids) = member_with_addresses(store, "parallel@example.jp", 152, 3, now).await;
    let presses = (0..12usize).map(|i| md.set_default_address(owner, ids[i % 3], now + 1));
    let edits = async {
        for i in 0..12u8 {
            assert!(
                md.update_address(owner, ids[1], &[b'e', i], false, now + 1)
                    .await
                    .expect("edit")
            );
        }
    };
    let (results, ()) = tokio::join!(futures_join_all(presses), edits);
    for r in results {
        assert!(r.expect("make default (no unique-index conflict)"));
    }
    let rows = address_rows(store, owner).await;
    assert_eq!(
        rows.iter().filter(|a| a.1).count(),
        1,
        "exactly one default: {rows:?}"
    );
    assert_eq!(rows[1].2, [b'e', 11], "the last edit is stored");
    // New addresses marked default and edits that make one default, all at
    // once: no unique-index conflict, still exactly one default.
    let adds = (0..8u8).map(|i| {
        let a = AddressRecord {
            id: Uuid::now_v7(),
            member_id: owner,
            is_default: true,
            ciphertext: vec![b'n', i],
            created_at: now + 10 + i64::from(i),
            updated_at: now + 10,
        };
        async move { md.add_address(&a).await }
    });
    let defaults = (0..8usize).map(|i| md.update_address(owner, ids[i % 3], b"d", true, now + 11));
    let (added, updated) = tokio::join!(futures_join_all(adds), futures_join_all(defaults));
    for r in added {
        r.expect("add a default address (no unique-index conflict)");
    }
    for r in updated {
        assert!(r.expect("edit making it default (no unique-index conflict)"));
    }
    let rows = address_rows(store, owner).await;
    assert_eq!(rows.len(), 11);
    assert_eq!(
        rows.iter().filter(|a| a.1).count(),
        1,
        "exactly one default: {rows:?}"
    );
    md.shred(owner).await.expect("cleanup");
}

/// A KEK version with a data key under it cannot be retired (and the
/// refusal records nothing); once retired, no data key wrapped under it is
/// stored, whoever tries.
pub async fn c13_retired_kek_version_takes_no_new_data_key(store: &dyn Store) {
    let now = 13_000;
    let md = store.member_data();
    let m1 = signed_up(store, "kek1@example.jp", now, 153).await;
    let m2 = signed_up(store, "kek2@example.jp", now, 154).await;
    let m3 = signed_up(store, "kek3@example.jp", now, 155).await;
    md.create_member_key(m1, b"w1", 901, now)
        .await
        .expect("key under 901");
    assert_eq!(
        md.retire_kek_version(901, now).await.expect("retire"),
        KekRetirement::InUse { data_keys: 1 }
    );
    // Refused retirement leaves the version usable.
    md.create_member_key(m2, b"w2", 901, now)
        .await
        .expect("901 still live");
    assert_eq!(
        md.retire_kek_version(901, now).await.expect("retire"),
        KekRetirement::InUse { data_keys: 2 }
    );
    // Rewrapped away (what `keys rotate` does): now it retires, twice.
    for m in [m1, m2] {
        let old = md.member_key(m).await.expect("key").expect("some");
        let r = crate::Rewrap {
            member_id: m,
            old: old.wrapped_key,
            new: b"w-902".to_vec(),
            new_version: 902,
        };
        assert_eq!(md.replace_wrapped_keys(&[r], now).await.expect("rewrap"), 1);
    }
    assert_eq!(
        md.retire_kek_version(901, now).await.expect("retire"),
        KekRetirement::Retired
    );
    assert_eq!(
        md.retire_kek_version(901, now + 1).await.expect("again"),
        KekRetirement::Retired
    );
    // A server still wrapping under 901 is refused, and nothing is stored.
    assert!(matches!(
        md.create_member_key(m3, b"w3", 901, now).await,
        Err(StoreError::RetiredKek(901))
    ));
    assert!(md.member_key(m3).await.expect("key").is_none());
    assert!(
        !md.kek_usage()
            .await
            .expect("usage")
            .iter()
            .any(|u| u.kek_version == 901)
    );
    // Under the current version it works.
    let k = md
        .create_member_key(m3, b"w3", 902, now)
        .await
        .expect("key under 902");
    assert_eq!(k.kek_version, 902);
    for m in [m1, m2, m3] {
        md.shred(m).await.expect("cleanup");
    }
}

/// `keys retire` and a server storing a new data key under the same
/// version, at the same moment, many times: never both succeed, so no
/// stored key is ever wrapped under a retired version.
pub async fn c13_retire_and_a_new_data_key_never_both_succeed(store: &dyn Store) {
    let now = 14_000;
    let md = store.member_data();
    let mut members = Vec::new();
    for i in 0..24u8 {
        members.push(signed_up(store, &format!("race{i}@example.jp"), now, 160 + i).await);
    }
    let mut retired = 0;
    let mut stored = 0;
    for (i, m) in members.iter().enumerate() {
        let version = 910 + i64::try_from(i).expect("small");
        let (key, retire) = tokio::join!(
            md.create_member_key(*m, b"w", version, now),
            md.retire_kek_version(version, now),
        );
        let key_stored = match key {
            Ok(k) => {
                assert_eq!(k.kek_version, version);
                true
            }
            Err(e) => {
                assert!(
                    matches!(e, StoreError::RetiredKek(v) if v == version),
                    "create_member_key: {e}"
                );
                false
            }
        };
        match retire.expect("retire") {
            KekRetirement::Retired => {
                retired += 1;
                assert!(
                    !key_stored,
                    "v{version}: retired with a key stored under it"
                );
                assert!(md.member_key(*m).await.expect("key").is_none());
            }
            KekRetirement::InUse { data_keys } => {
                stored += 1;
                assert!(key_stored, "v{version}: refused without a key");
                assert_eq!(data_keys, 1);
            }
        }
    }
    assert_eq!(retired + stored, members.len());
    for m in members {
        md.shred(m).await.expect("cleanup");
    }
}

//! What the checks build their rows from: one clock origin, fresh ids,
//! parsed addresses and names, and the bundles a sign-up or a login
//! commits. Every check starts on an empty database, so the values here
//! only need to be unique within one check.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use uuid::Uuid;

use crate::{
    AddressRecord, Changes, DisplayName, Duration, EmailAddress, EventId, FlowPurpose, Lang,
    LoginMethod, LoginOutcome, MailId, MailStatus, MemberId, NewFlow, NewLoginEvent, NewMail,
    NewMember, NewSession, SessionLogin, Store, StoreError, TermsConsent, Timestamp, Write,
};

/// 2026-01-01T00:00:00Z: the moment every check starts from.
pub(crate) const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

/// `T0` plus `secs` seconds.
pub(crate) fn at(secs: i64) -> Timestamp {
    T0 + Duration::from_micros(secs.saturating_mul(1_000_000))
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A fresh UUIDv7 as any id type.
pub(crate) fn new_id<T: From<Uuid>>() -> T {
    T::from(Uuid::now_v7())
}

pub(crate) fn email(text: &str) -> EmailAddress {
    EmailAddress::parse(text).expect("test address parses")
}

pub(crate) fn display_name(text: &str) -> DisplayName {
    DisplayName::parse(text).expect("test display name parses")
}

pub(crate) fn new_member(address: &str, now: Timestamp) -> NewMember {
    NewMember {
        id: new_id(),
        email: email(address),
        display_name: display_name("Test"),
        language: Lang::Ja,
        created_at: now,
        terms: TermsConsent {
            version: "2026-12-01".into(),
            accepted_at: now,
        },
    }
}

/// A visitor's session (no member) with token hash `[seed; 32]`: idle
/// for 100 s, at most 1,000 s.
pub(crate) fn visitor_session(seed: u8, now: Timestamp) -> NewSession {
    NewSession {
        id: new_id(),
        token_hash: [seed; 32],
        created_at: now,
        absolute_expires_at: now + secs(1_000),
        idle_expires_at: now + secs(100),
        login: None,
    }
}

/// A member's session with token hash `[seed; 32]`, living a day.
pub(crate) fn member_session(
    member: MemberId,
    seed: u8,
    now: Timestamp,
    method: LoginMethod,
) -> NewSession {
    NewSession {
        id: new_id(),
        token_hash: [seed; 32],
        created_at: now,
        absolute_expires_at: now + secs(86_400),
        idle_expires_at: now + secs(86_400),
        login: Some(SessionLogin {
            member_id: member,
            authenticated_at: now,
            ip: "192.0.2.1".into(),
            device: "Firefox on Linux".into(),
            method,
        }),
    }
}

pub(crate) fn login_event(
    member: MemberId,
    now: Timestamp,
    method: LoginMethod,
    outcome: LoginOutcome,
) -> NewLoginEvent {
    NewLoginEvent {
        id: new_id::<EventId>(),
        member_id: member,
        at: now,
        ip: "192.0.2.1".into(),
        device: "Firefox on Linux".into(),
        method,
        outcome,
    }
}

/// A login code flow for `address`, living 10 minutes, code hash `[7; 32]`.
pub(crate) fn login_flow(address: &str, member: Option<MemberId>, now: Timestamp) -> NewFlow {
    NewFlow {
        id: new_id(),
        purpose: FlowPurpose::Login,
        email: email(address),
        member_id: member,
        display_name: None,
        language: Lang::Ja,
        session_id: None,
        terms_version: None,
        code_hash: [7; 32],
        created_at: now,
        expires_at: now + secs(600),
    }
}

/// A shipping address of `member` (still encrypted, as the store sees it).
pub(crate) fn address(
    member: MemberId,
    ciphertext: Vec<u8>,
    is_default: bool,
    now: Timestamp,
) -> AddressRecord {
    AddressRecord {
        id: new_id(),
        member_id: member,
        is_default,
        ciphertext,
        created_at: now,
        updated_at: now,
    }
}

pub(crate) fn mail(kind: &'static str, now: Timestamp) -> NewMail {
    NewMail {
        id: new_id::<MailId>(),
        kind,
        created_at: now,
        payload: vec![1, 2, 3],
    }
}

/// Commits `changes`, which must succeed.
pub(crate) async fn commit(store: &dyn Store, changes: Changes) {
    store.commit(&changes).await.expect("commit");
}

/// Commits `changes`, which must fail; returns why.
pub(crate) async fn commit_fails(store: &dyn Store, changes: Changes) -> StoreError {
    match store.commit(&changes).await {
        Ok(()) => panic!("the bundle was committed but had to fail: {changes:?}"),
        Err(e) => e,
    }
}

/// The bundle a login commits: the member's session (token `[seed; 32]`),
/// the history entry, the device (`[seed; 32]`) and the login mail.
pub(crate) fn login(member: MemberId, seed: u8, now: Timestamp, method: LoginMethod) -> Changes {
    Changes::new()
        .with(Write::CreateSession(member_session(
            member, seed, now, method,
        )))
        .with(Write::RecordLoginEvent(login_event(
            member,
            now,
            method,
            LoginOutcome::Success,
        )))
        .with(Write::RememberDevice {
            member,
            device_hash: [seed; 32],
            at: now,
        })
        .mail(mail("login_notice", now))
}

/// A member signed up as sign-up does: the member and the login bundle
/// (session and device `[seed; 32]`), in one commit.
pub(crate) async fn sign_up(
    store: &dyn Store,
    address: &str,
    now: Timestamp,
    seed: u8,
) -> MemberId {
    let m = new_member(address, now);
    let id = m.id;
    let mut changes = login(id, seed, now, LoginMethod::Signup);
    changes.writes.insert(0, Write::CreateMember(m));
    commit(store, changes).await;
    id
}

/// Marks every due mail sent, so that a check starts with an empty outbox.
pub(crate) async fn drain_outbox(store: &dyn Store, now: Timestamp) {
    let m = store.mail();
    while let Some(item) = m.claim_due(now, now + secs(60)).await.expect("drain") {
        m.mark_sent(item.id, now).await.expect("sent");
    }
    assert_eq!(
        m.count_by_status(MailStatus::Pending).await.expect("count"),
        0
    );
}

/// A tiny `join_all`, to keep this crate free of extra dependencies: polls
/// every future from one task until all are ready, so they wait on the
/// database at the same time.
pub(crate) async fn join_all<F: Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
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

/// Commits `changes` (owned, so that many commits can run at once).
pub(crate) async fn try_commit(store: &dyn Store, changes: Changes) -> Result<(), StoreError> {
    store.commit(&changes).await
}

/// Opens connections for `n` requests at once before a race, so the
/// racing bundles overlap instead of waiting in turn for new connections
/// (a lazy pool would otherwise let the first one finish alone).
pub(crate) async fn warm_pool(store: &dyn Store, n: usize) {
    for r in join_all((0..n).map(|_| store.ping())).await {
        r.expect("ping");
    }
}

//! The one write path: `Store::commit` applies a bundle's writes in order
//! and then its mails, in one transaction. A step that fails, a guard or
//! a constraint, wherever it stands, leaves nothing of the bundle behind:
//! no row inserted, updated or deleted, no mail in the outbox.

use super::fixtures::{
    address, at, commit, commit_fails, drain_outbox, email, login, login_event, login_flow, mail,
    member_session, new_id, new_member, secs, sign_up, visitor_session,
};
use crate::{
    AddressId, AddressRecord, Changes, EmailAddress, FlowId, FlowRecord, LoginEventRecord,
    LoginMethod, LoginOutcome, MailId, MailStatus, MemberId, MemberKeyRecord, MemberRecord,
    SessionId, SessionRecord, Store, StoreError, Timestamp, Write, guards,
};

/// What is in the database before a bundle: two members with data keys,
/// sessions, a phone and an address each; a used flow and a live one; one
/// mail, already sent. The outbox has nothing pending.
struct World {
    existing: MemberId,
    existing_email: EmailAddress,
    other: MemberId,
    other_session: SessionId,
    other_address: AddressId,
    used_flow: FlowId,
    live_flow: FlowId,
    sent_mail: MailId,
}

const EXISTING_TOKEN: [u8; 32] = [1; 32];
const OTHER_TOKEN: [u8; 32] = [2; 32];
const OLD_PHONE_INDEX: [u8; 32] = [50; 32];
const NEW_PHONE_INDEX: [u8; 32] = [51; 32];

async fn world(store: &dyn Store) -> World {
    let now = at(0);
    let existing = sign_up(store, "existing@example.jp", now, EXISTING_TOKEN[0]).await;
    let other = sign_up(store, "other@example.jp", now, OTHER_TOKEN[0]).await;
    let md = store.member_data();
    for m in [existing, other] {
        md.create_member_key(m, b"wrapped", 1, now)
            .await
            .expect("key");
    }
    let other_address = address(other, b"other-address".to_vec(), true, now);
    let other_address_id = other_address.id;
    let used = login_flow("used@example.jp", None, now);
    let live = login_flow("existing@example.jp", Some(existing), now);
    let sent = mail("test", now);
    commit(
        store,
        Changes::new()
            .with(Write::SetPhone {
                member: existing,
                ciphertext: b"old-phone".to_vec(),
                index: OLD_PHONE_INDEX,
                at: now,
            })
            .with(Write::AddAddress(address(
                existing,
                b"old-address".to_vec(),
                false,
                now,
            )))
            .with(Write::AddAddress(other_address))
            .with(Write::StartFlow(used.clone()))
            .with(Write::ConsumeFlow {
                flow: used.id,
                at: now,
            })
            .with(Write::StartFlow(live.clone()))
            .mail(sent.clone()),
    )
    .await;
    drain_outbox(store, at(1)).await;
    let other_session = store
        .sessions()
        .find_live(&OTHER_TOKEN, now)
        .await
        .expect("find")
        .expect("other's session")
        .id;
    World {
        existing,
        existing_email: email("existing@example.jp"),
        other,
        other_session,
        other_address: other_address_id,
        used_flow: used.id,
        live_flow: live.id,
        sent_mail: sent.id,
    }
}

/// A bundle touching every aggregate: it creates a member with a flow, a
/// session, a history entry and a device; it uses the live flow, ends the
/// existing member's sessions, replaces their phone, adds an address, sets
/// a password and a bank account, stores an unlock token; and it queues
/// two mails. Every id, token and hash is new for each `n`.
struct Bundle {
    changes: Changes,
    now: Timestamp,
    member: MemberId,
    email: EmailAddress,
    flow: FlowId,
    token: [u8; 32],
    device: [u8; 32],
    unlock: [u8; 32],
    address: AddressId,
}

fn bundle(w: &World, n: u8) -> Bundle {
    let now = at(10);
    let text = format!("new{n}@example.jp");
    let m = new_member(&text, now);
    let member = m.id;
    let flow = login_flow(&text, Some(member), now);
    let seed = 100 + n;
    let new_address = address(w.existing, b"new-address".to_vec(), true, now);
    let address_id = new_address.id;
    let changes = Changes::new()
        .with(Write::CreateMember(m))
        .with(Write::StartFlow(flow.clone()))
        .with(Write::ConsumeFlow {
            flow: w.live_flow,
            at: now,
        })
        .with(Write::CreateSession(member_session(
            member,
            seed,
            now,
            LoginMethod::Code,
        )))
        .with(Write::RecordLoginEvent(login_event(
            member,
            now,
            LoginMethod::Code,
            LoginOutcome::Success,
        )))
        .with(Write::RememberDevice {
            member,
            device_hash: [seed; 32],
            at: now,
        })
        .with(Write::EndOtherSessions {
            member: w.existing,
            keep: None,
        })
        .with(Write::SetPhone {
            member: w.existing,
            ciphertext: b"new-phone".to_vec(),
            index: NEW_PHONE_INDEX,
            at: now,
        })
        .with(Write::AddAddress(new_address))
        .with(Write::SetPasswordHash {
            member: w.existing,
            hash: Some("$argon2id$v=19$m=19456,t=2,p=1$x$y".into()),
            at: now,
        })
        .with(Write::SetBankAccount {
            member: w.existing,
            ciphertext: b"bank".to_vec(),
            at: now,
        })
        .with(Write::CreateUnlockToken {
            token_hash: [150 + n; 32],
            email: w.existing_email.clone(),
            at: now,
            expires_at: now + secs(3_600),
        })
        .mail(mail("login_notice", now))
        .mail(mail("password_changed", now));
    Bundle {
        changes,
        now,
        member,
        email: email(&text),
        flow: flow.id,
        token: [seed; 32],
        device: [seed; 32],
        unlock: [150 + n; 32],
        address: address_id,
    }
}

/// Everything a bundle could have changed, as the repositories read it.
#[derive(Debug, PartialEq)]
struct Seen {
    members: Vec<Option<MemberRecord>>,
    by_email: Vec<Option<MemberId>>,
    flows: Vec<Option<FlowRecord>>,
    flow_counts: Vec<i64>,
    sessions_by_token: Vec<Option<SessionRecord>>,
    sessions_of: Vec<Vec<SessionRecord>>,
    events_of: Vec<Vec<LoginEventRecord>>,
    devices: Vec<bool>,
    keys: Vec<Option<MemberKeyRecord>>,
    phones: Vec<Option<Vec<u8>>>,
    phone_index: Vec<Vec<MemberId>>,
    addresses: Vec<Vec<AddressRecord>>,
    banks: Vec<Option<Vec<u8>>>,
    mail: [i64; 3],
}

async fn seen(store: &dyn Store, w: &World, b: &Bundle) -> Seen {
    let a = store.accounts();
    let s = store.sessions();
    let md = store.member_data();
    let m = store.mail();
    let now = b.now;
    let members = [w.existing, w.other, b.member];
    let emails = [
        w.existing_email.clone(),
        email("other@example.jp"),
        b.email.clone(),
    ];
    let mut out = Seen {
        members: Vec::new(),
        by_email: Vec::new(),
        flows: Vec::new(),
        flow_counts: Vec::new(),
        sessions_by_token: Vec::new(),
        sessions_of: Vec::new(),
        events_of: Vec::new(),
        devices: Vec::new(),
        keys: Vec::new(),
        phones: Vec::new(),
        phone_index: Vec::new(),
        addresses: Vec::new(),
        banks: Vec::new(),
        mail: [
            m.count_by_status(MailStatus::Pending).await.expect("count"),
            m.count_by_status(MailStatus::Sent).await.expect("count"),
            m.count_by_status(MailStatus::Failed).await.expect("count"),
        ],
    };
    for id in members {
        out.members.push(a.find_member(id).await.expect("member"));
        out.sessions_of
            .push(s.list_for_member(id, now).await.expect("sessions"));
        out.events_of
            .push(a.list_login_events(id, 100, 0).await.expect("events"));
        out.devices
            .push(a.device_known(id, &b.device).await.expect("device"));
        out.keys.push(md.member_key(id).await.expect("key"));
        out.phones.push(md.phone(id).await.expect("phone"));
        out.addresses
            .push(md.list_addresses(id).await.expect("addresses"));
        out.banks.push(md.bank_account(id).await.expect("bank"));
    }
    for e in &emails {
        out.by_email.push(
            a.find_member_by_email(e)
                .await
                .expect("member")
                .map(|r| r.id),
        );
        out.flow_counts.push(
            a.count_flows_since(e, Timestamp::EPOCH)
                .await
                .expect("count"),
        );
    }
    for f in [w.used_flow, w.live_flow, b.flow] {
        out.flows.push(a.find_flow(f).await.expect("flow"));
    }
    for t in [EXISTING_TOKEN, OTHER_TOKEN, b.token] {
        out.sessions_by_token
            .push(s.find_live(&t, now).await.expect("session"));
    }
    for i in [OLD_PHONE_INDEX, NEW_PHONE_INDEX] {
        out.phone_index
            .push(md.members_with_phone(&i).await.expect("index"));
    }
    out
}

/// Nothing of `b` is in the database: the explicit reads, beside the
/// before/after comparison.
async fn nothing_of(store: &dyn Store, w: &World, b: &Bundle, case: &str) {
    let a = store.accounts();
    assert!(
        a.find_member(b.member).await.expect("find").is_none(),
        "{case}: member left"
    );
    assert!(
        a.find_flow(b.flow).await.expect("find").is_none(),
        "{case}: flow left"
    );
    assert_eq!(
        a.find_flow(w.live_flow)
            .await
            .expect("find")
            .expect("live flow")
            .consumed_at,
        None,
        "{case}: the live flow stayed consumed"
    );
    assert!(
        store
            .sessions()
            .find_live(&b.token, b.now)
            .await
            .expect("find")
            .is_none(),
        "{case}: session left"
    );
    assert!(
        a.list_login_events(b.member, 10, 0)
            .await
            .expect("events")
            .is_empty(),
        "{case}: history entry left"
    );
    assert!(
        !a.device_known(b.member, &b.device).await.expect("device"),
        "{case}: device left"
    );
    assert_eq!(
        store
            .sessions()
            .list_for_member(w.existing, b.now)
            .await
            .expect("list")
            .len(),
        1,
        "{case}: the existing member's session stayed ended"
    );
    assert_eq!(
        store
            .member_data()
            .phone(w.existing)
            .await
            .expect("phone")
            .as_deref(),
        Some(&b"old-phone"[..]),
        "{case}: phone replaced"
    );
    assert!(
        !store
            .member_data()
            .list_addresses(w.existing)
            .await
            .expect("list")
            .iter()
            .any(|r| r.id == b.address),
        "{case}: address left"
    );
    assert_eq!(
        a.find_member(w.existing)
            .await
            .expect("find")
            .expect("existing")
            .password_hash,
        None,
        "{case}: password set"
    );
    assert_eq!(
        store
            .throttle()
            .take_unlock_token(&b.unlock, b.now)
            .await
            .expect("take"),
        None,
        "{case}: unlock token left"
    );
    assert_eq!(
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count"),
        0,
        "{case}: mail left in the outbox"
    );
    assert!(
        store
            .mail()
            .claim_due(at(100_000), at(100_060))
            .await
            .expect("claim")
            .is_none(),
        "{case}: a mail of the failed bundle can be sent"
    );
}

#[derive(Debug, Clone, Copy)]
enum Position {
    First,
    Middle,
    Last,
}

const POSITIONS: [Position; 3] = [Position::First, Position::Middle, Position::Last];

fn insert_at<T>(list: &mut Vec<T>, position: Position, item: T) {
    let index = match position {
        Position::First => 0,
        Position::Middle => list.len() / 2,
        Position::Last => list.len(),
    };
    list.insert(index, item);
}

/// Puts `failing` first, in the middle and last among the bundle's writes
/// (or its mails); each time the commit must fail as `expected` says and
/// leave the database as it was. Then the bundle without the failing step
/// commits whole, which shows that the failing step alone stopped it.
async fn fails_whole_wherever_it_stands(
    store: &dyn Store,
    what: &str,
    failing: impl Fn(&World, &Bundle) -> Step,
    expected: impl Fn(&StoreError) -> bool,
) {
    let w = world(store).await;
    for (n, position) in (0u8..).zip(POSITIONS) {
        let b = bundle(&w, n);
        let case = format!("{what}, {position:?}");
        let mut changes = b.changes.clone();
        match failing(&w, &b) {
            Step::Write(write) => insert_at(&mut changes.writes, position, write),
            Step::Mail(m) => insert_at(&mut changes.mails, position, m),
        }
        let before = seen(store, &w, &b).await;
        let err = commit_fails(store, changes).await;
        assert!(expected(&err), "{case}: wrong error {err:?}");
        assert_eq!(
            seen(store, &w, &b).await,
            before,
            "{case}: the failed bundle changed the database"
        );
        nothing_of(store, &w, &b, &case).await;
    }
    let b = bundle(&w, 9);
    commit(store, b.changes.clone()).await;
    everything_of(store, &w, &b).await;
}

enum Step {
    Write(Write),
    Mail(crate::NewMail),
}

/// Everything of `b` is in the database.
async fn everything_of(store: &dyn Store, w: &World, b: &Bundle) {
    let a = store.accounts();
    let md = store.member_data();
    let member = a
        .find_member(b.member)
        .await
        .expect("find")
        .expect("member");
    assert_eq!(member.email, b.email);
    let flow = a.find_flow(b.flow).await.expect("find").expect("flow");
    assert_eq!(flow.member_id, Some(b.member));
    assert_eq!(flow.consumed_at, None);
    assert_eq!(
        a.find_flow(w.live_flow)
            .await
            .expect("find")
            .expect("flow")
            .consumed_at,
        Some(b.now)
    );
    let session = store
        .sessions()
        .find_live(&b.token, b.now)
        .await
        .expect("find")
        .expect("session");
    assert_eq!(session.member(), Some(b.member));
    assert_eq!(
        a.list_login_events(b.member, 10, 0)
            .await
            .expect("events")
            .len(),
        1
    );
    assert!(a.device_known(b.member, &b.device).await.expect("device"));
    assert!(
        store
            .sessions()
            .list_for_member(w.existing, b.now)
            .await
            .expect("list")
            .is_empty(),
        "the existing member's sessions were not ended"
    );
    assert_eq!(
        store
            .sessions()
            .list_for_member(w.other, b.now)
            .await
            .expect("list")
            .len(),
        1,
        "another member's session was ended"
    );
    assert_eq!(
        md.phone(w.existing).await.expect("phone").as_deref(),
        Some(&b"new-phone"[..])
    );
    assert_eq!(
        md.members_with_phone(&NEW_PHONE_INDEX)
            .await
            .expect("index"),
        [w.existing]
    );
    let addresses = md.list_addresses(w.existing).await.expect("list");
    assert_eq!(
        addresses
            .iter()
            .map(|r| (r.id == b.address, r.is_default))
            .collect::<Vec<_>>(),
        [(false, false), (true, true)],
        "the new address is added as the default"
    );
    assert!(
        a.find_member(w.existing)
            .await
            .expect("find")
            .expect("existing")
            .password_hash
            .is_some()
    );
    assert_eq!(
        md.bank_account(w.existing).await.expect("bank").as_deref(),
        Some(&b"bank"[..])
    );
    assert_eq!(
        store
            .throttle()
            .take_unlock_token(&b.unlock, b.now)
            .await
            .expect("take"),
        Some(w.existing_email.clone())
    );
    let mut kinds = Vec::new();
    while let Some(item) = store
        .mail()
        .claim_due(b.now, b.now + secs(60))
        .await
        .expect("claim")
    {
        kinds.push(item.kind);
    }
    kinds.sort();
    assert_eq!(kinds, ["login_notice", "password_changed"]);
}

pub async fn changes_a_successful_bundle_writes_every_row_and_mail(store: &dyn Store) {
    let w = world(store).await;
    let b = bundle(&w, 0);
    let before = seen(store, &w, &b).await;
    commit(store, b.changes.clone()).await;
    assert_ne!(seen(store, &w, &b).await, before);
    everything_of(store, &w, &b).await;
}

pub async fn changes_a_consumed_flow_fails_the_whole_bundle_wherever_it_stands(store: &dyn Store) {
    fails_whole_wherever_it_stands(
        store,
        "ConsumeFlow of a used flow",
        |w, b| {
            Step::Write(Write::ConsumeFlow {
                flow: w.used_flow,
                at: b.now,
            })
        },
        |e| e.is_precondition(guards::FLOW_CONSUMED),
    )
    .await;
}

pub async fn changes_ending_another_members_session_fails_the_whole_bundle(store: &dyn Store) {
    fails_whole_wherever_it_stands(
        store,
        "EndMemberSession of another member's session",
        |w, _| {
            Step::Write(Write::EndMemberSession {
                member: w.existing,
                session: w.other_session,
            })
        },
        |e| e.is_precondition(guards::SESSION_NOT_FOUND),
    )
    .await;
}

pub async fn changes_updating_a_missing_address_fails_the_whole_bundle(store: &dyn Store) {
    fails_whole_wherever_it_stands(
        store,
        "UpdateAddress of a missing address",
        |w, b| {
            Step::Write(Write::UpdateAddress {
                member: w.existing,
                address: new_id(),
                ciphertext: b"x".to_vec(),
                make_default: true,
                at: b.now,
            })
        },
        |e| e.is_precondition(guards::ADDRESS_NOT_FOUND),
    )
    .await;
}

/// Making another member's address the default first clears the member's
/// own default flag: the failed guard must roll that back too.
pub async fn changes_making_another_members_address_default_fails_the_whole_bundle(
    store: &dyn Store,
) {
    fails_whole_wherever_it_stands(
        store,
        "SetDefaultAddress of another member's address",
        |w, b| {
            Step::Write(Write::SetDefaultAddress {
                member: w.existing,
                address: w.other_address,
                at: b.now,
            })
        },
        |e| e.is_precondition(guards::ADDRESS_NOT_FOUND),
    )
    .await;
}

pub async fn changes_deleting_another_members_address_fails_the_whole_bundle(store: &dyn Store) {
    fails_whole_wherever_it_stands(
        store,
        "DeleteAddress of another member's address",
        |w, _| {
            Step::Write(Write::DeleteAddress {
                member: w.existing,
                address: w.other_address,
            })
        },
        |e| e.is_precondition(guards::ADDRESS_NOT_FOUND),
    )
    .await;
}

pub async fn changes_a_taken_address_fails_the_whole_bundle(store: &dyn Store) {
    fails_whole_wherever_it_stands(
        store,
        "CreateMember with a taken address",
        |_, b| {
            Step::Write(Write::CreateMember(new_member(
                "EXISTING@example.jp",
                b.now,
            )))
        },
        |e| matches!(e, StoreError::Conflict(_)),
    )
    .await;
}

pub async fn changes_a_duplicate_session_token_fails_the_whole_bundle(store: &dyn Store) {
    fails_whole_wherever_it_stands(
        store,
        "CreateSession with a taken token hash",
        |_, b| Step::Write(Write::CreateSession(visitor_session(OTHER_TOKEN[0], b.now))),
        |e| matches!(e, StoreError::Conflict(_)),
    )
    .await;
}

/// Mails are queued after every write: a mail that cannot be queued (its
/// id is taken) still rolls back every write before it.
pub async fn changes_a_mail_that_cannot_be_queued_fails_the_whole_bundle(store: &dyn Store) {
    fails_whole_wherever_it_stands(
        store,
        "a mail with a taken id",
        |w, b| {
            let mut m = mail("duplicate", b.now);
            m.id = w.sent_mail;
            Step::Mail(m)
        },
        |e| matches!(e, StoreError::Conflict(_)),
    )
    .await;
}

/// Writes apply in the order given, each seeing the ones before it.
pub async fn changes_writes_apply_in_order_and_each_sees_the_ones_before(store: &dyn Store) {
    let a = store.accounts();
    // A flow started and used in one bundle.
    let f = login_flow("order@example.jp", None, at(0));
    commit(
        store,
        Changes::new()
            .with(Write::StartFlow(f.clone()))
            .with(Write::ConsumeFlow {
                flow: f.id,
                at: at(1),
            }),
    )
    .await;
    assert_eq!(
        a.find_flow(f.id)
            .await
            .expect("find")
            .expect("flow")
            .consumed_at,
        Some(at(1))
    );

    // A member, then the rows that point at it.
    let m = new_member("order@example.jp", at(0));
    let member = m.id;
    let mut signup = login(member, 5, at(2), LoginMethod::Signup);
    signup.writes.insert(0, Write::CreateMember(m));
    commit(store, signup).await;
    assert!(
        store
            .sessions()
            .find_live(&[5; 32], at(2))
            .await
            .expect("find")
            .is_some()
    );
    // The other way round the session points at no member yet: the bundle
    // fails, and its member is not left behind.
    let late = new_member("late@example.jp", at(0));
    let late_id = late.id;
    let mut backwards = login(late_id, 6, at(2), LoginMethod::Signup);
    backwards.writes.push(Write::CreateMember(late));
    commit_fails(store, backwards).await;
    assert!(a.find_member(late_id).await.expect("find").is_none());
    assert!(
        store
            .sessions()
            .find_live(&[6; 32], at(2))
            .await
            .expect("find")
            .is_none()
    );

    // The same flow used twice in one bundle: the second use sees the
    // first and fails, and the first is rolled back with it.
    let twice = login_flow("twice@example.jp", None, at(0));
    commit(store, Changes::new().with(Write::StartFlow(twice.clone()))).await;
    let use_it = Write::ConsumeFlow {
        flow: twice.id,
        at: at(3),
    };
    let err = commit_fails(store, Changes::new().with(use_it.clone()).with(use_it)).await;
    assert!(err.is_precondition(guards::FLOW_CONSUMED), "{err:?}");
    assert_eq!(
        a.find_flow(twice.id)
            .await
            .expect("find")
            .expect("flow")
            .consumed_at,
        None
    );

    // Two codes in one bundle: the second supersedes the first.
    let first = login_flow("codes@example.jp", None, at(4));
    let second = login_flow("codes@example.jp", None, at(5));
    commit(
        store,
        Changes::new()
            .with(Write::StartFlow(first.clone()))
            .with(Write::StartFlow(second.clone())),
    )
    .await;
    assert_eq!(
        a.find_flow(first.id)
            .await
            .expect("find")
            .expect("flow")
            .consumed_at,
        Some(at(5))
    );
    assert_eq!(
        a.find_flow(second.id)
            .await
            .expect("find")
            .expect("flow")
            .consumed_at,
        None
    );

    // An address added, another added, edited, made the default, and the
    // first deleted, all in one bundle.
    store
        .member_data()
        .create_member_key(member, b"wrapped", 1, at(0))
        .await
        .expect("key");
    let a1 = address(member, b"a1".to_vec(), false, at(6));
    let a2 = address(member, b"a2".to_vec(), false, at(7));
    let a2_id = a2.id;
    commit(
        store,
        Changes::new()
            .with(Write::AddAddress(a1.clone()))
            .with(Write::AddAddress(a2))
            .with(Write::UpdateAddress {
                member,
                address: a2_id,
                ciphertext: b"a2-edited".to_vec(),
                make_default: false,
                at: at(8),
            })
            .with(Write::SetDefaultAddress {
                member,
                address: a2_id,
                at: at(9),
            })
            .with(Write::DeleteAddress {
                member,
                address: a1.id,
            }),
    )
    .await;
    let rows = store
        .member_data()
        .list_addresses(member)
        .await
        .expect("list");
    assert_eq!(
        rows.iter()
            .map(|r| (r.id, r.is_default, r.ciphertext.clone(), r.updated_at))
            .collect::<Vec<_>>(),
        [(a2_id, true, b"a2-edited".to_vec(), at(9))]
    );

    // A session started and ended in one bundle is gone.
    let v = visitor_session(7, at(10));
    commit(
        store,
        Changes::new()
            .with(Write::CreateSession(v.clone()))
            .with(Write::EndSession(v.id)),
    )
    .await;
    assert!(
        store
            .sessions()
            .find_live(&v.token_hash, at(10))
            .await
            .expect("find")
            .is_none()
    );
}

/// Writes that need no answer travel to the database together (on
/// PostgreSQL one statement of CTEs, whose parts run on one snapshot in no
/// set order): two of them that change the same row still apply one after
/// the other, and a guarded write after them sees them.
pub async fn changes_writes_sent_together_may_change_one_row_twice(store: &dyn Store) {
    let member = sign_up(store, "together@example.jp", at(0), 41).await;
    let key = "acct:together@example.jp";
    let t = store.throttle();
    for _ in 0..3 {
        t.reserve_attempt(key, at(0), &super::throttle::policy())
            .await
            .expect("reserve");
    }
    let clear = Write::ClearAttempts {
        keys: vec![key.to_owned()],
    };
    let pending = || async {
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count")
    };
    let before = pending().await;
    let device = |at| Write::RememberDevice {
        member,
        device_hash: [41; 32],
        at,
    };
    commit(
        store,
        Changes::new()
            .with(device(at(1)))
            .with(clear.clone())
            .with(device(at(2)))
            .with(clear)
            .mail(mail("first", at(2)))
            .mail(mail("second", at(2))),
    )
    .await;
    assert_eq!(t.consecutive_failures(key).await.expect("count"), 0);
    assert!(
        store
            .accounts()
            .device_known(member, &[41; 32])
            .await
            .expect("device")
    );
    assert_eq!(pending().await, before + 2, "both mails queued");

    // A session made and then counted by a guard in the same bundle: the
    // guard sees it. The guard refuses at 3 live sessions: the sign-up's
    // and the first one made here make 2, the second one made here 3.
    let room = Write::EnsureRoom {
        member,
        collection: crate::Collection::Sessions,
        max: 3,
        now: at(3),
    };
    commit(
        store,
        Changes::new()
            .with(Write::CreateSession(member_session(
                member,
                42,
                at(3),
                LoginMethod::Password,
            )))
            .with(room.clone()),
    )
    .await;
    let err = commit_fails(
        store,
        Changes::new()
            .with(Write::CreateSession(member_session(
                member,
                43,
                at(3),
                LoginMethod::Password,
            )))
            .with(room),
    )
    .await;
    assert!(err.is_precondition(guards::LIMIT_REACHED), "{err:?}");
}

/// An empty bundle commits and changes nothing.
pub async fn changes_an_empty_bundle_commits_nothing(store: &dyn Store) {
    let w = world(store).await;
    let b = bundle(&w, 0);
    let before = seen(store, &w, &b).await;
    assert!(Changes::new().is_empty());
    commit(store, Changes::new()).await;
    assert_eq!(seen(store, &w, &b).await, before);
}

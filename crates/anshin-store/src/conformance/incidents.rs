//! Incident records and the containment writes (C28): a closed incident
//! takes no more timeline lines, a locked member gets no login and no
//! session served, ending every member's sessions leaves visitors' alone,
//! and the notification's progress moves only from where it stands.

use super::fixtures::{at, commit, commit_fails, login, new_id, secs, sign_up, visitor_session};
use crate::incidents::{IncidentStatus, NewIncident, NewTimelineEntry};
use crate::{Changes, IncidentId, LoginMethod, Store, Write, guards};

fn open(now: crate::Timestamp) -> (IncidentId, Changes) {
    let id: IncidentId = new_id();
    (
        id,
        Changes::new().with(Write::OpenIncident(NewIncident {
            id,
            title: "test".into(),
            opened_at: now,
            opened_by: "system".into(),
        })),
    )
}

/// Opens an incident and locks `member` in it; returns the incident.
async fn lock_in_a_new_incident(
    store: &dyn Store,
    member: crate::MemberId,
    at: crate::Timestamp,
) -> IncidentId {
    let (id, changes) = open(at);
    commit(store, changes).await;
    commit(
        store,
        Changes::new().with(Write::LockMember {
            member,
            incident: id,
            at,
        }),
    )
    .await;
    id
}

fn line(incident: IncidentId, action: &str, now: crate::Timestamp) -> Write {
    Write::AddTimelineEntry(NewTimelineEntry {
        id: new_id(),
        incident,
        at: now,
        actor: "system".into(),
        action: action.into(),
        detail: String::new(),
    })
}

/// The record and its timeline read back in order; closing keeps the
/// lessons; a closed incident refuses lines and a second close.
pub async fn c28_an_incident_keeps_its_timeline_until_closed(store: &dyn Store) {
    let now = at(0);
    let (id, changes) = open(now);
    commit(store, changes.with(line(id, "opened", now))).await;
    commit(
        store,
        Changes::new().with(line(id, "sessions_ended", now + secs(1))),
    )
    .await;
    let repo = store.incidents();
    let actions: Vec<String> = repo
        .timeline(id)
        .await
        .expect("timeline")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["opened", "sessions_ended"]);
    commit(
        store,
        Changes::new().with(Write::CloseIncident {
            incident: id,
            lessons: "learned".into(),
            at: now + secs(2),
        }),
    )
    .await;
    let rec = repo
        .find_incident(id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(rec.status, IncidentStatus::Closed);
    assert_eq!(rec.lessons.as_deref(), Some("learned"));
    assert_eq!(rec.closed_at, Some(now + secs(2)));
    let e = commit_fails(store, Changes::new().with(line(id, "late", now + secs(3)))).await;
    assert!(e.is_precondition(guards::INCIDENT_NOT_OPEN), "{e:?}");
    let e = commit_fails(
        store,
        Changes::new().with(Write::CloseIncident {
            incident: id,
            lessons: "again".into(),
            at: now + secs(3),
        }),
    )
    .await;
    assert!(e.is_precondition(guards::INCIDENT_NOT_OPEN), "{e:?}");
    assert_eq!(repo.list_incidents().await.expect("list").len(), 1);
}

/// A login's bundle in the order a login builds it (issue 19, item 8):
/// the session limit's end of the least recently used sessions waits to
/// travel with the new session, and the lock guard between them is asked
/// before either is sent. A bundle the lock refuses ends no session; one
/// let through keeps the most recently used session and the new one.
pub async fn c28_a_refused_login_ends_no_session_and_a_let_through_one_keeps_the_limit(
    store: &dyn Store,
) {
    let now = at(0);
    let member = sign_up(store, "limit-lock@example.jp", now, 11).await;
    commit(store, login(member, 12, now + secs(1), LoginMethod::Code)).await;
    let bundle = |seed: u8, t| {
        let mut changes = login(member, seed, t, LoginMethod::Password);
        changes.writes.insert(0, Write::EnsureNotLocked { member });
        changes.writes.insert(
            0,
            Write::EndLeastRecentSessions {
                member,
                keep: 1,
                now: t,
            },
        );
        changes
    };
    let live = |t| async move {
        let mut seeds: Vec<u8> = store
            .sessions()
            .list_for_member(member, t)
            .await
            .expect("list")
            .iter()
            .map(|s| s.token_hash[0])
            .collect();
        seeds.sort_unstable();
        seeds
    };
    lock_in_a_new_incident(store, member, now + secs(2)).await;
    let e = commit_fails(store, bundle(13, now + secs(3))).await;
    assert!(e.is_precondition(guards::MEMBER_LOCKED), "{e:?}");
    commit(store, Changes::new().with(Write::UnlockMember { member })).await;
    assert_eq!(
        live(now + secs(4)).await,
        [11, 12],
        "the refused login ended no session and made none"
    );
    commit(store, bundle(14, now + secs(5))).await;
    assert_eq!(
        live(now + secs(6)).await,
        [12, 14],
        "the least recently used (11) ended, the newer one (12) kept, the new one (14) made"
    );
}

/// A lock ends nothing by itself but hides the member's sessions and
/// fails a login bundle guarded by `EnsureNotLocked`; unlocking restores
/// both. Ending every member session leaves visitors' sessions.
pub async fn c28_locks_hide_sessions_and_refuse_logins(store: &dyn Store) {
    let now = at(0);
    let member = sign_up(store, "locked@example.jp", now, 1).await;
    let other = sign_up(store, "other@example.jp", now, 2).await;
    commit(
        store,
        Changes::new().with(Write::CreateSession(visitor_session(3, now))),
    )
    .await;
    let id = lock_in_a_new_incident(store, member, now).await;
    let sessions = store.sessions();
    let t = now + secs(1);
    assert!(
        sessions
            .find_live(&[1; 32], t)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        sessions
            .find_live(&[2; 32], t)
            .await
            .expect("find")
            .is_some()
    );
    assert!(store.incidents().is_locked(member).await.expect("locked"));
    let mut relogin = login(member, 4, t, LoginMethod::Code);
    relogin.writes.insert(0, Write::EnsureNotLocked { member });
    let e = commit_fails(store, relogin).await;
    assert!(e.is_precondition(guards::MEMBER_LOCKED), "{e:?}");
    let missing = commit_fails(
        store,
        Changes::new().with(Write::LockMember {
            member: new_id(),
            incident: id,
            at: now,
        }),
    )
    .await;
    assert!(
        missing.is_precondition(guards::MEMBER_NOT_FOUND),
        "{missing:?}"
    );
    commit(store, Changes::new().with(Write::UnlockMember { member })).await;
    assert!(
        sessions
            .find_live(&[1; 32], t)
            .await
            .expect("find")
            .is_some()
    );
    let mut relogin = login(member, 4, t, LoginMethod::Code);
    relogin.writes.insert(0, Write::EnsureNotLocked { member });
    commit(store, relogin).await;

    commit(store, Changes::new().with(Write::EndAllMemberSessions)).await;
    for seed in [1u8, 2, 4] {
        assert!(
            sessions
                .find_live(&[seed; 32], t)
                .await
                .expect("find")
                .is_none(),
            "member session {seed} ended"
        );
    }
    assert!(
        sessions
            .find_live(&[3; 32], t)
            .await
            .expect("find")
            .is_some(),
        "the visitor's session stays"
    );
    let (members, _) = store.incidents().live_sessions(t).await.expect("count");
    assert_eq!(members, 0);
    let _ = other;
}

/// The notification's cursor moves only from where it stands (two runs
/// cannot mail the same batch), members page in id order after it.
pub async fn c28_notify_progress_moves_only_from_where_it_stands(store: &dyn Store) {
    let now = at(0);
    let mut members = Vec::new();
    for (i, a) in ["n1@example.jp", "n2@example.jp", "n3@example.jp"]
        .iter()
        .enumerate()
    {
        members.push(sign_up(store, a, now, u8::try_from(i + 1).unwrap_or(1)).await);
    }
    members.sort();
    let (id, changes) = open(now);
    commit(
        store,
        changes.with(Write::StartNotify {
            incident: id,
            template: "sessions-ended".into(),
            audience: "all".into(),
            total: 3,
        }),
    )
    .await;
    let repo = store.incidents();
    assert_eq!(repo.count_members().await.expect("count"), 3);
    let first = repo.members_after(None, 2).await.expect("page");
    assert_eq!(
        first.iter().map(|t| t.member).collect::<Vec<_>>(),
        members[..2]
    );
    let advance = |from, to| {
        Changes::new().with(Write::AdvanceNotify {
            incident: id,
            from,
            to,
            sent: 2,
        })
    };
    commit(store, advance(None, members[1])).await;
    let e = commit_fails(store, advance(None, members[1])).await;
    assert!(e.is_precondition(guards::NOTIFY_MOVED), "{e:?}");
    let rest = repo.members_after(Some(members[1]), 2).await.expect("page");
    assert_eq!(
        rest.iter().map(|t| t.member).collect::<Vec<_>>(),
        members[2..]
    );
    commit(
        store,
        Changes::new().with(Write::FinishNotify {
            incident: id,
            at: now,
        }),
    )
    .await;
    let n = repo
        .find_incident(id)
        .await
        .expect("find")
        .expect("present")
        .notify
        .expect("progress");
    assert_eq!((n.sent, n.total, n.cursor), (2, 3, Some(members[1])));
    assert_eq!(n.finished_at, Some(now));
    let e = commit_fails(store, advance(Some(members[1]), members[2])).await;
    assert!(e.is_precondition(guards::NOTIFY_MOVED), "finished: {e:?}");
}

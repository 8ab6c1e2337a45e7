//! Sessions (C10): stored by token hash, found only while live, ended one
//! at a time or all but the current one, purged once expired.

use super::fixtures::{
    at, commit, commit_fails, join_all, login, member_session, secs, sign_up, try_commit,
    visitor_session, warm_pool,
};
use crate::{Changes, Collection, LoginMethod, SessionLogin, Store, StoreError, Write, guards};

/// A visitor's session reads back as written; `touch` moves `last_seen_at`
/// and the idle deadline.
pub async fn c10_session_round_trips_and_touch_extends_the_idle_deadline(store: &dyn Store) {
    let now = at(0);
    let new = visitor_session(1, now);
    commit(
        store,
        Changes::new().with(Write::CreateSession(new.clone())),
    )
    .await;
    let found = store
        .sessions()
        .find_live(&new.token_hash, now + secs(1))
        .await
        .expect("find")
        .expect("session present");
    assert_eq!(found.id, new.id);
    assert_eq!(found.token_hash, new.token_hash);
    assert_eq!(found.created_at, now);
    assert_eq!(found.last_seen_at, now);
    assert_eq!(found.absolute_expires_at, new.absolute_expires_at);
    assert_eq!(found.idle_expires_at, new.idle_expires_at);
    assert_eq!(found.login, None, "a visitor's session has no member");
    assert_eq!(found.member(), None);

    store
        .sessions()
        .touch(new.id, now + secs(50), now + secs(150))
        .await
        .expect("touch");
    let touched = store
        .sessions()
        .find_live(&new.token_hash, now + secs(120))
        .await
        .expect("find after touch")
        .expect("touch extended the idle deadline");
    assert_eq!(touched.last_seen_at, now + secs(50));
    assert_eq!(touched.idle_expires_at, now + secs(150));
    assert_eq!(touched.created_at, now, "touch keeps the creation time");
}

/// A member's session keeps who logged in, when, from where and how.
pub async fn c10_member_session_keeps_who_logged_in_from_where_and_how(store: &dyn Store) {
    let now = at(0);
    let member = sign_up(store, "who@example.jp", now, 1).await;
    let new = member_session(member, 2, now + secs(5), LoginMethod::Password);
    commit(
        store,
        Changes::new().with(Write::CreateSession(new.clone())),
    )
    .await;
    let found = store
        .sessions()
        .find_live(&[2; 32], now + secs(6))
        .await
        .expect("find")
        .expect("session present");
    assert_eq!(found.member(), Some(member));
    assert_eq!(
        found.login,
        Some(SessionLogin {
            member_id: member,
            authenticated_at: now + secs(5),
            ip: "192.0.2.1".into(),
            device: "Firefox on Linux".into(),
            method: LoginMethod::Password,
        })
    );
}

pub async fn c10_sessions_expire_at_the_idle_or_the_absolute_deadline(store: &dyn Store) {
    let now = at(0);
    let new = visitor_session(2, now);
    commit(
        store,
        Changes::new().with(Write::CreateSession(new.clone())),
    )
    .await;
    let repo = store.sessions();
    let live = |t| repo.find_live(&new.token_hash, t);
    assert!(live(now + secs(99)).await.expect("find").is_some());
    assert!(
        live(now + secs(100)).await.expect("find").is_none(),
        "idle deadline not enforced"
    );
    // Keep it active past the absolute deadline: it must still die.
    repo.touch(new.id, now + secs(990), now + secs(2_000))
        .await
        .expect("touch");
    assert!(live(now + secs(999)).await.expect("find").is_some());
    assert!(
        live(now + secs(1_000)).await.expect("find").is_none(),
        "absolute deadline not enforced"
    );
}

pub async fn c10_session_token_hashes_are_unique(store: &dyn Store) {
    let now = at(0);
    let first = visitor_session(3, now);
    commit(
        store,
        Changes::new().with(Write::CreateSession(first.clone())),
    )
    .await;
    let second = visitor_session(3, now);
    let err = commit_fails(store, Changes::new().with(Write::CreateSession(second))).await;
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "duplicate token hash: {err:?}"
    );
    let found = store
        .sessions()
        .find_live(&[3; 32], now)
        .await
        .expect("find")
        .expect("the first session stays");
    assert_eq!(found.id, first.id);
}

/// Logging out ends the session (twice is fine); the purge removes exactly
/// the expired sessions and keeps the live ones.
pub async fn c10_ended_sessions_are_gone_and_purge_removes_only_expired_ones(store: &dyn Store) {
    let now = at(0);
    let repo = store.sessions();
    let a = visitor_session(4, now);
    let b = visitor_session(5, now);
    let mut c = visitor_session(6, now);
    c.idle_expires_at = now + secs(10_000);
    c.absolute_expires_at = now + secs(10_000);
    commit(
        store,
        Changes::new()
            .with(Write::CreateSession(a.clone()))
            .with(Write::CreateSession(b.clone()))
            .with(Write::CreateSession(c.clone())),
    )
    .await;
    commit(store, Changes::new().with(Write::EndSession(a.id))).await;
    assert!(
        repo.find_live(&a.token_hash, now)
            .await
            .expect("find")
            .is_none(),
        "an ended session still works"
    );
    commit(store, Changes::new().with(Write::EndSession(a.id))).await;
    assert!(
        repo.find_live(&b.token_hash, now)
            .await
            .expect("find")
            .is_some(),
        "ending one session ended another"
    );

    // b is idle past its deadline at now + 100 s; c lives on.
    let purged = repo.purge_expired(now + secs(100)).await.expect("purge");
    assert_eq!(purged, 1, "purge removes the one expired session");
    assert!(
        repo.find_live(&b.token_hash, now)
            .await
            .expect("find")
            .is_none(),
        "the purged session is gone even for an earlier clock"
    );
    assert!(
        repo.find_live(&c.token_hash, now + secs(100))
            .await
            .expect("find")
            .is_some(),
        "purge removed a live session"
    );
    assert_eq!(repo.purge_expired(now + secs(100)).await.expect("again"), 0);
}

/// A member's live sessions are listed newest first; the member can end
/// one of them (not someone else's, not one already gone) or every one
/// but the current one.
pub async fn c10_member_sessions_are_listed_newest_first_and_ended_one_or_all_but_this_one(
    store: &dyn Store,
) {
    let now = at(0);
    let id = sign_up(store, "d@example.jp", now, 20).await;
    commit(store, login(id, 21, now + secs(1), LoginMethod::Code)).await;
    commit(store, login(id, 22, now + secs(2), LoginMethod::Password)).await;
    // An expired session is not listed.
    let mut short = member_session(id, 24, now, LoginMethod::Code);
    short.idle_expires_at = now + secs(2);
    commit(store, Changes::new().with(Write::CreateSession(short))).await;

    let s = store.sessions();
    let list = s.list_for_member(id, now + secs(3)).await.expect("list");
    assert_eq!(
        list.iter().map(|r| r.token_hash).collect::<Vec<_>>(),
        [[22; 32], [21; 32], [20; 32]],
        "live sessions, newest first"
    );
    assert!(list.iter().all(|r| r.member() == Some(id)));
    let keep = list[0].id;

    let other_member = sign_up(store, "e@example.jp", now, 23).await;
    let other_session = s
        .list_for_member(other_member, now + secs(3))
        .await
        .expect("list")[0]
        .id;
    let err = commit_fails(
        store,
        Changes::new().with(Write::EndMemberSession {
            member: other_member,
            session: keep,
        }),
    )
    .await;
    assert!(
        err.is_precondition(guards::SESSION_NOT_FOUND),
        "ended another member's session: {err:?}"
    );
    commit(
        store,
        Changes::new().with(Write::EndMemberSession {
            member: id,
            session: list[2].id,
        }),
    )
    .await;
    let err = commit_fails(
        store,
        Changes::new().with(Write::EndMemberSession {
            member: id,
            session: list[2].id,
        }),
    )
    .await;
    assert!(
        err.is_precondition(guards::SESSION_NOT_FOUND),
        "ended a session twice: {err:?}"
    );
    assert_eq!(
        s.list_for_member(id, now + secs(3))
            .await
            .expect("list")
            .len(),
        2
    );

    commit(
        store,
        Changes::new().with(Write::EndOtherSessions {
            member: id,
            keep: Some(keep),
        }),
    )
    .await;
    let left = s.list_for_member(id, now + secs(3)).await.expect("list");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, keep);
    assert_eq!(
        s.list_for_member(other_member, now + secs(3))
            .await
            .expect("list")
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [other_session],
        "another member's sessions are untouched"
    );

    commit(
        store,
        Changes::new().with(Write::EndOtherSessions {
            member: id,
            keep: None,
        }),
    )
    .await;
    assert!(
        s.list_for_member(id, now + secs(3))
            .await
            .expect("list")
            .is_empty(),
        "ending all sessions left one"
    );
}

/// A fresh code moves `authenticated_at` of a member's session; a
/// visitor's session does not become a member's.
pub async fn c11_reauthentication_marks_only_a_member_session(store: &dyn Store) {
    let now = at(0);
    let id = sign_up(store, "reauth@example.jp", now, 30).await;
    let visitor = visitor_session(31, now);
    commit(
        store,
        Changes::new().with(Write::CreateSession(visitor.clone())),
    )
    .await;
    let member_session = store
        .sessions()
        .find_live(&[30; 32], now)
        .await
        .expect("find")
        .expect("member session");
    commit(
        store,
        Changes::new()
            .with(Write::MarkAuthenticated {
                session: member_session.id,
                at: now + secs(60),
            })
            .with(Write::MarkAuthenticated {
                session: visitor.id,
                at: now + secs(60),
            }),
    )
    .await;
    let marked = store
        .sessions()
        .find_live(&[30; 32], now + secs(61))
        .await
        .expect("find")
        .expect("member session");
    let login = marked.login.expect("still a member's session");
    assert_eq!(login.authenticated_at, now + secs(60));
    assert_eq!(login.member_id, id);
    assert_eq!(login.method, LoginMethod::Signup, "how it began is kept");
    let visitor = store
        .sessions()
        .find_live(&[31; 32], now + secs(61))
        .await
        .expect("find")
        .expect("visitor session");
    assert_eq!(visitor.login, None, "a visitor's session became a member's");
}

/// The session limit (issue 19): a login that would pass it ends the
/// member's expired sessions and then the least recently used ones, in
/// its own transaction; many logins at once still leave at most the
/// limit, and the session used most recently survives.
pub async fn c10_logins_at_the_session_limit_end_the_least_recently_used(store: &dyn Store) {
    const MAX: u32 = 3;
    let now = at(0);
    let id = sign_up(store, "many@example.jp", now, 40).await;
    let login_at_limit = |seed: u8, t| {
        let mut changes = login(id, seed, t, LoginMethod::Code);
        changes.writes.insert(
            0,
            Write::EndLeastRecentSessions {
                member: id,
                keep: MAX - 1,
                now: t,
            },
        );
        changes
    };
    commit(store, login_at_limit(41, now + secs(1))).await;
    commit(store, login_at_limit(42, now + secs(2))).await;
    // The first session (seed 40) is used now: it is the most recent.
    let first = store
        .sessions()
        .find_live(&[40; 32], now + secs(3))
        .await
        .expect("find")
        .expect("live");
    store
        .sessions()
        .touch(first.id, now + secs(3), now + secs(86_400))
        .await
        .expect("touch");
    // Another member's sessions are not touched by this member's limit.
    let other = sign_up(store, "other-many@example.jp", now, 50).await;
    commit(store, login_at_limit(43, now + secs(4))).await;
    let hashes = |list: Vec<crate::SessionRecord>| {
        let mut h: Vec<u8> = list.iter().map(|r| r.token_hash[0]).collect();
        h.sort_unstable();
        h
    };
    let live = store
        .sessions()
        .list_for_member(id, now + secs(5))
        .await
        .expect("list");
    assert_eq!(
        hashes(live),
        [40, 42, 43],
        "the least recently used (41) ended; the used one (40) kept"
    );
    assert_eq!(
        store
            .sessions()
            .list_for_member(other, now + secs(5))
            .await
            .expect("list")
            .len(),
        1
    );
    // Many logins at once: all succeed, at most MAX remain.
    warm_pool(store, 8).await;
    let logins = (60..68u8).map(|seed| try_commit(store, login_at_limit(seed, now + secs(6))));
    for r in join_all(logins).await {
        r.expect("a login at the limit is never refused");
    }
    let live = store
        .sessions()
        .list_for_member(id, now + secs(7))
        .await
        .expect("list");
    assert_eq!(live.len(), MAX as usize, "{:?}", hashes(live));
    // An expired session is ended first, and does not count.
    let mut short = member_session(id, 70, now + secs(8), LoginMethod::Code);
    short.idle_expires_at = now + secs(9);
    commit(store, Changes::new().with(Write::CreateSession(short))).await;
    let err = commit_fails(
        store,
        Changes::new().with(Write::EnsureRoom {
            member: id,
            collection: Collection::Sessions,
            max: MAX,
            now: now + secs(10),
        }),
    )
    .await;
    assert!(err.is_precondition(guards::LIMIT_REACHED), "{err:?}");
    commit(
        store,
        Changes::new().with(Write::EnsureRoom {
            member: id,
            collection: Collection::Sessions,
            max: MAX + 1,
            now: now + secs(10),
        }),
    )
    .await;
    // A login ends the expired session although it was used last, and it
    // takes none of the places kept: the live ones fill them.
    commit(store, login_at_limit(71, now + secs(10))).await;
    let live = store
        .sessions()
        .list_for_member(id, now + secs(8))
        .await
        .expect("list");
    let live = hashes(live);
    assert_eq!(live.len(), MAX as usize, "{live:?}");
    assert!(!live.contains(&70), "the expired session is gone: {live:?}");
    assert!(live.contains(&71), "the new session is there: {live:?}");
}

//! Staff accounts and staff sessions (C21, C27): one account per e-mail,
//! an enrolment link that works once, a TOTP step accepted once, and a
//! disabled account's sessions gone in the same transaction.

use super::fixtures::{at, commit, commit_fails, email, new_id, secs};
use crate::staff::{NewStaff, NewStaffSession};
use crate::{Changes, StaffId, StaffRole, StaffStatus, Store, StoreError, Write, guards};

fn new_staff(address: &str, seed: u8, now: crate::Timestamp) -> NewStaff {
    NewStaff {
        id: new_id(),
        email: email(address),
        role: StaffRole::Support,
        created_at: now,
        enrol_token_hash: [seed; 32],
        enrol_expires_at: now + secs(3600),
    }
}

fn session(staff: StaffId, seed: u8, now: crate::Timestamp) -> NewStaffSession {
    NewStaffSession {
        id: new_id(),
        token_hash: [seed; 32],
        staff_id: staff,
        created_at: now,
        absolute_expires_at: now + secs(3600),
        idle_expires_at: now + secs(900),
        second_factor_at: now,
        ip: "127.0.0.1".into(),
    }
}

/// One account per e-mail; it reads back by id, e-mail and its enrolment
/// link while the link works, and not after.
pub async fn c21_staff_accounts_are_one_per_email_and_enrolment_works_once(store: &dyn Store) {
    let now = at(0);
    let a = new_staff("one@example.jp", 1, now);
    commit(store, Changes::new().with(Write::CreateStaff(a.clone()))).await;
    let dup = commit_fails(
        store,
        Changes::new().with(Write::CreateStaff(new_staff("one@example.jp", 2, now))),
    )
    .await;
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");
    let repo = store.staff();
    let found = repo.find_staff(a.id).await.expect("find").expect("present");
    assert_eq!(found.email, a.email);
    assert_eq!(found.role, StaffRole::Support);
    assert_eq!(found.status, StaffStatus::Active);
    assert!(!found.is_enrolled());
    assert_eq!(
        repo.find_staff_by_email(&a.email)
            .await
            .expect("by email")
            .map(|r| r.id),
        Some(a.id)
    );
    assert!(
        repo.find_staff_by_enrolment(&[1; 32], now)
            .await
            .expect("link")
            .is_some()
    );
    assert!(
        repo.find_staff_by_enrolment(&[1; 32], now + secs(3600))
            .await
            .expect("link")
            .is_none(),
        "an expired link finds nothing"
    );
    let enrol = |step| {
        Changes::new().with(Write::EnrolStaffTotp {
            staff: a.id,
            token_hash: [1; 32],
            secret: vec![9; 40],
            step,
            at: now + secs(10),
        })
    };
    commit(store, enrol(5)).await;
    let again = commit_fails(store, enrol(6)).await;
    assert!(matches!(again, StoreError::Precondition(g) if g == guards::ENROLMENT_INVALID));
    let r = repo.find_staff(a.id).await.expect("find").expect("present");
    assert_eq!(r.totp_secret, Some(vec![9; 40]));
    assert_eq!(r.totp_last_step, Some(5));
    assert!(
        repo.find_staff_by_enrolment(&[1; 32], now)
            .await
            .expect("link")
            .is_none()
    );
    assert_eq!(repo.list_staff().await.expect("list").len(), 1);
}

/// A TOTP step is accepted once: the same or an earlier step fails the
/// whole bundle (no session is made), a later one passes.
pub async fn c21_a_totp_step_is_accepted_once(store: &dyn Store) {
    let now = at(0);
    let a = new_staff("two@example.jp", 3, now);
    commit(store, Changes::new().with(Write::CreateStaff(a.clone()))).await;
    let login = |step, seed| {
        Changes::new()
            .with(Write::UseTotpStep { staff: a.id, step })
            .with(Write::CreateStaffSession(session(a.id, seed, now)))
    };
    commit(store, login(10, 20)).await;
    for (step, seed) in [(10, 21), (9, 22)] {
        let e = commit_fails(store, login(step, seed)).await;
        assert!(
            matches!(e, StoreError::Precondition(g) if g == guards::TOTP_USED),
            "{e:?}"
        );
        assert!(
            store
                .staff()
                .find_live_staff_session(&[seed; 32], now)
                .await
                .expect("find")
                .is_none(),
            "no session from a replayed code"
        );
    }
    commit(store, login(11, 23)).await;
    assert!(
        store
            .staff()
            .find_live_staff_session(&[23; 32], now)
            .await
            .expect("find")
            .is_some()
    );
}

/// Disabling an account ends its sessions in the same transaction; an
/// unknown account fails; a disabled account accepts no step; sessions
/// expire at the idle deadline, move with touch and are purged.
pub async fn c21_disabling_ends_sessions_and_sessions_expire(store: &dyn Store) {
    let now = at(0);
    let a = new_staff("three@example.jp", 4, now);
    commit(store, Changes::new().with(Write::CreateStaff(a.clone()))).await;
    let s = session(a.id, 30, now);
    commit(
        store,
        Changes::new().with(Write::CreateStaffSession(s.clone())),
    )
    .await;
    let repo = store.staff();
    repo.touch_staff_session(s.id, now + secs(800), now + secs(1700))
        .await
        .expect("touch");
    let live = repo
        .find_live_staff_session(&[30; 32], now + secs(1000))
        .await
        .expect("find")
        .expect("touch moved the idle deadline");
    assert_eq!(live.staff_id, a.id);
    assert_eq!(live.second_factor_at, now);
    let up = now + secs(1001);
    commit(
        store,
        Changes::new().with(Write::StaffStepUp {
            session: s.id,
            at: up,
        }),
    )
    .await;
    let live = repo
        .find_live_staff_session(&[30; 32], up)
        .await
        .expect("find")
        .expect("live");
    assert_eq!(live.second_factor_at, up);

    let other = session(a.id, 31, now);
    commit(store, Changes::new().with(Write::CreateStaffSession(other))).await;
    assert_eq!(
        repo.purge_expired_staff_sessions(now + secs(901))
            .await
            .expect("purge"),
        1
    );

    commit(
        store,
        Changes::new().with(Write::SetStaffStatus {
            staff: a.id,
            status: StaffStatus::Disabled,
            at: now + secs(5),
        }),
    )
    .await;
    assert!(
        repo.find_live_staff_session(&[30; 32], up)
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(
        repo.find_staff(a.id).await.expect("find").map(|r| r.status),
        Some(StaffStatus::Disabled)
    );
    let e = commit_fails(
        store,
        Changes::new().with(Write::UseTotpStep {
            staff: a.id,
            step: 99,
        }),
    )
    .await;
    assert!(matches!(e, StoreError::Precondition(g) if g == guards::TOTP_USED));
    let e = commit_fails(
        store,
        Changes::new().with(Write::SetStaffStatus {
            staff: new_id(),
            status: StaffStatus::Disabled,
            at: now,
        }),
    )
    .await;
    assert!(matches!(e, StoreError::Precondition(g) if g == guards::STAFF_NOT_FOUND));
}

/// A role change ends the account's sessions in the same transaction;
/// it needs an active account whose role is still the one it was decided
/// from; the last active administrator is never demoted, not even by two
/// demotions in parallel (one of them fails).
pub async fn c27_a_role_change_ends_sessions_and_keeps_an_administrator(store: &dyn Store) {
    let now = at(0);
    let mut a = new_staff("admin-a@example.jp", 40, now);
    a.role = StaffRole::Admin;
    let mut b = new_staff("admin-b@example.jp", 41, now);
    b.role = StaffRole::Admin;
    let c = new_staff("worker@example.jp", 42, now);
    for n in [&a, &b, &c] {
        commit(store, Changes::new().with(Write::CreateStaff(n.clone()))).await;
    }
    commit(
        store,
        Changes::new()
            .with(Write::CreateStaffSession(session(c.id, 43, now)))
            .with(Write::CreateStaffSession(session(a.id, 44, now))),
    )
    .await;
    let role = |staff, from, to| {
        Changes::new().with(Write::SetStaffRole {
            staff,
            from,
            to,
            at: now + secs(1),
        })
    };
    let guard_of = |e: StoreError| match e {
        StoreError::Precondition(g) => g,
        e => panic!("expected a guard, got {e:?}"),
    };
    let repo = store.staff();

    commit(store, role(c.id, StaffRole::Support, StaffRole::Finance)).await;
    let r = repo.find_staff(c.id).await.expect("find").expect("present");
    assert_eq!(r.role, StaffRole::Finance);
    assert_eq!(r.updated_at, now + secs(1));
    assert!(
        repo.find_live_staff_session(&[43; 32], now)
            .await
            .expect("find")
            .is_none(),
        "the session ended with the change"
    );
    assert!(
        repo.find_live_staff_session(&[44; 32], now)
            .await
            .expect("find")
            .is_some(),
        "nobody else's"
    );
    // Decided from a role it no longer has: nothing changes.
    let e = commit_fails(store, role(c.id, StaffRole::Support, StaffRole::Security)).await;
    assert_eq!(guard_of(e), guards::STAFF_ROLE_CHANGED);
    let e = commit_fails(store, role(new_id(), StaffRole::Support, StaffRole::Admin)).await;
    assert_eq!(guard_of(e), guards::STAFF_NOT_FOUND);

    // Two administrators demoting each other at once: one passes.
    let (demote_a, demote_b) = (
        role(a.id, StaffRole::Admin, StaffRole::Security),
        role(b.id, StaffRole::Admin, StaffRole::Security),
    );
    let (x, y) = tokio::join!(store.commit(&demote_a), store.commit(&demote_b));
    let failed: Vec<_> = [x, y].into_iter().filter_map(Result::err).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        matches!(failed[0], StoreError::Precondition(g) if g == guards::LAST_ADMIN),
        "{failed:?}"
    );
    let admins: Vec<_> = repo
        .list_staff()
        .await
        .expect("list")
        .into_iter()
        .filter(|s| s.role == StaffRole::Admin)
        .collect();
    assert_eq!(admins.len(), 1, "one administrator is left");
    let last = admins[0].id;
    let e = commit_fails(store, role(last, StaffRole::Admin, StaffRole::Support)).await;
    assert_eq!(guard_of(e), guards::LAST_ADMIN);
    // An administrator may still be made one again, and then demoted.
    let other = if last == a.id { b.id } else { a.id };
    commit(store, role(other, StaffRole::Security, StaffRole::Admin)).await;
    commit(store, role(last, StaffRole::Admin, StaffRole::Support)).await;

    // A disabled account keeps its role.
    commit(
        store,
        Changes::new().with(Write::SetStaffStatus {
            staff: c.id,
            status: StaffStatus::Disabled,
            at: now + secs(2),
        }),
    )
    .await;
    let e = commit_fails(store, role(c.id, StaffRole::Finance, StaffRole::Admin)).await;
    assert_eq!(guard_of(e), guards::STAFF_NOT_ACTIVE);
    assert_eq!(
        repo.find_staff(c.id).await.expect("find").map(|r| r.role),
        Some(StaffRole::Finance)
    );
}

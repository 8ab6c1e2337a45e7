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

//! Staff passkeys and WebAuthn ceremonies (C21): a ceremony is used once
//! and not after it ran out; a credential id belongs to one account; a
//! passkey is used and removed only as its owner's.

use super::fixtures::{at, commit, commit_fails, email, new_id, secs};
use crate::staff::{CeremonyKind, NewStaff, NewStaffCeremony, NewStaffPasskey};
use crate::{Changes, StaffId, StaffPasskeyId, StaffRole, Store, StoreError, Write, guards};

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

fn ceremony(seed: u8, kind: CeremonyKind, staff: Option<StaffId>) -> NewStaffCeremony {
    NewStaffCeremony {
        id_hash: [seed; 32],
        kind,
        staff_id: staff,
        state: format!("{{\"seed\":{seed}}}"),
        created_at: at(0),
        expires_at: at(300),
    }
}

fn passkey(staff: StaffId, credential: u8) -> NewStaffPasskey {
    NewStaffPasskey {
        id: new_id(),
        staff_id: staff,
        credential_id: vec![credential; 16],
        name: "laptop".into(),
        passkey: "{}".into(),
        created_at: at(1),
    }
}

/// A ceremony reads back while live; finishing it works once, only as
/// its own kind, and not once it ran out; the purge removes expired ones.
pub async fn c21_a_webauthn_ceremony_is_used_once_and_runs_out(store: &dyn Store) {
    let a = new_staff("pk1@example.jp", 1, at(0));
    commit(store, Changes::new().with(Write::CreateStaff(a.clone()))).await;
    commit(
        store,
        Changes::new()
            .with(Write::StartStaffCeremony(ceremony(
                7,
                CeremonyKind::Register,
                Some(a.id),
            )))
            .with(Write::StartStaffCeremony(ceremony(
                8,
                CeremonyKind::Login,
                None,
            ))),
    )
    .await;
    let repo = store.staff_passkeys();
    let found = repo
        .find_staff_ceremony(&[7; 32], at(10))
        .await
        .expect("find")
        .expect("live");
    assert_eq!(found.kind, CeremonyKind::Register);
    assert_eq!(found.staff_id, Some(a.id));
    assert_eq!(found.state, "{\"seed\":7}");
    let use_it = |seed: u8, kind, t| {
        Changes::new().with(Write::UseStaffCeremony {
            id_hash: [seed; 32],
            kind,
            at: at(t),
        })
    };
    let wrong_kind = commit_fails(store, use_it(7, CeremonyKind::Login, 10)).await;
    assert!(matches!(wrong_kind, StoreError::Precondition(g) if g == guards::CEREMONY_USED));
    commit(store, use_it(7, CeremonyKind::Register, 10)).await;
    let replay = commit_fails(store, use_it(7, CeremonyKind::Register, 11)).await;
    assert!(matches!(replay, StoreError::Precondition(g) if g == guards::CEREMONY_USED));
    assert!(
        repo.find_staff_ceremony(&[7; 32], at(10))
            .await
            .expect("find")
            .is_none()
    );
    let late = commit_fails(store, use_it(8, CeremonyKind::Login, 300)).await;
    assert!(matches!(late, StoreError::Precondition(g) if g == guards::CEREMONY_USED));
    assert!(
        repo.find_staff_ceremony(&[8; 32], at(300))
            .await
            .expect("find")
            .is_none(),
        "an expired ceremony reads as absent"
    );
    assert_eq!(
        repo.purge_expired_staff_ceremonies(at(300))
            .await
            .expect("purge"),
        1
    );
}

/// A credential is stored once across all accounts; it is used and
/// removed only by its owner; a disabled account gets no new passkey.
pub async fn c21_a_passkey_belongs_to_one_staff_member(store: &dyn Store) {
    let a = new_staff("pk2@example.jp", 2, at(0));
    let b = new_staff("pk3@example.jp", 3, at(0));
    commit(
        store,
        Changes::new()
            .with(Write::CreateStaff(a.clone()))
            .with(Write::CreateStaff(b.clone())),
    )
    .await;
    let pa = passkey(a.id, 1);
    commit(
        store,
        Changes::new().with(Write::AddStaffPasskey(pa.clone())),
    )
    .await;
    let dup = commit_fails(
        store,
        Changes::new().with(Write::AddStaffPasskey(passkey(b.id, 1))),
    )
    .await;
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");
    let repo = store.staff_passkeys();
    let found = repo
        .find_staff_passkey_by_credential(&[1; 16])
        .await
        .expect("find")
        .expect("present");
    assert_eq!(found.staff_id, a.id);
    assert_eq!(found.last_used_at, None);
    assert!(
        repo.list_staff_passkeys(b.id)
            .await
            .expect("list")
            .is_empty()
    );

    let use_as = |staff| {
        Changes::new().with(Write::UseStaffPasskey {
            staff,
            credential_id: vec![1; 16],
            read: "{}".into(),
            passkey: "{\"counter\":2}".into(),
            at: at(20),
        })
    };
    let theirs = commit_fails(store, use_as(b.id)).await;
    assert!(matches!(theirs, StoreError::Precondition(g) if g == guards::PASSKEY_NOT_FOUND));
    commit(store, use_as(a.id)).await;
    let stale = commit_fails(store, use_as(a.id)).await;
    assert!(
        matches!(stale, StoreError::Precondition(g) if g == guards::PASSKEY_NOT_FOUND),
        "a state read before another login moved it is refused"
    );
    let listed = repo.list_staff_passkeys(a.id).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed.first().map(|p| p.passkey.as_str()),
        Some("{\"counter\":2}")
    );
    assert_eq!(listed.first().and_then(|p| p.last_used_at), Some(at(20)));

    let remove_as = |staff, passkey: StaffPasskeyId| {
        Changes::new().with(Write::RemoveStaffPasskey { staff, passkey })
    };
    let theirs = commit_fails(store, remove_as(b.id, pa.id)).await;
    assert!(matches!(theirs, StoreError::Precondition(g) if g == guards::PASSKEY_NOT_FOUND));
    commit(store, remove_as(a.id, pa.id)).await;
    assert!(
        repo.list_staff_passkeys(a.id)
            .await
            .expect("list")
            .is_empty()
    );

    commit(
        store,
        Changes::new().with(Write::SetStaffStatus {
            staff: b.id,
            status: crate::StaffStatus::Disabled,
            at: at(30),
        }),
    )
    .await;
    let disabled = commit_fails(
        store,
        Changes::new().with(Write::AddStaffPasskey(passkey(b.id, 2))),
    )
    .await;
    assert!(matches!(disabled, StoreError::Precondition(g) if g == guards::STAFF_NOT_FOUND));
}

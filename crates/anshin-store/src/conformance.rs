//! The conformance suite: every backend runs these same checks against a
//! real, freshly migrated database (see each backend's `tests/`). A backend
//! that passes them behaves as the application expects.

// This module is test code that backends run from their own tests; a panic
// with a message is how it reports a difference.
#![allow(clippy::expect_used)]

use uuid::Uuid;

use crate::{NewSession, Store};

/// Runs every check in order; panics (this is test code) on the first
/// difference, naming it.
pub async fn run_all(store: &dyn Store) {
    schema_is_current_after_migrate(store).await;
    migrate_is_idempotent(store).await;
    sessions_round_trip(store).await;
    sessions_expire_by_idle_and_absolute_deadline(store).await;
    session_token_hashes_are_unique(store).await;
    sessions_delete_and_purge(store).await;
}

fn session(seed: u8, now: i64) -> NewSession {
    NewSession {
        id: Uuid::now_v7(),
        token_hash: [seed; 32],
        created_at: now,
        absolute_expires_at: now + 1_000,
        idle_expires_at: now + 100,
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

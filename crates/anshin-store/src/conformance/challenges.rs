//! Solved bot challenges (C7): each solution is accepted once, even when
//! submitted in parallel, and forgotten once expired.

use super::fixtures::{at, join_all, secs};
use crate::Store;

pub async fn c07_challenge_solution_is_accepted_once(store: &dyn Store) {
    let now = at(0);
    let repo = store.challenges();
    assert!(
        repo.consume(&[7; 32], now + secs(100))
            .await
            .expect("first")
    );
    assert!(
        !repo
            .consume(&[7; 32], now + secs(100))
            .await
            .expect("replay"),
        "a replayed challenge was accepted twice"
    );
    assert!(
        !repo
            .consume(&[7; 32], now + secs(500))
            .await
            .expect("replay with another expiry"),
        "a replay with a later expiry was accepted"
    );
    assert!(
        repo.consume(&[8; 32], now + secs(100))
            .await
            .expect("other"),
        "a different challenge is independent"
    );
}

pub async fn c07_parallel_consumes_accept_a_challenge_once(store: &dyn Store) {
    let now = at(0);
    let tries = (0..10).map(|_| store.challenges().consume(&[9; 32], now + secs(100)));
    let results = join_all(tries).await;
    let accepted = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let refused = results.iter().filter(|r| matches!(r, Ok(false))).count();
    assert_eq!(accepted, 1, "parallel submissions of one solution");
    assert_eq!(refused, 9, "every other submission is refused, none errs");
}

pub async fn c07_expired_challenges_are_purged(store: &dyn Store) {
    let now = at(0);
    let repo = store.challenges();
    assert!(
        repo.consume(&[10; 32], now + secs(10))
            .await
            .expect("short")
    );
    assert!(
        repo.consume(&[11; 32], now + secs(1_000))
            .await
            .expect("long")
    );
    let purged = repo.purge_expired(now + secs(10)).await.expect("purge");
    assert_eq!(purged, 1, "the expired row (and only it) is purged");
    // The purged one is gone (insertable again), the live one is kept.
    assert!(
        repo.consume(&[10; 32], now + secs(2_000))
            .await
            .expect("again")
    );
    assert!(
        !repo
            .consume(&[11; 32], now + secs(1_000))
            .await
            .expect("kept")
    );
    assert_eq!(repo.purge_expired(now + secs(10)).await.expect("again"), 0);
}

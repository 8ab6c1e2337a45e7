//! Login limits (C8): the account lock and its growing delays, windowed
//! failure counters, unlock tokens.

use super::fixtures::{at, commit, email, join_all, secs};
use crate::{Changes, Duration, LockPolicy, Reservation, Store, WindowTake, Write};

/// Ten consecutive failures lock for 1 min, 5 min, 15 min, then 1 h.
pub(super) fn policy() -> LockPolicy {
    LockPolicy {
        threshold: 10,
        delays: [secs(60), secs(300), secs(900), secs(3_600)],
    }
}

const KEY: &str = "acct:lock@example.jp";

pub async fn c08_account_lock_starts_at_the_threshold_and_grows(store: &dyn Store) {
    let t = store.throttle();
    let policy = policy();
    let now = at(0);
    for i in 1..=9 {
        assert_eq!(
            t.reserve_attempt(KEY, now, &policy).await.expect("reserve"),
            Reservation::Allowed {
                count: i,
                locked_now: false
            }
        );
    }
    assert_eq!(
        t.reserve_attempt(KEY, now, &policy).await.expect("10th"),
        Reservation::Allowed {
            count: 10,
            locked_now: true
        }
    );
    assert_eq!(
        t.reserve_attempt(KEY, now + secs(59), &policy)
            .await
            .expect("locked"),
        Reservation::Locked {
            until: now + secs(60)
        }
    );
    // After the first delay, ten more failures lock for the second delay.
    for i in 11..=19 {
        assert_eq!(
            t.reserve_attempt(KEY, now + secs(60), &policy)
                .await
                .expect("r"),
            Reservation::Allowed {
                count: i,
                locked_now: false
            }
        );
    }
    assert_eq!(
        t.reserve_attempt(KEY, now + secs(60), &policy)
            .await
            .expect("20th"),
        Reservation::Allowed {
            count: 20,
            locked_now: true
        }
    );
    assert_eq!(
        t.reserve_attempt(KEY, now + secs(61), &policy)
            .await
            .expect("locked"),
        Reservation::Locked {
            until: now + secs(60 + 300)
        }
    );
    assert_eq!(
        t.consecutive_failures(KEY).await.expect("read"),
        20,
        "locked attempts are not counted"
    );
    t.reset(KEY).await.expect("reset");
    assert_eq!(t.consecutive_failures(KEY).await.expect("read"), 0);
    assert_eq!(
        t.consecutive_failures("acct:never@example.jp")
            .await
            .expect("read"),
        0
    );
    assert_eq!(
        t.reserve_attempt(KEY, now + secs(62), &policy)
            .await
            .expect("after reset"),
        Reservation::Allowed {
            count: 1,
            locked_now: false
        },
        "a success clears the lock and the count"
    );
}

/// The third lock lasts the third delay; the fourth and every later one
/// the last delay.
pub async fn c08_lock_delays_stop_growing_at_the_last_step(store: &dyn Store) {
    let t = store.throttle();
    let policy = policy();
    let mut now = at(0);
    for (lock, delay) in [60u64, 300, 900, 3_600, 3_600, 3_600]
        .into_iter()
        .enumerate()
    {
        for _ in 0..9 {
            assert!(matches!(
                t.reserve_attempt(KEY, now, &policy).await.expect("reserve"),
                Reservation::Allowed {
                    locked_now: false,
                    ..
                }
            ));
        }
        assert!(
            matches!(
                t.reserve_attempt(KEY, now, &policy).await.expect("reserve"),
                Reservation::Allowed {
                    locked_now: true,
                    ..
                }
            ),
            "lock {lock} did not start"
        );
        assert_eq!(
            t.reserve_attempt(KEY, now, &policy).await.expect("locked"),
            Reservation::Locked {
                until: now + secs(delay)
            },
            "lock {lock}"
        );
        now = now + secs(delay);
    }
    assert_eq!(t.consecutive_failures(KEY).await.expect("read"), 60);
}

pub async fn c08_parallel_attempts_never_pass_the_lock(store: &dyn Store) {
    let now = at(0);
    let policy = policy();
    let tries = (0..50).map(|_| {
        store
            .throttle()
            .reserve_attempt("acct:race@example.jp", now, &policy)
    });
    let results = join_all(tries).await;
    let allowed = results
        .iter()
        .filter(|r| matches!(r, Ok(Reservation::Allowed { .. })))
        .count();
    let locked = results
        .iter()
        .filter(|r| matches!(r, Ok(Reservation::Locked { .. })))
        .count();
    let locked_now = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                Ok(Reservation::Allowed {
                    locked_now: true,
                    ..
                })
            )
        })
        .count();
    assert_eq!(
        allowed, 10,
        "parallel attempts got past the lock: {results:?}"
    );
    assert_eq!(locked, 40);
    assert_eq!(locked_now, 1, "exactly one attempt started the lock");
    assert_eq!(
        store
            .throttle()
            .consecutive_failures("acct:race@example.jp")
            .await
            .expect("read"),
        10
    );
}

/// Failures count per key within a window; once the window is over the
/// count starts again from the next failure.
pub async fn c08_windowed_failures_restart_after_the_window(store: &dyn Store) {
    let t = store.throttle();
    let now = at(0);
    let window = Duration::from_secs(1_000);
    let keys = vec!["ip:192.0.2.7".to_owned(), "global".to_owned()];
    for _ in 0..3 {
        t.note_failure(&keys, now, window).await.expect("note");
    }
    t.note_failure(&["global".to_owned()], now, window)
        .await
        .expect("note");
    assert_eq!(
        t.failures_in_window("ip:192.0.2.7", now + secs(999), window)
            .await
            .expect("count"),
        3
    );
    assert_eq!(
        t.failures_in_window("global", now + secs(999), window)
            .await
            .expect("count"),
        4,
        "each key counts on its own"
    );
    assert_eq!(
        t.failures_in_window("ip:192.0.2.8", now, window)
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        t.failures_in_window("ip:192.0.2.7", now + secs(1_000), window)
            .await
            .expect("count"),
        0,
        "window over"
    );
    t.note_failure(&keys, now + secs(1_000), window)
        .await
        .expect("note");
    assert_eq!(
        t.failures_in_window("ip:192.0.2.7", now + secs(1_001), window)
            .await
            .expect("count"),
        1,
        "new window"
    );
}

/// An unlock link works once, only before it expires, and names the
/// account it unlocks.
pub async fn c08_unlock_token_is_taken_once_and_not_after_it_expires(store: &dyn Store) {
    let t = store.throttle();
    let now = at(0);
    let token = |token_hash| Write::CreateUnlockToken {
        token_hash,
        email: email("lock@example.jp"),
        at: now,
        expires_at: now + secs(100),
    };
    commit(
        store,
        Changes::new().with(token([9; 32])).with(token([10; 32])),
    )
    .await;
    assert_eq!(
        t.take_unlock_token(&[8; 32], now).await.expect("take"),
        None,
        "an unknown token unlocked something"
    );
    assert_eq!(
        t.take_unlock_token(&[9; 32], now + secs(99))
            .await
            .expect("take"),
        Some(email("lock@example.jp"))
    );
    assert_eq!(
        t.take_unlock_token(&[9; 32], now + secs(99))
            .await
            .expect("again"),
        None,
        "unlock token used twice"
    );
    assert_eq!(
        t.take_unlock_token(&[10; 32], now + secs(100))
            .await
            .expect("expired"),
        None
    );
}

/// How often a member may change personal data (issue 19): a windowed
/// budget taken in one statement, so 50 parallel changes with a budget of
/// 30 count exactly 30; a new window gives a new budget, and the refusal
/// says when.
pub async fn c13_a_windowed_budget_is_never_exceeded_in_parallel(store: &dyn Store) {
    let window = secs(3_600);
    let key = "pd:budget-member";
    let takes = (0..50).map(|_| store.throttle().take_from_window(key, at(10), window, 30));
    let results = join_all(takes).await;
    let taken = results
        .iter()
        .filter(|r| matches!(r, Ok(WindowTake::Taken { .. })))
        .count();
    assert_eq!(taken, 30, "{results:?}");
    for r in &results {
        match r {
            Ok(WindowTake::Taken { count }) => assert!((1..=30).contains(count)),
            Ok(WindowTake::Spent { resets_at }) => assert_eq!(*resets_at, at(3_610)),
            Err(e) => panic!("{e}"),
        }
    }
    // Another key has its own budget.
    assert_eq!(
        store
            .throttle()
            .take_from_window("pd:another", at(11), window, 30)
            .await
            .expect("take"),
        WindowTake::Taken { count: 1 }
    );
    // Still spent just before the window ends; a new window after it.
    assert!(matches!(
        store
            .throttle()
            .take_from_window(key, at(3_609), window, 30)
            .await,
        Ok(WindowTake::Spent { .. })
    ));
    assert_eq!(
        store
            .throttle()
            .take_from_window(key, at(3_610), window, 30)
            .await
            .expect("take"),
        WindowTake::Taken { count: 1 }
    );
}

/// Several windowed counts read in one query are the counts each key
/// would give on its own: in the order asked, 0 for an unknown key or a
/// window that is over, and more keys than one query takes are read too.
pub async fn c08_windowed_counts_read_together_match_one_by_one(store: &dyn Store) {
    let t = store.throttle();
    let now = at(0);
    let window = Duration::from_secs(1_000);
    let seven = vec!["ip:192.0.2.7".to_owned(), "global".to_owned()];
    for _ in 0..3 {
        t.note_failure(&seven, now, window).await.expect("note");
    }
    t.note_failure(&["net:192.0.2.0/24".to_owned()], now, window)
        .await
        .expect("note");
    t.note_failure(&["ip:192.0.2.9".to_owned()], now + secs(500), window)
        .await
        .expect("note");
    let keys = [
        "global",
        "ip:192.0.2.8",
        "ip:192.0.2.7",
        "net:192.0.2.0/24",
        "ip:192.0.2.9",
        "global",
    ];
    for later in [secs(10), secs(999), secs(1_200)] {
        let together = t
            .failures_in_windows(&keys, now + later, window)
            .await
            .expect("counts");
        let mut alone = Vec::new();
        for k in keys {
            alone.push(
                t.failures_in_window(k, now + later, window)
                    .await
                    .expect("count"),
            );
        }
        assert_eq!(together, alone, "at {later:?}");
    }
    let at_first = t
        .failures_in_windows(&keys, now + secs(10), window)
        .await
        .expect("counts");
    assert_eq!(at_first, vec![3, 0, 3, 1, 1, 3]);
}

/// A login's bundle clears the account's count and lock (C8), and
/// leaves other keys alone.
pub async fn c08_a_login_bundle_clears_the_attempts_it_names(store: &dyn Store) {
    let t = store.throttle();
    let now = at(0);
    for _ in 0..10 {
        t.reserve_attempt(KEY, now, &policy())
            .await
            .expect("reserve");
    }
    assert!(matches!(
        t.reserve_attempt(KEY, now, &policy())
            .await
            .expect("reserve"),
        Reservation::Locked { .. }
    ));
    let other = "acct:other@example.jp";
    t.reserve_attempt(other, now, &policy())
        .await
        .expect("reserve");
    commit(
        store,
        Changes::new().with(Write::ClearAttempts {
            keys: vec![KEY.to_owned(), "fail:never-counted".to_owned()],
        }),
    )
    .await;
    assert_eq!(t.consecutive_failures(KEY).await.expect("count"), 0);
    assert_eq!(
        t.reserve_attempt(KEY, now, &policy())
            .await
            .expect("reserve"),
        Reservation::Allowed {
            count: 1,
            locked_now: false
        },
        "the lock ended with the login"
    );
    assert_eq!(t.consecutive_failures(other).await.expect("count"), 1);
}

//! Security alerts (C29): an alert of a rule and subject is on at most
//! once, so that of several instances firing it together exactly one
//! bundle (with its mail) is kept; clearing it lets the next one fire;
//! the reads give what is on and the history, newest first.

use super::fixtures::{
    at, commit, commit_fails, join_all, mail, new_id, secs, try_commit, warm_pool,
};
use crate::alerts::NewAlert;
use crate::{AlertId, Changes, MailStatus, Store, StoreError, Write, guards};

fn fire(rule: &str, subject: &str, now: crate::Timestamp) -> (AlertId, Changes) {
    let id: AlertId = new_id();
    (
        id,
        Changes::new()
            .with(Write::FireAlert(NewAlert {
                id,
                rule: rule.into(),
                subject: subject.into(),
                fired_at: now,
                value: 12,
                threshold: 10,
            }))
            .mail(mail("alert", now)),
    )
}

/// Eight instances fire the same alert at once: one bundle commits, the
/// others fail whole with [`guards::ALERT_ON`] and queue no mail; another
/// subject of the same rule fires on its own.
pub async fn c29_an_alert_fires_once_however_many_fire_it_together(store: &dyn Store) {
    let now = at(0);
    warm_pool(store, 8).await;
    let results =
        join_all((0..8).map(|_| try_commit(store, fire("job_failing", "x", now).1))).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(r, Err(StoreError::Precondition(g)) if *g == guards::ALERT_ON),
            "{r:?}"
        );
    }
    let pending = store
        .mail()
        .count_by_status(MailStatus::Pending)
        .await
        .expect("count");
    assert_eq!(pending, 1, "one mail for one alert");
    commit(store, fire("job_failing", "y", now).1).await;
    let on = store.alerts().firing().await.expect("firing");
    let subjects: Vec<&str> = on.iter().map(|a| a.subject.as_str()).collect();
    assert_eq!(subjects, ["x", "y"]);
}

/// Clearing an alert records when; clearing it twice fails; a cleared
/// alert lets the rule fire again; the history lists all, newest first.
pub async fn c29_a_cleared_alert_can_fire_again_and_stays_in_the_history(store: &dyn Store) {
    let (first, changes) = fire("failed_logins", "", at(0));
    commit(store, changes).await;
    let e = commit_fails(store, fire("failed_logins", "", at(1)).1).await;
    assert!(
        matches!(e, StoreError::Precondition(g) if g == guards::ALERT_ON),
        "{e:?}"
    );
    commit(
        store,
        Changes::new().with(Write::ResolveAlert {
            alert: first,
            at: at(0) + secs(60),
        }),
    )
    .await;
    let e = commit_fails(
        store,
        Changes::new().with(Write::ResolveAlert {
            alert: first,
            at: at(0) + secs(61),
        }),
    )
    .await;
    assert!(
        matches!(e, StoreError::Precondition(g) if g == guards::ALERT_NOT_ON),
        "{e:?}"
    );
    assert!(store.alerts().firing().await.expect("firing").is_empty());
    let (second, changes) = fire("failed_logins", "", at(120));
    commit(store, changes).await;
    let history = store.alerts().recent(10).await.expect("recent");
    let ids: Vec<AlertId> = history.iter().map(|a| a.id).collect();
    assert_eq!(ids, [second, first]);
    assert_eq!(history[1].resolved_at, Some(at(60)));
    assert_eq!(history[0].resolved_at, None);
    assert_eq!((history[0].value, history[0].threshold), (12, 10));
    assert_eq!(store.alerts().recent(1).await.expect("recent").len(), 1);
}

/// Two instances add their counts of a signal to the same and to later
/// buckets: a window sums every instance's tallies of the buckets that
/// start inside it; the purge drops what is older.
pub async fn c29_tallies_sum_every_instances_counts_over_the_window(store: &dyn Store) {
    let tally = |bucket: i64, counts: &[(&str, i64)]| {
        Changes::new().with(Write::AddAlertTallies {
            bucket: at(bucket),
            counts: counts.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect(),
        })
    };
    // Instance one and instance two, the same bucket, concurrently.
    warm_pool(store, 2).await;
    let both = join_all([
        try_commit(store, tally(0, &[("failed_logins", 7), ("job:x", 1)])),
        try_commit(store, tally(0, &[("failed_logins", 5)])),
    ])
    .await;
    assert!(both.iter().all(Result::is_ok), "{both:?}");
    commit(store, tally(10, &[("failed_logins", 3)])).await;
    commit(store, tally(300, &[("waf_blocks", 2)])).await;
    let alerts = store.alerts();
    let sums = alerts.tallies_since(at(0)).await.expect("sums");
    assert_eq!(
        sums,
        [
            ("failed_logins".to_owned(), 15),
            ("job:x".to_owned(), 1),
            ("waf_blocks".to_owned(), 2)
        ]
    );
    let later = alerts.tallies_since(at(10)).await.expect("sums");
    assert_eq!(
        later,
        [
            ("failed_logins".to_owned(), 3),
            ("waf_blocks".to_owned(), 2)
        ]
    );
    assert_eq!(alerts.purge_tallies(at(300)).await.expect("purge"), 3);
    assert_eq!(
        alerts.tallies_since(at(0)).await.expect("sums"),
        [("waf_blocks".to_owned(), 2)]
    );
}

/// A staff member's first network is their baseline; a second one is
/// novel once, however often it is seen again; the count is per member
/// and over the window.
pub async fn c29_a_staff_members_new_network_is_counted_once(store: &dyn Store) {
    let staff = |address: &str, seed: u8| {
        let id: crate::StaffId = new_id();
        (
            id,
            Changes::new().with(Write::CreateStaff(crate::staff::NewStaff {
                id,
                email: super::fixtures::email(address),
                role: crate::StaffRole::Security,
                created_at: at(0),
                enrol_token_hash: [seed; 32],
                enrol_expires_at: at(3600),
            })),
        )
    };
    let (a, make_a) = staff("a@example.jp", 1);
    let (b, make_b) = staff("b@example.jp", 2);
    commit(store, make_a).await;
    commit(store, make_b).await;
    let seen = |staff, net: u8, t: i64| {
        Changes::new().with(Write::NoteStaffNetwork {
            staff,
            network_hash: [net; 32],
            at: at(t),
        })
    };
    let alerts = store.alerts();
    commit(store, seen(a, 1, 100)).await;
    commit(store, seen(a, 1, 200)).await;
    assert!(
        alerts
            .new_staff_networks(at(0))
            .await
            .expect("read")
            .is_empty()
    );
    // Network 2 is new for a, and only the baseline for b.
    commit(store, seen(a, 2, 300)).await;
    commit(store, seen(a, 2, 400)).await;
    commit(store, seen(b, 2, 400)).await;
    assert_eq!(
        alerts.new_staff_networks(at(0)).await.expect("read"),
        [(a, 1)]
    );
    commit(store, seen(b, 3, 500)).await;
    let mut both = alerts.new_staff_networks(at(0)).await.expect("read");
    both.sort();
    let mut want = vec![(a, 1), (b, 1)];
    want.sort();
    assert_eq!(both, want);
    // Past the window of a's new network, only b's counts.
    assert_eq!(
        alerts.new_staff_networks(at(301)).await.expect("read"),
        [(b, 1)]
    );
}

/// A webhook delivery queued with its alert is claimed by one of several
/// claimers at once; a failed attempt waits for its next time; a
/// delivered one (or one given up) is never claimed again.
pub async fn c29_a_webhook_delivery_is_claimed_once_and_retried_when_due(store: &dyn Store) {
    let (id, changes) = fire("failed_logins", "", at(0));
    commit(
        store,
        changes.with(Write::QueueAlertWebhook {
            alert: id,
            event: "fired",
            body: "{\"event\":\"fired\"}".into(),
            at: at(0),
        }),
    )
    .await;
    let alerts = store.alerts();
    warm_pool(store, 4).await;
    let claims = join_all((0..4).map(|_| alerts.claim_webhooks(at(1), at(121), 10))).await;
    let claimed: Vec<_> = claims.into_iter().flat_map(|c| c.expect("claim")).collect();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(
        (
            claimed[0].alert,
            claimed[0].event.as_str(),
            claimed[0].attempts
        ),
        (id, "fired", 0)
    );
    // Held while its attempt lasts.
    assert!(
        alerts
            .claim_webhooks(at(60), at(180), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    alerts
        .webhook_attempted(id, "fired", at(2), Err(("503", Some(at(32)))))
        .await
        .expect("failed");
    assert!(
        alerts
            .claim_webhooks(at(31), at(151), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let again = alerts
        .claim_webhooks(at(32), at(152), 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    alerts
        .webhook_attempted(id, "fired", at(33), Ok(()))
        .await
        .expect("delivered");
    assert!(
        alerts
            .claim_webhooks(at(10_000), at(10_120), 10)
            .await
            .expect("claim")
            .is_empty()
    );
}

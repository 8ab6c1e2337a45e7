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

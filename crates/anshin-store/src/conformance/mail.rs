//! The mail outbox: mail queued by a commit is claimed with a lease, due
//! mail oldest first, retried when due, and ends sent or failed.

use super::fixtures::{at, commit, join_all, mail, secs};
use crate::{Changes, MailStatus, Store};

/// Queues `mails` in one commit.
async fn queue(store: &dyn Store, mails: &[crate::NewMail]) {
    let mut changes = Changes::new();
    for m in mails {
        changes.push_mail(m.clone());
    }
    commit(store, changes).await;
}

async fn counts(store: &dyn Store) -> [i64; 3] {
    let m = store.mail();
    [
        m.count_by_status(MailStatus::Pending).await.expect("count"),
        m.count_by_status(MailStatus::Sent).await.expect("count"),
        m.count_by_status(MailStatus::Failed).await.expect("count"),
    ]
}

/// A claimed mail is leased: nobody claims it again until the lease is
/// over, then it is claimed again with one more attempt.
pub async fn mail_outbox_claims_with_a_lease(store: &dyn Store) {
    let now = at(0);
    let m = store.mail();
    let queued = mail("login_code", now);
    commit(store, Changes::new().mail(queued.clone())).await;
    assert_eq!(counts(store).await, [1, 0, 0]);
    let item = m
        .claim_due(now, now + secs(100))
        .await
        .expect("claim")
        .expect("item");
    assert_eq!(item.id, queued.id);
    assert_eq!(item.kind, "login_code");
    assert_eq!(item.created_at, now);
    assert_eq!(item.payload, vec![1, 2, 3]);
    assert_eq!(item.attempts, 1);
    assert!(
        m.claim_due(now + secs(50), now + secs(150))
            .await
            .expect("claim")
            .is_none(),
        "leased row claimed twice"
    );
    let again = m
        .claim_due(now + secs(100), now + secs(200))
        .await
        .expect("claim")
        .expect("lease expired");
    assert_eq!(again.id, queued.id);
    assert_eq!(again.attempts, 2);
    assert_eq!(again.payload, vec![1, 2, 3], "payload kept until sent");
}

/// A transient failure waits until its next attempt; once sent it is
/// never claimed again.
pub async fn mail_retried_mail_waits_until_due_and_sent_mail_is_done(store: &dyn Store) {
    let now = at(0);
    let m = store.mail();
    commit(store, Changes::new().mail(mail("login_code", now))).await;
    let item = m
        .claim_due(now, now + secs(100))
        .await
        .expect("claim")
        .expect("item");
    m.mark_retry(item.id, now + secs(1_000), "421 try later")
        .await
        .expect("retry");
    assert!(
        m.claim_due(now + secs(500), now + secs(600))
            .await
            .expect("claim")
            .is_none(),
        "retried before its time"
    );
    assert_eq!(counts(store).await, [1, 0, 0], "a retried mail is pending");
    let due = m
        .claim_due(now + secs(1_000), now + secs(1_100))
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(due.id, item.id);
    assert_eq!(due.attempts, 2);
    m.mark_sent(due.id, now + secs(1_000)).await.expect("sent");
    assert_eq!(counts(store).await, [0, 1, 0]);
    assert!(
        m.claim_due(now + secs(5_000), now + secs(6_000))
            .await
            .expect("claim")
            .is_none(),
        "a sent mail was claimed again"
    );
}

/// A permanent failure ends the mail: never claimed again.
pub async fn mail_failed_mail_is_never_claimed_again(store: &dyn Store) {
    let now = at(0);
    let m = store.mail();
    commit(store, Changes::new().mail(mail("login_code", now))).await;
    let item = m
        .claim_due(now, now + secs(100))
        .await
        .expect("claim")
        .expect("item");
    m.mark_failed(item.id, "550 no such user")
        .await
        .expect("failed");
    assert_eq!(counts(store).await, [0, 0, 1]);
    assert!(
        m.claim_due(now + secs(9_000), now + secs(9_100))
            .await
            .expect("claim")
            .is_none()
    );
}

/// Due mail goes out oldest first; mail not yet due waits.
pub async fn mail_is_claimed_oldest_first(store: &dyn Store) {
    let m = store.mail();
    let later = mail("later", at(20));
    let first = mail("first", at(0));
    let second = mail("second", at(10));
    commit(
        store,
        Changes::new()
            .mail(later.clone())
            .mail(second.clone())
            .mail(first.clone()),
    )
    .await;
    let mut claimed = Vec::new();
    while let Some(item) = m.claim_due(at(15), at(100)).await.expect("claim") {
        claimed.push(item.id);
    }
    assert_eq!(
        claimed,
        [first.id, second.id],
        "oldest due first, future mail waits"
    );
    let last = m
        .claim_due(at(20), at(100))
        .await
        .expect("claim")
        .expect("due now");
    assert_eq!(last.id, later.id);
}

/// Several delivery workers at once: each mail goes to one of them.
pub async fn mail_parallel_claims_take_each_mail_once(store: &dyn Store) {
    let now = at(0);
    let queued = [mail("a", now), mail("b", now), mail("c", now)];
    queue(store, &queued).await;
    let claims = (0..12).map(|_| store.mail().claim_due(now, now + secs(100)));
    let results = join_all(claims).await;
    let mut ids: Vec<_> = results
        .into_iter()
        .filter_map(|r| r.expect("claim"))
        .map(|item| item.id)
        .collect();
    assert!(!ids.is_empty(), "no parallel claim got a mail");
    // A claim that lost a race for a row may come back empty; the rest
    // is claimed afterwards, and no mail may be handed out twice.
    while let Some(item) = store
        .mail()
        .claim_due(now, now + secs(100))
        .await
        .expect("claim")
    {
        ids.push(item.id);
    }
    ids.sort();
    let mut expected: Vec<_> = queued.iter().map(|q| q.id).collect();
    expected.sort();
    assert_eq!(ids, expected, "each mail claimed exactly once");
}

/// Batches claimed by several workers at once never share a mail; a
/// released mail is due again with its attempt uncounted.
pub async fn mail_parallel_batch_claims_take_each_mail_once(store: &dyn Store) {
    let now = at(0);
    let queued: Vec<_> = (0..40).map(|_| mail("batch", now)).collect();
    queue(store, &queued).await;
    let claims = (0..6).map(|_| store.mail().claim_due_many(now, now + secs(100), 8));
    let mut ids: Vec<_> = join_all(claims)
        .await
        .into_iter()
        .flat_map(|r| r.expect("claim"))
        .map(|item| item.id)
        .collect();
    assert!(!ids.is_empty(), "no parallel claim got a mail");
    loop {
        let more = store
            .mail()
            .claim_due_many(now, now + secs(100), 8)
            .await
            .expect("claim");
        if more.is_empty() {
            break;
        }
        assert!(more.len() <= 8, "a batch is at most its size");
        ids.extend(more.into_iter().map(|item| item.id));
    }
    ids.sort();
    let mut expected: Vec<_> = queued.iter().map(|q| q.id).collect();
    expected.sort();
    assert_eq!(ids, expected, "each mail claimed exactly once");

    // Released: due again at once, with the attempt it never had undone.
    let id = expected[0];
    store.mail().release(id).await.expect("release");
    let again = store
        .mail()
        .claim_due_many(now, now + secs(100), 8)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1, "only the released mail is due");
    assert_eq!(again[0].id, id);
    assert_eq!(again[0].attempts, 1, "the released claim was not counted");
}

/// Mails delivered together are marked sent in one statement: exactly
/// those named end sent and are never claimed again; the rest of the
/// batch stays pending and is due again after its lease.
pub async fn mail_a_batch_marked_sent_together_ends_exactly_those(store: &dyn Store) {
    let now = at(0);
    let queued: Vec<_> = (0..5).map(|_| mail("batch", now)).collect();
    queue(store, &queued).await;
    let m = store.mail();
    let claimed = m
        .claim_due_many(now, now + secs(100), 16)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 5);
    m.mark_sent_many(&[], now).await.expect("an empty batch");
    let sent: Vec<_> = claimed[..3].iter().map(|i| i.id).collect();
    m.mark_sent_many(&sent, now + secs(1)).await.expect("sent");
    assert_eq!(counts(store).await, [2, 3, 0]);
    let again = m
        .claim_due_many(now + secs(200), now + secs(300), 16)
        .await
        .expect("claim");
    let mut again: Vec<_> = again.into_iter().map(|i| i.id).collect();
    again.sort();
    let mut rest: Vec<_> = claimed[3..].iter().map(|i| i.id).collect();
    rest.sort();
    assert_eq!(again, rest, "only the unsent mails are due again");
}

//! Self-scan reports (C30): a report is kept with its mail in one bundle
//! (a failing bundle keeps neither), and read back newest first.

use super::fixtures::{at, commit, commit_fails, mail, new_id, secs};
use crate::selfscan::NewSelfScan;
use crate::{Changes, MailStatus, SelfScanId, Store, Write};

fn report(findings: i64, now: crate::Timestamp) -> NewSelfScan {
    let id: SelfScanId = new_id();
    NewSelfScan {
        id,
        ran_at: now,
        findings,
        json: format!("{{\"findings\":{findings}}}"),
        text: format!("findings: {findings}"),
    }
}

/// Two reports a week apart: `latest` is the newer, `recent` lists both
/// newest first with their JSON and text; a bundle that fails (its report
/// inserted twice) keeps no report and no mail.
pub async fn c30_a_report_is_kept_with_its_mail_and_read_newest_first(store: &dyn Store) {
    assert!(store.selfscan().latest().await.expect("latest").is_none());
    let first = report(1, at(0));
    commit(
        store,
        Changes::new()
            .with(Write::RecordSelfScan(first.clone()))
            .mail(mail("selfscan_report", at(0))),
    )
    .await;
    let second = report(0, at(0) + secs(7 * 86_400));
    commit(
        store,
        Changes::new().with(Write::RecordSelfScan(second.clone())),
    )
    .await;
    assert_eq!(
        store.selfscan().latest().await.expect("latest"),
        Some(second.clone())
    );
    assert_eq!(
        store.selfscan().recent(10).await.expect("recent"),
        [second.clone(), first.clone()]
    );
    // The same report again (its id is taken) with a mail: neither kept.
    let e = commit_fails(
        store,
        Changes::new()
            .with(Write::RecordSelfScan(first))
            .mail(mail("selfscan_report", at(1))),
    )
    .await;
    assert!(!matches!(e, crate::StoreError::Precondition(_)), "{e:?}");
    assert_eq!(store.selfscan().recent(10).await.expect("recent").len(), 2);
    let pending = store
        .mail()
        .count_by_status(MailStatus::Pending)
        .await
        .expect("count");
    assert_eq!(pending, 1, "the failed bundle's mail is not kept");
}

//! Job leases: a background job runs on one instance at a time. The lease
//! is taken in one statement, renewed by its holder, given back by
//! `finish` with the run's record; a dead runner's lease passes to another
//! instance once it expires, and the dead runner's late calls change
//! nothing.

use super::fixtures::{at, join_all, secs};
use crate::{Duration, JobLease, JobRun, Store, Timestamp};

const JOB: &str = "purge_sessions";
const A: &str = "instance-a";
const B: &str = "instance-b";

fn run(started_at: Timestamp, duration: Duration, error: Option<&str>, next: Timestamp) -> JobRun {
    JobRun {
        started_at,
        duration,
        error: error.map(str::to_owned),
        next_run_at: next,
    }
}

/// The first take creates the job's row and hands out the lease.
pub async fn jobs_first_take_creates_the_row_and_gives_the_lease(store: &dyn Store) {
    let j = store.jobs();
    assert_eq!(
        j.find(JOB).await.expect("find"),
        None,
        "a job never run has no row"
    );
    let lease = j
        .take_lease(JOB, A, at(0), at(60))
        .await
        .expect("take")
        .expect("the first take gets the lease");
    assert_eq!(
        lease,
        JobLease {
            name: JOB.into(),
            holder: A.into(),
            until: at(60),
        }
    );
    let row = j.find(JOB).await.expect("find").expect("row created");
    assert_eq!(row.name, JOB);
    assert_eq!(row.holder.as_deref(), Some(A));
    assert_eq!(row.lease_until, at(60));
    assert_eq!(row.last_started_at, Some(at(0)));
    assert!(row.next_run_at <= at(0), "a new job is due");
    assert_eq!(row.runs, 0, "taking is not a run");
    assert_eq!(row.failures, 0);
    assert_eq!(row.last_success_at, None);
    assert_eq!(row.last_duration, None);
    assert_eq!(row.last_error, None);
    assert_eq!(
        j.find("other_job").await.expect("find"),
        None,
        "one row per job"
    );
}

/// While a lease lives nobody else takes it, and its holder does not take
/// it a second time either (it renews instead).
pub async fn jobs_a_live_lease_is_taken_by_nobody_else(store: &dyn Store) {
    let j = store.jobs();
    j.take_lease(JOB, A, at(0), at(60))
        .await
        .expect("take")
        .expect("lease");
    for t in [at(0), at(30), at(59)] {
        assert_eq!(
            j.take_lease(JOB, B, t, t + secs(60)).await.expect("take"),
            None,
            "a live lease was taken over"
        );
        assert_eq!(
            j.take_lease(JOB, A, t, t + secs(60)).await.expect("take"),
            None,
            "a live lease was taken twice"
        );
    }
    let row = j.find(JOB).await.expect("find").expect("row");
    assert_eq!(row.holder.as_deref(), Some(A));
    assert_eq!(row.lease_until, at(60), "a refused take moved the lease");
    assert_eq!(row.last_started_at, Some(at(0)));
    // Another job is independent.
    assert!(
        j.take_lease("other_job", B, at(0), at(60))
            .await
            .expect("take")
            .is_some()
    );
}

/// The holder extends its live lease; nobody else can, and the extension
/// keeps others out past the first deadline.
pub async fn jobs_the_holder_renews_its_live_lease(store: &dyn Store) {
    let j = store.jobs();
    j.take_lease(JOB, A, at(0), at(60))
        .await
        .expect("take")
        .expect("lease");
    assert!(
        !j.renew(JOB, B, at(30), at(600)).await.expect("renew"),
        "a stranger renewed the lease"
    );
    assert!(j.renew(JOB, A, at(30), at(120)).await.expect("renew"));
    assert_eq!(
        j.find(JOB).await.expect("find").expect("row").lease_until,
        at(120)
    );
    assert_eq!(
        j.take_lease(JOB, B, at(90), at(150)).await.expect("take"),
        None,
        "the renewed lease was taken at the old deadline"
    );
    assert!(
        !j.renew("never_taken", A, at(30), at(120))
            .await
            .expect("renew"),
        "renewed a lease nobody took"
    );
}

/// `finish` records the run and gives the lease back: runs, failures, last
/// success, duration, error and when the job is next due.
pub async fn jobs_finish_records_the_run_and_releases_the_lease(store: &dyn Store) {
    let j = store.jobs();
    j.take_lease(JOB, A, at(0), at(60))
        .await
        .expect("take")
        .expect("lease");
    assert!(
        !j.finish(JOB, B, &run(at(0), secs(5), None, at(300)))
            .await
            .expect("finish"),
        "a stranger finished the run"
    );
    assert!(
        j.finish(JOB, A, &run(at(0), secs(5), None, at(300)))
            .await
            .expect("finish")
    );
    let row = j.find(JOB).await.expect("find").expect("row");
    assert_eq!(row.runs, 1);
    assert_eq!(row.failures, 0);
    assert_eq!(row.last_started_at, Some(at(0)));
    assert_eq!(row.last_success_at, Some(at(5)), "when the run ended");
    assert_eq!(row.last_duration, Some(secs(5)));
    assert_eq!(row.last_error, None);
    assert_eq!(row.next_run_at, at(300));
    assert!(row.lease_until <= at(5), "the lease was not given back");
    assert!(
        !j.finish(JOB, A, &run(at(0), secs(6), None, at(300)))
            .await
            .expect("finish twice"),
        "a released lease was finished again"
    );
    assert!(!j.renew(JOB, A, at(6), at(60)).await.expect("renew"));
    assert_eq!(j.find(JOB).await.expect("find").expect("row").runs, 1);

    // Due again: another instance runs it, and fails.
    j.take_lease(JOB, B, at(300), at(360))
        .await
        .expect("take")
        .expect("due again, lease free");
    assert!(
        j.finish(JOB, B, &run(at(300), secs(2), Some("timeout"), at(400)))
            .await
            .expect("finish")
    );
    let row = j.find(JOB).await.expect("find").expect("row");
    assert_eq!(row.runs, 2);
    assert_eq!(row.failures, 1);
    assert_eq!(row.last_started_at, Some(at(300)));
    assert_eq!(
        row.last_success_at,
        Some(at(5)),
        "a failure keeps the last success"
    );
    assert_eq!(row.last_duration, Some(secs(2)));
    assert_eq!(row.last_error.as_deref(), Some("timeout"));
    assert_eq!(row.next_run_at, at(400));

    // A success after a failure clears the error.
    j.take_lease(JOB, A, at(400), at(460))
        .await
        .expect("take")
        .expect("lease");
    assert!(
        j.finish(JOB, A, &run(at(400), secs(1), None, at(700)))
            .await
            .expect("finish")
    );
    let row = j.find(JOB).await.expect("find").expect("row");
    assert_eq!(row.runs, 3);
    assert_eq!(row.failures, 1);
    assert_eq!(row.last_success_at, Some(at(401)));
    assert_eq!(row.last_error, None);
}

/// A job whose next run is in the future is taken by nobody, not even by
/// the instance that ran it last; at its time it is taken.
pub async fn jobs_a_job_not_due_is_taken_by_nobody(store: &dyn Store) {
    let j = store.jobs();
    j.take_lease(JOB, A, at(0), at(60))
        .await
        .expect("take")
        .expect("lease");
    assert!(
        j.finish(JOB, A, &run(at(0), secs(1), None, at(3_600)))
            .await
            .expect("finish")
    );
    for (holder, t) in [(A, at(2)), (B, at(2)), (B, at(3_599))] {
        assert_eq!(
            j.take_lease(JOB, holder, t, t + secs(60))
                .await
                .expect("take"),
            None,
            "{holder} took a job that is not due"
        );
    }
    let row = j.find(JOB).await.expect("find").expect("row");
    assert_eq!(
        row.last_started_at,
        Some(at(0)),
        "a refused take started a run"
    );
    assert_eq!(row.next_run_at, at(3_600));
    let lease = j
        .take_lease(JOB, B, at(3_600), at(3_660))
        .await
        .expect("take")
        .expect("due now");
    assert_eq!(lease.holder, B);
}

/// A runner killed mid-run never finishes: once its lease expires another
/// instance takes the job, and the dead runner's late `renew` and `finish`
/// return false and record nothing.
pub async fn jobs_an_expired_lease_passes_on_and_the_dead_holders_late_calls_change_nothing(
    store: &dyn Store,
) {
    let j = store.jobs();
    j.take_lease(JOB, A, at(0), at(60))
        .await
        .expect("take")
        .expect("lease");
    // A is killed; at the deadline B takes over.
    let lease = j
        .take_lease(JOB, B, at(60), at(120))
        .await
        .expect("take")
        .expect("an expired lease passes on");
    assert_eq!(lease.holder, B);
    let taken = j.find(JOB).await.expect("find").expect("row");
    assert_eq!(taken.holder.as_deref(), Some(B));
    assert_eq!(taken.last_started_at, Some(at(60)));

    // A wakes up (a paused VM, a slow disk) and carries on as if nothing
    // happened.
    assert!(
        !j.renew(JOB, A, at(61), at(200)).await.expect("renew"),
        "the dead holder renewed a lease it lost"
    );
    assert!(
        !j.finish(JOB, A, &run(at(0), secs(62), Some("late"), at(9_000)))
            .await
            .expect("finish"),
        "the dead holder finished a run it lost"
    );
    assert_eq!(
        j.find(JOB).await.expect("find").expect("row"),
        taken,
        "the dead holder's late calls changed the row"
    );

    // B is the holder and records its run.
    assert!(j.renew(JOB, B, at(90), at(150)).await.expect("renew"));
    assert!(
        j.finish(JOB, B, &run(at(60), secs(40), None, at(400)))
            .await
            .expect("finish")
    );
    let row = j.find(JOB).await.expect("find").expect("row");
    assert_eq!(row.runs, 1, "only B's run is recorded");
    assert_eq!(row.failures, 0);
    assert_eq!(row.last_success_at, Some(at(100)));
    assert_eq!(row.last_error, None);
    assert_eq!(row.next_run_at, at(400));
    // A's late finish after B released the lease still records nothing.
    assert!(
        !j.finish(JOB, A, &run(at(0), secs(110), None, at(9_000)))
            .await
            .expect("finish")
    );
    assert_eq!(j.find(JOB).await.expect("find").expect("row"), row);
}

/// A run that outlived its lease (nobody took it over meanwhile) is not
/// recorded either: the lease must still be live when the run ends.
pub async fn jobs_a_run_that_outlived_its_lease_records_nothing(store: &dyn Store) {
    let j = store.jobs();
    j.take_lease(JOB, A, at(0), at(60))
        .await
        .expect("take")
        .expect("lease");
    let before = j.find(JOB).await.expect("find").expect("row");
    assert!(
        !j.renew(JOB, A, at(61), at(120)).await.expect("renew"),
        "an expired lease was renewed"
    );
    assert!(
        !j.finish(JOB, A, &run(at(0), secs(61), None, at(600)))
            .await
            .expect("finish"),
        "a run that ended after its lease was recorded"
    );
    assert_eq!(j.find(JOB).await.expect("find").expect("row"), before);
    // The job is still due, so the next take gets it.
    assert!(
        j.take_lease(JOB, A, at(61), at(120))
            .await
            .expect("take")
            .is_some()
    );
}

async fn exactly_one_of_twenty_takes(store: &dyn Store, now: Timestamp) {
    let holders: Vec<String> = (0..20).map(|i| format!("instance-{i:02}")).collect();
    let takes = holders
        .iter()
        .map(|h| store.jobs().take_lease(JOB, h, now, now + secs(60)));
    let results = join_all(takes).await;
    let won: Vec<JobLease> = results
        .into_iter()
        .filter_map(|r| r.expect("take (no error under contention)"))
        .collect();
    assert_eq!(won.len(), 1, "parallel takes: {won:?}");
    let row = store.jobs().find(JOB).await.expect("find").expect("row");
    assert_eq!(row.holder.as_deref(), Some(won[0].holder.as_str()));
    assert_eq!(row.lease_until, now + secs(60));
}

/// Twenty instances asking at the same instant: exactly one gets the lease,
/// both when the job's row does not exist yet and when it does.
pub async fn jobs_parallel_takes_give_the_lease_to_exactly_one_holder(store: &dyn Store) {
    exactly_one_of_twenty_takes(store, at(0)).await;
    // The lease expires; the row exists now.
    exactly_one_of_twenty_takes(store, at(60)).await;
}

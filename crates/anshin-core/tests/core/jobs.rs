//! The job runner's lease across instances: two runners on one database
//! (two instances), one job that must run on one instance at a time. One
//! takes it; the other is refused while the lease lives, even after the
//! first is killed mid-run; once the lease has passed, the other takes
//! over, and the killed one's run is never recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anshin_core::clock::{Clock, ManualClock};
use anshin_core::jobs::{Job, Runner, Schedule, Scope};
use anshin_domain::{Duration, Timestamp};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{Backend, fresh, on_both};

on_both!(
    one_instance_job_runs_on_one_instance_and_passes_on_after_a_killed_holders_lease,
    each_instance_job_runs_everywhere_and_is_counted,
);

const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

/// A job that counts its runs per instance and, when told to, blocks
/// until released (a long run in which its instance can be killed).
#[derive(Debug)]
struct Probe {
    scope: Scope,
    started: AtomicUsize,
    finished: AtomicUsize,
    block: std::sync::atomic::AtomicBool,
    entered: Notify,
    release: Notify,
}

impl Probe {
    fn new(scope: Scope) -> Arc<Self> {
        Arc::new(Self {
            scope,
            started: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            block: std::sync::atomic::AtomicBool::new(false),
            entered: Notify::new(),
            release: Notify::new(),
        })
    }
}

#[async_trait::async_trait]
impl Job for Probe {
    fn name(&self) -> &'static str {
        "test.probe"
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            every: std::time::Duration::from_secs(1),
            scope: self.scope,
        }
    }

    async fn run(&self, _stop: &CancellationToken) -> anyhow::Result<u64> {
        self.started.fetch_add(1, Ordering::SeqCst);
        if self.block.load(Ordering::SeqCst) {
            self.entered.notify_one();
            self.release.notified().await;
        }
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(1)
    }
}

async fn one_instance_job_runs_on_one_instance_and_passes_on_after_a_killed_holders_lease(
    b: Backend,
) {
    let db = fresh(b).await;
    let clock = ManualClock::new(T0);
    let lease = Duration::from_secs(30);
    let scope = Scope::OneInstance { lease };
    // Instance A and instance B: same database, same clock, own jobs.
    let a = Arc::new(Runner::new(
        db.store.clone(),
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        "instance-a",
    ));
    let b_runner = Runner::new(
        db.store.clone(),
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        "instance-b",
    );
    let job_a = Probe::new(scope);
    let job_b = Probe::new(scope);
    let shutdown = CancellationToken::new();

    // A starts a long run.
    job_a.block.store(true, Ordering::SeqCst);
    let run_a = {
        let (a, job_a, shutdown) = (a.clone(), job_a.clone(), shutdown.clone());
        tokio::spawn(async move { a.tick(job_a.as_ref(), &shutdown).await })
    };
    job_a.entered.notified().await;
    let row = db.store.jobs().find("test.probe").await.unwrap().unwrap();
    assert_eq!(row.holder.as_deref(), Some("instance-a"));

    // B ticks while A runs: refused, its job does not run.
    b_runner.tick(job_b.as_ref(), &shutdown).await;
    assert_eq!(
        job_b.started.load(Ordering::SeqCst),
        0,
        "two instances ran the job"
    );

    // A is killed mid-run: its run never finishes, its lease is not given back.
    run_a.abort();
    assert!(run_a.await.unwrap_err().is_cancelled());
    assert_eq!(job_a.finished.load(Ordering::SeqCst), 0);

    // Before the lease has passed, B is still refused.
    clock.advance(lease.saturating_mul(1) + Duration::from_micros(-1_000_000));
    b_runner.tick(job_b.as_ref(), &shutdown).await;
    assert_eq!(
        job_b.started.load(Ordering::SeqCst),
        0,
        "taken over before the lease passed"
    );

    // After it, B takes the job over and its run is recorded.
    clock.advance(Duration::from_secs(2));
    b_runner.tick(job_b.as_ref(), &shutdown).await;
    assert_eq!(
        job_b.finished.load(Ordering::SeqCst),
        1,
        "not taken over after the lease"
    );
    let row = db.store.jobs().find("test.probe").await.unwrap().unwrap();
    assert_eq!(row.holder.as_deref(), Some("instance-b"));
    assert_eq!(row.runs, 1, "only B's run is recorded: {row:?}");
    assert_eq!(row.failures, 0);
    assert!(row.last_success_at.is_some());
    assert_eq!(
        row.lease_until,
        Timestamp::EPOCH,
        "lease given back after the run"
    );

    // The job is not due again until `every` has passed: nobody runs it.
    a.tick(job_a.as_ref(), &shutdown).await;
    b_runner.tick(job_b.as_ref(), &shutdown).await;
    assert_eq!(job_a.started.load(Ordering::SeqCst), 1);
    assert_eq!(job_b.started.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(1));
    job_a.block.store(false, Ordering::SeqCst);
    a.tick(job_a.as_ref(), &shutdown).await;
    assert_eq!(
        job_a.finished.load(Ordering::SeqCst),
        1,
        "A runs it again when due"
    );

    // What /metrics shows of each instance's runs.
    let stats_b = b_runner.stats().snapshot();
    assert_eq!(stats_b["test.probe"].runs, 1);
    assert!(stats_b["test.probe"].skipped >= 2, "{stats_b:?}");
    let text = b_runner.stats().render();
    assert!(
        text.contains("anshin_job_runs_total{job=\"test.probe\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("anshin_job_last_success_timestamp_seconds{job=\"test.probe\"}"),
        "{text}"
    );
    assert!(
        text.contains("anshin_job_failures_total{job=\"test.probe\"} 0\n"),
        "{text}"
    );
}

async fn each_instance_job_runs_everywhere_and_is_counted(b: Backend) {
    let db = fresh(b).await;
    let clock = ManualClock::new(T0);
    let shutdown = CancellationToken::new();
    let runners: Vec<Runner> = ["x", "y"]
        .into_iter()
        .map(|h| {
            Runner::new(
                db.store.clone(),
                Arc::new(clock.clone()) as Arc<dyn Clock>,
                h,
            )
        })
        .collect();
    let job = Probe::new(Scope::EachInstance);
    for r in &runners {
        r.tick(job.as_ref(), &shutdown).await;
        r.tick(job.as_ref(), &shutdown).await;
    }
    assert_eq!(job.finished.load(Ordering::SeqCst), 4);
    // No lease row: every instance runs it on its own.
    assert!(db.store.jobs().find("test.probe").await.unwrap().is_none());
    assert_eq!(runners[0].stats().snapshot()["test.probe"].runs, 2);
}

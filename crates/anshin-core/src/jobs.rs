//! The one job runner: every piece of background work (mail delivery, the
//! session purge, the attack-level watch; later retention, payouts, audit
//! checkpoints and the weekly self-scan) is a [`Job`] that the [`Runner`]
//! of each instance ticks.
//!
//! A job runs either on every instance ([`Scope::EachInstance`]: work that
//! is safe to share because it claims its own rows, like mail delivery, or
//! that is about the instance itself, like its attack level), or on one
//! instance at a time ([`Scope::OneInstance`]): the runner takes the job's
//! lease in the database before each run (`JobRepo::take_lease`, one
//! atomic statement), renews it while the run lasts, and gives it back
//! with the outcome and when the job is next due. An instance that is
//! killed mid-run keeps the lease only until it expires; then another
//! instance takes over. A run that loses its lease (it could not renew in
//! time) is told to stop through its cancellation token.
//!
//! Each run is counted per instance (runs, failures, last success, last
//! duration) for `/metrics`; one-instance jobs also keep their record in
//! the database, for every instance and the staff console to read.

use crate::clock::Stopwatch;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anshin_domain::{Duration, Timestamp};
use anshin_store::{JobRun, Store};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::settings::{Invalid, Section, within};

/// `[jobs]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSettings {
    /// How long a one-instance job's lease lasts without renewal: after a
    /// killed instance, how long until another takes the job over.
    pub lease_secs: u64,
    /// How often expired sessions and used challenges are purged.
    pub purge_every_secs: u64,
}

impl Default for JobsSettings {
    fn default() -> Self {
        Self {
            lease_secs: 60,
            purge_every_secs: 600,
        }
    }
}

impl Section for JobsSettings {
    fn check(&self) -> Result<(), Invalid> {
        within("jobs.lease_secs", self.lease_secs, 2, 3600, " seconds")?;
        within(
            "jobs.purge_every_secs",
            self.purge_every_secs,
            1,
            86_400,
            " seconds",
        )
    }
}

/// Where a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// On every instance, each on its own.
    EachInstance,
    /// On one instance at a time, under a database lease of this length.
    OneInstance { lease: Duration },
}

/// When and where a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub every: std::time::Duration,
    pub scope: Scope,
}

/// A piece of background work.
#[async_trait::async_trait]
pub trait Job: Send + Sync + std::fmt::Debug {
    /// Stable name: the lease row's key and the `/metrics` label.
    fn name(&self) -> &'static str;

    fn schedule(&self) -> Schedule;
    /// How often this instance ticks the job. A one-instance job runs only
    /// when the database says it is due, so a long-period job (the weekly
    /// self-scan) ticks more often than it runs: a restart then neither
    /// runs it early nor leaves it a period late. Default: `every`.
    fn poll(&self) -> std::time::Duration {
        self.schedule().every
    }

    /// One run; returns how many items it handled (for the log). Long
    /// runs check `stop` between items and return early when it is
    /// cancelled (shutdown, or the lease was lost).
    async fn run(&self, stop: &CancellationToken) -> anyhow::Result<u64>;
}

/// What one instance saw of a job's runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounters {
    pub runs: u64,
    pub failures: u64,
    /// Ticks where another instance held the lease or the job was not due.
    pub skipped: u64,
    pub last_success: Option<Timestamp>,
    pub last_duration: Option<std::time::Duration>,
}

/// The per-instance counters of every job, for `/metrics`.
#[derive(Debug, Default)]
pub struct JobStats(Mutex<BTreeMap<&'static str, JobCounters>>);

impl JobStats {
    fn update(&self, name: &'static str, f: impl FnOnce(&mut JobCounters)) {
        let mut map = match self.0.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(map.entry(name).or_default());
    }

    /// A copy of every job's counters, by name.
    pub fn snapshot(&self) -> BTreeMap<&'static str, JobCounters> {
        match self.0.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The Prometheus text of the counters: runs, failures, the last
    /// success (Unix seconds) and the last run's duration, per job.
    pub fn render(&self) -> String {
        let snap = self.snapshot();
        let mut out = String::new();
        let mut family =
            |name: &str, kind: &str, help: &str, value: &dyn Fn(&JobCounters) -> Option<String>| {
                out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
                for (job, c) in &snap {
                    if let Some(v) = value(c) {
                        out.push_str(&format!("{name}{{job=\"{job}\"}} {v}\n"));
                    }
                }
            };
        family(
            "anshin_job_runs_total",
            "counter",
            "Runs of each background job on this instance.",
            &|c| Some(c.runs.to_string()),
        );
        family(
            "anshin_job_failures_total",
            "counter",
            "Runs of each background job that failed on this instance.",
            &|c| Some(c.failures.to_string()),
        );
        family(
            "anshin_job_skipped_total",
            "counter",
            "Ticks of a one-instance job that another instance held (or that was not due).",
            &|c| Some(c.skipped.to_string()),
        );
        family(
            "anshin_job_last_success_timestamp_seconds",
            "gauge",
            "When each background job last succeeded on this instance (Unix time).",
            &|c| c.last_success.map(|t| t.secs().to_string()),
        );
        family(
            "anshin_job_last_duration_seconds",
            "gauge",
            "How long each background job's last run took on this instance.",
            &|c| c.last_duration.map(|d| format!("{:.6}", d.as_secs_f64())),
        );
        out
    }
}

/// Runs the jobs of one instance until shutdown.
#[derive(Debug)]
pub struct Runner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// This instance's name in lease rows.
    holder: String,
    jobs: Vec<Arc<dyn Job>>,
    stats: Arc<JobStats>,
}

impl Runner {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, holder: impl Into<String>) -> Self {
        Self {
            store,
            clock,
            holder: holder.into(),
            jobs: Vec::new(),
            stats: Arc::new(JobStats::default()),
        }
    }

    #[must_use]
    pub fn with(mut self, job: Arc<dyn Job>) -> Self {
        self.jobs.push(job);
        self
    }

    pub fn stats(&self) -> Arc<JobStats> {
        self.stats.clone()
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Ticks every job until `shutdown`; a run in progress when it comes
    /// is told to stop and finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        let me = Arc::new(self);
        let mut tasks = tokio::task::JoinSet::new();
        for job in me.jobs.clone() {
            let me = me.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move { me.tick_forever(job, shutdown).await });
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn tick_forever(&self, job: Arc<dyn Job>, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(job.poll());
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            self.tick(job.as_ref(), &shutdown).await;
        }
    }

    /// One tick of one job: runs it if this instance may.
    pub async fn tick(&self, job: &dyn Job, shutdown: &CancellationToken) {
        let schedule = job.schedule();
        match schedule.scope {
            Scope::EachInstance => {
                let stop = shutdown.child_token();
                let started = self.clock.now();
                let t0 = Stopwatch::start();
                let result = job.run(&stop).await;
                self.record(job.name(), started, t0.elapsed(), &result);
            }
            Scope::OneInstance { lease } => self.tick_leased(job, schedule, lease, shutdown).await,
        }
    }

    async fn tick_leased(
        &self,
        job: &dyn Job,
        schedule: Schedule,
        lease: Duration,
        shutdown: &CancellationToken,
    ) {
        let name = job.name();
        let now = self.clock.now();
        let jobs = self.store.jobs();
        match jobs.take_lease(name, &self.holder, now, now + lease).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                self.stats.update(name, |c| c.skipped += 1);
                return;
            }
            Err(e) => {
                tracing::warn!(job = name, error = %e, "cannot take the job's lease");
                return;
            }
        }
        tracing::debug!(job = name, holder = %self.holder, "job lease taken");
        let stop = shutdown.child_token();
        let t0 = Stopwatch::start();
        // Renew at a third of the lease, so two missed renewals still
        // leave the lease ours.
        let renew_every = std::time::Duration::from_micros(
            u64::try_from(lease.micros() / 3)
                .unwrap_or(1_000_000)
                .max(1_000),
        );
        let result = {
            let run = job.run(&stop);
            tokio::pin!(run);
            // The first renewal one period from now (`reset`), not at once.
            let mut renew = tokio::time::interval(renew_every);
            renew.reset();
            loop {
                tokio::select! {
                    r = &mut run => break r,
                    _ = renew.tick() => {
                        let now = self.clock.now();
                        match jobs.renew(name, &self.holder, now, now + lease).await {
                            Ok(true) => {}
                            Ok(false) => {
                                tracing::warn!(job = name, "job lease lost to another instance; stopping the run");
                                stop.cancel();
                            }
                            Err(e) => tracing::warn!(job = name, error = %e, "cannot renew the job's lease"),
                        }
                    }
                }
            }
        };
        let elapsed = t0.elapsed();
        let run = JobRun {
            started_at: now,
            duration: Duration::from_micros(i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)),
            error: result.as_ref().err().map(|e| short(&e.to_string())),
            next_run_at: now
                + Duration::from_micros(
                    i64::try_from(schedule.every.as_micros()).unwrap_or(i64::MAX),
                ),
        };
        match jobs.finish(name, &self.holder, &run).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                job = name,
                "job finished after its lease passed to another instance; run not recorded"
            ),
            Err(e) => tracing::warn!(job = name, error = %e, "cannot record the job's run"),
        }
        self.record(name, now, elapsed, &result);
    }

    fn record(
        &self,
        name: &'static str,
        started: Timestamp,
        took: std::time::Duration,
        result: &anyhow::Result<u64>,
    ) {
        self.stats.update(name, |c| {
            c.runs += 1;
            c.last_duration = Some(took);
            match result {
                Ok(_) => c.last_success = Some(started),
                Err(_) => c.failures += 1,
            }
        });
        match result {
            Ok(0) => tracing::trace!(job = name, "job ran; nothing to do"),
            Ok(n) => tracing::info!(
                job = name,
                items = n,
                took_ms = took.as_millis() as u64,
                "job ran"
            ),
            Err(e) => tracing::warn!(job = name, error = %e, "job failed"),
        }
    }
}

/// A short, single-line reason for the lease row (errors carry no
/// personal data, but may be long).
fn short(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

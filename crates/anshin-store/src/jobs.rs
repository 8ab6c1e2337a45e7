//! Background jobs that must run on one instance at a time (purges, and
//! later retention, payouts, audit checkpoints, the weekly self-scan):
//! each job name has one row holding its lease and its last run.
//!
//! A runner takes the lease with [`JobRepo::take_lease`] (one atomic
//! statement: of several instances asking at once, one gets it), runs the
//! job, and gives the lease back with [`JobRepo::finish`], recording the
//! outcome and when the job is next due. A runner that dies keeps the
//! lease only until `lease_until`; after that another instance takes it.
//! A long run extends its lease with [`JobRepo::renew`]; a runner whose
//! lease was taken over learns it there and from `finish`.

use anshin_domain::{Duration, Timestamp};

use crate::StoreError;

/// A lease held on a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    pub name: String,
    /// Who holds it (an instance id).
    pub holder: String,
    pub until: Timestamp,
}

/// How a run ended, as [`JobRepo::finish`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub started_at: Timestamp,
    pub duration: Duration,
    /// `None` for success; otherwise a short reason (no personal data).
    pub error: Option<String>,
    /// When the job is due again.
    pub next_run_at: Timestamp,
}

/// A job's row: its lease and its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub name: String,
    pub holder: Option<String>,
    pub lease_until: Timestamp,
    pub next_run_at: Timestamp,
    pub last_started_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub last_duration: Option<Duration>,
    pub runs: i64,
    pub failures: i64,
    pub last_error: Option<String>,
}

#[async_trait::async_trait]
pub trait JobRepo: Send + Sync {
    /// Takes the lease on `name` for `holder` until `until`, if the job is
    /// due (`next_run_at <= now`) and nobody holds a live lease. `None`
    /// when another holder has it or the job is not due.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<JobLease>, StoreError>;

    /// Extends a live lease of `holder`; `false` if it is no longer
    /// theirs (it expired and another instance took it).
    async fn renew(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Records a run and releases the lease; `false` (nothing recorded)
    /// if the lease is no longer `holder`'s.
    async fn finish(&self, name: &str, holder: &str, run: &JobRun) -> Result<bool, StoreError>;

    /// The job's row, if it ever ran.
    async fn find(&self, name: &str) -> Result<Option<JobRecord>, StoreError>;
}

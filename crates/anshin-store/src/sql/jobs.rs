//! Job leases and run records: one row per job name.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_jobs {
    ($Db:ty) => {
        type JobRow = (String, Option<String>, i64, i64, Option<i64>, Option<i64>, Option<i64>, i64, i64, Option<String>);

        #[::async_trait::async_trait]
        impl $crate::JobRepo for Repos {
            async fn take_lease(
                &self,
                name: &str,
                holder: &str,
                now: $crate::Timestamp,
                until: $crate::Timestamp,
            ) -> Result<Option<$crate::JobLease>, $crate::StoreError> {
                // One statement: the row is created on first use, and of
                // several instances asking at once exactly one changes it
                // (PostgreSQL re-checks the WHERE after a concurrent
                // commit; SQLite serialises writers).
                let row: Option<(String, String, i64)> = ::sqlx::query_as(
                    "INSERT INTO job_leases AS j (name, holder, lease_until, next_run_at, last_started_at, runs, failures) \
                     VALUES ($1, $2, $4, 0, $3, 0, 0) \
                     ON CONFLICT (name) DO UPDATE SET holder = $2, lease_until = $4, last_started_at = $3 \
                     WHERE j.lease_until <= $3 AND j.next_run_at <= $3 \
                     RETURNING name, holder, lease_until",
                )
                .bind(name)
                .bind(holder)
                .bind(now.micros())
                .bind(until.micros())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|(name, holder, until)| $crate::JobLease { name, holder, until: ts(until) }))
            }

            async fn renew(
                &self,
                name: &str,
                holder: &str,
                now: $crate::Timestamp,
                until: $crate::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                let done = ::sqlx::query(
                    "UPDATE job_leases SET lease_until = $4 \
                     WHERE name = $1 AND holder = $2 AND lease_until > $3",
                )
                .bind(name)
                .bind(holder)
                .bind(now.micros())
                .bind(until.micros())
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish(&self, name: &str, holder: &str, run: &$crate::JobRun) -> Result<bool, $crate::StoreError> {
                let ok = run.error.is_none();
                let ended = run.started_at.saturating_add(run.duration);
                // The lease must still be ours and live: a runner whose
                // lease expired mid-run (and was taken over) records nothing.
                let done = ::sqlx::query(
                    "UPDATE job_leases SET lease_until = 0, next_run_at = $3, \
                       runs = runs + 1, \
                       failures = failures + CASE WHEN $4 = 1 THEN 0 ELSE 1 END, \
                       last_success_at = CASE WHEN $4 = 1 THEN $5 ELSE last_success_at END, \
                       last_duration_us = $6, last_error = $7 \
                     WHERE name = $1 AND holder = $2 AND lease_until >= $5",
                )
                .bind(name)
                .bind(holder)
                .bind(run.next_run_at.micros())
                .bind(i64::from(ok))
                .bind(ended.micros())
                .bind(run.duration.micros())
                .bind(run.error.as_deref())
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(done.rows_affected() == 1)
            }

            async fn find(&self, name: &str) -> Result<Option<$crate::JobRecord>, $crate::StoreError> {
                let row: Option<JobRow> = ::sqlx::query_as(
                    "SELECT name, holder, lease_until, next_run_at, last_started_at, last_success_at, \
                     last_duration_us, runs, failures, last_error FROM job_leases WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|(name, holder, lease_until, next_run_at, started, success, duration, runs, failures, last_error)| {
                    $crate::JobRecord {
                        name,
                        holder,
                        lease_until: ts(lease_until),
                        next_run_at: ts(next_run_at),
                        last_started_at: started.map(ts),
                        last_success_at: success.map(ts),
                        last_duration: duration.map($crate::Duration::from_micros),
                        runs,
                        failures,
                        last_error,
                    }
                }))
            }
        }
    };
}

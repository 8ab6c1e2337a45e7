-- Background jobs that run on one instance at a time (session purge now;
-- retention, payouts, audit checkpoints and the self-scan later). One row
-- per job: the lease (holder, lease_until) that a runner takes in one
-- statement, when the job is due next, and how its last run went (for
-- /metrics and the staff console). A runner that dies holds the lease only
-- until lease_until; then another instance takes it.
CREATE TABLE job_leases (
    name             TEXT    NOT NULL PRIMARY KEY,
    holder           TEXT,                          -- instance id
    lease_until      INTEGER NOT NULL,              -- 0: free
    next_run_at      INTEGER NOT NULL,
    last_started_at  INTEGER,
    last_success_at  INTEGER,
    last_duration_us INTEGER,
    runs             INTEGER NOT NULL,
    failures         INTEGER NOT NULL,
    last_error       TEXT
) STRICT;

//! Log retention (C26): one job, on one instance at a time (the runner's
//! database lease), deletes what the log policy (`docs/log-policy.md`)
//! keeps only for a while:
//!
//! - members' login history (`login_events`: time, IP address, device)
//!   older than `retention.login_history_days`;
//! - the details of audit entries (`audit_details`, which may name
//!   personal data) older than `retention.audit_details_days`. The entries
//!   themselves stay: each holds only the keyed hash of its details, so
//!   the RFC 6962 chain still verifies (`anshin audit verify`).
//!
//! Each run that deletes anything records one audit entry saying how many
//! of each, and the cut-off times. anshin writes no application log files
//! (its log goes to stdout, to the operator's log system, which keeps it
//! for the period the policy recommends), so there are none to delete.
//!
//! ## Records kept one month (C17; C16 later; ADR 0021)
//!
//! The same job then purges *records* whose period ends one calendar
//! month (Japan Standard Time, [`Timestamp::one_month_later`]) after they
//! were completed. Each [`RecordKind`] says where its completed records
//! are listed and which [`Write`] purges one; a delivered shipment
//! (`RecordKind::Shipment`) loses its key (so both sealed addresses), its
//! drop-off codes and parcel events, the order's address snapshot and the
//! details of the audit entries about it. A completed payout
//! (`RecordKind::Payout`, C16: paid or failed, one month after
//! `completed_at`) loses its key (so its sealed bank snapshot), the
//! bank's result code and the details of the audit entries about it; the
//! row keeps ids, status, amounts and times, what `anshin ledger check`
//! needs.
//!
//! The purge goes in batches of [`BATCH`] records, one short transaction
//! each with its own `records_purged` audit entry (the count and the
//! run's time, no record id), so no lock is held for long, other requests
//! interleave between batches, and a crash loses no record of what went.
//! After a purge the store leaves no copy in its files
//! ([`anshin_store::Store::flush_after_purge`]: SQLite's WAL is
//! checkpointed and truncated; `secure_delete` is on from the start).
//! `anshin retention run [--as-of TIME] [--dry-run]` runs the same purge
//! by hand (at now or the time given), or only counts (`--dry-run`).
//!
//! What an attacker (or a mistake) would try, and the tests:
//! - purge early (a record one second short of its month): the listing
//!   is filtered by the exact calendar rule, tested at T + 1 month − 1 s
//!   (`c17_a_delivered_shipment_is_kept_one_month_and_purged_after`,
//!   `c16_a_completed_payout_is_kept_one_month_and_purged_after`);
//! - read the purged address from the files (SQLite file and WAL,
//!   `pg_dump`, outbox, logs, metrics): the canary in the same test;
//! - break the audit chain by deleting details: the entries stay, only
//!   details go, `anshin audit verify` passes (same test);
//! - run the purge twice at once (the CLI while the job runs): a purged
//!   shipment is skipped by the write's own guard
//!   (conformance `c17_a_purge_destroys_a_delivered_shipments_key_and_history_once`;
//!   core `payouts::c16_a_purge_destroys_a_completed_payouts_key_and_snapshot_once`,
//!   which also shows a payout on its way to the bank is never purged);
//! - a dry run that deletes: `c17_retention_run_dry_run_counts_and_deletes_nothing`,
//!   `c16_retention_run_dry_run_counts_payouts_and_deletes_nothing`.

use anshin_domain::{Duration, PayoutId, ShipmentId, Timestamp};
use anshin_store::audit::{Actor, AuditAction, AuditTarget, TargetKind};
use anshin_store::{Changes, Flushed, StoreError, Write};
use serde::{Deserialize, Serialize};

use crate::Services;
use crate::settings::{Invalid, Section, within};

/// `[retention]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Members' login history (time, IP address, device) is deleted after
    /// this many days.
    pub login_history_days: u64,
    /// The details of audit entries are deleted after this many days (the
    /// entries stay and still verify).
    pub audit_details_days: u64,
    /// How often the retention job runs.
    pub every_secs: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            login_history_days: 180,
            audit_details_days: 400,
            every_secs: 3600,
        }
    }
}

impl Section for RetentionSettings {
    fn check(&self) -> Result<(), Invalid> {
        within(
            "retention.login_history_days",
            self.login_history_days,
            1,
            3650,
            " days",
        )?;
        within(
            "retention.audit_details_days",
            self.audit_details_days,
            1,
            3650,
            " days",
        )?;
        within(
            "retention.every_secs",
            self.every_secs,
            60,
            86_400,
            " seconds",
        )
    }
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n.saturating_mul(86_400))
}

/// What one run deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purged {
    pub login_events: u64,
    pub audit_details: u64,
    /// Records past their month (C17), see [`purge_records`].
    pub shipments: u64,
    /// Payouts past their month (C16), see [`purge_records`].
    pub payouts: u64,
}

/// A kind of record kept for a fixed period after it is complete, and
/// purged by this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A delivered shipment's history (C17): one month after delivery.
    Shipment,
    /// A completed payout's bank snapshot and transfer history (C16): one
    /// month after it was paid or failed.
    Payout,
}

impl RecordKind {
    pub const ALL: &'static [RecordKind] = &[RecordKind::Shipment, RecordKind::Payout];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Shipment => "shipment",
            RecordKind::Payout => "payout",
        }
    }

    /// When a record completed at `done` is past its period.
    pub fn expires(self, done: Timestamp) -> Timestamp {
        match self {
            RecordKind::Shipment | RecordKind::Payout => done.one_month_later(),
        }
    }

    /// The shortest period (so listings can ask the store for records
    /// completed before `as_of − this` and filter exactly).
    fn at_least(self) -> Duration {
        match self {
            RecordKind::Shipment | RecordKind::Payout => days(28),
        }
    }
}

/// One record the purge lists: its id, of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Record {
    Shipment(ShipmentId),
    Payout(PayoutId),
}

impl Record {
    fn uuid(self) -> uuid::Uuid {
        match self {
            Record::Shipment(id) => id.as_uuid(),
            Record::Payout(id) => id.as_uuid(),
        }
    }

    fn purge(self, at: Timestamp) -> Write {
        match self {
            Record::Shipment(shipment) => Write::PurgeShipment { shipment, at },
            Record::Payout(payout) => Write::PurgePayout { payout, at },
        }
    }
}

/// An RFC 3339 time (`2027-03-01T00:00:00+09:00`), as `anshin retention
/// run --as-of` takes it.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| Timestamp::from_micros(t.timestamp_micros()))
}

/// How many records a purge batch holds (one short transaction).
pub const BATCH: u32 = 200;

/// How long the flush after a purge waits for readers that keep SQLite's
/// WAL busy before it leaves the flush pending for the next run.
pub const FLUSH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// What a records run found (dry run) or purged, per kind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordCounts {
    pub shipments: u64,
    pub payouts: u64,
    /// How the flush after the purge ended (`None`: nothing purged, no
    /// flush).
    pub flush: Option<Flushed>,
}

impl RecordCounts {
    pub fn total(&self) -> u64 {
        self.shipments + self.payouts
    }

    pub fn of(&self, kind: RecordKind) -> u64 {
        match kind {
            RecordKind::Shipment => self.shipments,
            RecordKind::Payout => self.payouts,
        }
    }

    fn add(&mut self, kind: RecordKind, n: u64) {
        match kind {
            RecordKind::Shipment => self.shipments += n,
            RecordKind::Payout => self.payouts += n,
        }
    }
}

/// The expired records of `kind` after position `after`, in order, at
/// most one batch; stops at the first one not yet expired (the listing is
/// in completion order and the rule is monotone).
async fn expired_batch(
    svc: &Services,
    kind: RecordKind,
    as_of: Timestamp,
    after: Option<(Timestamp, uuid::Uuid)>,
) -> anyhow::Result<(Vec<(Record, Timestamp)>, bool)> {
    let not_after = as_of.saturating_sub(kind.at_least());
    let listed: Vec<(Record, Timestamp)> = match kind {
        RecordKind::Shipment => svc
            .store
            .shipping()
            .delivered_unpurged(
                not_after,
                after.map(|(t, id)| (t, ShipmentId::from_uuid(id))),
                BATCH,
            )
            .await?
            .into_iter()
            .map(|(id, t)| (Record::Shipment(id), t))
            .collect(),
        RecordKind::Payout => svc
            .store
            .payouts()
            .completed_unpurged(
                not_after,
                after.map(|(t, id)| (t, PayoutId::from_uuid(id))),
                BATCH,
            )
            .await?
            .into_iter()
            .map(|(id, t)| (Record::Payout(id), t))
            .collect(),
    };
    let full = listed.len() == BATCH as usize;
    let mut out = Vec::with_capacity(listed.len());
    for (id, done) in listed {
        if kind.expires(done) > as_of {
            return Ok((out, false));
        }
        out.push((id, done));
    }
    Ok((out, full))
}

/// Purges (or, with `dry_run`, only counts) every record past its period
/// at `as_of`, batch by batch. Each batch is one transaction with its own
/// audit entry; the metrics count what went; the store flushes its files
/// once at the end if anything went (waiting up to [`FLUSH_PATIENCE`] for
/// readers, see [`flush`]).
pub async fn purge_records(
    svc: &Services,
    as_of: Timestamp,
    dry_run: bool,
) -> anyhow::Result<RecordCounts> {
    purge_records_within(svc, as_of, dry_run, FLUSH_PATIENCE).await
}

/// [`purge_records`], with the flush's patience given.
pub async fn purge_records_within(
    svc: &Services,
    as_of: Timestamp,
    dry_run: bool,
    patience: std::time::Duration,
) -> anyhow::Result<RecordCounts> {
    let mut counts = RecordCounts::default();
    for &kind in RecordKind::ALL {
        let mut after = None;
        loop {
            let (batch, more) = expired_batch(svc, kind, as_of, after).await?;
            let Some(last) = batch.last().copied() else {
                break;
            };
            if !dry_run {
                let mut changes = Changes::new();
                for (record, _) in &batch {
                    changes.push(record.purge(svc.now()));
                }
                changes.push_audit(crate::audit::entry(
                    svc,
                    Actor::System,
                    AuditAction::RecordsPurged,
                    Some(AuditTarget {
                        kind: TargetKind::AuditLog,
                        id: "retention".to_owned(),
                    }),
                    None,
                    "retention_policy",
                    serde_json::json!({
                        "kind": kind.as_str(),
                        "count": batch.len(),
                        "as_of": as_of.micros(),
                        "period": "one_month_jst",
                    }),
                ));
                svc.store.commit(&changes).await?;
                match kind {
                    RecordKind::Shipment => svc.metrics.purged_shipments.add(batch.len() as u64),
                    RecordKind::Payout => svc.metrics.purged_payouts.add(batch.len() as u64),
                }
                // Let ordinary requests in between batches.
                tokio::task::yield_now().await;
            }
            counts.add(kind, batch.len() as u64);
            after = Some((last.1, last.0.uuid()));
            if !more {
                break;
            }
        }
    }
    if !dry_run && counts.total() > 0 {
        tracing::info!(
            shipments = counts.shipments,
            payouts = counts.payouts,
            "retention: shipping and transfer history past one month purged"
        );
        counts.flush = Some(flush(svc, patience).await?);
    }
    Ok(counts)
}

/// The store's flush after a purge ([`anshin_store::Store::flush_after_purge`]),
/// waiting up to `patience` for readers. A busy WAL is not an error: the
/// rows are already deleted and committed; the flush is left pending
/// (`anshin_retention_flush_pending` 1, a warning) and the retention job
/// flushes again at each run until it is done.
pub async fn flush(svc: &Services, patience: std::time::Duration) -> Result<Flushed, StoreError> {
    let flushed = svc.store.flush_after_purge(patience).await?;
    match flushed {
        Flushed::Done => svc.metrics.flush_pending.set(0),
        Flushed::Pending => {
            svc.metrics.flush_pending.set(1);
            tracing::warn!(
                patience_secs = patience.as_secs(),
                "retention: the database's WAL may still hold purged rows (a reader kept it \
                 busy); the flush is pending until the retention job's next run"
            );
        }
    }
    Ok(flushed)
}

/// Deletes what is past its period now; records the purge in the audit
/// log when anything went.
pub async fn purge(svc: &Services, settings: &RetentionSettings) -> anyhow::Result<Purged> {
    let now = svc.now();
    let login_before = now.saturating_sub(days(settings.login_history_days));
    let details_before = now.saturating_sub(days(settings.audit_details_days));
    let login_events = svc
        .store
        .accounts()
        .purge_login_events(login_before)
        .await?;
    let audit_details = svc.store.audit().purge_details(details_before).await?;
    let records = purge_records(svc, now, false).await?;
    // Every run flushes, not only one that purged records: a flush left
    // pending (by this run, an earlier one, the CLI's or a withdrawal's)
    // is retried here, and the login history and audit details deleted
    // above leave no copy in the WAL either.
    if records.flush.is_none() {
        flush(svc, FLUSH_PATIENCE).await?;
    }
    let purged = Purged {
        login_events,
        audit_details,
        shipments: records.shipments,
        payouts: records.payouts,
    };
    if login_events + audit_details > 0 {
        let entry = crate::audit::entry(
            svc,
            Actor::System,
            AuditAction::AuditDetailsPurged,
            Some(AuditTarget {
                kind: TargetKind::AuditLog,
                id: "retention".to_owned(),
            }),
            None,
            "retention_policy",
            serde_json::json!({
                "login_events": login_events,
                "login_events_before": login_before.micros(),
                "audit_details": audit_details,
                "audit_details_before": details_before.micros(),
            }),
        );
        svc.store.commit(&Changes::new().audited(entry)).await?;
        tracing::info!(
            login_events,
            audit_details,
            "retention: expired login history and audit details deleted"
        );
    }
    Ok(purged)
}

/// The retention job (one instance at a time, under the runner's lease).
#[derive(Debug)]
pub struct RetentionJob {
    pub svc: Services,
    pub settings: RetentionSettings,
    pub lease: Duration,
}

#[async_trait::async_trait]
impl crate::jobs::Job for RetentionJob {
    fn name(&self) -> &'static str {
        "retention.purge"
    }

    fn schedule(&self) -> crate::jobs::Schedule {
        crate::jobs::Schedule {
            every: std::time::Duration::from_secs(self.settings.every_secs),
            scope: crate::jobs::Scope::OneInstance { lease: self.lease },
        }
    }

    async fn run(&self, _stop: &tokio_util::sync::CancellationToken) -> anyhow::Result<u64> {
        let p = purge(&self.svc, &self.settings).await?;
        Ok(p.login_events + p.audit_details + p.shipments + p.payouts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c26_retention_settings_check_their_values() {
        assert!(RetentionSettings::default().check().is_ok());
        let bad = RetentionSettings {
            login_history_days: 0,
            ..RetentionSettings::default()
        };
        assert_eq!(bad.check().unwrap_err().key, "retention.login_history_days");
        let bad = RetentionSettings {
            audit_details_days: 0,
            ..RetentionSettings::default()
        };
        assert_eq!(bad.check().unwrap_err().key, "retention.audit_details_days");
    }
}

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

use anshin_domain::Duration;
use anshin_store::Changes;
use anshin_store::audit::{Actor, AuditAction, AuditTarget, TargetKind};
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
    let purged = Purged {
        login_events,
        audit_details,
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
        Ok(p.login_events + p.audit_details)
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

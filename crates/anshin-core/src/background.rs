//! The marketplace's background work, put together for the one job
//! runner: mail delivery, the session purge and the attack-level watch.
//! Kept apart from the runner, which knows no job, and from the jobs,
//! which know no runner setup.

use std::sync::Arc;

use anshin_domain::Duration;

use crate::jobs::{JobsSettings, Runner};

/// The runner with every job of the marketplace: mail delivery, the
/// session purge, the attack-level watch and payment reconciliation.
pub fn marketplace_runner(
    svc: &crate::Services,
    outbox: crate::mail::outbox::Outbox,
    settings: &JobsSettings,
    holder: impl Into<String>,
) -> Runner {
    Runner::new(svc.store.clone(), svc.clock.clone(), holder)
        .with(Arc::new(outbox))
        .with(Arc::new(crate::sessions::PurgeJob {
            svc: svc.clone(),
            every: std::time::Duration::from_secs(settings.purge_every_secs),
            lease: Duration::from_secs(settings.lease_secs),
        }))
        .with(Arc::new(crate::accounts::limits::AttackLevelJob(
            svc.clone(),
        )))
        .with(crate::orders::ReconcileJob::new(
            svc,
            Duration::from_secs(settings.lease_secs),
        ))
}

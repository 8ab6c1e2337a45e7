//! The reconciliation job (one instance at a time, on the one job
//! runner): what the webhooks did not tell us, we ask.
//!
//! Each run: (1) asks the processor about payment attempts that have not
//! settled for `payments.reconcile_after_secs` (a lost webhook, a server
//! killed between asking the processor and writing the answer), without
//! ever charging late ([`transitions::resolve_attempt`]); (2) cancels unpaid
//! orders whose reservation ended, after settling their intents, and
//! gives their stock back; (3) asks again for refunds still pending; (4)
//! completes orders delivered `payments.complete_after_days` ago.

use std::sync::Arc;

use anshin_domain::Duration;
use tokio_util::sync::CancellationToken;

use super::transitions::{self, resolve_attempt};
use crate::Services;
use crate::jobs::{Job, Schedule, Scope};

const BATCH: u32 = 100;

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub attempts: u64,
    pub cancelled: u64,
    pub refunds: u64,
    pub completed: u64,
    /// Items that failed (logged; tried again next run).
    pub failed: u64,
}

impl Reconciled {
    pub fn total(&self) -> u64 {
        self.attempts + self.cancelled + self.refunds + self.completed
    }
}

/// One pass (see the module doc). Errors of single items are logged and
/// counted, not returned: one stuck order must not stop the others.
pub async fn reconcile(
    svc: &Services,
    stop: &CancellationToken,
) -> Result<Reconciled, anshin_store::StoreError> {
    let s = &svc.settings.payments;
    let now = svc.now();
    let repo = svc.store.orders();
    let mut done = Reconciled::default();
    for a in repo
        .stale_attempts(now - s.reconcile_after(), BATCH)
        .await?
    {
        if stop.is_cancelled() {
            return Ok(done);
        }
        let Some(order) = repo.order(a.order_id).await? else {
            continue;
        };
        match resolve_attempt(svc, &a, &order, order.reserved_until <= now).await {
            Ok(outcome) => {
                done.attempts += 1;
                tracing::info!(order = %order.id, attempt = a.attempt_no, ?outcome, "payment attempt reconciled");
            }
            Err(e) => {
                done.failed += 1;
                tracing::warn!(order = %order.id, error = %e, "cannot reconcile a payment attempt");
            }
        }
    }
    for order in repo.expired_orders(now, BATCH).await? {
        if stop.is_cancelled() {
            return Ok(done);
        }
        match transitions::expire(svc, &order).await {
            Ok(true) => done.cancelled += 1,
            Ok(false) => {}
            Err(e) => {
                done.failed += 1;
                tracing::warn!(order = %order.id, error = %e, "cannot cancel an expired order");
            }
        }
    }
    for r in repo.stale_refunds(now - s.reconcile_after(), BATCH).await? {
        if stop.is_cancelled() {
            return Ok(done);
        }
        match transitions::push_refund(svc, &r).await {
            Ok(transitions::RefundOutcome::Refunded) => done.refunds += 1,
            Ok(transitions::RefundOutcome::Pending) => {}
            Err(e) => {
                done.failed += 1;
                tracing::warn!(order = %r.order_id, error = %e, "cannot settle a pending refund");
            }
        }
    }
    for order in repo
        .delivered_before(now - s.complete_after(), BATCH)
        .await?
    {
        match transitions::complete(svc, None, order.id).await {
            Ok(()) => done.completed += 1,
            Err(e) => {
                done.failed += 1;
                tracing::warn!(order = %order.id, error = %e, "cannot complete a delivered order");
            }
        }
    }
    Ok(done)
}

/// [`reconcile`] as a job of the one runner.
#[derive(Debug)]
pub struct ReconcileJob {
    pub svc: Services,
    pub every: std::time::Duration,
    pub lease: Duration,
}

impl ReconcileJob {
    pub fn new(svc: &Services, lease: Duration) -> Arc<Self> {
        Arc::new(Self {
            every: std::time::Duration::from_secs(svc.settings.payments.reconcile_every_secs),
            svc: svc.clone(),
            lease,
        })
    }
}

#[async_trait::async_trait]
impl Job for ReconcileJob {
    fn name(&self) -> &'static str {
        "payments_reconcile"
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            every: self.every,
            scope: Scope::OneInstance { lease: self.lease },
        }
    }

    async fn run(&self, stop: &CancellationToken) -> anyhow::Result<u64> {
        let done = reconcile(&self.svc, stop).await?;
        if done.failed > 0 {
            tracing::warn!(
                failed = done.failed,
                "reconciliation left items for the next run"
            );
        }
        Ok(done.total())
    }
}

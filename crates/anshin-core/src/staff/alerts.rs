//! The `security` role's view of the security alerts (C29): what is on
//! now and the latest ones, from the database (every instance shows the
//! same). Alerts hold no personal data, so the view is not itself
//! audited; a refusal of the policy is, as everywhere.

use std::net::IpAddr;

pub use anshin_store::alerts::AlertRecord;
pub use anshin_store::selfscan::SelfScanRecord;

use super::{CurrentStaff, StaffError, authorize, refused};
use crate::Services;
use crate::access::Action;

/// How many self-scan reports the page lists.
pub const SELFSCAN_HISTORY: u32 = 52;

/// The kept self-scan reports (C30), newest first, for a staff member
/// the policy lets see the alerts (the same `view_alerts` act: the
/// security role's view of what anshin found about itself). Reports hold
/// no personal data, so the view is not itself audited.
pub async fn selfscans_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<Vec<SelfScanRecord>, StaffError> {
    if let Err(e) = authorize(svc, actor, Action::ViewAlerts, ip) {
        return Err(refused(svc, actor, ip, e).await);
    }
    Ok(svc.store.selfscan().recent(SELFSCAN_HISTORY).await?)
}

/// How many past alerts the page lists.
pub const ALERT_HISTORY: u32 = 100;

/// The alerts page's data.
#[derive(Debug, Clone)]
pub struct AlertsView {
    /// On now, oldest first.
    pub on: Vec<AlertRecord>,
    /// The latest [`ALERT_HISTORY`], newest first (on or cleared).
    pub recent: Vec<AlertRecord>,
}

/// The alerts, for a staff member the policy lets see them (checked here
/// again, whatever door called).
pub async fn alerts_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<AlertsView, StaffError> {
    if let Err(e) = authorize(svc, actor, Action::ViewAlerts, ip) {
        return Err(refused(svc, actor, ip, e).await);
    }
    let alerts = svc.store.alerts();
    Ok(AlertsView {
        on: alerts.firing().await?,
        recent: alerts.recent(ALERT_HISTORY).await?,
    })
}

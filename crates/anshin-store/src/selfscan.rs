//! The kept reports of the weekly self-scan (C30, ADR 0019): one row per
//! run, written with the report's mail and audit entry in one bundle
//! ([`crate::Write::RecordSelfScan`]), so a report is kept exactly when
//! it was mailed and audited. A report holds crate names, versions,
//! advisory ids, setting names and dates: no personal data.

use anshin_domain::{SelfScanId, Timestamp};

use crate::StoreError;

/// A self-scan's report to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSelfScan {
    pub id: SelfScanId,
    pub ran_at: Timestamp,
    /// How many findings the report has (0: a clean scan).
    pub findings: i64,
    /// The report as JSON.
    pub json: String,
    /// The report as text (what the mail says).
    pub text: String,
}

/// A kept report.
pub type SelfScanRecord = NewSelfScan;

#[async_trait::async_trait]
pub trait SelfScanRepo: Send + Sync {
    /// The newest report, if the scan ever ran.
    async fn latest(&self) -> Result<Option<SelfScanRecord>, StoreError>;

    /// The newest `limit` reports, newest first.
    async fn recent(&self, limit: u32) -> Result<Vec<SelfScanRecord>, StoreError>;
}

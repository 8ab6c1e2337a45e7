//! Vulnerability reports sent through `/security` (C5) and the security
//! team's triage notes. A report is sealed under a data key of its own
//! (wrapped by the key ring), so the store holds only ciphertext of the
//! reporter's address, the text and the notes; the tracking id, status,
//! language and times are clear. Written through [`crate::Write`]
//! (`ReceiveVdpReport`, `SetVdpStatus`, `AddVdpNote`) with the mail and
//! audit entries of the act, in one bundle.

use anshin_domain::{Lang, StaffId, Timestamp, VdpNoteId, VdpReportId};

use crate::StoreError;

/// Where a report stands in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VdpStatus {
    New,
    Confirmed,
    Fixed,
    Rejected,
}

impl VdpStatus {
    pub const ALL: [VdpStatus; 4] = [
        VdpStatus::New,
        VdpStatus::Confirmed,
        VdpStatus::Fixed,
        VdpStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VdpStatus::New => "new",
            VdpStatus::Confirmed => "confirmed",
            VdpStatus::Fixed => "fixed",
            VdpStatus::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A report to keep: its sealed contents and wrapped key.
#[derive(Clone, PartialEq, Eq)]
pub struct NewVdpReport {
    pub id: VdpReportId,
    pub tracking: String,
    pub lang: Lang,
    pub received_at: Timestamp,
    pub kek_version: i64,
    pub wrapped_key: Vec<u8>,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for NewVdpReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewVdpReport")
            .field("id", &self.id)
            .field("tracking", &self.tracking)
            .finish_non_exhaustive()
    }
}

/// A kept report (still sealed).
#[derive(Clone, PartialEq, Eq)]
pub struct VdpReportRecord {
    pub id: VdpReportId,
    pub tracking: String,
    pub status: VdpStatus,
    pub lang: Lang,
    pub received_at: Timestamp,
    pub updated_at: Timestamp,
    pub wrapped_key: Vec<u8>,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for VdpReportRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VdpReportRecord")
            .field("id", &self.id)
            .field("tracking", &self.tracking)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A triage note to keep (sealed under the report's key).
#[derive(Clone, PartialEq, Eq)]
pub struct NewVdpNote {
    pub id: VdpNoteId,
    pub report: VdpReportId,
    pub staff: StaffId,
    pub at: Timestamp,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for NewVdpNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewVdpNote")
            .field("id", &self.id)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

/// A kept note.
pub type VdpNoteRecord = NewVdpNote;

#[async_trait::async_trait]
pub trait VdpRepo: Send + Sync {
    /// The newest `limit` reports, newest first.
    async fn recent(&self, limit: u32) -> Result<Vec<VdpReportRecord>, StoreError>;

    /// One report.
    async fn report(&self, id: VdpReportId) -> Result<Option<VdpReportRecord>, StoreError>;

    /// A report's notes, oldest first.
    async fn notes(&self, id: VdpReportId) -> Result<Vec<VdpNoteRecord>, StoreError>;
}

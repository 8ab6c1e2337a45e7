//! Incident records and their timelines (C28): reads here; every change is
//! a [`crate::Write`] committed through the one write path, with its audit
//! entry in the same bundle.

use anshin_domain::{EmailAddress, IncidentEntryId, IncidentId, Lang, MemberId, Timestamp};

use crate::StoreError;

/// An incident record to create (`anshin incident open`).
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub id: IncidentId,
    pub title: String,
    pub opened_at: Timestamp,
    /// `system` (the command line) or `staff:<id>`.
    pub opened_by: String,
}

/// Open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentStatus {
    Open,
    Closed,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(IncidentStatus::Open),
            "closed" => Some(IncidentStatus::Closed),
            _ => None,
        }
    }
}

/// Who is mailed by a notification run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyAudience {
    /// Every member, in id order.
    All,
    /// These members (the ids, sorted).
    Members(Vec<MemberId>),
}

impl NotifyAudience {
    /// The stored form: `all`, or `members:<id>,<id>…`.
    pub fn to_text(&self) -> String {
        match self {
            NotifyAudience::All => "all".to_owned(),
            NotifyAudience::Members(ids) => format!(
                "members:{}",
                ids.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

/// The progress of an incident's member notification (resumable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyProgress {
    pub template: String,
    /// [`NotifyAudience::to_text`].
    pub audience: String,
    /// The last member mailed (members are mailed in id order).
    pub cursor: Option<MemberId>,
    pub sent: u64,
    pub total: u64,
    pub finished_at: Option<Timestamp>,
}

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: IncidentId,
    pub title: String,
    pub status: IncidentStatus,
    pub opened_at: Timestamp,
    pub opened_by: String,
    pub closed_at: Option<Timestamp>,
    pub lessons: Option<String>,
    pub notify: Option<NotifyProgress>,
}

/// A timeline line to add.
#[derive(Debug, Clone)]
pub struct NewTimelineEntry {
    pub id: IncidentEntryId,
    pub incident: IncidentId,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// A timeline line as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub id: IncidentEntryId,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// A member to mail: who, where, in which language. `Debug` leaves the
/// address out.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    pub member: MemberId,
    pub email: EmailAddress,
    pub lang: Lang,
}

impl std::fmt::Debug for NotifyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyTarget")
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
pub trait IncidentRepo: Send + Sync {
    async fn find_incident(&self, id: IncidentId) -> Result<Option<IncidentRecord>, StoreError>;

    /// Every incident, newest first.
    async fn list_incidents(&self) -> Result<Vec<IncidentRecord>, StoreError>;

    /// The incident's timeline, oldest first.
    async fn timeline(&self, id: IncidentId) -> Result<Vec<TimelineEntry>, StoreError>;

    /// Up to `limit` members with an id above `after`, in id order.
    async fn members_after(
        &self,
        after: Option<MemberId>,
        limit: u32,
    ) -> Result<Vec<NotifyTarget>, StoreError>;

    /// How many members there are.
    async fn count_members(&self) -> Result<u64, StoreError>;

    /// Whether the member is locked by an incident.
    async fn is_locked(&self, member: MemberId) -> Result<bool, StoreError>;

    /// Live member sessions and live staff sessions at `now`.
    async fn live_sessions(&self, now: Timestamp) -> Result<(u64, u64), StoreError>;
}

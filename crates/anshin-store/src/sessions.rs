//! Browser sessions, kept server-side so that every app instance sees the
//! same state and an ended session stops working everywhere at once.
//!
//! A session is looked up by the SHA-256 hash of its cookie token; the
//! token itself is never stored.

use uuid::Uuid;

use crate::StoreError;

/// A session to insert.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Uuid,
    pub token_hash: [u8; 32],
    pub created_at: i64,
    /// The session dies after this moment whatever the activity.
    pub absolute_expires_at: i64,
    /// The session dies after this moment unless it is used before.
    pub idle_expires_at: i64,
    /// Set for a member's session; `None` for a visitor's.
    pub login: Option<SessionLogin>,
}

/// Who a member's session belongs to and how it began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLogin {
    pub member_id: Uuid,
    /// Last time the member proved who they are (login or fresh code).
    pub authenticated_at: i64,
    pub ip: String,
    /// Readable device summary, e.g. "Firefox on Linux".
    pub device: String,
    /// `code`, `password` or `signup`.
    pub method: String,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub token_hash: [u8; 32],
    pub created_at: i64,
    pub last_seen_at: i64,
    pub absolute_expires_at: i64,
    pub idle_expires_at: i64,
    pub login: Option<SessionLogin>,
}

impl SessionRecord {
    pub fn is_live(&self, now: i64) -> bool {
        now < self.absolute_expires_at && now < self.idle_expires_at
    }
}

#[async_trait::async_trait]
pub trait SessionRepo: Send + Sync {
    async fn create(&self, new: &NewSession) -> Result<(), StoreError>;

    /// The live session with this token hash, if any. Expired sessions are
    /// treated as absent even before the purge removes them.
    async fn find_live(
        &self,
        token_hash: &[u8; 32],
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Records activity: moves `last_seen_at` and the idle deadline.
    async fn touch(&self, id: Uuid, now: i64, idle_expires_at: i64) -> Result<(), StoreError>;

    /// Ends a session; returns whether it existed.
    async fn delete(&self, id: Uuid) -> Result<bool, StoreError>;

    /// Removes every session expired at `now`; returns how many.
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;

    /// A member's live sessions, newest first.
    async fn list_for_member(
        &self,
        member_id: Uuid,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// Ends one of a member's sessions; false if it is not theirs or gone.
    async fn delete_for_member(&self, member_id: Uuid, id: Uuid) -> Result<bool, StoreError>;

    /// Ends every session of a member except `keep` (if given).
    async fn delete_all_for_member(
        &self,
        member_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError>;

    /// Records a fresh proof of identity (re-authentication by code).
    async fn mark_authenticated(&self, id: Uuid, now: i64) -> Result<(), StoreError>;
}

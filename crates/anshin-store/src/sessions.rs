//! Browser sessions, kept server-side so that every app instance sees the
//! same state and an ended session stops working everywhere at once.
//!
//! A session is looked up by the SHA-256 hash of its cookie token; the
//! token itself is never stored. Sessions are created and ended through
//! [`crate::Write`]s; this trait reads them and records activity.

use anshin_domain::{LoginMethod, MemberId, SessionId, Timestamp};

use crate::StoreError;

/// A session to insert.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub token_hash: [u8; 32],
    pub created_at: Timestamp,
    /// The session dies after this moment whatever the activity.
    pub absolute_expires_at: Timestamp,
    /// The session dies after this moment unless it is used before.
    pub idle_expires_at: Timestamp,
    /// Set for a member's session; `None` for a visitor's.
    pub login: Option<SessionLogin>,
}

/// Who a member's session belongs to and how it began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLogin {
    pub member_id: MemberId,
    /// Last time the member proved who they are (login or fresh code).
    pub authenticated_at: Timestamp,
    pub ip: String,
    /// Readable device summary, e.g. "Firefox on Linux".
    pub device: String,
    pub method: LoginMethod,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub token_hash: [u8; 32],
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub absolute_expires_at: Timestamp,
    pub idle_expires_at: Timestamp,
    pub login: Option<SessionLogin>,
}

impl SessionRecord {
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.absolute_expires_at && now < self.idle_expires_at
    }

    /// The member of a member's session.
    pub fn member(&self) -> Option<MemberId> {
        self.login.as_ref().map(|l| l.member_id)
    }
}

#[async_trait::async_trait]
pub trait SessionRepo: Send + Sync {
    /// The live session with this token hash, if any. Expired sessions are
    /// treated as absent even before the purge removes them.
    async fn find_live(
        &self,
        token_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Records activity: moves `last_seen_at` and the idle deadline. Not a
    /// use case's outcome but bookkeeping of every request, so it is not a
    /// [`crate::Write`].
    async fn touch(
        &self,
        id: SessionId,
        now: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Removes every session expired at `now`; returns how many.
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// A member's live sessions, newest first.
    async fn list_for_member(
        &self,
        member_id: MemberId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError>;
}

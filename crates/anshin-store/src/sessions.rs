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
}

/// SQL shared by both backends: the text is portable (`$n` parameters work
/// on SQLite too), only the bound types differ.
pub mod sql {
    pub const INSERT: &str = "INSERT INTO sessions \
        (id, token_hash, created_at, last_seen_at, absolute_expires_at, idle_expires_at) \
        VALUES ($1, $2, $3, $3, $4, $5)";
    pub const FIND_LIVE: &str = "SELECT id, token_hash, created_at, last_seen_at, \
        absolute_expires_at, idle_expires_at FROM sessions \
        WHERE token_hash = $1 AND absolute_expires_at > $2 AND idle_expires_at > $2";
    /// Never moves the idle deadline past the absolute one's meaning: the
    /// absolute deadline is checked separately on every lookup.
    pub const TOUCH: &str =
        "UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3 WHERE id = $1";
    pub const DELETE: &str = "DELETE FROM sessions WHERE id = $1";
    pub const PURGE_EXPIRED: &str =
        "DELETE FROM sessions WHERE absolute_expires_at <= $1 OR idle_expires_at <= $1";
}

//! Login limits and lockout (C8), and other per-key budgets (how often a
//! member may change personal data), as atomic counters in the database so
//! that parallel requests and several app instances cannot exceed them.
//! Each method is one atomic statement (or one short transaction): they
//! guard a comparison that has not happened yet, so they cannot wait for a
//! use case's [`crate::Changes`]. Unlock tokens are created with
//! [`crate::Write::CreateUnlockToken`] and taken here, once.

use anshin_domain::{Duration, EmailAddress, Timestamp};

use crate::StoreError;

/// Growing lock delays after each further `threshold` consecutive
/// failures: the first lock uses `delays[0]`, the fourth and later
/// `delays[3]`.
#[derive(Debug, Clone, Copy)]
pub struct LockPolicy {
    pub threshold: i64,
    pub delays: [Duration; 4],
}

/// The outcome of reserving one login attempt for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt is counted (`count` consecutive attempts so far,
    /// including this one); `locked_now` when this attempt started a lock.
    Allowed { count: i64, locked_now: bool },
    /// The account is locked until this moment; nothing was counted.
    Locked { until: Timestamp },
}

/// The outcome of taking one action from a windowed budget
/// ([`ThrottleRepo::take_from_window`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowTake {
    /// Counted: `count` actions in the current window, this one included.
    Taken { count: i64 },
    /// The budget of the window is spent; nothing was counted. A new
    /// window starts at `resets_at`.
    Spent { resets_at: Timestamp },
}

/// Keys [`ThrottleRepo::failures_in_windows`] reads per query.
pub const MAX_KEYS_PER_READ: usize = 4;

#[async_trait::async_trait]
pub trait ThrottleRepo: Send + Sync {
    /// Counts one attempt for `key` unless it is locked, atomically, before
    /// any password hash or code comparison. The attempt that reaches a
    /// multiple of the threshold sets the lock.
    async fn reserve_attempt(
        &self,
        key: &str,
        now: Timestamp,
        policy: &LockPolicy,
    ) -> Result<Reservation, StoreError>;

    /// A successful login: the consecutive count and any lock are cleared.
    async fn reset(&self, key: &str) -> Result<(), StoreError>;

    /// Consecutive attempts counted for `key` since its last success
    /// (0 if none); read without counting, to decide whether a login needs
    /// a bot challenge (C7).
    async fn consecutive_failures(&self, key: &str) -> Result<i64, StoreError>;

    /// Adds one failure to each windowed counter (address, networks,
    /// global), starting a new window when the old one is over.
    async fn note_failure(
        &self,
        keys: &[String],
        now: Timestamp,
        window: Duration,
    ) -> Result<(), StoreError>;

    /// Failures counted for `key` in the window that contains `now`.
    async fn failures_in_window(
        &self,
        key: &str,
        now: Timestamp,
        window: Duration,
    ) -> Result<i64, StoreError>;

    /// [`Self::failures_in_window`] for several keys in one query (at
    /// most [`MAX_KEYS_PER_READ`] per query): the counts in the order of
    /// `keys`. A login's limits read its address, network, the site and
    /// the account together.
    async fn failures_in_windows(
        &self,
        keys: &[&str],
        now: Timestamp,
        window: Duration,
    ) -> Result<Vec<i64>, StoreError>;

    /// Counts one action for `key` if fewer than `max` were counted in the
    /// window that contains `now` (fixed windows of `window`, starting at
    /// the first action after the last one ended), in one atomic
    /// statement: parallel requests and instances cannot exceed `max`.
    /// Used for how often a member may change personal data
    /// (`pd:<member id>`).
    async fn take_from_window(
        &self,
        key: &str,
        now: Timestamp,
        window: Duration,
        max: i64,
    ) -> Result<WindowTake, StoreError>;

    /// Uses an unlock token once; returns its e-mail if it was valid.
    async fn take_unlock_token(
        &self,
        token_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<EmailAddress>, StoreError>;
}

//! Solved bot challenges (C7), remembered until they expire so that each
//! solution is accepted once, even across several app instances: the
//! first instance to insert a challenge's hash wins, every other insert of
//! the same hash changes nothing and reports a replay.

use anshin_domain::Timestamp;

use crate::StoreError;

#[async_trait::async_trait]
pub trait ChallengeRepo: Send + Sync {
    /// Records a solved challenge by the hash of its text. `true` if this is
    /// the first time (the solution may be accepted), `false` if it was
    /// already used. One atomic insert, so two concurrent callers can never
    /// both get `true`.
    async fn consume(
        &self,
        challenge_hash: &[u8; 32],
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Forgets challenges whose expiry is at or before `now` (they would be
    /// refused as expired anyway); returns how many.
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError>;
}

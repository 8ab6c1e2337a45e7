//! Solved bot challenges (C7), each accepted once.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_challenges {
    ($Db:ty) => {
        #[::async_trait::async_trait]
        impl $crate::ChallengeRepo for Repos {
            async fn consume(
                &self,
                challenge_hash: &[u8; 32],
                expires_at: $crate::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                // One statement: of two instances inserting the same hash,
                // exactly one affects a row.
                let done = ::sqlx::query(
                    "INSERT INTO used_challenges (challenge_hash, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (challenge_hash) DO NOTHING",
                )
                .bind(&challenge_hash[..])
                .bind(expires_at.micros())
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(done.rows_affected() == 1)
            }

            async fn purge_expired(
                &self,
                now: $crate::Timestamp,
            ) -> Result<u64, $crate::StoreError> {
                let done = ::sqlx::query("DELETE FROM used_challenges WHERE expires_at <= $1")
                    .bind(now.micros())
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(done.rows_affected())
            }
        }
    };
}

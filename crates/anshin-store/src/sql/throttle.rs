//! Login limits: account locks and windowed failure counters (C8), and
//! unlock tokens.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_throttle {
    ($Db:ty) => {
        async fn create_unlock_token(
            tx: &mut Tx,
            token_hash: &[u8; 32],
            email: &$crate::EmailAddress,
            at: $crate::Timestamp,
            expires_at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query("INSERT INTO unlock_tokens (token_hash, email, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(token_hash.as_slice())
                .bind(email.as_str())
                .bind(at.micros())
                .bind(expires_at.micros())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        /// [`crate::Write::ClearAttempts`]: rows already at zero are left
        /// alone (no page written for them).
        async fn clear_attempts(
            tx: &mut Tx,
            batch: &mut Batch,
            keys: &[String],
        ) -> Result<(), $crate::StoreError> {
            if keys.is_empty() {
                return Ok(());
            }
            // nosemgrep: anshin-sql-from-format -- only the count of placeholders varies; every key is bound
            let sql = format!(
                "UPDATE auth_counters SET count = 0, locked_until = 0 \
                 WHERE key IN ({}) AND (count <> 0 OR locked_until <> 0)",
                $crate::sql::placeholders(1, keys.len())
            );
            let batch = batch.push(tx, "auth_counters", &sql).await?;
            for key in keys {
                batch.bind(key.as_str());
            }
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::ThrottleRepo for Repos {
            async fn reserve_attempt(
                &self,
                key: &str,
                now: $crate::Timestamp,
                policy: &$crate::LockPolicy,
            ) -> Result<$crate::Reservation, $crate::StoreError> {
                // One statement: the lock check, the count and (on the
                // threshold) the new lock cannot be split by a parallel
                // request or another instance.
                let row: Option<(i64, i64)> = ::sqlx::query_as(
                    "INSERT INTO auth_counters AS c (key, count, window_start, locked_until) \
                     VALUES ($1, 1, $2, CASE WHEN 1 >= $3 THEN $2 + $4 ELSE 0 END) \
                     ON CONFLICT (key) DO UPDATE SET \
                       count = c.count + 1, \
                       locked_until = CASE WHEN (c.count + 1) % $3 = 0 THEN $2 + \
                         (CASE (c.count + 1) / $3 WHEN 1 THEN $4 WHEN 2 THEN $5 WHEN 3 THEN $6 ELSE $7 END) \
                         ELSE c.locked_until END \
                     WHERE c.locked_until <= $2 \
                     RETURNING count, locked_until",
                )
                .bind(key)
                .bind(now.micros())
                .bind(policy.threshold)
                .bind(policy.delays[0].micros())
                .bind(policy.delays[1].micros())
                .bind(policy.delays[2].micros())
                .bind(policy.delays[3].micros())
                // No sync of its own (ADR 0023): every caller commits the
                // attempt's outcome durably before it answers, and that
                // commit's sync carries this one to the disk with it.
                .fetch_optional(&self.relaxed)
                .await
                .map_err(other)?;
                match row {
                    Some((count, locked_until)) => Ok($crate::Reservation::Allowed {
                        count,
                        locked_now: locked_until > now.micros(),
                    }),
                    None => {
                        let (until,): (i64,) = ::sqlx::query_as("SELECT locked_until FROM auth_counters WHERE key = $1")
                            .bind(key)
                            .fetch_one(&self.pool)
                            .await
                            .map_err(other)?;
                        Ok($crate::Reservation::Locked { until: ts(until) })
                    }
                }
            }

            async fn reset(&self, key: &str) -> Result<(), $crate::StoreError> {
                ::sqlx::query("UPDATE auth_counters SET count = 0, locked_until = 0 WHERE key = $1")
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(())
            }

            async fn consecutive_failures(&self, key: &str) -> Result<i64, $crate::StoreError> {
                let row: Option<(i64,)> = ::sqlx::query_as("SELECT count FROM auth_counters WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(row.map_or(0, |r| r.0))
            }

            async fn note_failure(
                &self,
                keys: &[String],
                now: $crate::Timestamp,
                window: $crate::Duration,
            ) -> Result<(), $crate::StoreError> {
                // One transaction: one commit (one fsync on SQLite) per
                // failure instead of one per key, which matters when an
                // attack makes hundreds per second. Keys are always given
                // in the same order (address, network, global), so
                // concurrent transactions cannot deadlock.
                let mut tx = self.begin().await?;
                for key in keys {
                    ::sqlx::query(
                        "INSERT INTO auth_counters AS c (key, count, window_start, locked_until) \
                         VALUES ($1, 1, $2, 0) \
                         ON CONFLICT (key) DO UPDATE SET \
                           count = CASE WHEN c.window_start + $3 <= $2 THEN 1 ELSE c.count + 1 END, \
                           window_start = CASE WHEN c.window_start + $3 <= $2 THEN $2 ELSE c.window_start END",
                    )
                    .bind(key)
                    .bind(now.micros())
                    .bind(window.micros())
                    .execute(&mut *tx)
                    .await
                    .map_err(other)?;
                }
                tx.commit().await.map_err(other)
            }

            async fn failures_in_window(
                &self,
                key: &str,
                now: $crate::Timestamp,
                window: $crate::Duration,
            ) -> Result<i64, $crate::StoreError> {
                let row: Option<(i64,)> = ::sqlx::query_as(
                    "SELECT count FROM auth_counters WHERE key = $1 AND window_start + $3 > $2",
                )
                .bind(key)
                .bind(now.micros())
                .bind(window.micros())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map_or(0, |r| r.0))
            }

            async fn failures_in_windows(
                &self,
                keys: &[&str],
                now: $crate::Timestamp,
                window: $crate::Duration,
            ) -> Result<Vec<i64>, $crate::StoreError> {
                let mut counts = Vec::with_capacity(keys.len());
                for chunk in keys.chunks($crate::throttle::MAX_KEYS_PER_READ) {
                    let key = |i: usize| chunk.get(i).copied();
                    let rows: Vec<(String, i64)> = ::sqlx::query_as(
                        "SELECT key, count FROM auth_counters \
                         WHERE key IN ($1, $2, $3, $4) AND window_start + $6 > $5",
                    )
                    .bind(key(0))
                    .bind(key(1))
                    .bind(key(2))
                    .bind(key(3))
                    .bind(now.micros())
                    .bind(window.micros())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                    counts.extend(chunk.iter().map(|k| {
                        rows.iter().find(|(r, _)| r == k).map_or(0, |(_, c)| *c)
                    }));
                }
                Ok(counts)
            }

            async fn take_from_window(
                &self,
                key: &str,
                now: $crate::Timestamp,
                window: $crate::Duration,
                max: i64,
            ) -> Result<$crate::WindowTake, $crate::StoreError> {
                // One statement: the check against `max` and the count
                // cannot be split by a parallel request or instance (the
                // WHERE of ON CONFLICT sees the row as locked for update).
                let row: Option<(i64,)> = ::sqlx::query_as(
                    "INSERT INTO auth_counters AS c (key, count, window_start, locked_until) \
                     VALUES ($1, 1, $2, 0) \
                     ON CONFLICT (key) DO UPDATE SET \
                       count = CASE WHEN c.window_start + $3 <= $2 THEN 1 ELSE c.count + 1 END, \
                       window_start = CASE WHEN c.window_start + $3 <= $2 THEN $2 ELSE c.window_start END \
                     WHERE c.window_start + $3 <= $2 OR c.count < $4 \
                     RETURNING count",
                )
                .bind(key)
                .bind(now.micros())
                .bind(window.micros())
                .bind(max)
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                match row {
                    Some((count,)) => Ok($crate::WindowTake::Taken { count }),
                    None => {
                        let (start,): (i64,) = ::sqlx::query_as(
                            "SELECT window_start FROM auth_counters WHERE key = $1",
                        )
                        .bind(key)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(other)?;
                        Ok($crate::WindowTake::Spent {
                            resets_at: ts(start) + window,
                        })
                    }
                }
            }

            async fn take_unlock_token(
                &self,
                token_hash: &[u8; 32],
                now: $crate::Timestamp,
            ) -> Result<Option<$crate::EmailAddress>, $crate::StoreError> {
                let row: Option<(String,)> = ::sqlx::query_as(
                    "UPDATE unlock_tokens SET used_at = $2 \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING email",
                )
                .bind(token_hash.as_slice())
                .bind(now.micros())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                row.map(|(e,)| email_of("unlock_tokens", &e)).transpose()
            }
        }
    };
}

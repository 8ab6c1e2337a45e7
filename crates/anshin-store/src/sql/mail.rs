//! The mail outbox: queued by [`crate::Changes`], claimed with a lease.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_mail {
    ($Db:ty) => {
        async fn insert_mail(
            tx: &mut Tx,
            batch: &mut Batch,
            mail: &$crate::NewMail,
        ) -> Result<(), $crate::StoreError> {
            batch
                .push(
                    tx,
                    "mail_outbox",
                    "INSERT INTO mail_outbox (id, kind, created_at, payload, status, attempts, next_attempt_at) \
                     VALUES ($1, $2, $3, $4, 'pending', 0, $3)",
                )
                .await?
                .bind(mail.id.as_uuid())
                .bind(mail.kind)
                .bind(mail.created_at.micros())
                .bind(mail.payload.as_slice());
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::MailRepo for Repos {
            async fn claim_due(
                &self,
                now: $crate::Timestamp,
                lease_until: $crate::Timestamp,
            ) -> Result<Option<$crate::OutboxItem>, $crate::StoreError> {
                // The outer WHERE repeats the lease check, so when two
                // instances race for the same row, PostgreSQL re-evaluates it
                // after the first commits and the second claims nothing.
                let row: Option<(::uuid::Uuid, String, i64, Option<Vec<u8>>, i64)> = ::sqlx::query_as(
                    "UPDATE mail_outbox SET locked_until = $2, attempts = attempts + 1 \
                     WHERE id = (SELECT id FROM mail_outbox WHERE status = 'pending' \
                       AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until <= $1) \
                       ORDER BY next_attempt_at, id LIMIT 1) \
                     AND status = 'pending' AND (locked_until IS NULL OR locked_until <= $1) \
                     RETURNING id, kind, created_at, payload, attempts",
                )
                .bind(now.micros())
                .bind(lease_until.micros())
                // A lease a power cut undoes is a lease that ran out
                // (ADR 0023): no sync of its own.
                .fetch_optional(&self.relaxed)
                .await
                .map_err(other)?;
                Ok(row.map(|(id, kind, created_at, payload, attempts)| $crate::OutboxItem {
                    id: $crate::MailId::from_uuid(id),
                    kind,
                    created_at: ts(created_at),
                    payload: payload.unwrap_or_default(),
                    attempts,
                }))
            }

            async fn claim_due_many(
                &self,
                now: $crate::Timestamp,
                lease_until: $crate::Timestamp,
                max: u32,
            ) -> Result<Vec<$crate::OutboxItem>, $crate::StoreError> {
                // As in `claim_due`, the outer WHERE repeats the lease
                // check, so a row another claimer took meanwhile is left
                // out rather than taken twice.
                let mut rows: Vec<(::uuid::Uuid, String, i64, Option<Vec<u8>>, i64)> = ::sqlx::query_as(
                    "UPDATE mail_outbox SET locked_until = $2, attempts = attempts + 1 \
                     WHERE id IN (SELECT id FROM mail_outbox WHERE status = 'pending' \
                       AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until <= $1) \
                       ORDER BY next_attempt_at, id LIMIT $3) \
                     AND status = 'pending' AND (locked_until IS NULL OR locked_until <= $1) \
                     RETURNING id, kind, created_at, payload, attempts",
                )
                .bind(now.micros())
                .bind(lease_until.micros())
                .bind(i64::from(max))
                // As in `claim_due`: no sync of its own (ADR 0023).
                .fetch_all(&self.relaxed)
                .await
                .map_err(other)?;
                rows.sort_by_key(|r| (r.2, r.0));
                Ok(rows
                    .into_iter()
                    .map(|(id, kind, created_at, payload, attempts)| $crate::OutboxItem {
                        id: $crate::MailId::from_uuid(id),
                        kind,
                        created_at: ts(created_at),
                        payload: payload.unwrap_or_default(),
                        attempts,
                    })
                    .collect())
            }

            async fn release(&self, id: $crate::MailId) -> Result<(), $crate::StoreError> {
                ::sqlx::query(
                    "UPDATE mail_outbox SET locked_until = NULL, attempts = attempts - 1 \
                     WHERE id = $1 AND status = 'pending' AND attempts > 0",
                )
                .bind(id.as_uuid())
                // Undone by a power cut, the lease runs out instead
                // (ADR 0023): no sync of its own.
                .execute(&self.relaxed)
                .await
                .map_err(other)?;
                Ok(())
            }

            async fn mark_sent(&self, id: $crate::MailId, now: $crate::Timestamp) -> Result<(), $crate::StoreError> {
                ::sqlx::query(
                    "UPDATE mail_outbox SET status = 'sent', sent_at = $2, payload = NULL, \
                     locked_until = NULL, last_error = NULL WHERE id = $1",
                )
                .bind(id.as_uuid())
                .bind(now.micros())
                // A sent mark a power cut undoes means the mail goes out
                // again, as after a crash between sending and marking
                // (ADR 0023): no sync of its own.
                .execute(&self.relaxed)
                .await
                .map_err(other)?;
                Ok(())
            }

            async fn mark_sent_many(&self, ids: &[$crate::MailId], now: $crate::Timestamp) -> Result<(), $crate::StoreError> {
                if ids.is_empty() {
                    return Ok(());
                }
                // nosemgrep: anshin-sql-from-format -- only the count of placeholders varies; every id is bound
                let sql = format!(
                    "UPDATE mail_outbox SET status = 'sent', sent_at = $1, payload = NULL, \
                     locked_until = NULL, last_error = NULL WHERE id IN ({})",
                    $crate::sql::placeholders(2, ids.len())
                );
                let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql)).bind(now.micros());
                for id in ids {
                    q = q.bind(id.as_uuid());
                }
                // As in `mark_sent` (ADR 0023); the file transport has
                // synced every file before this.
                q.execute(&self.relaxed).await.map_err(other)?;
                Ok(())
            }

            async fn mark_retry(&self, id: $crate::MailId, next_attempt_at: $crate::Timestamp, error: &str) -> Result<(), $crate::StoreError> {
                ::sqlx::query(
                    "UPDATE mail_outbox SET next_attempt_at = $2, locked_until = NULL, last_error = $3 WHERE id = $1",
                )
                .bind(id.as_uuid())
                .bind(next_attempt_at.micros())
                .bind(error)
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(())
            }

            async fn mark_failed(&self, id: $crate::MailId, error: &str) -> Result<(), $crate::StoreError> {
                ::sqlx::query(
                    "UPDATE mail_outbox SET status = 'failed', payload = NULL, locked_until = NULL, \
                     last_error = $2 WHERE id = $1",
                )
                .bind(id.as_uuid())
                .bind(error)
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(())
            }

            async fn count_by_status(&self, status: $crate::MailStatus) -> Result<i64, $crate::StoreError> {
                let (n,): (i64,) = ::sqlx::query_as("SELECT COUNT(*) FROM mail_outbox WHERE status = $1")
                    .bind(status.as_str())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(n)
            }
        }
    };
}

//! Security alerts (C29): reads, and the writes that [`crate::Write`]s
//! make.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_alerts {
    ($Db:ty) => {
        type AlertRow = (::uuid::Uuid, String, String, i64, i64, i64, Option<i64>);

        const ALERT_COLUMNS: &str = "id, rule, subject, fired_at, value, threshold, resolved_at";

        fn alert_record(row: AlertRow) -> $crate::alerts::AlertRecord {
            let (id, rule, subject, fired_at, value, threshold, resolved_at) = row;
            $crate::alerts::AlertRecord {
                id: $crate::AlertId::from_uuid(id),
                rule,
                subject,
                fired_at: ts(fired_at),
                value,
                threshold,
                resolved_at: resolved_at.map(ts),
            }
        }

        /// Inserts a live alert; [`guards::ALERT_ON`] if one of the same
        /// rule and subject is on already (the unique partial index
        /// decides, so two instances cannot both fire it).
        async fn fire_alert(
            tx: &mut Tx,
            new: &$crate::alerts::NewAlert,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "INSERT INTO alerts (id, rule, subject, fired_at, value, threshold) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(new.id.as_uuid())
            .bind(new.rule.as_str())
            .bind(new.subject.as_str())
            .bind(new.fired_at.micros())
            .bind(new.value)
            .bind(new.threshold)
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::ALERT_ON));
            }
            Ok(())
        }

        /// Clears a live alert; [`guards::ALERT_NOT_ON`] if it was
        /// cleared already.
        async fn resolve_alert(
            tx: &mut Tx,
            id: $crate::AlertId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE alerts SET resolved_at = $2 WHERE id = $1 AND resolved_at IS NULL",
            )
            .bind(id.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::ALERT_NOT_ON,
                ));
            }
            Ok(())
        }

        /// [`crate::Write::AddAlertTallies`]: one upsert per signal, in the
        /// bundle's transaction.
        async fn add_alert_tallies(
            tx: &mut Tx,
            bucket: $crate::Timestamp,
            counts: &[(String, i64)],
        ) -> Result<(), $crate::StoreError> {
            for (signal, n) in counts {
                ::sqlx::query(
                    "INSERT INTO alert_tallies AS t (bucket, signal, count) VALUES ($1, $2, $3) \
                     ON CONFLICT (bucket, signal) DO UPDATE SET count = t.count + $3",
                )
                .bind(bucket.micros())
                .bind(signal.as_str())
                .bind(*n)
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            }
            Ok(())
        }

        /// [`crate::Write::QueueAlertWebhook`].
        async fn queue_alert_webhook(
            tx: &mut Tx,
            alert: $crate::AlertId,
            event: &str,
            body: &str,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO alert_webhooks (alert_id, event, body, created_at, attempts, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, 0, $4)",
            )
            .bind(alert.as_uuid())
            .bind(event)
            .bind(body)
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        /// [`crate::Write::NoteStaffNetwork`]: `novel` is decided in the
        /// same statement, from the member's other rows.
        async fn note_staff_network(
            tx: &mut Tx,
            staff: $crate::StaffId,
            network_hash: &[u8; 32],
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO staff_networks AS n \
                   (staff_id, network_hash, first_seen_at, last_seen_at, novel) \
                 SELECT $1, $2, $3, $3, \
                   CASE WHEN EXISTS (SELECT 1 FROM staff_networks WHERE staff_id = $1) \
                   THEN 1 ELSE 0 END \
                 ON CONFLICT (staff_id, network_hash) DO UPDATE SET last_seen_at = $3",
            )
            .bind(staff.as_uuid())
            .bind(network_hash.as_slice())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::alerts::AlertRepo for Repos {
            async fn tallies_since(
                &self,
                since: $crate::Timestamp,
            ) -> Result<Vec<(String, i64)>, $crate::StoreError> {
                let rows: Vec<(String, i64)> = ::sqlx::query_as(
                    "SELECT signal, CAST(SUM(count) AS BIGINT) FROM alert_tallies \
                     WHERE bucket >= $1 GROUP BY signal ORDER BY signal",
                )
                .bind(since.micros())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows)
            }

            async fn purge_tallies(
                &self,
                before: $crate::Timestamp,
            ) -> Result<u64, $crate::StoreError> {
                let done = ::sqlx::query("DELETE FROM alert_tallies WHERE bucket < $1")
                    .bind(before.micros())
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(done.rows_affected())
            }

            async fn claim_webhooks(
                &self,
                now: $crate::Timestamp,
                until: $crate::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::alerts::WebhookDelivery>, $crate::StoreError> {
                let due: Vec<(::uuid::Uuid, String, i64)> = ::sqlx::query_as(
                    "SELECT alert_id, event, next_attempt_at FROM alert_webhooks \
                     WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
                )
                .bind(now.micros())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                let mut claimed = Vec::new();
                for (id, event, seen) in due {
                    // Only if nobody moved it since it was read.
                    let row: Option<(String, i64)> = ::sqlx::query_as(
                        "UPDATE alert_webhooks SET next_attempt_at = $4 \
                         WHERE alert_id = $1 AND event = $2 AND next_attempt_at = $3 \
                         RETURNING body, attempts",
                    )
                    .bind(id)
                    .bind(event.as_str())
                    .bind(seen)
                    .bind(until.micros())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                    if let Some((body, attempts)) = row {
                        claimed.push($crate::alerts::WebhookDelivery {
                            alert: $crate::AlertId::from_uuid(id),
                            event,
                            body,
                            attempts,
                        });
                    }
                }
                Ok(claimed)
            }

            async fn webhook_attempted(
                &self,
                alert: $crate::AlertId,
                event: &str,
                at: $crate::Timestamp,
                outcome: Result<(), (&str, Option<$crate::Timestamp>)>,
            ) -> Result<(), $crate::StoreError> {
                let (delivered, next, error) = match outcome {
                    Ok(()) => (Some(at.micros()), None, None),
                    Err((e, next)) => (None, next.map(|t| t.micros()), Some(e)),
                };
                ::sqlx::query(
                    "UPDATE alert_webhooks SET attempts = attempts + 1, delivered_at = $3, \
                     next_attempt_at = $4, last_error = $5 WHERE alert_id = $1 AND event = $2",
                )
                .bind(alert.as_uuid())
                .bind(event)
                .bind(delivered)
                .bind(next)
                .bind(error)
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(())
            }

            async fn new_staff_networks(
                &self,
                since: $crate::Timestamp,
            ) -> Result<Vec<($crate::StaffId, i64)>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid, i64)> = ::sqlx::query_as(
                    "SELECT staff_id, COUNT(*) FROM staff_networks \
                     WHERE first_seen_at >= $1 AND novel = 1 GROUP BY staff_id ORDER BY staff_id",
                )
                .bind(since.micros())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, n)| ($crate::StaffId::from_uuid(id), n))
                    .collect())
            }

            async fn firing(&self) -> Result<Vec<$crate::alerts::AlertRecord>, $crate::StoreError> {
                let rows: Vec<AlertRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE resolved_at IS NULL \
                     ORDER BY fired_at, id"
                )))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows.into_iter().map(alert_record).collect())
            }

            async fn recent(
                &self,
                limit: u32,
            ) -> Result<Vec<$crate::alerts::AlertRecord>, $crate::StoreError> {
                let rows: Vec<AlertRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts ORDER BY fired_at DESC, id DESC LIMIT $1"
                )))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows.into_iter().map(alert_record).collect())
            }
        }
    };
}

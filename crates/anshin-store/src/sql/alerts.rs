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

        #[::async_trait::async_trait]
        impl $crate::alerts::AlertRepo for Repos {
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

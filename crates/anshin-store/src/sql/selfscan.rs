//! Self-scan reports (C30): reads, and the write of
//! [`crate::Write::RecordSelfScan`].

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_selfscan {
    ($Db:ty) => {
        type SelfScanRow = (::uuid::Uuid, i64, i64, String, String);

        fn selfscan_record(row: SelfScanRow) -> $crate::selfscan::SelfScanRecord {
            let (id, ran_at, findings, json, text) = row;
            $crate::selfscan::SelfScanRecord {
                id: $crate::SelfScanId::from_uuid(id),
                ran_at: ts(ran_at),
                findings,
                json,
                text,
            }
        }

        async fn record_selfscan(
            tx: &mut Tx,
            r: &$crate::selfscan::NewSelfScan,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO selfscan_reports (id, ran_at, findings, report_json, report_text) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(r.id.as_uuid())
            .bind(r.ran_at.micros())
            .bind(r.findings)
            .bind(r.json.as_str())
            .bind(r.text.as_str())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::selfscan::SelfScanRepo for Repos {
            async fn latest(
                &self,
            ) -> Result<Option<$crate::selfscan::SelfScanRecord>, $crate::StoreError> {
                Ok($crate::selfscan::SelfScanRepo::recent(self, 1)
                    .await?
                    .into_iter()
                    .next())
            }

            async fn recent(
                &self,
                limit: u32,
            ) -> Result<Vec<$crate::selfscan::SelfScanRecord>, $crate::StoreError> {
                let rows: Vec<SelfScanRow> = ::sqlx::query_as(
                    "SELECT id, ran_at, findings, report_json, report_text \
                     FROM selfscan_reports ORDER BY ran_at DESC, id DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows.into_iter().map(selfscan_record).collect())
            }
        }
    };
}

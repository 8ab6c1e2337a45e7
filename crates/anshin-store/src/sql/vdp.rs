//! Vulnerability reports (C5): reads, and the writes of
//! [`crate::Write::ReceiveVdpReport`], [`crate::Write::SetVdpStatus`] and
//! [`crate::Write::AddVdpNote`]. Every personal value is sealed before it
//! gets here.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_vdp {
    ($Db:ty) => {
        type VdpRow = (::uuid::Uuid, String, String, String, i64, i64, Vec<u8>, Vec<u8>);

        fn vdp_record(row: VdpRow) -> Result<$crate::vdp::VdpReportRecord, $crate::StoreError> {
            let (id, tracking, status, lang, received_at, updated_at, wrapped_key, sealed) = row;
            Ok($crate::vdp::VdpReportRecord {
                id: $crate::VdpReportId::from_uuid(id),
                tracking,
                status: $crate::vdp::VdpStatus::parse(&status)
                    .ok_or(corrupt("vdp_reports", "unknown status"))?,
                lang: $crate::Lang::parse(&lang).ok_or(corrupt("vdp_reports", "unknown language"))?,
                received_at: ts(received_at),
                updated_at: ts(updated_at),
                wrapped_key,
                sealed,
            })
        }

        async fn receive_vdp_report(
            tx: &mut Tx,
            r: &$crate::vdp::NewVdpReport,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO vdp_reports (id, tracking, status, lang, received_at, updated_at, \
                 kek_version, wrapped_key, sealed) VALUES ($1, $2, 'new', $3, $4, $4, $5, $6, $7)",
            )
            .bind(r.id.as_uuid())
            .bind(r.tracking.as_str())
            .bind(r.lang.code())
            .bind(r.received_at.micros())
            .bind(r.kek_version)
            .bind(r.wrapped_key.as_slice())
            .bind(r.sealed.as_slice())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn set_vdp_status(
            tx: &mut Tx,
            report: $crate::VdpReportId,
            status: $crate::vdp::VdpStatus,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE vdp_reports SET status = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(status.as_str())
            .bind(at.micros())
            .bind(report.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition("no such vulnerability report"));
            }
            Ok(())
        }

        async fn add_vdp_note(
            tx: &mut Tx,
            n: &$crate::vdp::NewVdpNote,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO vdp_notes (id, report_id, staff_id, created_at, sealed) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(n.id.as_uuid())
            .bind(n.report.as_uuid())
            .bind(n.staff.as_uuid())
            .bind(n.at.micros())
            .bind(n.sealed.as_slice())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            ::sqlx::query("UPDATE vdp_reports SET updated_at = $1 WHERE id = $2")
                .bind(n.at.micros())
                .bind(n.report.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::vdp::VdpRepo for Repos {
            async fn recent(
                &self,
                limit: u32,
            ) -> Result<Vec<$crate::vdp::VdpReportRecord>, $crate::StoreError> {
                let rows: Vec<VdpRow> = ::sqlx::query_as(
                    "SELECT id, tracking, status, lang, received_at, updated_at, wrapped_key, \
                     sealed FROM vdp_reports ORDER BY received_at DESC, id DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter().map(vdp_record).collect()
            }

            async fn report(
                &self,
                id: $crate::VdpReportId,
            ) -> Result<Option<$crate::vdp::VdpReportRecord>, $crate::StoreError> {
                let row: Option<VdpRow> = ::sqlx::query_as(
                    "SELECT id, tracking, status, lang, received_at, updated_at, wrapped_key, \
                     sealed FROM vdp_reports WHERE id = $1",
                )
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                row.map(vdp_record).transpose()
            }

            async fn notes(
                &self,
                id: $crate::VdpReportId,
            ) -> Result<Vec<$crate::vdp::VdpNoteRecord>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid, ::uuid::Uuid, i64, Vec<u8>)> = ::sqlx::query_as(
                    "SELECT id, staff_id, created_at, sealed FROM vdp_notes \
                     WHERE report_id = $1 ORDER BY created_at, id",
                )
                .bind(id.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows
                    .into_iter()
                    .map(|(note, staff, at, sealed)| $crate::vdp::VdpNoteRecord {
                        id: $crate::VdpNoteId::from_uuid(note),
                        report: id,
                        staff: $crate::StaffId::from_uuid(staff),
                        at: ts(at),
                        sealed,
                    })
                    .collect())
            }
        }
    };
}

//! The shipping centre's terminals, shifts and void requests (C24, C25):
//! reads, and the writes that [`crate::Write`]s make.
//!
//! A check-in and a retirement both take the terminal's row lock first
//! (an `UPDATE` that changes nothing: SQLite's `BEGIN IMMEDIATE` already
//! serialises writers, PostgreSQL orders the two on the row) and only
//! then read, in a statement of their own, so under READ COMMITTED the
//! second one sees what the first committed: a terminal is never retired
//! under an open shift nor checked out once retired. One open shift per
//! worker and per terminal is the unique indexes' job (migration 0022).

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_centre {
    ($Db:ty) => {
        type TerminalRow = (
            ::uuid::Uuid,
            String,
            String,
            String,
            i64,
            ::uuid::Uuid,
            Option<i64>,
            Option<::uuid::Uuid>,
        );

        const TERMINAL_SELECT: &str = "SELECT t.id, t.label, t.serial, t.status, \
            t.registered_at, t.registered_by, t.retired_at, s.id \
            FROM shipping_terminals t \
            LEFT JOIN shipping_shifts s ON s.terminal_id = t.id AND s.ended_at IS NULL";

        fn terminal_record(
            row: TerminalRow,
        ) -> Result<$crate::centre::TerminalRecord, $crate::StoreError> {
            let (id, label, serial, status, registered_at, registered_by, retired_at, shift) = row;
            Ok($crate::centre::TerminalRecord {
                id: $crate::TerminalId::from_uuid(id),
                label,
                serial,
                status: $crate::centre::TerminalStatus::parse(&status)
                    .ok_or_else(|| corrupt("shipping_terminals", "unknown status"))?,
                registered_at: ts(registered_at),
                registered_by: $crate::StaffId::from_uuid(registered_by),
                retired_at: retired_at.map(ts),
                checked_out_to: shift.map($crate::ShiftId::from_uuid),
            })
        }

        type ShiftRow = (
            ::uuid::Uuid,
            ::uuid::Uuid,
            ::uuid::Uuid,
            String,
            ::uuid::Uuid,
            i64,
            Option<i64>,
            Option<String>,
        );

        const SHIFT_SELECT: &str = "SELECT s.id, s.staff_id, s.terminal_id, t.label, \
            s.session_id, s.started_at, s.ended_at, s.end_reason \
            FROM shipping_shifts s JOIN shipping_terminals t ON t.id = s.terminal_id";

        fn shift_record(row: ShiftRow) -> Result<$crate::centre::ShiftRecord, $crate::StoreError> {
            let (id, staff, terminal, label, session, started_at, ended_at, end) = row;
            let end = match end {
                Some(e) => Some(
                    $crate::centre::ShiftEnd::parse(&e)
                        .ok_or_else(|| corrupt("shipping_shifts", "unknown end reason"))?,
                ),
                None => None,
            };
            Ok($crate::centre::ShiftRecord {
                id: $crate::ShiftId::from_uuid(id),
                staff: $crate::StaffId::from_uuid(staff),
                terminal: $crate::TerminalId::from_uuid(terminal),
                terminal_label: label,
                session: $crate::StaffSessionId::from_uuid(session),
                started_at: ts(started_at),
                ended_at: ended_at.map(ts),
                end,
            })
        }

        type VoidRow = (
            ::uuid::Uuid,
            ::uuid::Uuid,
            ::uuid::Uuid,
            ::uuid::Uuid,
            String,
            i64,
            String,
            Option<::uuid::Uuid>,
            Option<::uuid::Uuid>,
            Option<i64>,
        );

        const VOID_SELECT: &str = "SELECT id, shipment_id, requested_by, requested_shift, \
            reason, requested_at, status, decided_by, decided_shift, decided_at \
            FROM waybill_void_requests";

        fn void_record(
            row: VoidRow,
        ) -> Result<$crate::centre::VoidRequestRecord, $crate::StoreError> {
            let (id, shipment, by, shift, reason, at, status, decided_by, decided_shift, decided_at) =
                row;
            Ok($crate::centre::VoidRequestRecord {
                id: $crate::VoidRequestId::from_uuid(id),
                shipment: $crate::ShipmentId::from_uuid(shipment),
                requested_by: $crate::StaffId::from_uuid(by),
                requested_shift: $crate::ShiftId::from_uuid(shift),
                reason,
                requested_at: ts(at),
                status: $crate::centre::VoidStatus::parse(&status)
                    .ok_or_else(|| corrupt("waybill_void_requests", "unknown status"))?,
                decided_by: decided_by.map($crate::StaffId::from_uuid),
                decided_shift: decided_shift.map($crate::ShiftId::from_uuid),
                decided_at: decided_at.map(ts),
            })
        }

        /// Takes the terminal's row lock until the commit; whether the
        /// terminal exists.
        async fn lock_terminal(
            tx: &mut Tx,
            terminal: $crate::TerminalId,
        ) -> Result<bool, $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE shipping_terminals SET registered_at = registered_at WHERE id = $1",
            )
            .bind(terminal.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(done.rows_affected() > 0)
        }

        async fn register_terminal(
            tx: &mut Tx,
            n: &$crate::centre::NewTerminal,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO shipping_terminals \
                 (id, label, serial, status, registered_at, registered_by) \
                 VALUES ($1, $2, $3, 'active', $4, $5)",
            )
            .bind(n.id.as_uuid())
            .bind(n.label.as_str())
            .bind(n.serial.as_str())
            .bind(n.registered_at.micros())
            .bind(n.registered_by.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn retire_terminal(
            tx: &mut Tx,
            terminal: $crate::TerminalId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            if !lock_terminal(tx, terminal).await? {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::TERMINAL_NOT_FOUND,
                ));
            }
            let open: Option<(i32,)> = ::sqlx::query_as(
                "SELECT 1 FROM shipping_shifts WHERE terminal_id = $1 AND ended_at IS NULL",
            )
            .bind(terminal.as_uuid())
            .fetch_optional(&mut **tx)
            .await
            .map_err(other)?;
            if open.is_some() {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::TERMINAL_IN_USE,
                ));
            }
            let done = ::sqlx::query(
                "UPDATE shipping_terminals SET status = 'retired', retired_at = $2 \
                 WHERE id = $1 AND status = 'active'",
            )
            .bind(terminal.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::TERMINAL_NOT_FOUND,
                ));
            }
            Ok(())
        }

        async fn open_shift(
            tx: &mut Tx,
            n: &$crate::centre::NewShift,
        ) -> Result<(), $crate::StoreError> {
            if !lock_terminal(tx, n.terminal).await? {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::TERMINAL_NOT_AVAILABLE,
                ));
            }
            let active: Option<(i32,)> = ::sqlx::query_as(
                "SELECT 1 FROM shipping_terminals WHERE id = $1 AND status = 'active'",
            )
            .bind(n.terminal.as_uuid())
            .fetch_optional(&mut **tx)
            .await
            .map_err(other)?;
            if active.is_none() {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::TERMINAL_NOT_AVAILABLE,
                ));
            }
            ::sqlx::query(
                "INSERT INTO shipping_shifts (id, staff_id, terminal_id, session_id, started_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(n.id.as_uuid())
            .bind(n.staff.as_uuid())
            .bind(n.terminal.as_uuid())
            .bind(n.session.as_uuid())
            .bind(n.started_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn end_shift(
            tx: &mut Tx,
            shift: $crate::ShiftId,
            staff: $crate::StaffId,
            end: $crate::centre::ShiftEnd,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE shipping_shifts SET ended_at = $3, end_reason = $4 \
                 WHERE id = $1 AND staff_id = $2 AND ended_at IS NULL",
            )
            .bind(shift.as_uuid())
            .bind(staff.as_uuid())
            .bind(at.micros())
            .bind(end.as_str())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::SHIFT_NOT_OPEN,
                ));
            }
            Ok(())
        }

        async fn end_open_shift_of(
            tx: &mut Tx,
            staff: $crate::StaffId,
            end: $crate::centre::ShiftEnd,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "UPDATE shipping_shifts SET ended_at = $2, end_reason = $3 \
                 WHERE staff_id = $1 AND ended_at IS NULL",
            )
            .bind(staff.as_uuid())
            .bind(at.micros())
            .bind(end.as_str())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn move_shift(
            tx: &mut Tx,
            shift: $crate::ShiftId,
            staff: $crate::StaffId,
            session: $crate::StaffSessionId,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE shipping_shifts SET session_id = $3 \
                 WHERE id = $1 AND staff_id = $2 AND ended_at IS NULL",
            )
            .bind(shift.as_uuid())
            .bind(staff.as_uuid())
            .bind(session.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::SHIFT_NOT_OPEN,
                ));
            }
            Ok(())
        }

        /// Fails [`guards::SHIFT_NOT_OPEN`] unless `shift` is `staff`'s
        /// open shift.
        async fn ensure_shift_open(
            tx: &mut Tx,
            shift: $crate::ShiftId,
            staff: $crate::StaffId,
        ) -> Result<(), $crate::StoreError> {
            let found: Option<(i32,)> = ::sqlx::query_as(
                "SELECT 1 FROM shipping_shifts WHERE id = $1 AND staff_id = $2 \
                 AND ended_at IS NULL",
            )
            .bind(shift.as_uuid())
            .bind(staff.as_uuid())
            .fetch_optional(&mut **tx)
            .await
            .map_err(other)?;
            if found.is_none() {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::SHIFT_NOT_OPEN,
                ));
            }
            Ok(())
        }

        async fn request_void(
            tx: &mut Tx,
            n: &$crate::centre::NewVoidRequest,
        ) -> Result<(), $crate::StoreError> {
            ensure_shift_open(tx, n.shift, n.requested_by).await?;
            ::sqlx::query(
                "INSERT INTO waybill_void_requests \
                 (id, shipment_id, requested_by, requested_shift, reason, requested_at, status) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
            )
            .bind(n.id.as_uuid())
            .bind(n.shipment.as_uuid())
            .bind(n.requested_by.as_uuid())
            .bind(n.shift.as_uuid())
            .bind(n.reason.as_str())
            .bind(n.at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn decide_void(
            tx: &mut Tx,
            request: $crate::VoidRequestId,
            by: $crate::StaffId,
            shift: $crate::ShiftId,
            status: $crate::centre::VoidStatus,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            if status == $crate::centre::VoidStatus::Pending {
                return Err($crate::StoreError::Other(
                    "a void request is decided as approved or rejected".into(),
                ));
            }
            ensure_shift_open(tx, shift, by).await?;
            // The requester is read for the guard's name only; the
            // guarded UPDATE below decides (a second decision racing this
            // one waits on the row and then finds it decided).
            let found: Option<(::uuid::Uuid,)> = ::sqlx::query_as(
                "SELECT requested_by FROM waybill_void_requests WHERE id = $1",
            )
            .bind(request.as_uuid())
            .fetch_optional(&mut **tx)
            .await
            .map_err(other)?;
            let Some((requested_by,)) = found else {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::VOID_NOT_FOUND,
                ));
            };
            if requested_by == by.as_uuid() {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::VOID_OWN_REQUEST,
                ));
            }
            let done = ::sqlx::query(
                "UPDATE waybill_void_requests SET status = $2, decided_by = $3, \
                 decided_shift = $4, decided_at = $5 \
                 WHERE id = $1 AND status = 'pending' AND requested_by <> $3",
            )
            .bind(request.as_uuid())
            .bind(status.as_str())
            .bind(by.as_uuid())
            .bind(shift.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::VOID_DECIDED,
                ));
            }
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::centre::CentreRepo for Repos {
            async fn list_terminals(
                &self,
            ) -> Result<Vec<$crate::centre::TerminalRecord>, $crate::StoreError> {
                let sql = format!("{TERMINAL_SELECT} ORDER BY t.label, t.id");
                let rows: Vec<TerminalRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(terminal_record).collect()
            }

            async fn find_terminal(
                &self,
                id: $crate::TerminalId,
            ) -> Result<Option<$crate::centre::TerminalRecord>, $crate::StoreError> {
                let sql = format!("{TERMINAL_SELECT} WHERE t.id = $1");
                let row: Option<TerminalRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(terminal_record).transpose()
            }

            async fn open_shift_of(
                &self,
                staff: $crate::StaffId,
            ) -> Result<Option<$crate::centre::ShiftRecord>, $crate::StoreError> {
                let sql = format!("{SHIFT_SELECT} WHERE s.staff_id = $1 AND s.ended_at IS NULL");
                let row: Option<ShiftRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(staff.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(shift_record).transpose()
            }

            async fn list_shifts(
                &self,
                limit: u32,
            ) -> Result<Vec<$crate::centre::ShiftRecord>, $crate::StoreError> {
                let sql = format!("{SHIFT_SELECT} ORDER BY s.started_at DESC, s.id DESC LIMIT $1");
                let rows: Vec<ShiftRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(shift_record).collect()
            }

            async fn find_void_request(
                &self,
                id: $crate::VoidRequestId,
            ) -> Result<Option<$crate::centre::VoidRequestRecord>, $crate::StoreError> {
                let sql = format!("{VOID_SELECT} WHERE id = $1");
                let row: Option<VoidRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(void_record).transpose()
            }

            async fn list_void_requests(
                &self,
                status: $crate::centre::VoidStatus,
                limit: u32,
            ) -> Result<Vec<$crate::centre::VoidRequestRecord>, $crate::StoreError> {
                let sql = format!(
                    "{VOID_SELECT} WHERE status = $1 ORDER BY requested_at, id LIMIT $2"
                );
                let rows: Vec<VoidRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(status.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(void_record).collect()
            }
        }
    };
}

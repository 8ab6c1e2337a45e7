//! Staff accounts and staff sessions: reads, activity, purge; and the
//! writes that [`crate::Write`]s make.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_staff {
    ($Db:ty) => {
        type StaffRow = (
            ::uuid::Uuid,
            String,
            String,
            String,
            i64,
            i64,
            Option<Vec<u8>>,
            Option<i64>,
            Option<i64>,
        );

        const STAFF_COLUMNS: &str = "id, email, role, status, created_at, updated_at, \
            totp_secret, totp_last_step, enrol_expires_at";

        fn staff_record(row: StaffRow) -> Result<$crate::staff::StaffRecord, $crate::StoreError> {
            let (id, email, role, status, created_at, updated_at, totp_secret, totp_last_step, enrol_expires_at) = row;
            Ok($crate::staff::StaffRecord {
                id: $crate::StaffId::from_uuid(id),
                email: $crate::EmailAddress::parse(&email)
                    .ok_or_else(|| corrupt("staff_accounts", "unparseable e-mail"))?,
                role: $crate::StaffRole::parse(&role)
                    .ok_or_else(|| corrupt("staff_accounts", "unknown role"))?,
                status: $crate::StaffStatus::parse(&status)
                    .ok_or_else(|| corrupt("staff_accounts", "unknown status"))?,
                created_at: ts(created_at),
                updated_at: ts(updated_at),
                totp_secret,
                totp_last_step,
                enrol_expires_at: enrol_expires_at.map(ts),
            })
        }

        type StaffSessionRow = (::uuid::Uuid, Vec<u8>, ::uuid::Uuid, i64, i64, i64, i64, i64, String);

        const STAFF_SESSION_COLUMNS: &str = "id, token_hash, staff_id, created_at, last_seen_at, \
            absolute_expires_at, idle_expires_at, second_factor_at, ip";

        fn staff_session_record(
            row: StaffSessionRow,
        ) -> Result<$crate::staff::StaffSessionRecord, $crate::StoreError> {
            let (id, hash, staff_id, created_at, last_seen_at, absolute_expires_at, idle_expires_at, second_factor_at, ip) = row;
            Ok($crate::staff::StaffSessionRecord {
                id: $crate::StaffSessionId::from_uuid(id),
                token_hash: hash32("staff_sessions", &hash)?,
                staff_id: $crate::StaffId::from_uuid(staff_id),
                created_at: ts(created_at),
                last_seen_at: ts(last_seen_at),
                absolute_expires_at: ts(absolute_expires_at),
                idle_expires_at: ts(idle_expires_at),
                second_factor_at: ts(second_factor_at),
                ip,
            })
        }

        async fn create_staff(tx: &mut Tx, new: &$crate::staff::NewStaff) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO staff_accounts (id, email, role, status, created_at, updated_at, \
                 enrol_token_hash, enrol_expires_at) VALUES ($1, $2, $3, 'active', $4, $4, $5, $6)",
            )
            .bind(new.id.as_uuid())
            .bind(new.email.as_str())
            .bind(new.role.as_str())
            .bind(new.created_at.micros())
            .bind(new.enrol_token_hash.as_slice())
            .bind(new.enrol_expires_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(|e| match other(e) {
                $crate::StoreError::Conflict(_) => {
                    $crate::StoreError::Conflict("a staff account has this e-mail")
                }
                e => e,
            })?;
            Ok(())
        }

        async fn set_staff_status(
            tx: &mut Tx,
            staff: $crate::StaffId,
            status: $crate::StaffStatus,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query("UPDATE staff_accounts SET status = $2, updated_at = $3 WHERE id = $1")
                .bind(staff.as_uuid())
                .bind(status.as_str())
                .bind(at.micros())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::STAFF_NOT_FOUND));
            }
            if status == $crate::StaffStatus::Disabled {
                // A disabled person is logged out everywhere at once.
                ::sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1")
                    .bind(staff.as_uuid())
                    .execute(&mut **tx)
                    .await
                    .map_err(other)?;
            }
            Ok(())
        }

        async fn set_staff_role(
            tx: &mut Tx,
            staff: $crate::StaffId,
            from: $crate::StaffRole,
            to: $crate::StaffRole,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let admin = $crate::StaffRole::Admin.as_str();
            if from == $crate::StaffRole::Admin && to != $crate::StaffRole::Admin {
                // Lock every active administrator's row first (SQLite's
                // BEGIN IMMEDIATE already serialises writers): on
                // PostgreSQL two demotions of the last two administrators
                // in parallel would otherwise each see the other still in
                // place; with the lock the second waits, and its count
                // (a new statement, a new snapshot) sees the first.
                ::sqlx::query(
                    "UPDATE staff_accounts SET role = role WHERE role = $1 AND status = 'active'",
                )
                .bind(admin)
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            }
            let row: Option<(String, String)> =
                ::sqlx::query_as("SELECT role, status FROM staff_accounts WHERE id = $1")
                    .bind(staff.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(other)?;
            let Some((role, status)) = row else {
                return Err($crate::StoreError::Precondition($crate::guards::STAFF_NOT_FOUND));
            };
            if status != $crate::StaffStatus::Active.as_str() {
                return Err($crate::StoreError::Precondition($crate::guards::STAFF_NOT_ACTIVE));
            }
            if role != from.as_str() {
                return Err($crate::StoreError::Precondition($crate::guards::STAFF_ROLE_CHANGED));
            }
            if from == $crate::StaffRole::Admin && to != $crate::StaffRole::Admin {
                let (others,): (i64,) = ::sqlx::query_as(
                    "SELECT COUNT(*) FROM staff_accounts \
                     WHERE role = $1 AND status = 'active' AND id <> $2",
                )
                .bind(admin)
                .bind(staff.as_uuid())
                .fetch_one(&mut **tx)
                .await
                .map_err(other)?;
                if others == 0 {
                    return Err($crate::StoreError::Precondition($crate::guards::LAST_ADMIN));
                }
            }
            let done = ::sqlx::query(
                "UPDATE staff_accounts SET role = $3, updated_at = $4 \
                 WHERE id = $1 AND role = $2 AND status = 'active'",
            )
            .bind(staff.as_uuid())
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::STAFF_ROLE_CHANGED));
            }
            // The new role applies from a fresh login: every session of
            // the account ends now, on every instance.
            ::sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1")
                .bind(staff.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn enrol_staff_totp(
            tx: &mut Tx,
            staff: $crate::StaffId,
            token_hash: &[u8; 32],
            secret: &[u8],
            step: i64,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE staff_accounts SET totp_secret = $3, totp_last_step = $4, \
                 enrol_token_hash = NULL, enrol_expires_at = NULL, updated_at = $5 \
                 WHERE id = $1 AND enrol_token_hash = $2 AND enrol_expires_at > $5 \
                 AND status = 'active'",
            )
            .bind(staff.as_uuid())
            .bind(token_hash.as_slice())
            .bind(secret)
            .bind(step)
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::ENROLMENT_INVALID));
            }
            Ok(())
        }

        async fn use_totp_step(
            tx: &mut Tx,
            staff: $crate::StaffId,
            step: i64,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE staff_accounts SET totp_last_step = $2 WHERE id = $1 \
                 AND status = 'active' AND (totp_last_step IS NULL OR totp_last_step < $2)",
            )
            .bind(staff.as_uuid())
            .bind(step)
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::TOTP_USED));
            }
            Ok(())
        }

        async fn create_staff_session(
            tx: &mut Tx,
            new: &$crate::staff::NewStaffSession,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO staff_sessions (id, token_hash, staff_id, created_at, last_seen_at, \
                 absolute_expires_at, idle_expires_at, second_factor_at, ip) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)",
            )
            .bind(new.id.as_uuid())
            .bind(new.token_hash.as_slice())
            .bind(new.staff_id.as_uuid())
            .bind(new.created_at.micros())
            .bind(new.absolute_expires_at.micros())
            .bind(new.idle_expires_at.micros())
            .bind(new.second_factor_at.micros())
            .bind(&new.ip)
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn end_staff_session(tx: &mut Tx, id: $crate::StaffSessionId) -> Result<(), $crate::StoreError> {
            ::sqlx::query("DELETE FROM staff_sessions WHERE id = $1")
                .bind(id.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn staff_step_up(
            tx: &mut Tx,
            id: $crate::StaffSessionId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query("UPDATE staff_sessions SET second_factor_at = $2 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(at.micros())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::staff::StaffRepo for Repos {
            async fn find_staff(
                &self,
                id: $crate::StaffId,
            ) -> Result<Option<$crate::staff::StaffRecord>, $crate::StoreError> {
                let sql = format!("SELECT {STAFF_COLUMNS} FROM staff_accounts WHERE id = $1");
                let row: Option<StaffRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(staff_record).transpose()
            }

            async fn find_staff_by_email(
                &self,
                email: &$crate::EmailAddress,
            ) -> Result<Option<$crate::staff::StaffRecord>, $crate::StoreError> {
                let sql = format!("SELECT {STAFF_COLUMNS} FROM staff_accounts WHERE email = $1");
                let row: Option<StaffRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(email.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(staff_record).transpose()
            }

            async fn find_staff_by_enrolment(
                &self,
                token_hash: &[u8; 32],
                now: $crate::Timestamp,
            ) -> Result<Option<$crate::staff::StaffRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {STAFF_COLUMNS} FROM staff_accounts \
                     WHERE enrol_token_hash = $1 AND enrol_expires_at > $2"
                );
                let row: Option<StaffRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(token_hash.as_slice())
                    .bind(now.micros())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(staff_record).transpose()
            }

            async fn list_staff(&self) -> Result<Vec<$crate::staff::StaffRecord>, $crate::StoreError> {
                let sql = format!("SELECT {STAFF_COLUMNS} FROM staff_accounts ORDER BY email");
                let rows: Vec<StaffRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(staff_record).collect()
            }

            async fn find_live_staff_session(
                &self,
                token_hash: &[u8; 32],
                now: $crate::Timestamp,
            ) -> Result<Option<$crate::staff::StaffSessionRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {STAFF_SESSION_COLUMNS} FROM staff_sessions \
                     WHERE token_hash = $1 AND absolute_expires_at > $2 AND idle_expires_at > $2"
                );
                let row: Option<StaffSessionRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(token_hash.as_slice())
                    .bind(now.micros())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(staff_session_record).transpose()
            }

            async fn touch_staff_session(
                &self,
                id: $crate::StaffSessionId,
                now: $crate::Timestamp,
                idle_expires_at: $crate::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                ::sqlx::query("UPDATE staff_sessions SET last_seen_at = $2, idle_expires_at = $3 WHERE id = $1")
                    .bind(id.as_uuid())
                    .bind(now.micros())
                    .bind(idle_expires_at.micros())
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(())
            }

            async fn purge_expired_staff_sessions(
                &self,
                now: $crate::Timestamp,
            ) -> Result<u64, $crate::StoreError> {
                let done = ::sqlx::query(
                    "DELETE FROM staff_sessions WHERE absolute_expires_at <= $1 OR idle_expires_at <= $1",
                )
                .bind(now.micros())
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(done.rows_affected())
            }
        }
    };
}

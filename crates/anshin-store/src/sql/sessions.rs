//! Sessions: reads, activity, purge; and the inserts and deletes that
//! [`crate::Write`]s make.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_sessions {
    ($Db:ty) => {
        type SessionRow = (
            ::uuid::Uuid,
            Vec<u8>,
            i64,
            i64,
            i64,
            i64,
            Option<::uuid::Uuid>,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
        );

        const SESSION_COLUMNS: &str = "id, token_hash, created_at, last_seen_at, \
            absolute_expires_at, idle_expires_at, member_id, authenticated_at, ip, device, method";

        fn session_record(row: SessionRow) -> Result<$crate::SessionRecord, $crate::StoreError> {
            let (id, hash, created_at, last_seen_at, absolute_expires_at, idle_expires_at, member_id, authenticated_at, ip, device, method) = row;
            let login = match (member_id, authenticated_at) {
                (Some(member_id), Some(authenticated_at)) => Some($crate::SessionLogin {
                    member_id: $crate::MemberId::from_uuid(member_id),
                    authenticated_at: ts(authenticated_at),
                    ip: ip.unwrap_or_default(),
                    device: device.unwrap_or_default(),
                    method: $crate::LoginMethod::parse(method.as_deref().unwrap_or(""))
                        .map_err(|_| corrupt("sessions", "unknown login method"))?,
                }),
                _ => None,
            };
            Ok($crate::SessionRecord {
                id: $crate::SessionId::from_uuid(id),
                token_hash: hash32("sessions", &hash)?,
                created_at: ts(created_at),
                last_seen_at: ts(last_seen_at),
                absolute_expires_at: ts(absolute_expires_at),
                idle_expires_at: ts(idle_expires_at),
                login,
            })
        }

        fn insert_session(batch: &mut Batch, new: &$crate::NewSession) {
            let login = new.login.as_ref();
            // A new session joins a pending end of the member's least
            // recently used ones (a login's session limit): one round trip.
            batch
                .push_new_rows(
                    "sessions",
                    "INSERT INTO sessions (id, token_hash, created_at, last_seen_at, \
                     absolute_expires_at, idle_expires_at, member_id, authenticated_at, ip, device, method) \
                     VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(new.id.as_uuid())
                .bind(new.token_hash.as_slice())
                .bind(new.created_at.micros())
                .bind(new.absolute_expires_at.micros())
                .bind(new.idle_expires_at.micros())
                .bind(login.map(|l| l.member_id.as_uuid()))
                .bind(login.map(|l| l.authenticated_at.micros()))
                .bind(login.map(|l| l.ip.clone()))
                .bind(login.map(|l| l.device.clone()))
                .bind(login.map(|l| l.method.as_str()));
        }

        async fn end_session(tx: &mut Tx, id: $crate::SessionId) -> Result<(), $crate::StoreError> {
            ::sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(id.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn end_member_session(
            tx: &mut Tx,
            member: $crate::MemberId,
            id: $crate::SessionId,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query("DELETE FROM sessions WHERE id = $1 AND member_id = $2")
                .bind(id.as_uuid())
                .bind(member.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::SESSION_NOT_FOUND));
            }
            Ok(())
        }

        async fn end_other_sessions(
            tx: &mut Tx,
            member: $crate::MemberId,
            keep: Option<$crate::SessionId>,
        ) -> Result<(), $crate::StoreError> {
            match keep {
                Some(keep) => ::sqlx::query("DELETE FROM sessions WHERE member_id = $1 AND id <> $2")
                    .bind(member.as_uuid())
                    .bind(keep.as_uuid())
                    .execute(&mut **tx)
                    .await,
                None => ::sqlx::query("DELETE FROM sessions WHERE member_id = $1")
                    .bind(member.as_uuid())
                    .execute(&mut **tx)
                    .await,
            }
            .map_err(other)?;
            Ok(())
        }

        async fn mark_authenticated(
            tx: &mut Tx,
            id: $crate::SessionId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query("UPDATE sessions SET authenticated_at = $2 WHERE id = $1 AND member_id IS NOT NULL")
                .bind(id.as_uuid())
                .bind(at.micros())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::SessionRepo for Repos {
            async fn find_live(
                &self,
                token_hash: &[u8; 32],
                now: $crate::Timestamp,
            ) -> Result<Option<$crate::SessionRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions \
                     WHERE token_hash = $1 AND absolute_expires_at > $2 AND idle_expires_at > $2 \
                     AND (member_id IS NULL OR NOT EXISTS \
                          (SELECT 1 FROM member_locks l WHERE l.member_id = sessions.member_id))"
                );
                let row: Option<SessionRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(token_hash.as_slice())
                    .bind(now.micros())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(session_record).transpose()
            }

            async fn touch(
                &self,
                id: $crate::SessionId,
                now: $crate::Timestamp,
                idle_expires_at: $crate::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                ::sqlx::query("UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3 WHERE id = $1")
                    .bind(id.as_uuid())
                    .bind(now.micros())
                    .bind(idle_expires_at.micros())
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(())
            }

            async fn purge_expired(&self, now: $crate::Timestamp) -> Result<u64, $crate::StoreError> {
                // Drafts kept across a re-authentication live minutes; a
                // session's go with it (ON DELETE CASCADE).
                ::sqlx::query("DELETE FROM reauth_drafts WHERE expires_at <= $1")
                    .bind(now.micros())
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                let done = ::sqlx::query(
                    "DELETE FROM sessions WHERE absolute_expires_at <= $1 OR idle_expires_at <= $1",
                )
                .bind(now.micros())
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(done.rows_affected())
            }

            async fn list_for_member(
                &self,
                member_id: $crate::MemberId,
                now: $crate::Timestamp,
            ) -> Result<Vec<$crate::SessionRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE member_id = $1 \
                     AND absolute_expires_at > $2 AND idle_expires_at > $2 \
                     ORDER BY created_at DESC, id DESC"
                );
                let rows: Vec<SessionRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(member_id.as_uuid())
                    .bind(now.micros())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(session_record).collect()
            }
        }
    };
}

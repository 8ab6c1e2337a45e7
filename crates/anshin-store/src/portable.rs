//! The repository implementations, written once in portable SQL and
//! expanded by each backend crate for its own sqlx driver
//! (`anshin_store::portable_repos!(sqlx::Sqlite, "BEGIN IMMEDIATE")`).
//!
//! The SQL text is the same on both databases (`$n` parameters,
//! `RETURNING`, `ON CONFLICT`); only the driver types differ, which is what
//! the macro parameter supplies. One source means the backends cannot
//! drift in behaviour; the conformance suite still runs on each.
//!
//! `$begin` is how a writing transaction starts: SQLite needs `BEGIN
//! IMMEDIATE` so that a transaction that reads before it writes takes the
//! write lock up front (otherwise two of them deadlock and one fails with
//! SQLITE_BUSY instead of waiting).

/// Expands to `pub(crate) struct Repos` implementing every repository
/// trait for the given sqlx database type.
#[macro_export]
macro_rules! portable_repos {
    ($Db:ty, $begin:literal) => {
        #[derive(Debug, Clone)]
        pub(crate) struct Repos {
            pool: ::sqlx::Pool<$Db>,
        }

        impl Repos {
            pub(crate) fn new(pool: ::sqlx::Pool<$Db>) -> Self {
                Self { pool }
            }

            async fn begin(&self) -> Result<::sqlx::Transaction<'static, $Db>, $crate::StoreError> {
                self.pool.begin_with($begin).await.map_err(other)
            }
        }

        fn other(e: ::sqlx::Error) -> $crate::StoreError {
            match e {
                ::sqlx::Error::PoolTimedOut | ::sqlx::Error::Io(_) | ::sqlx::Error::PoolClosed => {
                    $crate::StoreError::Unavailable(e.to_string())
                }
                ::sqlx::Error::Database(d) if d.is_unique_violation() => {
                    $crate::StoreError::Conflict("unique constraint")
                }
                e => $crate::StoreError::Other(e.to_string()),
            }
        }

        /// Every address hangs off the member's key row: locking it orders
        /// one member's concurrent address writes on PostgreSQL (SQLite's
        /// `BEGIN IMMEDIATE` already does), so the one-default index is
        /// never tripped by two writers that each cleared the old default.
        /// `false` if the member has no key (so no addresses).
        async fn lock_member_addresses(
            tx: &mut ::sqlx::Transaction<'static, $Db>,
            member_id: ::uuid::Uuid,
        ) -> Result<bool, $crate::StoreError> {
            let owner = ::sqlx::query("UPDATE member_keys SET updated_at = updated_at WHERE member_id = $1")
                .bind(member_id)
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(owner.rows_affected() > 0)
        }

        fn hash32(table: &'static str, bytes: &[u8]) -> Result<[u8; 32], $crate::StoreError> {
            <[u8; 32]>::try_from(bytes).map_err(|_| $crate::StoreError::Corrupt {
                table,
                reason: "hash is not 32 bytes",
            })
        }

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
                    member_id,
                    authenticated_at,
                    ip: ip.unwrap_or_default(),
                    device: device.unwrap_or_default(),
                    method: method.unwrap_or_default(),
                }),
                _ => None,
            };
            Ok($crate::SessionRecord {
                id,
                token_hash: hash32("sessions", &hash)?,
                created_at,
                last_seen_at,
                absolute_expires_at,
                idle_expires_at,
                login,
            })
        }

        async fn insert_session<'c, E>(ex: E, new: &$crate::NewSession) -> Result<(), $crate::StoreError>
        where
            E: ::sqlx::Executor<'c, Database = $Db>,
        {
            let login = new.login.as_ref();
            ::sqlx::query(
                "INSERT INTO sessions (id, token_hash, created_at, last_seen_at, \
                 absolute_expires_at, idle_expires_at, member_id, authenticated_at, ip, device, method) \
                 VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(new.id)
            .bind(new.token_hash.as_slice())
            .bind(new.created_at)
            .bind(new.absolute_expires_at)
            .bind(new.idle_expires_at)
            .bind(login.map(|l| l.member_id))
            .bind(login.map(|l| l.authenticated_at))
            .bind(login.map(|l| l.ip.clone()))
            .bind(login.map(|l| l.device.clone()))
            .bind(login.map(|l| l.method.clone()))
            .execute(ex)
            .await
            .map_err(|e| match other(e) {
                $crate::StoreError::Conflict(_) => {
                    $crate::StoreError::Conflict("session token hash already exists")
                }
                e => e,
            })?;
            Ok(())
        }

        async fn insert_mail<'c, E>(ex: E, mail: &$crate::NewMail) -> Result<(), $crate::StoreError>
        where
            E: ::sqlx::Executor<'c, Database = $Db>,
        {
            ::sqlx::query(
                "INSERT INTO mail_outbox (id, kind, created_at, payload, status, attempts, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, $3)",
            )
            .bind(mail.id)
            .bind(mail.kind)
            .bind(mail.created_at)
            .bind(mail.payload.as_slice())
            .execute(ex)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn insert_event<'c, E>(ex: E, ev: &$crate::NewLoginEvent) -> Result<(), $crate::StoreError>
        where
            E: ::sqlx::Executor<'c, Database = $Db>,
        {
            ::sqlx::query(
                "INSERT INTO login_events (id, member_id, at, ip, device, method, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(ev.id)
            .bind(ev.member_id)
            .bind(ev.at)
            .bind(&ev.ip)
            .bind(&ev.device)
            .bind(&ev.method)
            .bind(&ev.outcome)
            .execute(ex)
            .await
            .map_err(other)?;
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::SessionRepo for Repos {
            async fn create(&self, new: &$crate::NewSession) -> Result<(), $crate::StoreError> {
                insert_session(&self.pool, new).await
            }

            async fn find_live(
                &self,
                token_hash: &[u8; 32],
                now: i64,
            ) -> Result<Option<$crate::SessionRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions \
                     WHERE token_hash = $1 AND absolute_expires_at > $2 AND idle_expires_at > $2"
                );
                let row: Option<SessionRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(token_hash.as_slice())
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(session_record).transpose()
            }

            async fn touch(&self, id: ::uuid::Uuid, now: i64, idle_expires_at: i64) -> Result<(), $crate::StoreError> {
                ::sqlx::query("UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(now)
                    .bind(idle_expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(())
            }

            async fn delete(&self, id: ::uuid::Uuid) -> Result<bool, $crate::StoreError> {
                let done = ::sqlx::query("DELETE FROM sessions WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(done.rows_affected() > 0)
            }

            async fn purge_expired(&self, now: i64) -> Result<u64, $crate::StoreError> {
                let done = ::sqlx::query(
                    "DELETE FROM sessions WHERE absolute_expires_at <= $1 OR idle_expires_at <= $1",
                )
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(done.rows_affected())
            }

            async fn list_for_member(
                &self,
                member_id: ::uuid::Uuid,
                now: i64,
            ) -> Result<Vec<$crate::SessionRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE member_id = $1 \
                     AND absolute_expires_at > $2 AND idle_expires_at > $2 \
                     ORDER BY created_at DESC, id DESC"
                );
                let rows: Vec<SessionRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(member_id)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(session_record).collect()
            }

            async fn delete_for_member(&self, member_id: ::uuid::Uuid, id: ::uuid::Uuid) -> Result<bool, $crate::StoreError> {
                let done = ::sqlx::query("DELETE FROM sessions WHERE id = $1 AND member_id = $2")
                    .bind(id)
                    .bind(member_id)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_all_for_member(
                &self,
                member_id: ::uuid::Uuid,
                keep: Option<::uuid::Uuid>,
            ) -> Result<u64, $crate::StoreError> {
                let done = match keep {
                    Some(keep) => ::sqlx::query("DELETE FROM sessions WHERE member_id = $1 AND id <> $2")
                        .bind(member_id)
                        .bind(keep)
                        .execute(&self.pool)
                        .await,
                    None => ::sqlx::query("DELETE FROM sessions WHERE member_id = $1")
                        .bind(member_id)
                        .execute(&self.pool)
                        .await,
                }
                .map_err(other)?;
                Ok(done.rows_affected())
            }

            async fn mark_authenticated(&self, id: ::uuid::Uuid, now: i64) -> Result<(), $crate::StoreError> {
                ::sqlx::query("UPDATE sessions SET authenticated_at = $2 WHERE id = $1 AND member_id IS NOT NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(())
            }
        }

        type MemberRow = (::uuid::Uuid, String, String, String, Option<String>, Option<i64>, i64);

        const MEMBER_COLUMNS: &str =
            "id, email, display_name, language, password_hash, password_changed_at, created_at";

        fn member_record(row: MemberRow) -> $crate::MemberRecord {
            let (id, email, display_name, language, password_hash, password_changed_at, created_at) = row;
            $crate::MemberRecord { id, email, display_name, language, password_hash, password_changed_at, created_at }
        }

        type FlowRow = (
            ::uuid::Uuid,
            String,
            String,
            Option<::uuid::Uuid>,
            Option<String>,
            String,
            i64,
            i64,
            i64,
            Option<i64>,
            Vec<u8>,
        );

        const FLOW_COLUMNS: &str = "id, purpose, email, member_id, display_name, language, \
            created_at, expires_at, failed_attempts, consumed_at, code_hash";

        fn flow_record(row: FlowRow) -> Result<($crate::FlowRecord, [u8; 32]), $crate::StoreError> {
            let (id, purpose, email, member_id, display_name, language, created_at, expires_at, attempts, consumed_at, code_hash) = row;
            let purpose = $crate::FlowPurpose::parse(&purpose).ok_or($crate::StoreError::Corrupt {
                table: "login_flows",
                reason: "unknown purpose",
            })?;
            Ok((
                $crate::FlowRecord { id, purpose, email, member_id, display_name, language, created_at, expires_at, attempts, consumed_at },
                hash32("login_flows", &code_hash)?,
            ))
        }

        #[::async_trait::async_trait]
        impl $crate::AccountRepo for Repos {
            async fn find_member(&self, id: ::uuid::Uuid) -> Result<Option<$crate::MemberRecord>, $crate::StoreError> {
                let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE id = $1");
                let row: Option<MemberRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(row.map(member_record))
            }

            async fn find_member_by_email(&self, email: &str) -> Result<Option<$crate::MemberRecord>, $crate::StoreError> {
                let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE email = $1");
                let row: Option<MemberRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(row.map(member_record))
            }

            async fn count_flows_since(&self, email: &str, since: i64) -> Result<i64, $crate::StoreError> {
                let (n,): (i64,) = ::sqlx::query_as(
                    "SELECT COUNT(*) FROM login_flows WHERE email = $1 AND created_at >= $2",
                )
                .bind(email)
                .bind(since)
                .fetch_one(&self.pool)
                .await
                .map_err(other)?;
                Ok(n)
            }

            async fn start_flow(&self, flow: &$crate::NewFlow, now: i64, mail: &$crate::NewMail) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                // Attempts of live flows for this address carry over.
                let (inherited,): (i64,) = ::sqlx::query_as(
                    "SELECT COALESCE(MAX(failed_attempts), 0) FROM login_flows \
                     WHERE email = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $3",
                )
                .bind(&flow.email)
                .bind(flow.purpose.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(other)?;
                ::sqlx::query(
                    "UPDATE login_flows SET consumed_at = $3 \
                     WHERE email = $1 AND purpose = $2 AND consumed_at IS NULL",
                )
                .bind(&flow.email)
                .bind(flow.purpose.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                ::sqlx::query(
                    "INSERT INTO login_flows (id, purpose, email, member_id, display_name, language, \
                     code_hash, created_at, expires_at, failed_attempts) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(flow.id)
                .bind(flow.purpose.as_str())
                .bind(&flow.email)
                .bind(flow.member_id)
                .bind(&flow.display_name)
                .bind(&flow.language)
                .bind(flow.code_hash.as_slice())
                .bind(flow.created_at)
                .bind(flow.expires_at)
                .bind(inherited)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                insert_mail(&mut *tx, mail).await?;
                tx.commit().await.map_err(other)
            }

            async fn find_flow(&self, id: ::uuid::Uuid) -> Result<Option<$crate::FlowRecord>, $crate::StoreError> {
                let sql = format!("SELECT {FLOW_COLUMNS} FROM login_flows WHERE id = $1");
                let row: Option<FlowRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(row.map(flow_record).transpose()?.map(|(f, _)| f))
            }

            async fn reserve_attempt(
                &self,
                flow_id: ::uuid::Uuid,
                now: i64,
                max_attempts: i64,
            ) -> Result<$crate::Attempt, $crate::StoreError> {
                // One statement: the check and the increment cannot be
                // separated by a parallel request.
                let sql = format!(
                    "UPDATE login_flows SET failed_attempts = failed_attempts + 1 \
                     WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2 AND failed_attempts < $3 \
                     RETURNING {FLOW_COLUMNS}"
                );
                let row: Option<FlowRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(flow_id)
                    .bind(now)
                    .bind(max_attempts)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(match row {
                    Some(row) => {
                        let (flow, code_hash) = flow_record(row)?;
                        $crate::Attempt::Reserved { flow, code_hash }
                    }
                    None => $crate::Attempt::Dead,
                })
            }

            async fn complete_login(&self, w: &$crate::LoginWrite) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin().await?;
                if let Some(flow) = w.consume_flow {
                    let done = ::sqlx::query(
                        "UPDATE login_flows SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL",
                    )
                    .bind(flow)
                    .bind(w.event.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(other)?;
                    if done.rows_affected() != 1 {
                        tx.rollback().await.map_err(other)?;
                        return Ok(false);
                    }
                }
                if let Some(m) = &w.create_member {
                    ::sqlx::query(
                        "INSERT INTO members (id, email, display_name, language, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(m.id)
                    .bind(&m.email)
                    .bind(&m.display_name)
                    .bind(&m.language)
                    .bind(m.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match other(e) {
                        $crate::StoreError::Conflict(_) => $crate::StoreError::Conflict("email already registered"),
                        e => e,
                    })?;
                }
                if let Some(old) = w.end_session {
                    ::sqlx::query("DELETE FROM sessions WHERE id = $1")
                        .bind(old)
                        .execute(&mut *tx)
                        .await
                        .map_err(other)?;
                }
                insert_session(&mut *tx, &w.session).await?;
                insert_event(&mut *tx, &w.event).await?;
                ::sqlx::query(
                    "INSERT INTO known_devices (member_id, device_hash, first_seen, last_seen) \
                     VALUES ($1, $2, $3, $3) \
                     ON CONFLICT (member_id, device_hash) DO UPDATE SET last_seen = excluded.last_seen",
                )
                .bind(w.event.member_id)
                .bind(w.device_hash.as_slice())
                .bind(w.event.at)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                insert_mail(&mut *tx, &w.mail).await?;
                tx.commit().await.map_err(other)?;
                Ok(true)
            }

            async fn complete_reauth(&self, flow_id: ::uuid::Uuid, session_id: ::uuid::Uuid, now: i64) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let done = ::sqlx::query(
                    "UPDATE login_flows SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL",
                )
                .bind(flow_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                if done.rows_affected() != 1 {
                    tx.rollback().await.map_err(other)?;
                    return Ok(false);
                }
                ::sqlx::query("UPDATE sessions SET authenticated_at = $2 WHERE id = $1")
                    .bind(session_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(other)?;
                tx.commit().await.map_err(other)?;
                Ok(true)
            }

            async fn record_login_event(&self, event: &$crate::NewLoginEvent) -> Result<(), $crate::StoreError> {
                insert_event(&self.pool, event).await
            }

            async fn list_login_events(
                &self,
                member_id: ::uuid::Uuid,
                limit: i64,
            ) -> Result<Vec<$crate::LoginEventRecord>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid, i64, String, String, String, String)> = ::sqlx::query_as(
                    "SELECT id, at, ip, device, method, outcome FROM login_events \
                     WHERE member_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
                )
                .bind(member_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, at, ip, device, method, outcome)| $crate::LoginEventRecord { id, at, ip, device, method, outcome })
                    .collect())
            }

            async fn device_known(&self, member_id: ::uuid::Uuid, device_hash: &[u8; 32]) -> Result<bool, $crate::StoreError> {
                let row: Option<(i64,)> = ::sqlx::query_as(
                    "SELECT first_seen FROM known_devices WHERE member_id = $1 AND device_hash = $2",
                )
                .bind(member_id)
                .bind(device_hash.as_slice())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.is_some())
            }

            async fn set_password_hash(
                &self,
                member_id: ::uuid::Uuid,
                hash: Option<&str>,
                now: i64,
                mail: Option<&$crate::NewMail>,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                ::sqlx::query("UPDATE members SET password_hash = $2, password_changed_at = $3 WHERE id = $1")
                    .bind(member_id)
                    .bind(hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(other)?;
                if let Some(mail) = mail {
                    insert_mail(&mut *tx, mail).await?;
                }
                tx.commit().await.map_err(other)
            }

            async fn upgrade_password_hash(&self, member_id: ::uuid::Uuid, old: &str, new: &str) -> Result<bool, $crate::StoreError> {
                let done = ::sqlx::query("UPDATE members SET password_hash = $3 WHERE id = $1 AND password_hash = $2")
                    .bind(member_id)
                    .bind(old)
                    .bind(new)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(done.rows_affected() == 1)
            }
        }

        #[::async_trait::async_trait]
        impl $crate::MailRepo for Repos {
            async fn enqueue(&self, mail: &$crate::NewMail) -> Result<(), $crate::StoreError> {
                insert_mail(&self.pool, mail).await
            }

            async fn claim_due(&self, now: i64, lease_until: i64) -> Result<Option<$crate::OutboxItem>, $crate::StoreError> {
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
                .bind(now)
                .bind(lease_until)
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|(id, kind, created_at, payload, attempts)| $crate::OutboxItem {
                    id,
                    kind,
                    created_at,
                    payload: payload.unwrap_or_default(),
                    attempts,
                }))
            }

            async fn mark_sent(&self, id: ::uuid::Uuid, now: i64) -> Result<(), $crate::StoreError> {
                ::sqlx::query(
                    "UPDATE mail_outbox SET status = 'sent', sent_at = $2, payload = NULL, \
                     locked_until = NULL, last_error = NULL WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(())
            }

            async fn mark_retry(&self, id: ::uuid::Uuid, next_attempt_at: i64, error: &str) -> Result<(), $crate::StoreError> {
                ::sqlx::query(
                    "UPDATE mail_outbox SET next_attempt_at = $2, locked_until = NULL, last_error = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(next_attempt_at)
                .bind(error)
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(())
            }

            async fn mark_failed(&self, id: ::uuid::Uuid, error: &str) -> Result<(), $crate::StoreError> {
                ::sqlx::query(
                    "UPDATE mail_outbox SET status = 'failed', payload = NULL, locked_until = NULL, \
                     last_error = $2 WHERE id = $1",
                )
                .bind(id)
                .bind(error)
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(())
            }

            async fn count_by_status(&self, status: &str) -> Result<i64, $crate::StoreError> {
                let (n,): (i64,) = ::sqlx::query_as("SELECT COUNT(*) FROM mail_outbox WHERE status = $1")
                    .bind(status)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(n)
            }
        }

        #[::async_trait::async_trait]
        impl $crate::ThrottleRepo for Repos {
            async fn reserve_attempt(
                &self,
                key: &str,
                now: i64,
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
                .bind(now)
                .bind(policy.threshold)
                .bind(policy.delays[0])
                .bind(policy.delays[1])
                .bind(policy.delays[2])
                .bind(policy.delays[3])
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                match row {
                    Some((count, locked_until)) => Ok($crate::Reservation::Allowed {
                        count,
                        locked_now: locked_until > now,
                    }),
                    None => {
                        let (until,): (i64,) = ::sqlx::query_as("SELECT locked_until FROM auth_counters WHERE key = $1")
                            .bind(key)
                            .fetch_one(&self.pool)
                            .await
                            .map_err(other)?;
                        Ok($crate::Reservation::Locked { until })
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

            async fn note_failure(&self, keys: &[String], now: i64, window: i64) -> Result<(), $crate::StoreError> {
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
                    .bind(now)
                    .bind(window)
                    .execute(&mut *tx)
                    .await
                    .map_err(other)?;
                }
                tx.commit().await.map_err(other)
            }

            async fn failures_in_window(&self, key: &str, now: i64, window: i64) -> Result<i64, $crate::StoreError> {
                let row: Option<(i64,)> = ::sqlx::query_as(
                    "SELECT count FROM auth_counters WHERE key = $1 AND window_start + $3 > $2",
                )
                .bind(key)
                .bind(now)
                .bind(window)
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map_or(0, |r| r.0))
            }

            async fn create_unlock_token(&self, token_hash: &[u8; 32], email: &str, now: i64, expires_at: i64) -> Result<(), $crate::StoreError> {
                ::sqlx::query("INSERT INTO unlock_tokens (token_hash, email, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(token_hash.as_slice())
                    .bind(email)
                    .bind(now)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(())
            }

            async fn take_unlock_token(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<String>, $crate::StoreError> {
                let row: Option<(String,)> = ::sqlx::query_as(
                    "UPDATE unlock_tokens SET used_at = $2 \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING email",
                )
                .bind(token_hash.as_slice())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|r| r.0))
            }
        }

        #[::async_trait::async_trait]
        impl $crate::ChallengeRepo for Repos {
            async fn consume(&self, challenge_hash: &[u8; 32], expires_at: i64) -> Result<bool, $crate::StoreError> {
                // One statement: of two instances inserting the same hash,
                // exactly one affects a row.
                let done = ::sqlx::query(
                    "INSERT INTO used_challenges (challenge_hash, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (challenge_hash) DO NOTHING",
                )
                .bind(&challenge_hash[..])
                .bind(expires_at)
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(done.rows_affected() == 1)
            }

            async fn purge_expired(&self, now: i64) -> Result<u64, $crate::StoreError> {
                let done = ::sqlx::query("DELETE FROM used_challenges WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(done.rows_affected())
            }
        }

        type AddressRow = (::uuid::Uuid, ::uuid::Uuid, i64, Vec<u8>, i64, i64);

        fn address_record(row: AddressRow) -> $crate::AddressRecord {
            let (id, member_id, is_default, ciphertext, created_at, updated_at) = row;
            $crate::AddressRecord { id, member_id, is_default: is_default != 0, ciphertext, created_at, updated_at }
        }

        #[::async_trait::async_trait]
        impl $crate::MemberDataRepo for Repos {
            async fn member_key(&self, member_id: ::uuid::Uuid) -> Result<Option<$crate::MemberKeyRecord>, $crate::StoreError> {
                let row: Option<(::uuid::Uuid, Vec<u8>, i64)> = ::sqlx::query_as(
                    "SELECT member_id, wrapped_key, kek_version FROM member_keys WHERE member_id = $1",
                )
                .bind(member_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|(member_id, wrapped_key, kek_version)| $crate::MemberKeyRecord { member_id, wrapped_key, kek_version }))
            }

            async fn create_member_key(
                &self,
                member_id: ::uuid::Uuid,
                wrapped: &[u8],
                kek_version: i64,
                now: i64,
            ) -> Result<$crate::MemberKeyRecord, $crate::StoreError> {
                let mut tx = self.begin().await?;
                // Lock the version's row (created on first use) unless it is
                // retired: a concurrent retire_kek_version waits for this
                // transaction and then counts the key, or commits first
                // and this upsert changes no row. PostgreSQL locks the
                // conflicting row even when the WHERE is false.
                let live = ::sqlx::query(
                    "INSERT INTO kek_versions (kek_version, last_wrapped_at) VALUES ($1, $2) \
                     ON CONFLICT (kek_version) DO UPDATE SET last_wrapped_at = excluded.last_wrapped_at \
                     WHERE kek_versions.retired_at IS NULL",
                )
                .bind(kek_version)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                if live.rows_affected() == 0 {
                    return Err($crate::StoreError::RetiredKek(kek_version));
                }
                ::sqlx::query(
                    "INSERT INTO member_keys (member_id, wrapped_key, kek_version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (member_id) DO NOTHING",
                )
                .bind(member_id)
                .bind(wrapped)
                .bind(kek_version)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                tx.commit().await.map_err(other)?;
                $crate::MemberDataRepo::member_key(self, member_id)
                    .await?
                    .ok_or($crate::StoreError::Corrupt { table: "member_keys", reason: "key vanished after insert" })
            }

            async fn phone(&self, member_id: ::uuid::Uuid) -> Result<Option<Vec<u8>>, $crate::StoreError> {
                let row: Option<(Vec<u8>,)> = ::sqlx::query_as("SELECT phone FROM member_phones WHERE member_id = $1")
                    .bind(member_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(row.map(|(c,)| c))
            }

            async fn set_phone(
                &self,
                member_id: ::uuid::Uuid,
                ciphertext: &[u8],
                index: &[u8; 32],
                now: i64,
            ) -> Result<(), $crate::StoreError> {
                ::sqlx::query(
                    "INSERT INTO member_phones (member_id, phone, phone_index, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (member_id) DO UPDATE SET phone = excluded.phone, \
                     phone_index = excluded.phone_index, updated_at = excluded.updated_at",
                )
                .bind(member_id)
                .bind(ciphertext)
                .bind(index.as_slice())
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(())
            }

            async fn members_with_phone(&self, index: &[u8; 32]) -> Result<Vec<::uuid::Uuid>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid,)> = ::sqlx::query_as(
                    "SELECT member_id FROM member_phones WHERE phone_index = $1 ORDER BY member_id",
                )
                .bind(index.as_slice())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows.into_iter().map(|(m,)| m).collect())
            }

            async fn list_addresses(&self, member_id: ::uuid::Uuid) -> Result<Vec<$crate::AddressRecord>, $crate::StoreError> {
                let rows: Vec<AddressRow> = ::sqlx::query_as(
                    "SELECT id, member_id, is_default, address, created_at, updated_at \
                     FROM shipping_addresses WHERE member_id = $1 ORDER BY created_at, id",
                )
                .bind(member_id)
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows.into_iter().map(address_record).collect())
            }

            async fn add_address(&self, a: &$crate::AddressRecord) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                lock_member_addresses(&mut tx, a.member_id).await?;
                let (count,): (i64,) = ::sqlx::query_as("SELECT COUNT(*) FROM shipping_addresses WHERE member_id = $1")
                    .bind(a.member_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(other)?;
                let is_default = a.is_default || count == 0;
                if is_default {
                    ::sqlx::query("UPDATE shipping_addresses SET is_default = 0 WHERE member_id = $1 AND is_default = 1")
                        .bind(a.member_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(other)?;
                }
                ::sqlx::query(
                    "INSERT INTO shipping_addresses (id, member_id, is_default, address, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(a.id)
                .bind(a.member_id)
                .bind(i64::from(is_default))
                .bind(a.ciphertext.as_slice())
                .bind(a.created_at)
                .bind(a.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                tx.commit().await.map_err(other)
            }

            async fn update_address(
                &self,
                member_id: ::uuid::Uuid,
                id: ::uuid::Uuid,
                ciphertext: &[u8],
                make_default: bool,
                now: i64,
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin().await?;
                lock_member_addresses(&mut tx, member_id).await?;
                let exists: Option<(i64,)> = ::sqlx::query_as(
                    "SELECT is_default FROM shipping_addresses WHERE id = $1 AND member_id = $2",
                )
                .bind(id)
                .bind(member_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(other)?;
                if exists.is_none() {
                    return Ok(false);
                }
                if make_default {
                    ::sqlx::query("UPDATE shipping_addresses SET is_default = 0 WHERE member_id = $1 AND is_default = 1 AND id <> $2")
                        .bind(member_id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(other)?;
                }
                ::sqlx::query(
                    "UPDATE shipping_addresses SET address = $3, updated_at = $4, \
                     is_default = CASE WHEN $5 = 1 THEN 1 ELSE is_default END \
                     WHERE id = $1 AND member_id = $2",
                )
                .bind(id)
                .bind(member_id)
                .bind(ciphertext)
                .bind(now)
                .bind(i64::from(make_default))
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                tx.commit().await.map_err(other)?;
                Ok(true)
            }

            async fn set_default_address(
                &self,
                member_id: ::uuid::Uuid,
                id: ::uuid::Uuid,
                now: i64,
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin().await?;
                if !lock_member_addresses(&mut tx, member_id).await? {
                    return Ok(false);
                }
                ::sqlx::query(
                    "UPDATE shipping_addresses SET is_default = 0 \
                     WHERE member_id = $1 AND is_default = 1 AND id <> $2",
                )
                .bind(member_id)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                // Only the flag and its time: the ciphertext is not written.
                let set = ::sqlx::query(
                    "UPDATE shipping_addresses SET is_default = 1, updated_at = $3 \
                     WHERE id = $2 AND member_id = $1",
                )
                .bind(member_id)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                if set.rows_affected() == 0 {
                    // Not this member's address: dropping the transaction
                    // rolls back the cleared flags.
                    return Ok(false);
                }
                tx.commit().await.map_err(other)?;
                Ok(true)
            }

            async fn delete_address(&self, member_id: ::uuid::Uuid, id: ::uuid::Uuid) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let gone: Option<(i64,)> = ::sqlx::query_as(
                    "DELETE FROM shipping_addresses WHERE id = $1 AND member_id = $2 RETURNING is_default",
                )
                .bind(id)
                .bind(member_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(other)?;
                let Some((was_default,)) = gone else {
                    return Ok(false);
                };
                if was_default != 0 {
                    ::sqlx::query(
                        "UPDATE shipping_addresses SET is_default = 1 WHERE id = \
                         (SELECT id FROM shipping_addresses WHERE member_id = $1 ORDER BY created_at, id LIMIT 1)",
                    )
                    .bind(member_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(other)?;
                }
                tx.commit().await.map_err(other)?;
                Ok(true)
            }

            async fn bank_account(&self, member_id: ::uuid::Uuid) -> Result<Option<Vec<u8>>, $crate::StoreError> {
                let row: Option<(Vec<u8>,)> = ::sqlx::query_as("SELECT account FROM bank_accounts WHERE member_id = $1")
                    .bind(member_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(row.map(|(c,)| c))
            }

            async fn set_bank_account(
                &self,
                member_id: ::uuid::Uuid,
                ciphertext: &[u8],
                now: i64,
                mail: &$crate::NewMail,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                ::sqlx::query(
                    "INSERT INTO bank_accounts (member_id, account, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (member_id) DO UPDATE SET account = excluded.account, updated_at = excluded.updated_at",
                )
                .bind(member_id)
                .bind(ciphertext)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                insert_mail(&mut *tx, mail).await?;
                tx.commit().await.map_err(other)
            }

            async fn shred(&self, member_id: ::uuid::Uuid) -> Result<bool, $crate::StoreError> {
                let done = ::sqlx::query("DELETE FROM member_keys WHERE member_id = $1")
                    .bind(member_id)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(done.rows_affected() > 0)
            }

            async fn kek_usage(&self) -> Result<Vec<$crate::KekUsage>, $crate::StoreError> {
                let rows: Vec<(i64, i64, i64)> = ::sqlx::query_as(
                    "SELECT k.kek_version, COUNT(*), \
                     CAST(COALESCE(SUM((SELECT COUNT(*) FROM member_phones p WHERE p.member_id = k.member_id) \
                       + (SELECT COUNT(*) FROM shipping_addresses a WHERE a.member_id = k.member_id) \
                       + (SELECT COUNT(*) FROM bank_accounts b WHERE b.member_id = k.member_id)), 0) AS BIGINT) \
                     FROM member_keys k GROUP BY k.kek_version ORDER BY k.kek_version",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows
                    .into_iter()
                    .map(|(kek_version, data_keys, values)| $crate::KekUsage { kek_version, data_keys, values })
                    .collect())
            }

            async fn retire_kek_version(
                &self,
                kek_version: i64,
                now: i64,
            ) -> Result<$crate::KekRetirement, $crate::StoreError> {
                let mut tx = self.begin().await?;
                // Mark it retired first: this takes the version's row lock,
                // so a data key being stored under it either committed
                // before (and is counted below) or waits and is refused.
                ::sqlx::query(
                    "INSERT INTO kek_versions (kek_version, retired_at) VALUES ($1, $2) \
                     ON CONFLICT (kek_version) DO UPDATE \
                     SET retired_at = COALESCE(kek_versions.retired_at, excluded.retired_at)",
                )
                .bind(kek_version)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                let (data_keys,): (i64,) = ::sqlx::query_as("SELECT COUNT(*) FROM member_keys WHERE kek_version = $1")
                    .bind(kek_version)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(other)?;
                if data_keys > 0 {
                    // Dropping the transaction rolls the mark back.
                    return Ok($crate::KekRetirement::InUse { data_keys });
                }
                tx.commit().await.map_err(other)?;
                Ok($crate::KekRetirement::Retired)
            }

            async fn wrapped_keys_after(
                &self,
                after: Option<::uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::MemberKeyRecord>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid, Vec<u8>, i64)> = ::sqlx::query_as(
                    "SELECT member_id, wrapped_key, kek_version FROM member_keys \
                     WHERE ($1 IS NULL OR member_id > $1) ORDER BY member_id LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows
                    .into_iter()
                    .map(|(member_id, wrapped_key, kek_version)| $crate::MemberKeyRecord { member_id, wrapped_key, kek_version })
                    .collect())
            }

            async fn replace_wrapped_keys(&self, rewraps: &[$crate::Rewrap], now: i64) -> Result<u64, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let mut applied = 0u64;
                for r in rewraps {
                    let done = ::sqlx::query(
                        "UPDATE member_keys SET wrapped_key = $3, kek_version = $4, updated_at = $5 \
                         WHERE member_id = $1 AND wrapped_key = $2",
                    )
                    .bind(r.member_id)
                    .bind(r.old.as_slice())
                    .bind(r.new.as_slice())
                    .bind(r.new_version)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(other)?;
                    applied = applied.saturating_add(done.rows_affected());
                }
                tx.commit().await.map_err(other)?;
                Ok(applied)
            }

            async fn sealed_after(
                &self,
                table: $crate::SealedTable,
                after: Option<::uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::SealedValue>, $crate::StoreError> {
                // Table and column names come from the closed SealedTable
                // enum, never from input.
                let sql = format!(
                    "SELECT {id}, member_id, {col} FROM {t} WHERE ($1 IS NULL OR {id} > $1) ORDER BY {id} LIMIT $2",
                    id = table.id_column(),
                    col = table.column(),
                    t = table.table(),
                );
                let rows: Vec<(::uuid::Uuid, ::uuid::Uuid, Vec<u8>)> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, member_id, ciphertext)| $crate::SealedValue { id, member_id, ciphertext })
                    .collect())
            }

            async fn reseal(
                &self,
                table: $crate::SealedTable,
                reseals: &[$crate::Reseal],
                progress: &$crate::ReencryptProgress,
                now: i64,
            ) -> Result<u64, $crate::StoreError> {
                let sql = format!(
                    "UPDATE {t} SET {col} = $3 WHERE {id} = $1 AND {col} = $2",
                    id = table.id_column(),
                    col = table.column(),
                    t = table.table(),
                );
                let mut tx = self.begin().await?;
                let mut applied = 0u64;
                for r in reseals {
                    let done = ::sqlx::query(::sqlx::AssertSqlSafe(sql.clone()))
                        .bind(r.id)
                        .bind(r.old.as_slice())
                        .bind(r.new.as_slice())
                        .execute(&mut *tx)
                        .await
                        .map_err(other)?;
                    applied = applied.saturating_add(done.rows_affected());
                }
                ::sqlx::query(
                    "INSERT INTO reencrypt_progress (id, stage, last_id, done, updated_at) VALUES (1, $1, $2, $3, $4) \
                     ON CONFLICT (id) DO UPDATE SET stage = excluded.stage, last_id = excluded.last_id, \
                     done = excluded.done, updated_at = excluded.updated_at",
                )
                .bind(progress.stage.table())
                .bind(progress.last_id)
                .bind(progress.done)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                tx.commit().await.map_err(other)?;
                Ok(applied)
            }

            async fn reencrypt_progress(&self) -> Result<Option<$crate::ReencryptProgress>, $crate::StoreError> {
                let row: Option<(String, ::uuid::Uuid, i64)> =
                    ::sqlx::query_as("SELECT stage, last_id, done FROM reencrypt_progress WHERE id = 1")
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(other)?;
                match row {
                    None => Ok(None),
                    Some((stage, last_id, done)) => {
                        let stage = $crate::SealedTable::from_table(&stage).ok_or($crate::StoreError::Corrupt {
                            table: "reencrypt_progress",
                            reason: "unknown stage",
                        })?;
                        Ok(Some($crate::ReencryptProgress { stage, last_id, done }))
                    }
                }
            }

            async fn clear_reencrypt_progress(&self) -> Result<(), $crate::StoreError> {
                ::sqlx::query("DELETE FROM reencrypt_progress WHERE id = 1")
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(())
            }
        }


        impl Repos {
            pub(crate) async fn key_check(&self, value: &[u8]) -> Result<Vec<u8>, $crate::StoreError> {
                ::sqlx::query("INSERT INTO key_check (id, value) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
                    .bind(value)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                let (stored,): (Vec<u8>,) = ::sqlx::query_as("SELECT value FROM key_check WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(stored)
            }
        }
    };
}

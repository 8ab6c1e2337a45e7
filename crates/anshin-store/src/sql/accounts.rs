//! Members, code flows, login history and known devices.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_accounts {
    ($Db:ty) => {
        type MemberRow = (
            ::uuid::Uuid,
            String,
            String,
            String,
            Option<String>,
            Option<i64>,
            i64,
            Option<String>,
            Option<i64>,
        );

        const MEMBER_COLUMNS: &str = "id, email, display_name, language, password_hash, \
            password_changed_at, created_at, terms_version, terms_accepted_at";

        fn email_of(table: &'static str, text: &str) -> Result<$crate::EmailAddress, $crate::StoreError> {
            $crate::EmailAddress::parse(text).ok_or(corrupt(table, "stored e-mail address does not parse"))
        }

        fn display_name_of(table: &'static str, text: &str) -> Result<$crate::DisplayName, $crate::StoreError> {
            $crate::DisplayName::parse(text).ok_or(corrupt(table, "stored display name does not parse"))
        }

        fn lang_of(table: &'static str, text: &str) -> Result<$crate::Lang, $crate::StoreError> {
            $crate::Lang::parse(text).ok_or(corrupt(table, "unknown language"))
        }

        fn member_record(row: MemberRow) -> Result<$crate::MemberRecord, $crate::StoreError> {
            let (id, email, display_name, language, password_hash, password_changed_at, created_at, terms_version, terms_accepted_at) = row;
            let terms = match (terms_version, terms_accepted_at) {
                (Some(version), Some(at)) => Some($crate::TermsConsent { version, accepted_at: ts(at) }),
                (None, None) => None,
                _ => return Err(corrupt("members", "terms version without its time, or the reverse")),
            };
            Ok($crate::MemberRecord {
                id: $crate::MemberId::from_uuid(id),
                email: email_of("members", &email)?,
                display_name: display_name_of("members", &display_name)?,
                language: lang_of("members", &language)?,
                password_hash,
                password_changed_at: password_changed_at.map(ts),
                created_at: ts(created_at),
                terms,
            })
        }

        type FlowRow = (
            ::uuid::Uuid,
            String,
            String,
            Option<::uuid::Uuid>,
            Option<String>,
            String,
            Option<::uuid::Uuid>,
            i64,
            i64,
            i64,
            Option<i64>,
            Vec<u8>,
            Option<String>,
        );

        const FLOW_COLUMNS: &str = "id, purpose, email, member_id, display_name, language, \
            session_id, created_at, expires_at, failed_attempts, consumed_at, code_hash, terms_version";

        fn flow_record(row: FlowRow) -> Result<($crate::FlowRecord, [u8; 32]), $crate::StoreError> {
            let (id, purpose, email, member_id, display_name, language, session_id, created_at, expires_at, attempts, consumed_at, code_hash, terms_version) = row;
            let purpose = $crate::FlowPurpose::parse(&purpose).map_err(|_| corrupt("login_flows", "unknown purpose"))?;
            Ok((
                $crate::FlowRecord {
                    id: $crate::FlowId::from_uuid(id),
                    purpose,
                    email: email_of("login_flows", &email)?,
                    member_id: member_id.map($crate::MemberId::from_uuid),
                    display_name: display_name.map(|d| display_name_of("login_flows", &d)).transpose()?,
                    language: lang_of("login_flows", &language)?,
                    session_id: session_id.map($crate::SessionId::from_uuid),
                    terms_version,
                    created_at: ts(created_at),
                    expires_at: ts(expires_at),
                    attempts,
                    consumed_at: consumed_at.map(ts),
                },
                hash32("login_flows", &code_hash)?,
            ))
        }

        /// How often `start_flow` supersedes and inserts again when a
        /// concurrent request's flow committed first. Each round means
        /// another request for the same address won a race; a handful in a
        /// row is a flood, answered with a conflict.
        const START_FLOW_ROUNDS: usize = 8;

        async fn start_flow(tx: &mut Tx, flow: &$crate::NewFlow) -> Result<(), $crate::StoreError> {
            let now = flow.created_at.micros();
            let mut inherited = 0i64;
            for _ in 0..START_FLOW_ROUNDS {
                // Supersede the live flows for this address and purpose,
                // and take over the count of those not yet expired. The
                // count is read from the rows as they are locked (not by an
                // earlier SELECT), so an attempt counted on the old flow
                // meanwhile is not lost.
                let counts: Vec<(i64,)> = ::sqlx::query_as(
                    "UPDATE login_flows SET consumed_at = $3 \
                     WHERE email = $1 AND purpose = $2 AND consumed_at IS NULL \
                     RETURNING CASE WHEN expires_at > $3 THEN failed_attempts ELSE 0 END",
                )
                .bind(flow.email.as_str())
                .bind(flow.purpose.as_str())
                .bind(now)
                .fetch_all(&mut **tx)
                .await
                .map_err(other)?;
                inherited = counts.into_iter().fold(inherited, |max, (n,)| max.max(n));
                // At most one live flow per address and purpose (unique
                // index login_flows_one_live): if a concurrent request's
                // flow committed after the UPDATE above looked, this
                // inserts nothing, and the next round supersedes it.
                let done = ::sqlx::query(
                    "INSERT INTO login_flows (id, purpose, email, member_id, display_name, language, \
                     code_hash, created_at, expires_at, failed_attempts, session_id, terms_version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (email, purpose) WHERE consumed_at IS NULL DO NOTHING",
                )
                .bind(flow.id.as_uuid())
                .bind(flow.purpose.as_str())
                .bind(flow.email.as_str())
                .bind(flow.member_id.map(|m| m.as_uuid()))
                .bind(flow.display_name.as_ref().map(|d| d.as_str()))
                .bind(flow.language.code())
                .bind(flow.code_hash.as_slice())
                .bind(now)
                .bind(flow.expires_at.micros())
                .bind(inherited)
                .bind(flow.session_id.map(|s| s.as_uuid()))
                .bind(flow.terms_version.as_deref())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
            }
            Err($crate::StoreError::Conflict("code flows for this address started too fast"))
        }

        async fn consume_flow(tx: &mut Tx, flow: $crate::FlowId, at: $crate::Timestamp) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE login_flows SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL",
            )
            .bind(flow.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() != 1 {
                return Err($crate::StoreError::Precondition($crate::guards::FLOW_CONSUMED));
            }
            Ok(())
        }

        async fn create_member(tx: &mut Tx, m: &$crate::NewMember) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO members (id, email, display_name, language, created_at, \
                 terms_version, terms_accepted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(m.id.as_uuid())
            .bind(m.email.as_str())
            .bind(m.display_name.as_str())
            .bind(m.language.code())
            .bind(m.created_at.micros())
            .bind(m.terms.version.as_str())
            .bind(m.terms.accepted_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(|e| match other(e) {
                $crate::StoreError::Conflict(_) => $crate::StoreError::Conflict("email already registered"),
                e => e,
            })?;
            Ok(())
        }

        async fn insert_event(
            tx: &mut Tx,
            batch: &mut Batch,
            ev: &$crate::NewLoginEvent,
        ) -> Result<(), $crate::StoreError> {
            batch
                .push(
                    tx,
                    "login_events",
                    "INSERT INTO login_events (id, member_id, at, ip, device, method, outcome) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .await?
                .bind(ev.id.as_uuid())
                .bind(ev.member_id.as_uuid())
                .bind(ev.at.micros())
                .bind(ev.ip.as_str())
                .bind(ev.device.as_str())
                .bind(ev.method.as_str())
                .bind(ev.outcome.as_str());
            Ok(())
        }

        async fn remember_device(
            tx: &mut Tx,
            batch: &mut Batch,
            member: $crate::MemberId,
            device_hash: &[u8; 32],
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            batch
                .push(
                    tx,
                    "known_devices",
                    "INSERT INTO known_devices (member_id, device_hash, first_seen, last_seen) \
                     VALUES ($1, $2, $3, $3) \
                     ON CONFLICT (member_id, device_hash) DO UPDATE SET last_seen = excluded.last_seen",
                )
                .await?
                .bind(member.as_uuid())
                .bind(device_hash.as_slice())
                .bind(at.micros());
            Ok(())
        }

        async fn set_display_name(
            tx: &mut Tx,
            member: $crate::MemberId,
            name: &$crate::DisplayName,
            _at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query("UPDATE members SET display_name = $2 WHERE id = $1")
                .bind(member.as_uuid())
                .bind(name.as_str())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            if done.rows_affected() != 1 {
                return Err($crate::StoreError::Precondition($crate::guards::MEMBER_NOT_FOUND));
            }
            Ok(())
        }

        async fn change_email(
            tx: &mut Tx,
            member: $crate::MemberId,
            from: &$crate::EmailAddress,
            to: &$crate::EmailAddress,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            // Compare-and-swap on the old address: a change decided from
            // an address that is no longer the member's changes nothing.
            // The unique index on members.email refuses a taken address.
            let done = ::sqlx::query("UPDATE members SET email = $3 WHERE id = $1 AND email = $2")
                .bind(member.as_uuid())
                .bind(from.as_str())
                .bind(to.as_str())
                .execute(&mut **tx)
                .await
                .map_err(|e| match other(e) {
                    $crate::StoreError::Conflict(_) => $crate::StoreError::Conflict("email already registered"),
                    e => e,
                })?;
            if done.rows_affected() != 1 {
                return Err($crate::StoreError::Precondition($crate::guards::EMAIL_CHANGED));
            }
            // Codes already mailed for this member (to the old address, or
            // for another change) stop working with the change.
            ::sqlx::query(
                "UPDATE login_flows SET consumed_at = $2 WHERE member_id = $1 AND consumed_at IS NULL",
            )
            .bind(member.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn accept_terms(
            tx: &mut Tx,
            member: $crate::MemberId,
            terms: &$crate::TermsConsent,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query("UPDATE members SET terms_version = $2, terms_accepted_at = $3 WHERE id = $1")
                .bind(member.as_uuid())
                .bind(terms.version.as_str())
                .bind(terms.accepted_at.micros())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn set_password_hash(
            tx: &mut Tx,
            member: $crate::MemberId,
            hash: Option<&str>,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query("UPDATE members SET password_hash = $2, password_changed_at = $3 WHERE id = $1")
                .bind(member.as_uuid())
                .bind(hash)
                .bind(at.micros())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::AccountRepo for Repos {
            async fn find_member(&self, id: $crate::MemberId) -> Result<Option<$crate::MemberRecord>, $crate::StoreError> {
                let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE id = $1");
                let row: Option<MemberRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(member_record).transpose()
            }

            async fn find_member_by_email(
                &self,
                email: &$crate::EmailAddress,
            ) -> Result<Option<$crate::MemberRecord>, $crate::StoreError> {
                let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE email = $1");
                let row: Option<MemberRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(email.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(member_record).transpose()
            }

            async fn count_flows_since(
                &self,
                email: &$crate::EmailAddress,
                since: $crate::Timestamp,
            ) -> Result<i64, $crate::StoreError> {
                let (n,): (i64,) = ::sqlx::query_as(
                    "SELECT COUNT(*) FROM login_flows WHERE email = $1 AND created_at >= $2",
                )
                .bind(email.as_str())
                .bind(since.micros())
                .fetch_one(&self.pool)
                .await
                .map_err(other)?;
                Ok(n)
            }

            async fn count_member_flows_since(
                &self,
                member: $crate::MemberId,
                purpose: $crate::FlowPurpose,
                since: $crate::Timestamp,
            ) -> Result<i64, $crate::StoreError> {
                let (n,): (i64,) = ::sqlx::query_as(
                    "SELECT COUNT(*) FROM login_flows \
                     WHERE member_id = $1 AND purpose = $2 AND created_at >= $3",
                )
                .bind(member.as_uuid())
                .bind(purpose.as_str())
                .bind(since.micros())
                .fetch_one(&self.pool)
                .await
                .map_err(other)?;
                Ok(n)
            }

            async fn find_flow(&self, id: $crate::FlowId) -> Result<Option<$crate::FlowRecord>, $crate::StoreError> {
                let sql = format!("SELECT {FLOW_COLUMNS} FROM login_flows WHERE id = $1");
                let row: Option<FlowRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(row.map(flow_record).transpose()?.map(|(f, _)| f))
            }

            async fn reserve_attempt(
                &self,
                flow_id: $crate::FlowId,
                now: $crate::Timestamp,
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
                    .bind(flow_id.as_uuid())
                    .bind(now.micros())
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

            async fn list_login_events(
                &self,
                member_id: $crate::MemberId,
                limit: i64,
                offset: i64,
            ) -> Result<Vec<$crate::LoginEventRecord>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid, i64, String, String, String, String)> = ::sqlx::query_as(
                    "SELECT id, at, ip, device, method, outcome FROM login_events \
                     WHERE member_id = $1 ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3",
                )
                .bind(member_id.as_uuid())
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter()
                    .map(|(id, at, ip, device, method, outcome)| {
                        Ok($crate::LoginEventRecord {
                            id: $crate::EventId::from_uuid(id),
                            at: ts(at),
                            ip,
                            device,
                            method: $crate::LoginMethod::parse(&method)
                                .map_err(|_| corrupt("login_events", "unknown login method"))?,
                            outcome: $crate::LoginOutcome::parse(&outcome)
                                .map_err(|_| corrupt("login_events", "unknown login outcome"))?,
                        })
                    })
                    .collect()
            }

            async fn purge_login_events(
                &self,
                before: $crate::Timestamp,
            ) -> Result<u64, $crate::StoreError> {
                let done = ::sqlx::query("DELETE FROM login_events WHERE at < $1")
                    .bind(before.micros())
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(done.rows_affected())
            }

            async fn device_known(&self, member_id: $crate::MemberId, device_hash: &[u8; 32]) -> Result<bool, $crate::StoreError> {
                let row: Option<(i64,)> = ::sqlx::query_as(
                    "SELECT first_seen FROM known_devices WHERE member_id = $1 AND device_hash = $2",
                )
                .bind(member_id.as_uuid())
                .bind(device_hash.as_slice())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.is_some())
            }

            async fn upgrade_password_hash(&self, member_id: $crate::MemberId, old: &str, new: &str) -> Result<bool, $crate::StoreError> {
                let done = ::sqlx::query("UPDATE members SET password_hash = $3 WHERE id = $1 AND password_hash = $2")
                    .bind(member_id.as_uuid())
                    .bind(old)
                    .bind(new)
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

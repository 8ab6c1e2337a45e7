//! Incident records, timelines and member locks (C28): reads, and the
//! writes that [`crate::Write`]s make.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_incidents {
    ($Db:ty) => {
        type IncidentRow = (
            ::uuid::Uuid,
            String,
            String,
            i64,
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<::uuid::Uuid>,
            i64,
            i64,
            Option<i64>,
        );

        const INCIDENT_COLUMNS: &str = "id, title, status, opened_at, opened_by, closed_at, \
            lessons, notify_template, notify_audience, notify_cursor, notify_sent, \
            notify_total, notify_finished_at";

        fn incident_record(
            row: IncidentRow,
        ) -> Result<$crate::incidents::IncidentRecord, $crate::StoreError> {
            let (id, title, status, opened_at, opened_by, closed_at, lessons, template, audience, cursor, sent, total, finished_at) = row;
            let notify = match (template, audience) {
                (Some(template), Some(audience)) => Some($crate::incidents::NotifyProgress {
                    template,
                    audience,
                    cursor: cursor.map($crate::MemberId::from_uuid),
                    sent: u64::try_from(sent).unwrap_or(0),
                    total: u64::try_from(total).unwrap_or(0),
                    finished_at: finished_at.map(ts),
                }),
                _ => None,
            };
            Ok($crate::incidents::IncidentRecord {
                id: $crate::IncidentId::from_uuid(id),
                title,
                status: $crate::incidents::IncidentStatus::parse(&status)
                    .ok_or_else(|| corrupt("incidents", "unknown status"))?,
                opened_at: ts(opened_at),
                opened_by,
                closed_at: closed_at.map(ts),
                lessons,
                notify,
            })
        }

        /// Fails [`guards::INCIDENT_NOT_OPEN`] unless the incident is open.
        async fn ensure_incident_open(
            tx: &mut Tx,
            incident: $crate::IncidentId,
        ) -> Result<(), $crate::StoreError> {
            let found: Option<(i32,)> =
                ::sqlx::query_as("SELECT 1 FROM incidents WHERE id = $1 AND status = 'open'")
                    .bind(incident.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(other)?;
            if found.is_none() {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::INCIDENT_NOT_OPEN,
                ));
            }
            Ok(())
        }

        async fn open_incident(
            tx: &mut Tx,
            new: &$crate::incidents::NewIncident,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO incidents (id, title, status, opened_at, opened_by) \
                 VALUES ($1, $2, 'open', $3, $4)",
            )
            .bind(new.id.as_uuid())
            .bind(new.title.as_str())
            .bind(new.opened_at.micros())
            .bind(new.opened_by.as_str())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn add_timeline_entry(
            tx: &mut Tx,
            e: &$crate::incidents::NewTimelineEntry,
        ) -> Result<(), $crate::StoreError> {
            ensure_incident_open(tx, e.incident).await?;
            ::sqlx::query(
                "INSERT INTO incident_timeline (id, incident_id, at, actor, action, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(e.id.as_uuid())
            .bind(e.incident.as_uuid())
            .bind(e.at.micros())
            .bind(e.actor.as_str())
            .bind(e.action.as_str())
            .bind(e.detail.as_str())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn close_incident(
            tx: &mut Tx,
            incident: $crate::IncidentId,
            lessons: &str,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE incidents SET status = 'closed', closed_at = $2, lessons = $3 \
                 WHERE id = $1 AND status = 'open'",
            )
            .bind(incident.as_uuid())
            .bind(at.micros())
            .bind(lessons)
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::INCIDENT_NOT_OPEN,
                ));
            }
            Ok(())
        }

        async fn end_all_member_sessions(tx: &mut Tx) -> Result<(), $crate::StoreError> {
            ::sqlx::query("DELETE FROM sessions WHERE member_id IS NOT NULL")
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn end_all_staff_sessions(tx: &mut Tx) -> Result<(), $crate::StoreError> {
            ::sqlx::query("DELETE FROM staff_sessions")
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn lock_member_for_incident(
            tx: &mut Tx,
            member: $crate::MemberId,
            incident: $crate::IncidentId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let found: Option<(i32,)> = ::sqlx::query_as("SELECT 1 FROM members WHERE id = $1")
                .bind(member.as_uuid())
                .fetch_optional(&mut **tx)
                .await
                .map_err(other)?;
            if found.is_none() {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::MEMBER_NOT_FOUND,
                ));
            }
            ::sqlx::query(
                "INSERT INTO member_locks (member_id, incident_id, locked_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (member_id) DO NOTHING",
            )
            .bind(member.as_uuid())
            .bind(incident.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn unlock_member(
            tx: &mut Tx,
            member: $crate::MemberId,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query("DELETE FROM member_locks WHERE member_id = $1")
                .bind(member.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn ensure_not_locked(
            tx: &mut Tx,
            member: $crate::MemberId,
        ) -> Result<(), $crate::StoreError> {
            let found: Option<(i32,)> =
                ::sqlx::query_as("SELECT 1 FROM member_locks WHERE member_id = $1")
                    .bind(member.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(other)?;
            if found.is_some() {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::MEMBER_LOCKED,
                ));
            }
            Ok(())
        }

        async fn remove_all_passwords(
            tx: &mut Tx,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "UPDATE members SET password_hash = NULL, password_changed_at = $1 \
                 WHERE password_hash IS NOT NULL",
            )
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn start_notify(
            tx: &mut Tx,
            incident: $crate::IncidentId,
            template: &str,
            audience: &str,
            total: u64,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE incidents SET notify_template = $2, notify_audience = $3, \
                 notify_cursor = NULL, notify_sent = 0, notify_total = $4, \
                 notify_finished_at = NULL WHERE id = $1 AND status = 'open'",
            )
            .bind(incident.as_uuid())
            .bind(template)
            .bind(audience)
            .bind(i64::try_from(total).unwrap_or(i64::MAX))
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::INCIDENT_NOT_OPEN,
                ));
            }
            Ok(())
        }

        async fn advance_notify(
            tx: &mut Tx,
            incident: $crate::IncidentId,
            from: Option<$crate::MemberId>,
            to: $crate::MemberId,
            sent: u64,
        ) -> Result<(), $crate::StoreError> {
            let sent = i64::try_from(sent).unwrap_or(i64::MAX);
            let done = match from {
                Some(from) => ::sqlx::query(
                    "UPDATE incidents SET notify_cursor = $2, notify_sent = notify_sent + $3 \
                     WHERE id = $1 AND status = 'open' AND notify_finished_at IS NULL \
                     AND notify_cursor = $4",
                )
                .bind(incident.as_uuid())
                .bind(to.as_uuid())
                .bind(sent)
                .bind(from.as_uuid())
                .execute(&mut **tx)
                .await,
                None => ::sqlx::query(
                    "UPDATE incidents SET notify_cursor = $2, notify_sent = notify_sent + $3 \
                     WHERE id = $1 AND status = 'open' AND notify_finished_at IS NULL \
                     AND notify_cursor IS NULL",
                )
                .bind(incident.as_uuid())
                .bind(to.as_uuid())
                .bind(sent)
                .execute(&mut **tx)
                .await,
            }
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::NOTIFY_MOVED,
                ));
            }
            Ok(())
        }

        async fn finish_notify(
            tx: &mut Tx,
            incident: $crate::IncidentId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "UPDATE incidents SET notify_finished_at = $2 \
                 WHERE id = $1 AND notify_finished_at IS NULL",
            )
            .bind(incident.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::incidents::IncidentRepo for Repos {
            async fn find_incident(
                &self,
                id: $crate::IncidentId,
            ) -> Result<Option<$crate::incidents::IncidentRecord>, $crate::StoreError> {
                let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
                let row: Option<IncidentRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(incident_record).transpose()
            }

            async fn list_incidents(
                &self,
            ) -> Result<Vec<$crate::incidents::IncidentRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY opened_at DESC, id DESC"
                );
                let rows: Vec<IncidentRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(incident_record).collect()
            }

            async fn timeline(
                &self,
                id: $crate::IncidentId,
            ) -> Result<Vec<$crate::incidents::TimelineEntry>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid, i64, String, String, String)> = ::sqlx::query_as(
                    "SELECT id, at, actor, action, detail FROM incident_timeline \
                     WHERE incident_id = $1 ORDER BY at, id",
                )
                .bind(id.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, at, actor, action, detail)| $crate::incidents::TimelineEntry {
                        id: $crate::IncidentEntryId::from_uuid(id),
                        at: ts(at),
                        actor,
                        action,
                        detail,
                    })
                    .collect())
            }

            async fn members_after(
                &self,
                after: Option<$crate::MemberId>,
                limit: u32,
            ) -> Result<Vec<$crate::incidents::NotifyTarget>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid, String, String)> = match after {
                    Some(after) => ::sqlx::query_as(
                        "SELECT id, email, language FROM members WHERE id > $1 ORDER BY id LIMIT $2",
                    )
                    .bind(after.as_uuid())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await,
                    None => ::sqlx::query_as(
                        "SELECT id, email, language FROM members ORDER BY id LIMIT $1",
                    )
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await,
                }
                .map_err(other)?;
                rows.into_iter()
                    .map(|(id, email, lang)| {
                        Ok($crate::incidents::NotifyTarget {
                            member: $crate::MemberId::from_uuid(id),
                            email: $crate::EmailAddress::parse(&email)
                                .ok_or_else(|| corrupt("members", "unparseable e-mail"))?,
                            lang: $crate::Lang::parse(&lang)
                                .ok_or_else(|| corrupt("members", "unknown language"))?,
                        })
                    })
                    .collect()
            }

            async fn count_members(&self) -> Result<u64, $crate::StoreError> {
                let (n,): (i64,) = ::sqlx::query_as("SELECT COUNT(*) FROM members")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn is_locked(&self, member: $crate::MemberId) -> Result<bool, $crate::StoreError> {
                let found: Option<(i32,)> =
                    ::sqlx::query_as("SELECT 1 FROM member_locks WHERE member_id = $1")
                        .bind(member.as_uuid())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(other)?;
                Ok(found.is_some())
            }

            async fn live_sessions(
                &self,
                now: $crate::Timestamp,
            ) -> Result<(u64, u64), $crate::StoreError> {
                let (members,): (i64,) = ::sqlx::query_as(
                    "SELECT COUNT(*) FROM sessions WHERE member_id IS NOT NULL \
                     AND idle_expires_at > $1 AND absolute_expires_at > $1",
                )
                .bind(now.micros())
                .fetch_one(&self.pool)
                .await
                .map_err(other)?;
                let (staff,): (i64,) = ::sqlx::query_as(
                    "SELECT COUNT(*) FROM staff_sessions \
                     WHERE idle_expires_at > $1 AND absolute_expires_at > $1",
                )
                .bind(now.micros())
                .fetch_one(&self.pool)
                .await
                .map_err(other)?;
                Ok((
                    u64::try_from(members).unwrap_or(0),
                    u64::try_from(staff).unwrap_or(0),
                ))
            }
        }
    };
}

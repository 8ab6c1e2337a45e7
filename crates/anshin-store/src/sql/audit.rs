//! The audit log: appends (inside [`crate::Changes`] commits), reads,
//! checkpoints and the details purge.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_audit {
    ($Db:ty, $dialect:expr) => {
        type AuditRow = (
            i64,
            i64,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            Vec<u8>,
            Vec<u8>,
            Option<String>,
        );

        /// Appends one entry: takes the next index from the head row (its
        /// lock orders concurrent writers until the commit), computes the
        /// leaf and the new tree head, then leaves the entry, its details
        /// and the head's new right edge in the [`Batch`], to travel with
        /// the bundle's other writes that need no answer. The head row
        /// touches no table a pending write does, so the lock is taken
        /// before they are sent, unless an earlier entry's writes are
        /// pending (then they go first: the frontier is read here).
        async fn append_audit(
            tx: &mut Tx,
            batch: &mut Batch,
            entry: &$crate::AuditEntry,
        ) -> Result<(), $crate::StoreError> {
            if !entry.is_well_formed() {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::AUDIT_ENTRY_INVALID,
                ));
            }
            if batch.text.touches("audit_head") {
                batch.flush(tx).await?;
            }
            let (size, frontier): (i64, Vec<u8>) = ::sqlx::query_as(
                "UPDATE audit_head SET size = size + 1 WHERE id = 1 RETURNING size, frontier",
            )
            .fetch_one(&mut **tx)
            .await
            .map_err(other)?;
            let index = u64::try_from(size - 1)
                .map_err(|_| corrupt("audit_head", "size is not positive"))?;
            let mut tree = $crate::audit::Frontier::from_parts(index, &frontier)
                .ok_or(corrupt("audit_head", "frontier does not fit the size"))?;
            tree.push($crate::audit::leaf_hash(&entry.leaf_bytes(index)));
            let root = tree.root();
            let idx = size - 1;
            batch
                .push(
                    tx,
                    "audit_entries",
                    "INSERT INTO audit_entries (idx, at, actor_kind, actor_id, action, \
                     target_kind, target_id, origin, reason, details_mac, root) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .await?
                .bind(idx)
                .bind(entry.at.micros())
                .bind(entry.actor.kind().as_str())
                .bind(entry.actor.id())
                .bind(entry.action.as_str())
                .bind(entry.target.as_ref().map(|t| t.kind.as_str()))
                .bind(entry.target.as_ref().map(|t| t.id.clone()))
                .bind(entry.origin.clone())
                .bind(entry.reason.clone())
                .bind(entry.details_mac.to_vec())
                .bind(root.to_vec());
            // Entries without details write no details row.
            if let Some(details) = &entry.details {
                batch
                    .push(
                        tx,
                        "audit_details",
                        "INSERT INTO audit_details (idx, details) VALUES ($1, $2)",
                    )
                    .await?
                    .bind(idx)
                    .bind(details.as_str());
            }
            batch
                .push(tx, "audit_head", "UPDATE audit_head SET frontier = $1 WHERE id = 1")
                .await?
                .bind(tree.to_bytes());
            Ok(())
        }

        fn audit_row(row: AuditRow) -> Result<$crate::StoredAuditEntry, $crate::StoreError> {
            const T: &str = "audit_entries";
            let (
                idx,
                at,
                actor_kind,
                actor_id,
                action,
                target_kind,
                target_id,
                origin,
                reason,
                mac,
                root,
                details,
            ) = row;
            let actor_kind =
                $crate::ActorKind::parse(&actor_kind).ok_or(corrupt(T, "unknown actor kind"))?;
            let actor = $crate::Actor::from_parts(actor_kind, actor_id.as_deref())
                .ok_or(corrupt(T, "actor id does not fit its kind"))?;
            let action = $crate::AuditAction::parse(&action).ok_or(corrupt(T, "unknown action"))?;
            let target = match (target_kind, target_id) {
                (Some(kind), Some(id)) => Some($crate::AuditTarget {
                    kind: $crate::TargetKind::parse(&kind)
                        .ok_or(corrupt(T, "unknown target kind"))?,
                    id,
                }),
                (None, None) => None,
                _ => return Err(corrupt(T, "target kind without id")),
            };
            Ok($crate::StoredAuditEntry {
                index: u64::try_from(idx).map_err(|_| corrupt(T, "negative index"))?,
                entry: $crate::AuditEntry {
                    actor,
                    action,
                    target,
                    at: ts(at),
                    origin,
                    reason,
                    details_mac: hash32(T, &mac)?,
                    details,
                },
                root: hash32(T, &root)?,
            })
        }

        #[::async_trait::async_trait]
        impl $crate::AuditRepo for Repos {
            async fn head(&self) -> Result<$crate::AuditHead, $crate::StoreError> {
                let (size, frontier): (i64, Vec<u8>) =
                    ::sqlx::query_as("SELECT size, frontier FROM audit_head WHERE id = 1")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(other)?;
                let size =
                    u64::try_from(size).map_err(|_| corrupt("audit_head", "negative size"))?;
                Ok($crate::AuditHead {
                    size,
                    frontier: $crate::audit::Frontier::from_parts(size, &frontier),
                })
            }

            async fn entries(
                &self,
                from: u64,
                limit: u32,
            ) -> Result<Vec<$crate::StoredAuditEntry>, $crate::StoreError> {
                let rows: Vec<AuditRow> = ::sqlx::query_as(
                    "SELECT e.idx, e.at, e.actor_kind, e.actor_id, e.action, e.target_kind, \
                     e.target_id, e.origin, e.reason, e.details_mac, e.root, d.details \
                     FROM audit_entries e LEFT JOIN audit_details d ON d.idx = e.idx \
                     WHERE e.idx >= $1 ORDER BY e.idx LIMIT $2",
                )
                .bind(i64::try_from(from).unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter().map(audit_row).collect()
            }

            async fn scan(
                &self,
                from: u64,
                limit: u32,
            ) -> Result<$crate::audit::ScanPage, $crate::StoreError> {
                // The same rows as `entries`.
                const COLUMNS: &str = "FROM audit_entries e \
                    LEFT JOIN audit_details d ON d.idx = e.idx \
                    WHERE e.idx >= $1 ORDER BY e.idx LIMIT $2";
                let from = i64::try_from(from).unwrap_or(i64::MAX);
                match $dialect {
                    // The rows aggregated by SQLite into one JSON text
                    // (hashes as hex: JSON holds no bytes).
                    $crate::sql::shops::Dialect::Sqlite => {
                        let sql = format!(
                            "SELECT json_group_array(json_array(idx, at, actor_kind, actor_id, \
                             action, target_kind, target_id, origin, reason, hex(details_mac), \
                             hex(root), details)), max(idx) FROM \
                             (SELECT e.idx, e.at, e.actor_kind, e.actor_id, e.action, \
                              e.target_kind, e.target_id, e.origin, e.reason, e.details_mac, \
                              e.root, d.details {COLUMNS})"
                        );
                        let (text, last): (Option<String>, Option<i64>) =
                            ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                                .bind(from)
                                .bind(i64::from(limit))
                                .fetch_one(&self.pool)
                                .await
                                .map_err(other)?;
                        $crate::audit::ScanPage::new(text, last)
                    }
                    // Rows: PostgreSQL's driver decodes them in the
                    // reading task, and json_agg was slower (bench/README).
                    $crate::sql::shops::Dialect::Postgres => {
                        let sql = format!(
                            "SELECT e.idx, e.at, e.actor_kind, e.actor_id, e.action, \
                             e.target_kind, e.target_id, e.origin, e.reason, \
                             encode(e.details_mac, 'hex'), encode(e.root, 'hex'), d.details \
                             {COLUMNS}"
                        );
                        let rows: Vec<$crate::audit::ScanValues> =
                            ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                                .bind(from)
                                .bind(i64::from(limit))
                                .fetch_all(&self.pool)
                                .await
                                .map_err(other)?;
                        $crate::audit::ScanPage::from_rows(rows)
                    }
                }
            }

            async fn search(
                &self,
                q: &$crate::audit::AuditQuery,
            ) -> Result<Vec<$crate::StoredAuditEntry>, $crate::StoreError> {
                let rows: Vec<AuditRow> = ::sqlx::query_as(
                    "SELECT e.idx, e.at, e.actor_kind, e.actor_id, e.action, e.target_kind, \
                     e.target_id, e.origin, e.reason, e.details_mac, e.root, d.details \
                     FROM audit_entries e LEFT JOIN audit_details d ON d.idx = e.idx \
                     WHERE ($1 IS NULL OR e.actor_id = $1 \
                            OR (e.target_kind IN ('member', 'staff') AND e.target_id = $1)) \
                       AND ($2 IS NULL OR e.target_id = $2) \
                       AND ($3 IS NULL OR e.at >= $3) \
                       AND ($4 IS NULL OR e.at < $4) \
                       AND ($5 IS NULL OR e.idx < $5) \
                     ORDER BY e.idx DESC LIMIT $6",
                )
                .bind(q.person.clone())
                .bind(q.record.clone())
                .bind(q.since.map(|t| t.micros()))
                .bind(q.until.map(|t| t.micros()))
                .bind(q.before_index.map(|i| i64::try_from(i).unwrap_or(i64::MAX)))
                .bind(i64::from(q.limit))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter().map(audit_row).collect()
            }

            async fn purge_details(
                &self,
                before: $crate::Timestamp,
            ) -> Result<u64, $crate::StoreError> {
                let done = ::sqlx::query(
                    "DELETE FROM audit_details WHERE idx IN \
                     (SELECT idx FROM audit_entries WHERE at < $1)",
                )
                .bind(before.micros())
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(done.rows_affected())
            }

            async fn add_checkpoint(
                &self,
                cp: &$crate::StoredCheckpoint,
            ) -> Result<bool, $crate::StoreError> {
                let done = ::sqlx::query(
                    "INSERT INTO audit_checkpoints (size, root, at, note) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (size) DO NOTHING",
                )
                .bind(i64::try_from(cp.size).unwrap_or(i64::MAX))
                .bind(cp.root.to_vec())
                .bind(cp.at.micros())
                .bind(cp.note.clone())
                .execute(&self.pool)
                .await
                .map_err(other)?;
                Ok(done.rows_affected() == 1)
            }

            async fn checkpoints(
                &self,
            ) -> Result<Vec<$crate::StoredCheckpoint>, $crate::StoreError> {
                let rows: Vec<(i64, Vec<u8>, i64, String)> = ::sqlx::query_as(
                    "SELECT size, root, at, note FROM audit_checkpoints ORDER BY size",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter()
                    .map(|(size, root, at, note)| {
                        Ok($crate::StoredCheckpoint {
                            size: u64::try_from(size)
                                .map_err(|_| corrupt("audit_checkpoints", "negative size"))?,
                            root: hash32("audit_checkpoints", &root)?,
                            at: ts(at),
                            note,
                        })
                    })
                    .collect()
            }
        }
    };
}

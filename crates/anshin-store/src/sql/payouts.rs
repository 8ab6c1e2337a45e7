//! Creator payouts (see [`crate::payouts`]): every guard is one statement
//! whose `WHERE` says what must hold, or a check made under the shop's
//! row lock.

pub const PAYOUT_COLUMNS: &str = "id, shop_id, member_id, status, amount_yen, fee_yen, batch_id, \
     batch_line, failure_code, created_at, updated_at, completed_at";

pub const BATCH_COLUMNS: &str =
    "id, created_by, created_at, transfer_date, items, total_yen, exported_at";

/// The retention listing (C16): completed payouts not yet purged,
/// completed at or before `$1`, after the position `($2, $3)` (completion
/// time, id), in that order, at most `$4`; a row value, for the reason
/// given at [`super::shipping::SHIPMENTS_TO_PURGE`].
pub const PAYOUTS_TO_PURGE: &str = "SELECT id, completed_at FROM payouts \
     WHERE purged_at IS NULL AND completed_at IS NOT NULL AND completed_at <= $1 \
     AND (completed_at, id) > ($2, $3) ORDER BY completed_at, id LIMIT $4";

/// A batch of payouts' purge (C16), `n` of them, in order: mark the rows
/// (`$1` the time, `$2…` the payouts; returns each marked payout's id),
/// delete the snapshots and the keys of the marked ones (`$1…`), then the
/// audit details (`$1…` the payouts as text). One statement per table
/// per batch, as the shipments'; each finds its rows through an index.
pub fn purge_payout_mark(n: usize) -> String {
    // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
    format!(
        "UPDATE payouts SET purged_at = $1, failure_code = NULL WHERE id IN ({}) \
         AND status IN ('paid', 'failed') AND purged_at IS NULL RETURNING id",
        super::placeholders(2, n)
    )
}
/// See [`purge_payout_mark`].
pub fn purge_payout_rows(n: usize) -> [String; 2] {
    let ids = super::placeholders(1, n);
    [
        // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
        format!("DELETE FROM payout_banks WHERE payout_id IN ({ids})"),
        // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
        format!("DELETE FROM payout_keys WHERE payout_id IN ({ids})"),
    ]
}
/// See [`purge_payout_mark`].
pub fn purge_payout_audit(n: usize) -> String {
    // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
    format!(
        "DELETE FROM audit_details WHERE idx IN (SELECT idx \
         FROM audit_entries WHERE target_kind = 'payout' AND target_id IN ({}))",
        super::placeholders(1, n)
    )
}

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_payouts {
    ($Db:ty) => {
        type PayoutRow = (
            ::uuid::Uuid,
            ::uuid::Uuid,
            ::uuid::Uuid,
            String,
            i64,
            i64,
            Option<::uuid::Uuid>,
            Option<i64>,
            Option<String>,
            i64,
            i64,
            Option<i64>,
        );

        fn payout_record(row: PayoutRow) -> Result<$crate::PayoutRecord, $crate::StoreError> {
            let (
                id,
                shop,
                member,
                status,
                amount,
                fee,
                batch,
                line,
                failure,
                created,
                updated,
                completed,
            ) = row;
            Ok($crate::PayoutRecord {
                id: $crate::PayoutId::from_uuid(id),
                shop_id: $crate::ShopId::from_uuid(shop),
                member_id: $crate::MemberId::from_uuid(member),
                status: $crate::PayoutStatus::parse(&status)
                    .map_err(|_| corrupt("payouts", "status"))?,
                amount: $crate::Yen::new(amount),
                fee: $crate::Yen::new(fee),
                batch_id: batch.map($crate::PayoutBatchId::from_uuid),
                batch_line: line
                    .map(u32::try_from)
                    .transpose()
                    .map_err(|_| corrupt("payouts", "batch_line"))?,
                failure_code: failure,
                created_at: ts(created),
                updated_at: ts(updated),
                completed_at: completed.map(ts),
            })
        }

        type BatchRow = (
            ::uuid::Uuid,
            Option<::uuid::Uuid>,
            i64,
            String,
            i64,
            i64,
            Option<i64>,
        );

        fn batch_record(row: BatchRow) -> Result<$crate::PayoutBatchRecord, $crate::StoreError> {
            let (id, by, created, date, items, total, exported) = row;
            Ok($crate::PayoutBatchRecord {
                id: $crate::PayoutBatchId::from_uuid(id),
                created_by: by.map($crate::StaffId::from_uuid),
                created_at: ts(created),
                transfer_date: date,
                items: u32::try_from(items).map_err(|_| corrupt("payout_batches", "items"))?,
                total: $crate::Yen::new(total),
                exported_at: exported.map(ts),
            })
        }

        fn payout_guard(
            r: Result<<$Db as ::sqlx::Database>::QueryResult, ::sqlx::Error>,
            guard: &'static str,
        ) -> Result<(), $crate::StoreError> {
            if r.map_err(other)?.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition(guard));
            }
            Ok(())
        }

        async fn create_payout(
            tx: &mut Tx,
            p: &$crate::NewPayout,
        ) -> Result<(), $crate::StoreError> {
            // The shop's row lock orders every payout request of the shop,
            // across instances: the second waits for the first's commit
            // and its balance read below then sees the first's hold.
            let r = ::sqlx::query(
                "UPDATE shops SET updated_at = updated_at WHERE id = $1 AND owner_id = $2",
            )
            .bind(p.shop_id.as_uuid())
            .bind(p.member_id.as_uuid())
            .execute(&mut **tx)
            .await;
            payout_guard(r, $crate::guards::SHOP_NOT_FOUND)?;
            let (owed,): (i64,) = ::sqlx::query_as(
                "SELECT CAST(COALESCE(-SUM(amount_yen), 0) AS BIGINT) FROM ledger_postings \
                 WHERE account = 'seller_payable' AND shop_id = $1",
            )
            .bind(p.shop_id.as_uuid())
            .fetch_one(&mut **tx)
            .await
            .map_err(other)?;
            if owed < p.amount.amount() {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::PAYOUT_BALANCE,
                ));
            }
            let at = p.created_at.micros();
            let r = ::sqlx::query(
                "INSERT INTO payouts (id, shop_id, member_id, status, amount_yen, fee_yen, \
                 created_at, updated_at) VALUES ($1, $2, $3, 'requested', $4, $5, $6, $6) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(p.id.as_uuid())
            .bind(p.shop_id.as_uuid())
            .bind(p.member_id.as_uuid())
            .bind(p.amount.amount())
            .bind(p.fee.amount())
            .bind(at)
            .execute(&mut **tx)
            .await;
            payout_guard(r, $crate::guards::PAYOUT_EXISTS)?;
            ::sqlx::query(
                "INSERT INTO payout_keys (payout_id, wrapped_key, kek_version, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(p.id.as_uuid())
            .bind(p.wrapped_key.as_slice())
            .bind(p.kek_version)
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            ::sqlx::query("INSERT INTO payout_banks (payout_id, account) VALUES ($1, $2)")
                .bind(p.id.as_uuid())
                .bind(p.bank.as_slice())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn batch_payouts(
            tx: &mut Tx,
            b: &$crate::NewPayoutBatch,
        ) -> Result<(), $crate::StoreError> {
            let items = i64::try_from(b.payouts.len()).unwrap_or(i64::MAX);
            ::sqlx::query(
                "INSERT INTO payout_batches (id, created_by, created_at, transfer_date, items, \
                 total_yen) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(b.id.as_uuid())
            .bind(b.created_by.map(|s| s.as_uuid()))
            .bind(b.created_at.micros())
            .bind(b.transfer_date.as_str())
            .bind(items)
            .bind(b.total.amount())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            for (n, p) in b.payouts.iter().enumerate() {
                let line = i64::try_from(n).unwrap_or(i64::MAX).saturating_add(1);
                let r = ::sqlx::query(
                    "UPDATE payouts SET status = 'batched', batch_id = $2, batch_line = $3, \
                     updated_at = $4 WHERE id = $1 AND status = 'requested'",
                )
                .bind(p.as_uuid())
                .bind(b.id.as_uuid())
                .bind(line)
                .bind(b.created_at.micros())
                .execute(&mut **tx)
                .await;
                payout_guard(r, $crate::guards::PAYOUT_STATE)?;
            }
            // The batch's sums are the payouts' (what the file's trailer
            // will say), checked here once more.
            let (count, total): (i64, i64) = ::sqlx::query_as(
                "SELECT COUNT(*), CAST(COALESCE(SUM(amount_yen - fee_yen), 0) AS BIGINT) \
                 FROM payouts WHERE batch_id = $1",
            )
            .bind(b.id.as_uuid())
            .fetch_one(&mut **tx)
            .await
            .map_err(other)?;
            if count != items || total != b.total.amount() {
                return Err(corrupt("payout_batches", "totals differ from the payouts"));
            }
            Ok(())
        }

        async fn mark_batch_exported(
            tx: &mut Tx,
            batch: $crate::PayoutBatchId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE payout_batches SET exported_at = COALESCE(exported_at, $2) WHERE id = $1",
            )
            .bind(batch.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await;
            payout_guard(r, $crate::guards::PAYOUT_STATE)
        }

        async fn settle_payout(
            tx: &mut Tx,
            payout: $crate::PayoutId,
            paid: bool,
            failure_code: Option<&str>,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE payouts SET status = $2, failure_code = $3, updated_at = $4, \
                 completed_at = $4 WHERE id = $1 AND status = 'batched'",
            )
            .bind(payout.as_uuid())
            .bind(if paid { "paid" } else { "failed" })
            .bind(failure_code)
            .bind(at.micros())
            .execute(&mut **tx)
            .await;
            payout_guard(r, $crate::guards::PAYOUT_STATE)
        }

        /// The retention purge of one completed payout (C16): destroys its
        /// key (the sealed bank snapshot goes with it, `ON DELETE
        /// CASCADE`, and is deleted first besides), clears the bank's
        /// result code and deletes the details of audit entries about the
        /// payout. The row stays with ids, status, amounts and times, so
        /// the ledger check still finds what it needs. Nothing happens to
        /// a payout already purged or not completed.
        async fn purge_payout(
            tx: &mut Tx,
            payout: $crate::PayoutId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            purge_payouts(tx, &[payout], at).await
        }

        /// [`purge_payout`] for many at once, one statement per table for
        /// each [`$crate::sql::PURGE_CHUNK`] of them.
        async fn purge_payouts(
            tx: &mut Tx,
            payouts: &[$crate::PayoutId],
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            for chunk in payouts.chunks($crate::sql::PURGE_CHUNK) {
                let sql = $crate::sql::payouts::purge_payout_mark(chunk.len());
                let mut q = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql)).bind(at.micros());
                for p in chunk {
                    q = q.bind(p.as_uuid());
                }
                let marked: Vec<(::uuid::Uuid,)> =
                    q.fetch_all(&mut **tx).await.map_err(other)?;
                if marked.is_empty() {
                    continue;
                }
                let n = marked.len();
                for sql in $crate::sql::payouts::purge_payout_rows(n) {
                    let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql));
                    for (id,) in &marked {
                        q = q.bind(*id);
                    }
                    q.execute(&mut **tx).await.map_err(other)?;
                }
                let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(
                    $crate::sql::payouts::purge_payout_audit(n),
                ));
                for (id,) in &marked {
                    q = q.bind(id.to_string());
                }
                q.execute(&mut **tx).await.map_err(other)?;
            }
            Ok(())
        }

        impl Repos {
            /// Payouts matching `clause` (a constant using `$1`, an id or
            /// none), at most `limit` (`$2`).
            async fn payouts_where(
                &self,
                clause: &'static str,
                bind: Option<::uuid::Uuid>,
                limit: u32,
            ) -> Result<Vec<$crate::PayoutRecord>, $crate::StoreError> {
                // nosemgrep: anshin-sql-from-format -- {clause} is a &'static str constant of this file's callers; values are bound
                let sql = format!(
                    "SELECT {PAYOUT_COLUMNS} FROM payouts WHERE {clause} LIMIT $2",
                    PAYOUT_COLUMNS = $crate::sql::payouts::PAYOUT_COLUMNS
                );
                let rows: Vec<PayoutRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(bind)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(payout_record).collect()
            }
        }

        #[::async_trait::async_trait]
        impl $crate::PayoutRepo for Repos {
            async fn payout(
                &self,
                id: $crate::PayoutId,
            ) -> Result<Option<$crate::PayoutRecord>, $crate::StoreError> {
                let mut rows = self
                    .payouts_where("id = $1", Some(id.as_uuid()), 1)
                    .await?;
                Ok(rows.pop())
            }

            async fn payouts_of_shop(
                &self,
                shop: $crate::ShopId,
                limit: u32,
            ) -> Result<Vec<$crate::PayoutRecord>, $crate::StoreError> {
                self.payouts_where(
                    "shop_id = $1 ORDER BY created_at DESC, id DESC",
                    Some(shop.as_uuid()),
                    limit,
                )
                .await
            }

            async fn payouts_with_status(
                &self,
                status: $crate::PayoutStatus,
                limit: u32,
            ) -> Result<Vec<$crate::PayoutRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {PAYOUT_COLUMNS} FROM payouts WHERE status = $1 ORDER BY created_at, id LIMIT $2",
                    PAYOUT_COLUMNS = $crate::sql::payouts::PAYOUT_COLUMNS
                );
                let rows: Vec<PayoutRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(status.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(payout_record).collect()
            }

            async fn payouts_page(
                &self,
                after: Option<$crate::PayoutId>,
                limit: u32,
            ) -> Result<Vec<$crate::PayoutRecord>, $crate::StoreError> {
                self.payouts_where(
                    "($1 IS NULL OR id > $1) ORDER BY id",
                    after.map(|a| a.as_uuid()),
                    limit,
                )
                .await
            }

            async fn payouts_in_batch(
                &self,
                batch: $crate::PayoutBatchId,
            ) -> Result<Vec<$crate::PayoutRecord>, $crate::StoreError> {
                self.payouts_where(
                    "batch_id = $1 ORDER BY batch_line",
                    Some(batch.as_uuid()),
                    u32::MAX,
                )
                .await
            }

            async fn sealed_bank(
                &self,
                id: $crate::PayoutId,
            ) -> Result<Option<$crate::SealedPayoutBank>, $crate::StoreError> {
                let row: Option<(Vec<u8>, Vec<u8>)> = ::sqlx::query_as(
                    "SELECT k.wrapped_key, b.account FROM payout_keys k \
                     JOIN payout_banks b ON b.payout_id = k.payout_id WHERE k.payout_id = $1",
                )
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|(wrapped_key, account)| $crate::SealedPayoutBank {
                    payout_id: id,
                    wrapped_key,
                    account,
                }))
            }

            async fn completed_unpurged(
                &self,
                completed_not_after: $crate::Timestamp,
                after: Option<($crate::Timestamp, $crate::PayoutId)>,
                limit: u32,
            ) -> Result<Vec<($crate::PayoutId, $crate::Timestamp)>, $crate::StoreError> {
                let (from, from_id) = after
                    .map(|(t, id)| (t.micros(), id.as_uuid()))
                    .unwrap_or((i64::MIN, ::uuid::Uuid::nil()));
                let rows: Vec<(::uuid::Uuid, i64)> =
                    ::sqlx::query_as($crate::sql::payouts::PAYOUTS_TO_PURGE)
                .bind(completed_not_after.micros())
                .bind(from)
                .bind(from_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, at)| ($crate::PayoutId::from_uuid(id), ts(at)))
                    .collect())
            }

            async fn batch(
                &self,
                id: $crate::PayoutBatchId,
            ) -> Result<Option<$crate::PayoutBatchRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {BATCH_COLUMNS} FROM payout_batches WHERE id = $1",
                    BATCH_COLUMNS = $crate::sql::payouts::BATCH_COLUMNS
                );
                let row: Option<BatchRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(batch_record).transpose()
            }

            async fn batches(
                &self,
                limit: u32,
            ) -> Result<Vec<$crate::PayoutBatchRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {BATCH_COLUMNS} FROM payout_batches ORDER BY created_at DESC, id DESC LIMIT $1",
                    BATCH_COLUMNS = $crate::sql::payouts::BATCH_COLUMNS
                );
                let rows: Vec<BatchRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(batch_record).collect()
            }
        }
    };
}

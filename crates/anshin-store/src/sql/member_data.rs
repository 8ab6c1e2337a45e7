//! Members' encrypted personal data (C13) and the key maintenance that
//! runs while the site serves.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_member_data {
    ($Db:ty) => {
        /// Every address hangs off the member's key row: locking it orders
        /// one member's concurrent address writes on PostgreSQL (SQLite's
        /// `BEGIN IMMEDIATE` already does), so the one-default index is
        /// never tripped by two writers that each cleared the old default.
        /// `false` if the member has no key (so no addresses).
        async fn lock_member_addresses(tx: &mut Tx, member_id: $crate::MemberId) -> Result<bool, $crate::StoreError> {
            let owner = ::sqlx::query("UPDATE member_keys SET updated_at = updated_at WHERE member_id = $1")
                .bind(member_id.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(owner.rows_affected() > 0)
        }

        type AddressRow = (::uuid::Uuid, ::uuid::Uuid, i64, Vec<u8>, i64, i64);

        fn address_record(row: AddressRow) -> $crate::AddressRecord {
            let (id, member_id, is_default, ciphertext, created_at, updated_at) = row;
            $crate::AddressRecord {
                id: $crate::AddressId::from_uuid(id),
                member_id: $crate::MemberId::from_uuid(member_id),
                is_default: is_default != 0,
                ciphertext,
                created_at: ts(created_at),
                updated_at: ts(updated_at),
            }
        }

        fn key_record((member_id, wrapped_key, kek_version): (::uuid::Uuid, Vec<u8>, i64)) -> $crate::MemberKeyRecord {
            $crate::MemberKeyRecord { member_id: $crate::MemberId::from_uuid(member_id), wrapped_key, kek_version }
        }

        async fn set_phone(
            tx: &mut Tx,
            member: $crate::MemberId,
            ciphertext: &[u8],
            index: &[u8; 32],
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO member_phones (member_id, phone, phone_index, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (member_id) DO UPDATE SET phone = excluded.phone, \
                 phone_index = excluded.phone_index, updated_at = excluded.updated_at",
            )
            .bind(member.as_uuid())
            .bind(ciphertext)
            .bind(index.as_slice())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn add_address(tx: &mut Tx, a: &$crate::AddressRecord) -> Result<(), $crate::StoreError> {
            lock_member_addresses(tx, a.member_id).await?;
            let (count,): (i64,) = ::sqlx::query_as("SELECT COUNT(*) FROM shipping_addresses WHERE member_id = $1")
                .bind(a.member_id.as_uuid())
                .fetch_one(&mut **tx)
                .await
                .map_err(other)?;
            let is_default = a.is_default || count == 0;
            if is_default {
                ::sqlx::query("UPDATE shipping_addresses SET is_default = 0 WHERE member_id = $1 AND is_default = 1")
                    .bind(a.member_id.as_uuid())
                    .execute(&mut **tx)
                    .await
                    .map_err(other)?;
            }
            ::sqlx::query(
                "INSERT INTO shipping_addresses (id, member_id, is_default, address, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(a.id.as_uuid())
            .bind(a.member_id.as_uuid())
            .bind(i64::from(is_default))
            .bind(a.ciphertext.as_slice())
            .bind(a.created_at.micros())
            .bind(a.updated_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn update_address(
            tx: &mut Tx,
            member: $crate::MemberId,
            id: $crate::AddressId,
            ciphertext: &[u8],
            make_default: bool,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let not_found = || $crate::StoreError::Precondition($crate::guards::ADDRESS_NOT_FOUND);
            lock_member_addresses(tx, member).await?;
            let exists: Option<(i64,)> = ::sqlx::query_as(
                "SELECT is_default FROM shipping_addresses WHERE id = $1 AND member_id = $2",
            )
            .bind(id.as_uuid())
            .bind(member.as_uuid())
            .fetch_optional(&mut **tx)
            .await
            .map_err(other)?;
            if exists.is_none() {
                return Err(not_found());
            }
            if make_default {
                ::sqlx::query("UPDATE shipping_addresses SET is_default = 0 WHERE member_id = $1 AND is_default = 1 AND id <> $2")
                    .bind(member.as_uuid())
                    .bind(id.as_uuid())
                    .execute(&mut **tx)
                    .await
                    .map_err(other)?;
            }
            ::sqlx::query(
                "UPDATE shipping_addresses SET address = $3, updated_at = $4, \
                 is_default = CASE WHEN $5 = 1 THEN 1 ELSE is_default END \
                 WHERE id = $1 AND member_id = $2",
            )
            .bind(id.as_uuid())
            .bind(member.as_uuid())
            .bind(ciphertext)
            .bind(at.micros())
            .bind(i64::from(make_default))
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn set_default_address(
            tx: &mut Tx,
            member: $crate::MemberId,
            id: $crate::AddressId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let not_found = || $crate::StoreError::Precondition($crate::guards::ADDRESS_NOT_FOUND);
            if !lock_member_addresses(tx, member).await? {
                return Err(not_found());
            }
            ::sqlx::query(
                "UPDATE shipping_addresses SET is_default = 0 \
                 WHERE member_id = $1 AND is_default = 1 AND id <> $2",
            )
            .bind(member.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            // Only the flag and its time: the ciphertext is not written.
            let set = ::sqlx::query(
                "UPDATE shipping_addresses SET is_default = 1, updated_at = $3 \
                 WHERE id = $2 AND member_id = $1",
            )
            .bind(member.as_uuid())
            .bind(id.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if set.rows_affected() == 0 {
                // Not this member's address: the failed bundle rolls back
                // the cleared flags.
                return Err(not_found());
            }
            Ok(())
        }

        async fn delete_address(tx: &mut Tx, member: $crate::MemberId, id: $crate::AddressId) -> Result<(), $crate::StoreError> {
            // Deleting the default promotes another address: like every
            // default change it must hold the member's address lock, or a
            // concurrent "make default" that cleared flags before the
            // promotion committed trips the one-default index (and two
            // such writers can deadlock) on PostgreSQL.
            if !lock_member_addresses(tx, member).await? {
                return Err($crate::StoreError::Precondition($crate::guards::ADDRESS_NOT_FOUND));
            }
            let gone: Option<(i64,)> = ::sqlx::query_as(
                "DELETE FROM shipping_addresses WHERE id = $1 AND member_id = $2 RETURNING is_default",
            )
            .bind(id.as_uuid())
            .bind(member.as_uuid())
            .fetch_optional(&mut **tx)
            .await
            .map_err(other)?;
            let Some((was_default,)) = gone else {
                return Err($crate::StoreError::Precondition($crate::guards::ADDRESS_NOT_FOUND));
            };
            if was_default != 0 {
                ::sqlx::query(
                    "UPDATE shipping_addresses SET is_default = 1 WHERE id = \
                     (SELECT id FROM shipping_addresses WHERE member_id = $1 ORDER BY created_at, id LIMIT 1)",
                )
                .bind(member.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            }
            Ok(())
        }

        async fn set_bank_account(
            tx: &mut Tx,
            member: $crate::MemberId,
            ciphertext: &[u8],
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO bank_accounts (member_id, account, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (member_id) DO UPDATE SET account = excluded.account, updated_at = excluded.updated_at",
            )
            .bind(member.as_uuid())
            .bind(ciphertext)
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn remove_phone(tx: &mut Tx, member: $crate::MemberId) -> Result<(), $crate::StoreError> {
            ::sqlx::query("DELETE FROM member_phones WHERE member_id = $1")
                .bind(member.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn remove_bank_account(tx: &mut Tx, member: $crate::MemberId) -> Result<(), $crate::StoreError> {
            ::sqlx::query("DELETE FROM bank_accounts WHERE member_id = $1")
                .bind(member.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn keep_reauth_draft(tx: &mut Tx, d: &$crate::ReauthDraftRecord) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO reauth_drafts (session_id, kind, member_id, draft, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (session_id, kind) DO UPDATE SET member_id = excluded.member_id, \
                 draft = excluded.draft, expires_at = excluded.expires_at",
            )
            .bind(d.session.as_uuid())
            .bind(d.kind.as_str())
            .bind(d.member_id.as_uuid())
            .bind(d.ciphertext.as_slice())
            .bind(d.expires_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn drop_reauth_draft(tx: &mut Tx, session: $crate::SessionId, kind: &str) -> Result<(), $crate::StoreError> {
            ::sqlx::query("DELETE FROM reauth_drafts WHERE session_id = $1 AND kind = $2")
                .bind(session.as_uuid())
                .bind(kind)
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn shred(tx: &mut Tx, member: $crate::MemberId) -> Result<(), $crate::StoreError> {
            ::sqlx::query("DELETE FROM member_keys WHERE member_id = $1")
                .bind(member.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::MemberDataRepo for Repos {
            async fn member_key(&self, member_id: $crate::MemberId) -> Result<Option<$crate::MemberKeyRecord>, $crate::StoreError> {
                let row: Option<(::uuid::Uuid, Vec<u8>, i64)> = ::sqlx::query_as(
                    "SELECT member_id, wrapped_key, kek_version FROM member_keys WHERE member_id = $1",
                )
                .bind(member_id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(key_record))
            }

            async fn create_member_key(
                &self,
                member_id: $crate::MemberId,
                wrapped: &[u8],
                kek_version: i64,
                now: $crate::Timestamp,
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
                .bind(now.micros())
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
                .bind(member_id.as_uuid())
                .bind(wrapped)
                .bind(kek_version)
                .bind(now.micros())
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                tx.commit().await.map_err(other)?;
                $crate::MemberDataRepo::member_key(self, member_id)
                    .await?
                    .ok_or(corrupt("member_keys", "key vanished after insert"))
            }

            async fn phone(&self, member_id: $crate::MemberId) -> Result<Option<Vec<u8>>, $crate::StoreError> {
                let row: Option<(Vec<u8>,)> = ::sqlx::query_as("SELECT phone FROM member_phones WHERE member_id = $1")
                    .bind(member_id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(row.map(|(c,)| c))
            }

            async fn members_with_phone(&self, index: &[u8; 32]) -> Result<Vec<$crate::MemberId>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid,)> = ::sqlx::query_as(
                    "SELECT member_id FROM member_phones WHERE phone_index = $1 ORDER BY member_id",
                )
                .bind(index.as_slice())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows.into_iter().map(|(m,)| $crate::MemberId::from_uuid(m)).collect())
            }

            async fn list_addresses(&self, member_id: $crate::MemberId) -> Result<Vec<$crate::AddressRecord>, $crate::StoreError> {
                let rows: Vec<AddressRow> = ::sqlx::query_as(
                    "SELECT id, member_id, is_default, address, created_at, updated_at \
                     FROM shipping_addresses WHERE member_id = $1 ORDER BY created_at, id",
                )
                .bind(member_id.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows.into_iter().map(address_record).collect())
            }

            async fn bank_account(&self, member_id: $crate::MemberId) -> Result<Option<Vec<u8>>, $crate::StoreError> {
                let row: Option<(Vec<u8>,)> = ::sqlx::query_as("SELECT account FROM bank_accounts WHERE member_id = $1")
                    .bind(member_id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(row.map(|(c,)| c))
            }

            async fn reauth_draft(
                &self,
                session: $crate::SessionId,
                kind: &str,
                now: $crate::Timestamp,
            ) -> Result<Option<$crate::ReauthDraftRecord>, $crate::StoreError> {
                let row: Option<(::uuid::Uuid, Vec<u8>, i64)> = ::sqlx::query_as(
                    "SELECT member_id, draft, expires_at FROM reauth_drafts \
                     WHERE session_id = $1 AND kind = $2 AND expires_at > $3",
                )
                .bind(session.as_uuid())
                .bind(kind)
                .bind(now.micros())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|(member_id, ciphertext, expires_at)| $crate::ReauthDraftRecord {
                    session,
                    member_id: $crate::MemberId::from_uuid(member_id),
                    kind: kind.to_owned(),
                    ciphertext,
                    expires_at: ts(expires_at),
                }))
            }

            async fn kek_usage(&self) -> Result<Vec<$crate::KekUsage>, $crate::StoreError> {
                let rows: Vec<(i64, i64, i64)> = ::sqlx::query_as(
                    "SELECT k.kek_version, COUNT(*), \
                     CAST(COALESCE(SUM((SELECT COUNT(*) FROM member_phones p WHERE p.member_id = k.member_id) \
                       + (SELECT COUNT(*) FROM shipping_addresses a WHERE a.member_id = k.member_id) \
                       + (SELECT COUNT(*) FROM bank_accounts b WHERE b.member_id = k.member_id) \
                       + (SELECT COUNT(*) FROM order_shipping o WHERE o.member_id = k.member_id)), 0) AS BIGINT) \
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
                now: $crate::Timestamp,
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
                .bind(now.micros())
                .execute(&mut *tx)
                .await
                .map_err(other)?;
                // Shipment and payout keys (ADR 0015, ADR 0020) are wrapped
                // by the ring too and are not rewrapped yet: a version that
                // still wraps one stays in use until the shipment is purged.
                let (data_keys,): (i64,) = ::sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM member_keys WHERE kek_version = $1) \
                     + (SELECT COUNT(*) FROM shipment_keys WHERE kek_version = $1) \
                     + (SELECT COUNT(*) FROM payout_keys WHERE kek_version = $1) \
                     + (SELECT COUNT(*) FROM vdp_reports WHERE kek_version = $1)",
                )
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
                after: Option<$crate::MemberId>,
                limit: u32,
            ) -> Result<Vec<$crate::MemberKeyRecord>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid, Vec<u8>, i64)> = ::sqlx::query_as(
                    "SELECT member_id, wrapped_key, kek_version FROM member_keys \
                     WHERE ($1 IS NULL OR member_id > $1) ORDER BY member_id LIMIT $2",
                )
                .bind(after.map(|m| m.as_uuid()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows.into_iter().map(key_record).collect())
            }

            async fn replace_wrapped_keys(&self, rewraps: &[$crate::Rewrap], now: $crate::Timestamp) -> Result<u64, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let mut applied = 0u64;
                for r in rewraps {
                    let done = ::sqlx::query(
                        "UPDATE member_keys SET wrapped_key = $3, kek_version = $4, updated_at = $5 \
                         WHERE member_id = $1 AND wrapped_key = $2",
                    )
                    .bind(r.member_id.as_uuid())
                    .bind(r.old.as_slice())
                    .bind(r.new.as_slice())
                    .bind(r.new_version)
                    .bind(now.micros())
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
                // nosemgrep: anshin-sql-from-format -- {id}, {col} and {t} are names from the closed SealedTable enum; values are bound
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
                    .map(|(id, member_id, ciphertext)| $crate::SealedValue {
                        id,
                        member_id: $crate::MemberId::from_uuid(member_id),
                        ciphertext,
                    })
                    .collect())
            }

            async fn reseal(
                &self,
                table: $crate::SealedTable,
                reseals: &[$crate::Reseal],
                progress: &$crate::ReencryptProgress,
                now: $crate::Timestamp,
            ) -> Result<u64, $crate::StoreError> {
                // nosemgrep: anshin-sql-from-format -- {id}, {col} and {t} are names from the closed SealedTable enum; values are bound
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
                .bind(now.micros())
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
                        let stage = $crate::SealedTable::from_table(&stage)
                            .ok_or(corrupt("reencrypt_progress", "unknown stage"))?;
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
    };
}

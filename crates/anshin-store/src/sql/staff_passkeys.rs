//! Staff passkeys and WebAuthn ceremonies (C21): reads and the purge
//! here; the writes that [`crate::Write`]s make (add, use, remove a
//! passkey; start and finish a ceremony) too, called by `changes`.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_staff_passkeys {
    ($Db:ty) => {
        type StaffPasskeyRow = (::uuid::Uuid, ::uuid::Uuid, Vec<u8>, String, String, i64, Option<i64>);

        const STAFF_PASSKEY_COLUMNS: &str =
            "id, staff_id, credential_id, name, passkey, created_at, last_used_at";

        fn staff_passkey_record(row: StaffPasskeyRow) -> $crate::staff::StaffPasskeyRecord {
            let (id, staff_id, credential_id, name, passkey, created_at, last_used_at) = row;
            $crate::staff::StaffPasskeyRecord {
                id: $crate::StaffPasskeyId::from_uuid(id),
                staff_id: $crate::StaffId::from_uuid(staff_id),
                credential_id,
                name,
                passkey,
                created_at: ts(created_at),
                last_used_at: last_used_at.map(ts),
            }
        }

        type StaffCeremonyRow = (Vec<u8>, String, Option<::uuid::Uuid>, String, i64, i64);

        fn staff_ceremony_record(
            row: StaffCeremonyRow,
        ) -> Result<$crate::staff::StaffCeremonyRecord, $crate::StoreError> {
            let (id_hash, kind, staff_id, state, created_at, expires_at) = row;
            Ok($crate::staff::StaffCeremonyRecord {
                id_hash: hash32("staff_webauthn_ceremonies", &id_hash)?,
                kind: $crate::staff::CeremonyKind::parse(&kind)
                    .ok_or_else(|| corrupt("staff_webauthn_ceremonies", "unknown kind"))?,
                staff_id: staff_id.map($crate::StaffId::from_uuid),
                state,
                created_at: ts(created_at),
                expires_at: ts(expires_at),
            })
        }

        async fn start_staff_ceremony(
            tx: &mut Tx,
            new: &$crate::staff::NewStaffCeremony,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO staff_webauthn_ceremonies (id_hash, kind, staff_id, state, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(new.id_hash.as_slice())
            .bind(new.kind.as_str())
            .bind(new.staff_id.map(|s| s.as_uuid()))
            .bind(&new.state)
            .bind(new.created_at.micros())
            .bind(new.expires_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn use_staff_ceremony(
            tx: &mut Tx,
            id_hash: &[u8; 32],
            kind: $crate::staff::CeremonyKind,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            // Deleting is what uses it: of two requests finishing the same
            // ceremony, only one deletes the row.
            let done = ::sqlx::query(
                "DELETE FROM staff_webauthn_ceremonies WHERE id_hash = $1 AND kind = $2 \
                 AND expires_at > $3",
            )
            .bind(id_hash.as_slice())
            .bind(kind.as_str())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::CEREMONY_USED));
            }
            Ok(())
        }

        async fn add_staff_passkey(
            tx: &mut Tx,
            new: &$crate::staff::NewStaffPasskey,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query(
                "INSERT INTO staff_passkeys (id, staff_id, credential_id, name, passkey, created_at) \
                 SELECT $1, id, $3, $4, $5, $6 FROM staff_accounts WHERE id = $2 AND status = 'active'",
            )
            .bind(new.id.as_uuid())
            .bind(new.staff_id.as_uuid())
            .bind(new.credential_id.as_slice())
            .bind(&new.name)
            .bind(&new.passkey)
            .bind(new.created_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(|e| match other(e) {
                $crate::StoreError::Conflict(_) => {
                    $crate::StoreError::Conflict("this credential is registered already")
                }
                e => e,
            })
            .and_then(|done| {
                if done.rows_affected() == 0 {
                    Err($crate::StoreError::Precondition($crate::guards::STAFF_NOT_FOUND))
                } else {
                    Ok(())
                }
            })
        }

        async fn use_staff_passkey(
            tx: &mut Tx,
            staff: $crate::StaffId,
            credential_id: &[u8],
            read: &str,
            passkey: &str,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query(
                "UPDATE staff_passkeys SET passkey = $3, last_used_at = $4 \
                 WHERE staff_id = $1 AND credential_id = $2 AND passkey = $5",
            )
            .bind(staff.as_uuid())
            .bind(credential_id)
            .bind(passkey)
            .bind(at.micros())
            .bind(read)
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::PASSKEY_NOT_FOUND));
            }
            Ok(())
        }

        async fn remove_staff_passkey(
            tx: &mut Tx,
            staff: $crate::StaffId,
            passkey: $crate::StaffPasskeyId,
        ) -> Result<(), $crate::StoreError> {
            let done = ::sqlx::query("DELETE FROM staff_passkeys WHERE id = $1 AND staff_id = $2")
                .bind(passkey.as_uuid())
                .bind(staff.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::PASSKEY_NOT_FOUND));
            }
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::staff::StaffPasskeyRepo for Repos {
            async fn list_staff_passkeys(
                &self,
                staff: $crate::StaffId,
            ) -> Result<Vec<$crate::staff::StaffPasskeyRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {STAFF_PASSKEY_COLUMNS} FROM staff_passkeys WHERE staff_id = $1 \
                     ORDER BY created_at, id"
                );
                let rows: Vec<StaffPasskeyRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(staff.as_uuid())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(rows.into_iter().map(staff_passkey_record).collect())
            }

            async fn find_staff_passkey_by_credential(
                &self,
                credential_id: &[u8],
            ) -> Result<Option<$crate::staff::StaffPasskeyRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {STAFF_PASSKEY_COLUMNS} FROM staff_passkeys WHERE credential_id = $1"
                );
                let row: Option<StaffPasskeyRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(credential_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(row.map(staff_passkey_record))
            }

            async fn find_staff_ceremony(
                &self,
                id_hash: &[u8; 32],
                now: $crate::Timestamp,
            ) -> Result<Option<$crate::staff::StaffCeremonyRecord>, $crate::StoreError> {
                let row: Option<StaffCeremonyRow> = ::sqlx::query_as(
                    "SELECT id_hash, kind, staff_id, state, created_at, expires_at \
                     FROM staff_webauthn_ceremonies WHERE id_hash = $1 AND expires_at > $2",
                )
                .bind(id_hash.as_slice())
                .bind(now.micros())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                row.map(staff_ceremony_record).transpose()
            }

            async fn purge_expired_staff_ceremonies(
                &self,
                now: $crate::Timestamp,
            ) -> Result<u64, $crate::StoreError> {
                let done = ::sqlx::query("DELETE FROM staff_webauthn_ceremonies WHERE expires_at <= $1")
                    .bind(now.micros())
                    .execute(&self.pool)
                    .await
                    .map_err(other)?;
                Ok(done.rows_affected())
            }
        }
    };
}

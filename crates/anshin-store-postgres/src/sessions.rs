//! `SessionRepo` on PostgreSQL.

use anshin_store::{NewSession, SessionRecord, SessionRepo, StoreError};
use sqlx::PgPool;
use uuid::Uuid;

use crate::other;

#[derive(Debug, Clone)]
pub(crate) struct Sessions {
    pool: PgPool,
}

impl Sessions {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

type Row = (Uuid, Vec<u8>, i64, i64, i64, i64);

fn record(row: Row) -> Result<SessionRecord, StoreError> {
    let (id, hash, created_at, last_seen_at, absolute_expires_at, idle_expires_at) = row;
    let token_hash = <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| StoreError::Corrupt {
        table: "sessions",
        reason: "token_hash is not 32 bytes",
    })?;
    Ok(SessionRecord {
        id,
        token_hash,
        created_at,
        last_seen_at,
        absolute_expires_at,
        idle_expires_at,
    })
}

#[async_trait::async_trait]
impl SessionRepo for Sessions {
    async fn create(&self, new: &NewSession) -> Result<(), StoreError> {
        sqlx::query(anshin_store::sessions::sql::INSERT)
            .bind(new.id)
            .bind(new.token_hash.as_slice())
            .bind(new.created_at)
            .bind(new.absolute_expires_at)
            .bind(new.idle_expires_at)
            .execute(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    StoreError::Conflict("session token hash already exists")
                }
                e => other(e),
            })?;
        Ok(())
    }

    async fn find_live(
        &self,
        token_hash: &[u8; 32],
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<Row> = sqlx::query_as(anshin_store::sessions::sql::FIND_LIVE)
            .bind(token_hash.as_slice())
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(other)?;
        row.map(record).transpose()
    }

    async fn touch(&self, id: Uuid, now: i64, idle_expires_at: i64) -> Result<(), StoreError> {
        sqlx::query(anshin_store::sessions::sql::TOUCH)
            .bind(id)
            .bind(now)
            .bind(idle_expires_at)
            .execute(&self.pool)
            .await
            .map_err(other)?;
        Ok(())
    }

    async fn delete(&self, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query(anshin_store::sessions::sql::DELETE)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(other)?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(anshin_store::sessions::sql::PURGE_EXPIRED)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(other)?;
        Ok(done.rows_affected())
    }
}

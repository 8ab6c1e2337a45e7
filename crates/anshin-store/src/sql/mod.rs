//! The repository implementations, written once in portable SQL and
//! expanded by each backend crate for its own sqlx driver
//! (`anshin_store::portable_repos!(sqlx::Sqlite, "BEGIN IMMEDIATE")`).
//!
//! The SQL text is the same on both databases (`$n` parameters,
//! `RETURNING`, `ON CONFLICT`); only the driver types differ, which is what
//! the macro parameter supplies. One source means the backends cannot
//! drift in behaviour; the conformance suite still runs on each. One file
//! per aggregate, each a macro that the one below expands:
//! [`sessions`], [`accounts`], [`throttle`], [`challenges`], [`mail`],
//! [`member_data`], [`jobs`], [`shops`], [`orders`], [`audit`], [`incidents`], [`alerts`], [`shipping`], [`payouts`], and [`changes`] (the one write path, which
//! applies every [`crate::Write`] of a bundle in one transaction, sending
//! the writes that need no answer together: [`batch`]).
//!
//! `$begin` is how a writing transaction starts: SQLite needs `BEGIN
//! IMMEDIATE` so that a transaction that reads before it writes takes the
//! write lock up front (otherwise two of them deadlock and one fails with
//! SQLITE_BUSY instead of waiting).
//!
//! Never build SQL from input here: the only `format!`ed statements join
//! constant column lists or names from closed enums (`SealedTable`).

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod batch;
pub mod centre;
pub mod challenges;
pub mod changes;
pub mod incidents;
pub mod jobs;
pub mod mail;
pub mod member_data;
pub mod orders;
pub mod payouts;
pub mod selfscan;
pub mod sessions;
pub mod shipping;
pub mod shops;
pub mod staff;
pub mod staff_passkeys;
pub mod throttle;
pub mod vdp;

/// Whether a database error code means the database is out of reach
/// for now rather than a fault of the statement, so the error is
/// [`crate::StoreError::Unavailable`] (a 503 the client may retry):
///
/// * PostgreSQL ending the connection (class 57P: 57P01 a shutdown or
///   `pg_terminate_backend`, 57P02 a crash, 57P03 still starting, 57P04
///   the database dropped) or a connection exception (class 08): the
///   server went away, as with an I/O error; or a lock another session
///   held past the `lock_timeout` (55P03);
/// * SQLite busy (primary code 5, whatever its extended code): another
///   connection (a backup, an operator's command, another process) held
///   the write lock past the busy timeout.
pub fn means_unavailable(dialect: shops::Dialect, code: &str) -> bool {
    match dialect {
        shops::Dialect::Postgres => {
            code.starts_with("57P") || code.starts_with("08") || code == "55P03"
        }
        shops::Dialect::Sqlite => code.parse::<u32>().is_ok_and(|c| c & 0xff == 5),
    }
}

/// Expands to `pub(crate) struct Repos` implementing every repository
/// trait and `Repos::commit` for the given sqlx database type; `$dialect`
/// (a [`shops::Dialect`]) picks what differs: the catalog search's syntax,
/// the JSON aggregate of the audit scan, how writes that need no answer
/// travel together ([`batch`]), and whether a member's row lock is a
/// statement at all.
#[macro_export]
macro_rules! portable_repos {
    ($Db:ty, $begin:literal, $dialect:expr) => {
        #[derive(Debug, Clone)]
        pub(crate) struct Repos {
            pool: ::sqlx::Pool<$Db>,
            /// Connections whose commits do not wait for the disk (SQLite
            /// `synchronous = NORMAL`, PostgreSQL `synchronous_commit =
            /// off`), for the few writes a power cut may undo without
            /// harm (ADR 0023): the attempt reservation, which a durable
            /// commit always follows before any answer, and the mail
            /// lease and sent marks, whose loss only means a retry.
            relaxed: ::sqlx::Pool<$Db>,
        }

        type Tx = ::sqlx::Transaction<'static, $Db>;

        impl Repos {
            pub(crate) fn new(pool: ::sqlx::Pool<$Db>, relaxed: ::sqlx::Pool<$Db>) -> Self {
                Self { pool, relaxed }
            }

            async fn begin(&self) -> Result<Tx, $crate::StoreError> {
                self.pool.begin_with($begin).await.map_err(other)
            }

            pub(crate) async fn key_check(
                &self,
                value: &[u8],
            ) -> Result<Vec<u8>, $crate::StoreError> {
                ::sqlx::query(
                    "INSERT INTO key_check (id, value) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                )
                .bind(value)
                .execute(&self.pool)
                .await
                .map_err(other)?;
                let (stored,): (Vec<u8>,) =
                    ::sqlx::query_as("SELECT value FROM key_check WHERE id = 1")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(other)?;
                Ok(stored)
            }
        }

        fn other(e: ::sqlx::Error) -> $crate::StoreError {
            match e {
                ::sqlx::Error::PoolTimedOut | ::sqlx::Error::Io(_) | ::sqlx::Error::PoolClosed => {
                    $crate::StoreError::Unavailable(e.to_string())
                }
                ::sqlx::Error::Database(d)
                    if d.code()
                        .is_some_and(|c| $crate::sql::means_unavailable($dialect, &c)) =>
                {
                    $crate::StoreError::Unavailable(d.to_string())
                }
                ::sqlx::Error::Database(d) if d.is_unique_violation() => {
                    $crate::StoreError::Conflict("unique constraint")
                }
                e => $crate::StoreError::Other(e.to_string()),
            }
        }

        fn hash32(table: &'static str, bytes: &[u8]) -> Result<[u8; 32], $crate::StoreError> {
            <[u8; 32]>::try_from(bytes).map_err(|_| $crate::StoreError::Corrupt {
                table,
                reason: "hash is not 32 bytes",
            })
        }

        fn ts(micros: i64) -> $crate::Timestamp {
            $crate::Timestamp::from_micros(micros)
        }

        fn corrupt(table: &'static str, reason: &'static str) -> $crate::StoreError {
            $crate::StoreError::Corrupt { table, reason }
        }

        $crate::__sql_sessions!($Db);
        $crate::__sql_accounts!($Db);
        $crate::__sql_throttle!($Db);
        $crate::__sql_challenges!($Db);
        $crate::__sql_mail!($Db);
        $crate::__sql_member_data!($Db);
        $crate::__sql_jobs!($Db);
        $crate::__sql_shops!($Db, $dialect);
        $crate::__sql_orders!($Db);
        $crate::__sql_staff!($Db);
        $crate::__sql_staff_passkeys!($Db);
        $crate::__sql_audit!($Db, $dialect);
        $crate::__sql_incidents!($Db);
        $crate::__sql_centre!($Db);
        $crate::__sql_alerts!($Db);
        $crate::__sql_selfscan!($Db);
        $crate::__sql_vdp!($Db);
        $crate::__sql_shipping!($Db);
        $crate::__sql_payouts!($Db);
        $crate::__sql_changes!($Db, $dialect);
    };
}

/// How many records one purge statement names at most: a batch's ids
/// are bound one parameter each (SQLite allows 32,766 a statement,
/// PostgreSQL 65,535; the shipments' audit statement binds two per
/// record).
pub const PURGE_CHUNK: usize = 500;

/// `$first, $first + 1, …`, `n` placeholders for a list of bound ids
/// (`IN (…)`): the statement's text depends only on how many, never on a
/// value.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every statement the retention purge runs per batch (C16, C17): the
/// listings and each batch's writes (here for a batch of two). A purge
/// runs them 5,000 times for a million records, so each must find its
/// rows through an index; the backends' tests
/// (`c17_every_purge_statement_finds_its_rows_by_an_index`) ask each
/// database's planner.
pub fn purge_statements() -> Vec<String> {
    let mut all = vec![
        shipping::SHIPMENTS_TO_PURGE.to_owned(),
        shipping::purge_shipment_mark(2),
        shipping::purge_order_shipping(2),
        shipping::purge_shipment_audit(2),
        payouts::PAYOUTS_TO_PURGE.to_owned(),
        payouts::purge_payout_mark(2),
        payouts::purge_payout_audit(2),
    ];
    all.extend(shipping::purge_shipment_rows(2));
    all.extend(payouts::purge_payout_rows(2));
    all
}

#[cfg(test)]
mod tests {
    use super::means_unavailable;
    use super::shops::Dialect;

    #[test]
    fn an_outage_is_told_apart_from_a_fault_of_the_statement() {
        // PostgreSQL: the server ending the connection, or the connection
        // failing; not a constraint, a serialization failure or a syntax
        // error.
        for code in [
            "57P01", "57P02", "57P03", "57P04", "08000", "08006", "55P03",
        ] {
            assert!(means_unavailable(Dialect::Postgres, code), "{code}");
        }
        for code in ["23505", "40001", "40P01", "42601", "57014", "55000", "5"] {
            assert!(!means_unavailable(Dialect::Postgres, code), "{code}");
        }
        // SQLite: busy, as a bare code or with its extended code
        // (BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT); not a constraint
        // (19, 2067 unique), a locked table (6), a full disk (13) or
        // corruption (11).
        for code in ["5", "261", "517", "773"] {
            assert!(means_unavailable(Dialect::Sqlite, code), "{code}");
        }
        for code in ["1", "6", "11", "13", "19", "2067", "57P01", ""] {
            assert!(!means_unavailable(Dialect::Sqlite, code), "{code}");
        }
    }
}

//! What anshin needs from a database, as traits, and the conformance suite
//! that every backend must pass.
//!
//! The application talks only to these traits; `anshin-store-sqlite` and
//! `anshin-store-postgres` implement them. Nothing here knows about HTTP,
//! mail or cryptography, and nothing here may hold personal data in clear:
//! fields that carry it arrive already encrypted by `anshin-vault`.
//!
//! Timestamps are UTC microseconds since the Unix epoch (`i64`), taken from
//! the application's injected clock, never from the database server's own
//! clock, so tests can move time and several instances agree.

pub mod conformance;
mod error;
pub mod sessions;

use std::fmt::Debug;

pub use error::StoreError;
pub use sessions::{NewSession, SessionRecord, SessionRepo};

/// Which database engine a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// State of the schema compared with the migrations built into this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Migrations embedded in the binary.
    pub known: usize,
    /// Embedded migrations that the database has applied successfully.
    pub applied: usize,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.applied == self.known
    }
}

/// A database: health, schema and the repositories.
#[async_trait::async_trait]
pub trait Store: Send + Sync + Debug {
    fn backend(&self) -> Backend;

    /// A round trip to the database; fails fast when it is unreachable.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies the embedded migrations that are not applied yet.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Which embedded migrations the database has applied.
    async fn schema_status(&self) -> Result<SchemaStatus, StoreError>;

    fn sessions(&self) -> &dyn SessionRepo;

    /// Closes the pool; used at shutdown so SQLite checkpoints its WAL.
    async fn close(&self);
}

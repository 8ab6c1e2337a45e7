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

pub mod accounts;
pub mod challenges;
pub mod conformance;
mod error;
pub mod mail;
pub mod member_data;
mod portable;
pub mod sessions;
pub mod throttle;

use std::fmt::Debug;

pub use accounts::{
    AccountRepo, Attempt, FlowPurpose, FlowRecord, LoginEventRecord, LoginWrite, MemberRecord,
    NewFlow, NewLoginEvent, NewMember,
};
pub use challenges::ChallengeRepo;
pub use error::StoreError;
pub use mail::{MailRepo, NewMail, OutboxItem};
pub use member_data::{
    AddressRecord, KekRetirement, KekUsage, MemberDataRepo, MemberKeyRecord, ReencryptProgress,
    Reseal, Rewrap, SealedTable, SealedValue,
};
pub use sessions::{NewSession, SessionLogin, SessionRecord, SessionRepo};
pub use throttle::{LockPolicy, Reservation, ThrottleRepo};

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

    fn accounts(&self) -> &dyn AccountRepo;

    fn mail(&self) -> &dyn MailRepo;

    fn throttle(&self) -> &dyn ThrottleRepo;
    /// Solved bot challenges, each accepted once (C7).
    fn challenges(&self) -> &dyn ChallengeRepo;
    fn member_data(&self) -> &dyn MemberDataRepo;

    /// Stores `value` as the key check if none is stored yet; returns the
    /// stored one (which the caller compares with its own).
    async fn key_check(&self, value: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// Closes the pool; used at shutdown so SQLite checkpoints its WAL.
    async fn close(&self);
}

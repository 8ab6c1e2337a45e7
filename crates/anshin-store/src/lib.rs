//! What anshin needs from a database, as traits, the one write path
//! ([`Changes`]), and the conformance suite every backend must pass.
//!
//! The core talks only to these traits; `anshin-store-sqlite` and
//! `anshin-store-postgres` implement them with the same SQL text
//! ([`sql`]). Reads are repository methods, one trait per aggregate
//! (accounts, sessions, throttle, challenges, mail, member data, jobs,
//! shops, orders).
//! Writes that make up a use case's outcome (rows, mails, audit entries
//! and ledger postings) are a [`Changes`] bundle that
//! [`Store::commit`] applies in one transaction: all of it or none of it.
//! A few atomic guards stay methods of their own because being one
//! statement is their point: counting an attempt before a comparison,
//! accepting a challenge once, claiming a mail or a job lease. The attempt
//! count and the mail's lease and sent marks commit without waiting for
//! the disk, because a power cut undoing them is harmless (ADR 0023);
//! every other commit waits for it.
//!
//! Nothing here knows about HTTP, mail rendering or keys (the one hash it
//! computes is the audit log's unkeyed RFC 6962 SHA-256, in [`audit`],
//! because an entry's index is only known inside its transaction), and
//! nothing here may hold personal data in clear: fields that carry it
//! arrive already encrypted by `anshin-vault`. Timestamps are
//! [`Timestamp`]s from the core's injected clock, never the database's.

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod centre;
pub mod challenges;
mod changes;
pub mod conformance;
mod error;
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
pub mod sql;
pub mod staff;
pub mod throttle;
pub mod vdp;

use std::fmt::Debug;

pub use accounts::{
    AccountRepo, Attempt, FlowRecord, LoginEventRecord, MemberRecord, NewFlow, NewLoginEvent,
    NewMember, TermsConsent,
};
pub use alerts::{AlertRecord, AlertRepo, NewAlert};
pub use anshin_domain::{
    AddressId, AlertId, AttemptId, AttemptStatus, DisplayName, DropoffCodeStatus, Duration,
    EmailAddress, EventId, FlowId, FlowPurpose, ImageFormat, ImageId, IncidentEntryId, IncidentId,
    ItemDescription, ItemId, ItemStatus, ItemTitle, Lang, LedgerAccount, LedgerTxId, LoginMethod,
    LoginOutcome, MailId, MailStatus, MediaKey, MediaKind, MemberId, OrderId, OrderStatus,
    ParcelEventId, ParcelEventKind, PayoutBatchId, PayoutId, PayoutStatus, Price, Quantity,
    RefundId, RefundStatus, SelfScanId, SessionId, ShiftId, ShipmentId, ShipmentStatus,
    ShopDescription, ShopId, ShopName, ShopStatus, StaffId, StaffPasskeyId, StaffRole,
    StaffSessionId, StaffStatus, Stock, TerminalId, Timestamp, VdpNoteId, VdpReportId,
    VoidRequestId, Yen,
};
pub use audit::{
    Actor, ActorKind, AuditAction, AuditHead, AuditQuery, AuditRepo, AuditTarget, StoredAuditEntry,
    StoredCheckpoint, TargetKind,
};
pub use centre::{
    CentreRepo, NewShift, NewTerminal, NewVoidRequest, ShiftEnd, ShiftRecord, TerminalRecord,
    TerminalStatus, VoidRequestRecord, VoidStatus,
};
pub use challenges::ChallengeRepo;
pub use changes::{AuditEntry, Changes, Collection, Write, guards};
pub use error::StoreError;
pub use incidents::{
    IncidentRecord, IncidentRepo, IncidentStatus, NewIncident, NewTimelineEntry, NotifyAudience,
    NotifyProgress, NotifyTarget, TimelineEntry,
};
pub use jobs::{JobLease, JobRecord, JobRepo, JobRun};
pub use mail::{MailRepo, NewMail, OutboxItem};
pub use member_data::{
    AddressRecord, KekRetirement, KekUsage, MemberDataRepo, MemberKeyRecord, ReauthDraftRecord,
    ReencryptProgress, Reseal, Rewrap, SealedTable, SealedValue,
};
pub use orders::{
    AccountSum, AttemptRecord, CartLine, LedgerKind, LedgerTransaction, NewAttempt, NewOrder,
    NewOrderLine, NewRefund, OrderLineRecord, OrderParty, OrderRecord, OrderRepo, Posting,
    RefundRecord, StoredTransaction, Unbalanced,
};
pub use payouts::{
    NewPayout, NewPayoutBatch, PayoutBatchRecord, PayoutRecord, PayoutRepo, SealedPayoutBank,
};
pub use selfscan::{NewSelfScan, SelfScanRecord, SelfScanRepo};
pub use sessions::{NewSession, SessionLogin, SessionRecord, SessionRepo};
pub use shipping::{
    DropoffCodeRecord, NewShipment, ParcelEventRecord, SealedLabel, ShipmentRecord, ShippingRepo,
    ShopShippingRecord,
};
pub use shops::{
    ImageRecord, ItemEdit, ItemRecord, ItemSummary, MediaAccess, NewItem, SearchQuery, SearchSort,
    ShopRecord, ShopRepo,
};
pub use staff::{
    CeremonyKind, NewStaff, NewStaffCeremony, NewStaffPasskey, NewStaffSession,
    StaffCeremonyRecord, StaffPasskeyRecord, StaffPasskeyRepo, StaffRecord, StaffRepo,
    StaffSessionRecord,
};
pub use throttle::{LockPolicy, Reservation, ThrottleRepo, WindowTake};
pub use vdp::{NewVdpNote, NewVdpReport, VdpNoteRecord, VdpRepo, VdpReportRecord, VdpStatus};

/// How long a request waits for a pooled connection by default before it
/// fails as unavailable (`database.acquire_timeout_secs`).
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

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

/// How [`Store::flush_after_purge`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// No copy of the purged rows is left in the database's files (SQLite:
    /// the WAL checkpointed and truncated; PostgreSQL: nothing to do).
    Done,
    /// Readers kept the WAL busy past the patience given: the rows are
    /// deleted and committed, but the WAL file may still hold their old
    /// frames until a later flush succeeds.
    Pending,
}

/// A database: health, schema, the repositories and the write path.
#[async_trait::async_trait]
pub trait Store: Send + Sync + Debug {
    fn backend(&self) -> Backend;

    /// A round trip to the database; fails fast when it is unreachable.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies the embedded migrations that are not applied yet.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Which embedded migrations the database has applied.
    async fn schema_status(&self) -> Result<SchemaStatus, StoreError>;

    /// Applies every write, mail, audit entry and ledger posting of
    /// `changes` in one transaction, in order. If any of them fails (a
    /// guard such as "this flow is not consumed yet" included), nothing of
    /// the bundle is kept and the error says which step failed.
    async fn commit(&self, changes: &Changes) -> Result<(), StoreError>;

    fn sessions(&self) -> &dyn SessionRepo;

    fn accounts(&self) -> &dyn AccountRepo;

    fn mail(&self) -> &dyn MailRepo;

    fn throttle(&self) -> &dyn ThrottleRepo;

    /// Solved bot challenges, each accepted once (C7).
    fn challenges(&self) -> &dyn ChallengeRepo;

    fn member_data(&self) -> &dyn MemberDataRepo;

    /// Leases and run records of background jobs.
    fn jobs(&self) -> &dyn JobRepo;

    /// Shops, items, images and the catalog search.
    fn shops(&self) -> &dyn ShopRepo;

    /// Carts, orders, payments, refunds and the ledger.
    fn orders(&self) -> &dyn OrderRepo;

    /// Staff accounts and staff console sessions (C21).
    fn staff(&self) -> &dyn StaffRepo;
    /// Staff passkeys and WebAuthn ceremonies under way (C21).
    fn staff_passkeys(&self) -> &dyn StaffPasskeyRepo;
    /// The tamper-evident audit log (C22): reads, checkpoints, the
    /// details purge. Entries are written through [`Changes::audit`].
    fn audit(&self) -> &dyn AuditRepo;
    /// Incident records and timelines (C28).
    fn incidents(&self) -> &dyn IncidentRepo;
    /// The shipping centre's terminals, shifts and void requests (C24,
    /// C25).
    fn centre(&self) -> &dyn CentreRepo;

    /// Security alerts (C29).
    fn alerts(&self) -> &dyn AlertRepo;

    /// The kept reports of the weekly self-scan (C30).
    fn selfscan(&self) -> &dyn SelfScanRepo;

    /// Vulnerability reports and their triage notes (C5).
    fn vdp(&self) -> &dyn VdpRepo;

    /// Anonymous shipping: shipments, drop-off codes, parcel events (C19).
    fn shipping(&self) -> &dyn ShippingRepo;

    /// Creator payouts, their sealed bank snapshots and batches (C16).
    fn payouts(&self) -> &dyn PayoutRepo;

    /// Stores `value` as the key check if none is stored yet; returns the
    /// stored one (which the caller compares with its own).
    async fn key_check(&self, value: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// After a purge (C16, C17, C18): leaves no copy of deleted rows in
    /// the database's own files where the engine allows it. SQLite (with
    /// `secure_delete` on, so deleted cells are already zeroed in the
    /// pages) checkpoints the WAL into the main file and truncates it to
    /// zero bytes, retrying with back-off for up to `patience` while a
    /// reader holds an old snapshot (which pins the WAL); if a reader
    /// outlasts it, [`Flushed::Pending`]: the purged rows are gone for
    /// every reader but old frames may stay in the WAL file until a later
    /// flush (the caller retries; a busy WAL is never an error).
    /// PostgreSQL has nothing to do here: rows are gone for every reader
    /// and `pg_dump` at commit; dead tuples hold only ciphertext (under a
    /// destroyed key, or the buyer's key for the order's address
    /// snapshot) until vacuum reuses the space (ADR 0021, limits).
    async fn flush_after_purge(&self, patience: std::time::Duration)
    -> Result<Flushed, StoreError>;

    /// Closes the pool; used at shutdown so SQLite checkpoints its WAL.
    async fn close(&self);
}

//! Members' personal data (C13), stored only as ciphertext.
//!
//! The app encrypts before it calls these methods and decrypts after; the
//! store sees opaque bytes. Every encrypted table hangs off `member_keys`
//! (the member's wrapped data key) with `ON DELETE CASCADE`, so
//! [`crate::Write::Shred`] deletes the key and every ciphertext under it
//! in one statement.
//!
//! The key-maintenance methods (`wrapped_keys_after`, `replace_wrapped_keys`,
//! `sealed_after`, `reseal`) walk rows in id order in batches and write with
//! compare-and-swap (`WHERE value = old`), so they run while the site serves
//! requests: a member who changes a value meanwhile keeps their change, and
//! the maintenance pass skips that row (it is fresh anyway).
//!
//! KEK versions are recorded in `kek_versions` as data keys are wrapped
//! under them, and marked retired there by `keys retire`. Both writes
//! lock that version's row, so "no data key uses version N" and "N is
//! retired" are decided atomically: a data key can never be stored under
//! a version retired a moment before (a server still holding an old ring),
//! and a version cannot be retired while a key wrapped under it is being
//! stored.

use anshin_domain::{AddressId, MemberId, SessionId, Timestamp};
use uuid::Uuid;

use crate::StoreError;

/// The tables holding encrypted member data, in the order `keys
/// reencrypt` walks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    Phones,
    Addresses,
    BankAccounts,
    /// The shipping address an order was placed with, sealed under the
    /// buyer's data key (issue 13).
    OrderShipping,
}

impl SealedTable {
    pub const ALL: [SealedTable; 4] = [
        SealedTable::Phones,
        SealedTable::Addresses,
        SealedTable::BankAccounts,
        SealedTable::OrderShipping,
    ];

    /// The table's name: also the `table` of the field's associated data.
    pub fn table(self) -> &'static str {
        match self {
            SealedTable::Phones => "member_phones",
            SealedTable::Addresses => "shipping_addresses",
            SealedTable::BankAccounts => "bank_accounts",
            SealedTable::OrderShipping => "order_shipping",
        }
    }

    /// The encrypted column: also the `column` of the associated data.
    pub fn column(self) -> &'static str {
        match self {
            SealedTable::Phones => "phone",
            SealedTable::Addresses | SealedTable::OrderShipping => "address",
            SealedTable::BankAccounts => "account",
        }
    }

    /// The primary-key column (the associated data's row id).
    pub fn id_column(self) -> &'static str {
        match self {
            SealedTable::Phones | SealedTable::BankAccounts => "member_id",
            SealedTable::Addresses => "id",
            SealedTable::OrderShipping => "order_id",
        }
    }

    pub fn from_table(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.table() == name)
    }
}

/// One encrypted value and where it lives.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// The row's primary key (the member id for one-per-member tables).
    pub id: Uuid,
    pub member_id: MemberId,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedValue")
            .field("id", &self.id)
            .field("member_id", &self.member_id)
            .finish_non_exhaustive()
    }
}

/// A stored shipping address (still encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRecord {
    pub id: AddressId,
    pub member_id: MemberId,
    pub is_default: bool,
    pub ciphertext: Vec<u8>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A form a member typed, kept (sealed by the app under the member's data
/// key) while they confirm who they are: one per session and kind, gone
/// with the session, unreadable after `expires_at`.
#[derive(Clone, PartialEq, Eq)]
pub struct ReauthDraftRecord {
    pub session: SessionId,
    pub member_id: MemberId,
    /// Which form (`bank_account`).
    pub kind: String,
    pub ciphertext: Vec<u8>,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for ReauthDraftRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReauthDraftRecord")
            .field("session", &self.session)
            .field("member_id", &self.member_id)
            .field("kind", &self.kind)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A member's wrapped data key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberKeyRecord {
    pub member_id: MemberId,
    pub wrapped_key: Vec<u8>,
    pub kek_version: i64,
}

/// One compare-and-swap of a wrapped key (rotation).
#[derive(Debug, Clone)]
pub struct Rewrap {
    pub member_id: MemberId,
    pub old: Vec<u8>,
    pub new: Vec<u8>,
    pub new_version: i64,
}

/// One compare-and-swap of a ciphertext (re-encryption).
#[derive(Debug, Clone)]
pub struct Reseal {
    pub id: Uuid,
    pub old: Vec<u8>,
    pub new: Vec<u8>,
}

/// How far `keys reencrypt` got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReencryptProgress {
    pub stage: SealedTable,
    pub last_id: Uuid,
    /// Values re-encrypted so far in this run and the interrupted ones.
    pub done: i64,
}

/// Per KEK version: how many data keys are wrapped under it, and how many
/// encrypted values those keys protect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KekUsage {
    pub kek_version: i64,
    pub data_keys: i64,
    pub values: i64,
}

/// What [`MemberDataRepo::retire_kek_version`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KekRetirement {
    /// The version is marked retired: no data key may be stored under it
    /// from now on.
    Retired,
    /// Refused, nothing recorded: this many data keys are wrapped under
    /// the version (rewrap them first: `keys rotate`).
    InUse { data_keys: i64 },
}

#[async_trait::async_trait]
pub trait MemberDataRepo: Send + Sync {
    /// The member's wrapped data key, if they ever stored data.
    async fn member_key(&self, member_id: MemberId) -> Result<Option<MemberKeyRecord>, StoreError>;

    /// Stores `wrapped` as the member's key unless one exists; returns the
    /// stored one (two first writes at once agree on one key). Not a
    /// [`crate::Write`]: the key must exist before the values sealed
    /// under it are prepared.
    ///
    /// Refused with [`StoreError::RetiredKek`] (nothing stored) when
    /// `kek_version` is retired; the check and the insert are one
    /// transaction holding the version's row lock, so a concurrent
    /// [`MemberDataRepo::retire_kek_version`] either sees the new key or
    /// makes this call fail.
    async fn create_member_key(
        &self,
        member_id: MemberId,
        wrapped: &[u8],
        kek_version: i64,
        now: Timestamp,
    ) -> Result<MemberKeyRecord, StoreError>;

    async fn phone(&self, member_id: MemberId) -> Result<Option<Vec<u8>>, StoreError>;

    /// Members whose phone has this blind index.
    async fn members_with_phone(&self, index: &[u8; 32]) -> Result<Vec<MemberId>, StoreError>;

    /// Oldest first.
    async fn list_addresses(&self, member_id: MemberId) -> Result<Vec<AddressRecord>, StoreError>;

    async fn bank_account(&self, member_id: MemberId) -> Result<Option<Vec<u8>>, StoreError>;

    /// The draft of `kind` kept for `session`, unless it expired at `now`.
    async fn reauth_draft(
        &self,
        session: SessionId,
        kind: &str,
        now: Timestamp,
    ) -> Result<Option<ReauthDraftRecord>, StoreError>;

    /// For `keys status`.
    async fn kek_usage(&self) -> Result<Vec<KekUsage>, StoreError>;

    /// Marks `kek_version` retired unless a data key is wrapped under it,
    /// deciding both in one transaction that holds the version's row lock
    /// (see [`MemberDataRepo::create_member_key`]). Idempotent. The caller
    /// removes the KEK from the ring only after [`KekRetirement::Retired`].
    async fn retire_kek_version(
        &self,
        kek_version: i64,
        now: Timestamp,
    ) -> Result<KekRetirement, StoreError>;

    /// Up to `limit` wrapped keys with member id greater than `after`, in
    /// member id order.
    async fn wrapped_keys_after(
        &self,
        after: Option<MemberId>,
        limit: u32,
    ) -> Result<Vec<MemberKeyRecord>, StoreError>;

    /// Applies the rewraps in one transaction, each only if the stored key
    /// still equals `old`; returns how many were applied.
    async fn replace_wrapped_keys(
        &self,
        rewraps: &[Rewrap],
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Up to `limit` values of `table` with row id greater than `after`,
    /// in id order.
    async fn sealed_after(
        &self,
        table: SealedTable,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<SealedValue>, StoreError>;

    /// Applies the reseals (each only if the value still equals `old`) and
    /// records `progress`, in one transaction; returns how many applied.
    async fn reseal(
        &self,
        table: SealedTable,
        reseals: &[Reseal],
        progress: &ReencryptProgress,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    async fn reencrypt_progress(&self) -> Result<Option<ReencryptProgress>, StoreError>;

    async fn clear_reencrypt_progress(&self) -> Result<(), StoreError>;
}

//! Creator payouts (issue 16, C16; ADR 0020): a payout per request, its
//! sealed bank snapshot under a data key of its own, and the batches that
//! carry payouts to the bank as Zengin transfer files.
//!
//! The bank account as it was at the request is sealed by the core under
//! the payout's own data key, stored wrapped in `payout_keys`; the sealed
//! row (`payout_banks`) hangs off that key (`ON DELETE CASCADE`), so a
//! purge that deletes the key destroys the snapshot, and every copy of
//! its ciphertext becomes unreadable. Nothing here holds a bank detail in
//! clear.
//!
//! Reads are [`PayoutRepo`] methods; every write is a [`crate::Write`]
//! whose guards are single statements:
//! - `CreatePayout` takes the shop's row lock, then checks the shop's
//!   balance in the ledger against the amount in the same transaction (two
//!   instances asking at once are ordered by the lock, and the second sees
//!   the first's hold); the payout id is the primary key, so a retried
//!   request can never make a second payout;
//! - `BatchPayouts` moves each payout `WHERE status = 'requested'`, so a
//!   payout is in one batch at most;
//! - `SettlePayout` moves it `WHERE status = 'batched'`, so a result
//!   imported twice (or a hand mark racing an import) settles it once, and
//!   its ledger key (`payout_paid:<id>` / `payout_void:<id>`) is unique
//!   besides.

use anshin_domain::{
    MemberId, PayoutBatchId, PayoutId, PayoutStatus, ShopId, StaffId, Timestamp, Yen,
};

use crate::StoreError;

/// A payout to create with its hold (the ledger transaction rides in the
/// same bundle).
#[derive(Clone, PartialEq, Eq)]
pub struct NewPayout {
    pub id: PayoutId,
    pub shop_id: ShopId,
    pub member_id: MemberId,
    /// What leaves the balance.
    pub amount: Yen,
    /// The transfer fee kept of it.
    pub fee: Yen,
    /// The payout's data key, wrapped by the key ring.
    pub wrapped_key: Vec<u8>,
    pub kek_version: i64,
    /// The bank account, sealed under the payout's key.
    pub bank: Vec<u8>,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for NewPayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPayout")
            .field("id", &self.id)
            .field("shop_id", &self.shop_id)
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

/// A payout as stored (without its sealed bank snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRecord {
    pub id: PayoutId,
    pub shop_id: ShopId,
    pub member_id: MemberId,
    pub status: PayoutStatus,
    pub amount: Yen,
    pub fee: Yen,
    pub batch_id: Option<PayoutBatchId>,
    /// The line of the batch's transfer file (from 1).
    pub batch_line: Option<u32>,
    /// The bank's result code of a failed transfer (or `manual`).
    pub failure_code: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When it was paid or failed.
    pub completed_at: Option<Timestamp>,
}

impl PayoutRecord {
    /// What the bank sends: the amount less the transfer fee.
    pub fn net(&self) -> Yen {
        Yen::new(self.amount.amount() - self.fee.amount())
    }
}

/// A payout's sealed bank snapshot and its wrapped key. `Debug` shows
/// nothing of the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPayoutBank {
    pub payout_id: PayoutId,
    pub wrapped_key: Vec<u8>,
    pub account: Vec<u8>,
}

impl std::fmt::Debug for SealedPayoutBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedPayoutBank")
            .field("payout_id", &self.payout_id)
            .finish_non_exhaustive()
    }
}

/// A batch of payouts (one transfer file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutBatchRecord {
    pub id: PayoutBatchId,
    /// The staff member who built it; `None`: the shell.
    pub created_by: Option<StaffId>,
    pub created_at: Timestamp,
    /// 振込指定日, `YYYY-MM-DD`.
    pub transfer_date: String,
    pub items: u32,
    pub total: Yen,
    /// When its file was first exported.
    pub exported_at: Option<Timestamp>,
}

/// A batch to create, with its payouts in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayoutBatch {
    pub id: PayoutBatchId,
    pub created_by: Option<StaffId>,
    pub created_at: Timestamp,
    pub transfer_date: String,
    pub total: Yen,
    /// Line 1, 2, … of the file.
    pub payouts: Vec<PayoutId>,
}

#[async_trait::async_trait]
pub trait PayoutRepo: Send + Sync {
    async fn payout(&self, id: PayoutId) -> Result<Option<PayoutRecord>, StoreError>;

    /// The shop's payouts, newest first, at most `limit`.
    async fn payouts_of_shop(
        &self,
        shop: ShopId,
        limit: u32,
    ) -> Result<Vec<PayoutRecord>, StoreError>;

    /// Payouts in this state, oldest first, at most `limit`.
    async fn payouts_with_status(
        &self,
        status: PayoutStatus,
        limit: u32,
    ) -> Result<Vec<PayoutRecord>, StoreError>;

    /// One page of every payout in id order, after `after` (the ledger
    /// check walks them).
    async fn payouts_page(
        &self,
        after: Option<PayoutId>,
        limit: u32,
    ) -> Result<Vec<PayoutRecord>, StoreError>;

    /// The batch's payouts in file order.
    async fn payouts_in_batch(&self, batch: PayoutBatchId)
    -> Result<Vec<PayoutRecord>, StoreError>;

    /// The sealed bank snapshot; `None` if there is no such payout or its
    /// key was purged.
    async fn sealed_bank(&self, id: PayoutId) -> Result<Option<SealedPayoutBank>, StoreError>;

    /// Completed (paid or failed) payouts whose transfer history is not
    /// purged yet, completed at or before `completed_not_after`, oldest
    /// first, after the `after` (completion time, id) position; at most
    /// `limit` of them (the retention purge's batches, C16).
    async fn completed_unpurged(
        &self,
        completed_not_after: Timestamp,
        after: Option<(Timestamp, PayoutId)>,
        limit: u32,
    ) -> Result<Vec<(PayoutId, Timestamp)>, StoreError>;

    async fn batch(&self, id: PayoutBatchId) -> Result<Option<PayoutBatchRecord>, StoreError>;

    /// The latest batches, newest first.
    async fn batches(&self, limit: u32) -> Result<Vec<PayoutBatchRecord>, StoreError>;
}

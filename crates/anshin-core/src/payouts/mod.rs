//! Creator payouts (issue 16, C16; ADR 0020): a creator asks for their
//! available balance; finance batches the requests, exports a Zengin
//! transfer file for the bank and records the bank's result.
//!
//! - **Request** ([`request_payout`]): the whole balance of the member's
//!   shop (the seller payable, from the ledger), at least
//!   `payouts.minimum_yen`; `payouts.transfer_fee_yen` is kept of it. The
//!   bank account as it is now is sealed under a fresh data key of the
//!   payout (wrapped by the key ring, row in `payout_keys`), so the
//!   retention purge destroys the snapshot by deleting that key. The
//!   amount is held at once (`payout_hold:<id>`: the payable debited,
//!   payouts pending credited), with the notice mail and the audit entry,
//!   in one bundle.
//! - **Batch** ([`build_batch`]): every requested payout goes into a new
//!   batch, in request order (line 1, 2, …: the file's 顧客コード1).
//! - **Export** ([`export_batch`]): the Zengin file ([`zengin`]); every
//!   name is folded into Zengin kana first, and if one cannot be, the
//!   export is refused naming the lines and payouts (never the names).
//! - **Result** ([`import_result`], [`settle_by_hand`]): paid posts
//!   `payout_paid:<id>` (pending debited, clearing and the fee revenue
//!   credited); failed posts `payout_void:<id>` (the hold goes back to
//!   the balance). The payout gets its `completed_at`, the creator a
//!   mail, the audit log an entry, in one bundle per payout.
//!
//! # What an attacker (or bad luck) tries, and what stops it
//! - the same request sent twice, or retried from two instances at once:
//!   the payout id comes from the page, is the primary key, and the hold's
//!   ledger key is unique; the shop's row lock orders the requests, and
//!   the second sees the first's hold (`payouts::c16_*_retried_*`);
//! - two different requests at once for the same balance: the same lock
//!   and the balance check under it (the second is refused, nothing is
//!   held twice);
//! - a result file imported twice, or a hand mark racing the import: a
//!   payout settles only `WHERE status = 'batched'` and its posting key is
//!   unique (`payouts::c16_*_imported_twice_*`);
//! - a result file of another batch, or an edited one: each line must
//!   name a line of this batch with its amount, and the trailer's count
//!   and total must match, before anything is settled;
//! - another member's payout id: a member reads only their own;
//! - a staff member without the `finance` role, or without a fresh second
//!   factor: the policy refuses, and the refusal is audited;
//! - bank details leaking: the snapshot is sealed, `Debug` of every type
//!   holding it is redacted, mails and pages show `****567`, the audit
//!   details hold amounts and ids only.

pub mod zengin;

use std::net::IpAddr;

use anshin_domain::{
    LedgerAccount, MemberId, PayoutBatchId, PayoutId, PayoutStatus, ShopId, Timestamp, Yen,
};
use anshin_store::{
    Actor, AuditAction, AuditTarget, Changes, LedgerKind, LedgerTransaction, NewPayout,
    NewPayoutBatch, PayoutBatchRecord, PayoutRecord, Posting, StoreError, Write, guards,
};
use anshin_vault::{DataKey, FieldContext, fields};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Services;
use crate::access::{Action, Decision};
use crate::mail::compose::{Letter, PayoutEvent, PayoutNotice};
use crate::member_data::{BankAccount, MemberDataError, RawBankAccount};
use crate::settings::{Invalid, Section, invalid, within};
use crate::staff::{CurrentStaff, POLICY_ALLOW};

/// The table and column the bank snapshot is sealed for.
const BANK_TABLE: &str = "payout_banks";
const BANK_COLUMN: &str = "account";

/// The most payouts one batch (one file) carries.
pub const MAX_BATCH: u32 = 5000;

/// `[payouts]`: amounts and the platform's own account, as the transfer
/// file's header names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PayoutSettings {
    /// The smallest balance that can be paid out (yen).
    pub minimum_yen: i64,
    /// The transfer fee kept of each payout (yen); less than the minimum.
    pub transfer_fee_yen: i64,
    /// 振込依頼人コード: the 10 digits the platform's bank gave it.
    pub remitter_code: String,
    /// 振込依頼人名 in kana (folded into Zengin kana at export, 40).
    pub remitter_name: String,
    /// The platform's bank: code, name (kana), branch code and name (kana).
    pub bank_code: String,
    pub bank_name: String,
    pub branch_code: String,
    pub branch_name: String,
    /// 預金種目 of the platform's account: 1 普通, 2 当座, 4 貯蓄.
    pub account_type: u8,
    pub account_number: String,
}

impl Default for PayoutSettings {
    fn default() -> Self {
        Self {
            minimum_yen: 1000,
            transfer_fee_yen: 250,
            remitter_code: "0000000000".into(),
            remitter_name: "カ）アンシン".into(),
            bank_code: "0001".into(),
            bank_name: "ミズホ".into(),
            branch_code: "001".into(),
            branch_name: "トウキヨウ".into(),
            account_type: 1,
            account_number: "0000000".into(),
        }
    }
}

impl Section for PayoutSettings {
    fn check(&self) -> Result<(), Invalid> {
        within(
            "payouts.minimum_yen",
            self.minimum_yen,
            1,
            10_000_000,
            " yen",
        )?;
        within(
            "payouts.transfer_fee_yen",
            self.transfer_fee_yen,
            0,
            self.minimum_yen - 1,
            " yen (less than payouts.minimum_yen)",
        )?;
        let digits = |key, s: &str, n: usize| {
            if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                invalid(key, format!("must be exactly {n} digits"))
            }
        };
        digits("payouts.remitter_code", &self.remitter_code, 10)?;
        digits("payouts.bank_code", &self.bank_code, 4)?;
        digits("payouts.branch_code", &self.branch_code, 3)?;
        digits("payouts.account_number", &self.account_number, 7)?;
        if !matches!(self.account_type, 1 | 2 | 4) {
            return invalid("payouts.account_type", "must be 1, 2 or 4");
        }
        // The names are folded again at every export (which refuses what
        // does not fold); a start with a name that never could is refused
        // here already.
        for (key, text, max) in [
            ("payouts.remitter_name", &self.remitter_name, 40),
            ("payouts.bank_name", &self.bank_name, 15),
            ("payouts.branch_name", &self.branch_name, 15),
        ] {
            if let Err(e) = zengin::to_zengin(text, max) {
                return invalid(key, format!("is not Zengin kana: {e}"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    /// The member has no shop (nothing can be owed to them).
    #[error("no shop")]
    NoShop,
    /// The member has no payout bank account.
    #[error("no bank account")]
    NoBankAccount,
    /// The balance is less than the minimum payout.
    #[error("the balance {balance} is less than the minimum {minimum}")]
    BelowMinimum { balance: Yen, minimum: Yen },
    /// The balance changed while the request was made (another request
    /// took it): nothing was held.
    #[error("the balance changed meanwhile")]
    BalanceChanged,
    /// No such payout (or batch) of this member; another's looks the same.
    #[error("no such payout")]
    NotFound,
    /// The payout or batch is not in a state that allows this.
    #[error("the payout does not allow this now")]
    WrongState,
    /// Nothing to batch.
    #[error("no payout is waiting for a batch")]
    NothingToBatch,
    /// The bank snapshot is gone (purged) or does not open.
    #[error("the payout's bank details are gone or unreadable")]
    Unreadable,
    /// Names that Zengin cannot carry: nothing was exported. One line
    /// per problem, naming the batch line and the payout (never a name).
    #[error("the transfer file was not written: {}", .0.join("; "))]
    Unconvertible(Vec<String>),
    /// The file could not be written (a setting of the platform's own
    /// account does not fit).
    #[error("the transfer file was not written: {0}")]
    File(#[from] zengin::FileError),
    /// The result file does not match the batch: nothing was settled.
    #[error("the result file does not match the batch: {0}")]
    BadResult(ResultProblem),
    /// The transfer date is not a date.
    #[error("the transfer date must be YYYY-MM-DD")]
    BadDate,
    /// The access policy refused the staff member.
    #[error("refused: {0:?}")]
    Refused(Decision),
    #[error(transparent)]
    MemberData(#[from] MemberDataError),
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::compose::SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What is wrong with a bank's result file (nothing was settled).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultProblem {
    /// The file is not a Zengin result file (its records, header,
    /// trailer or end record).
    #[error(transparent)]
    File(#[from] zengin::FileError),
    /// The file has no data record.
    #[error("the file has no transfer line")]
    Empty,
    /// A line of the file is not a line of this batch (another batch's
    /// file?).
    #[error("line {line} is not in the batch")]
    NotInBatch { line: u32 },
    /// A line's amount differs from what the batch sent.
    #[error("line {line}: the amount {file} differs from the batch's {batch}")]
    Amount { line: u32, file: i64, batch: i64 },
    /// A line appears twice.
    #[error("line {line} appears twice")]
    Twice { line: u32 },
}

/// Who does a finance act: a staff member in the console (the policy
/// decides, step-up included) or the operator at the shell (`anshin
/// payouts …`, recorded as the system).
#[derive(Debug, Clone, Copy)]
pub enum Doer<'a> {
    Staff { staff: &'a CurrentStaff, ip: IpAddr },
    Shell,
}

impl Doer<'_> {
    async fn authorize(&self, svc: &Services, action: Action) -> Result<(), PayoutError> {
        let Doer::Staff { staff, ip } = *self else {
            return Ok(());
        };
        match crate::staff::decide_about(svc, Some(staff), action, ip, None) {
            Decision::Allow => Ok(()),
            d => {
                crate::staff::record_guard_refusal(svc, staff, action, d, ip).await;
                Err(PayoutError::Refused(d))
            }
        }
    }

    fn entry(
        &self,
        svc: &Services,
        action: AuditAction,
        target: AuditTarget,
        details: serde_json::Value,
    ) -> anshin_store::AuditEntry {
        let (actor, from, reason) = match *self {
            Doer::Staff { staff, ip } => (
                Actor::Staff(staff.account.id.as_uuid()),
                Some(ip),
                POLICY_ALLOW,
            ),
            Doer::Shell => (Actor::System, None, "command_line"),
        };
        crate::audit::entry(svc, actor, action, Some(target), from, reason, details)
    }

    fn staff_id(&self) -> Option<anshin_domain::StaffId> {
        match *self {
            Doer::Staff { staff, .. } => Some(staff.account.id),
            Doer::Shell => None,
        }
    }
}

// ---- keys and the sealed snapshot ----

/// What the payout's wrapped key is bound to: a label and the id, so a
/// payout key can never pass for a member's or a shipment's.
fn key_binding(id: PayoutId) -> Vec<u8> {
    let mut b = b"payout/".to_vec();
    b.extend_from_slice(id.as_bytes());
    b
}

#[derive(Serialize)]
struct BankPlain<'a> {
    bank_code: &'a str,
    branch_code: &'a str,
    account_type: &'a str,
    account_number: &'a str,
    holder_kana: &'a str,
}

fn seal_bank(
    svc: &Services,
    key: &DataKey,
    id: PayoutId,
    account: &BankAccount,
) -> Result<Vec<u8>, PayoutError> {
    let plain = BankPlain {
        bank_code: account.bank_code().as_str(),
        branch_code: account.branch_code().as_str(),
        account_type: account.account_type().as_str(),
        account_number: account.account_number().as_str(),
        holder_kana: account.holder_kana().as_str(),
    };
    let bytes = Zeroizing::new(serde_json::to_vec(&plain).map_err(|_| PayoutError::Unreadable)?);
    fields::encrypt(
        key,
        &FieldContext::new(BANK_TABLE, BANK_COLUMN, id.as_bytes()),
        &bytes,
        &mut svc.random.rng(),
    )
    .map_err(|_| PayoutError::Unreadable)
}

/// The payout's bank snapshot as it was sealed (the fields as the member
/// typed and the parser stored them). `Debug` is redacted.
pub async fn bank_snapshot(svc: &Services, id: PayoutId) -> Result<RawBankAccount, PayoutError> {
    let sealed = svc
        .store
        .payouts()
        .sealed_bank(id)
        .await?
        .ok_or(PayoutError::Unreadable)?;
    let key = svc
        .keys
        .unwrap_member_key(&sealed.wrapped_key, &key_binding(id))
        .map_err(|_| PayoutError::Unreadable)?;
    let plain = fields::decrypt(
        &key,
        &FieldContext::new(BANK_TABLE, BANK_COLUMN, id.as_bytes()),
        &sealed.account,
    )
    .map_err(|_| PayoutError::Unreadable)?;
    serde_json::from_slice(&plain).map_err(|_| PayoutError::Unreadable)
}

/// `****567`: what a page or a mail may show of a snapshot.
pub fn masked(raw: &RawBankAccount) -> String {
    let n = raw.account_number.chars().count();
    let tail: String = raw
        .account_number
        .chars()
        .skip(n.saturating_sub(3))
        .collect();
    format!("****{tail}")
}

// ---- ledger ----

fn posting(account: LedgerAccount, shop: Option<ShopId>, amount: i64) -> Option<Posting> {
    (amount != 0).then_some(Posting {
        account,
        shop,
        amount: Yen::new(amount),
    })
}

/// The key of a payout's hold.
pub fn hold_key(id: PayoutId) -> String {
    format!("payout_hold:{id}")
}

/// The key of a payout's payment.
pub fn paid_key(id: PayoutId) -> String {
    format!("payout_paid:{id}")
}

/// The key of a payout's void.
pub fn void_key(id: PayoutId) -> String {
    format!("payout_void:{id}")
}

/// The payout a payout transaction's key names.
pub fn payout_of_key(key: &str) -> Option<PayoutId> {
    let (_, id) = key.split_once(':')?;
    PayoutId::parse(id)
}

fn tx(
    svc: &Services,
    key: String,
    kind: LedgerKind,
    postings: Vec<Option<Posting>>,
) -> Result<LedgerTransaction, PayoutError> {
    LedgerTransaction::balanced(
        svc.new_id(),
        key,
        kind,
        None,
        svc.now(),
        postings.into_iter().flatten().collect(),
    )
    .map_err(|_| PayoutError::WrongState)
}

/// The hold: the shop's payable debited, payouts pending credited.
fn hold(svc: &Services, p: &PayoutRecord) -> Result<LedgerTransaction, PayoutError> {
    let a = p.amount.amount();
    tx(
        svc,
        hold_key(p.id),
        LedgerKind::PayoutHold,
        vec![
            posting(LedgerAccount::SellerPayable, Some(p.shop_id), a),
            posting(LedgerAccount::PayoutsPending, None, -a),
        ],
    )
}

/// The bank paid: pending debited; the clearing account (what left the
/// platform) and the fee revenue credited.
fn paid(svc: &Services, p: &PayoutRecord) -> Result<LedgerTransaction, PayoutError> {
    tx(
        svc,
        paid_key(p.id),
        LedgerKind::PayoutPaid,
        vec![
            posting(LedgerAccount::PayoutsPending, None, p.amount.amount()),
            posting(LedgerAccount::ProcessorClearing, None, -p.net().amount()),
            posting(LedgerAccount::PayoutFeeRevenue, None, -p.fee.amount()),
        ],
    )
}

/// The transfer failed: the hold goes back to the payable.
fn void(svc: &Services, p: &PayoutRecord) -> Result<LedgerTransaction, PayoutError> {
    let a = p.amount.amount();
    tx(
        svc,
        void_key(p.id),
        LedgerKind::PayoutVoid,
        vec![
            posting(LedgerAccount::PayoutsPending, None, a),
            posting(LedgerAccount::SellerPayable, Some(p.shop_id), -a),
        ],
    )
}

// ---- the member's side ----

/// What the member's payout page shows: the balance, what a payout of it
/// would send, and whether one can be asked for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub balance: Yen,
    pub fee: Yen,
    pub net: Yen,
    pub minimum: Yen,
    pub has_bank_account: bool,
    /// `****567` of the account the payout would go to.
    pub account: Option<String>,
}

impl Quote {
    pub fn can_request(&self) -> bool {
        self.has_bank_account && self.balance >= self.minimum
    }
}

async fn shop_of(svc: &Services, member: MemberId) -> Result<ShopId, PayoutError> {
    Ok(svc
        .store
        .shops()
        .shop_of_owner(member)
        .await?
        .ok_or(PayoutError::NoShop)?
        .id)
}

/// The member's balance and what a payout of it would be.
pub async fn quote(svc: &Services, member: MemberId) -> Result<Quote, PayoutError> {
    let shop = shop_of(svc, member).await?;
    let balance = svc.store.orders().seller_balance(shop).await?;
    let s = &svc.settings.payouts;
    let account = crate::member_data::bank_account(svc, member).await?;
    Ok(Quote {
        balance,
        fee: Yen::new(s.transfer_fee_yen),
        net: Yen::new((balance.amount() - s.transfer_fee_yen).max(0)),
        minimum: Yen::new(s.minimum_yen),
        has_bank_account: account.is_some(),
        account: account.map(|a| a.masked_number()),
    })
}

/// The member's payouts, newest first.
pub async fn payouts_of(
    svc: &Services,
    member: MemberId,
    limit: u32,
) -> Result<Vec<PayoutRecord>, PayoutError> {
    let shop = shop_of(svc, member).await?;
    Ok(svc.store.payouts().payouts_of_shop(shop, limit).await?)
}

/// The member's payout `id`, if it is theirs.
async fn own_payout(
    svc: &Services,
    member: MemberId,
    id: PayoutId,
) -> Result<Option<PayoutRecord>, PayoutError> {
    match svc.store.payouts().payout(id).await? {
        Some(p) if p.member_id == member => Ok(Some(p)),
        Some(_) => Err(PayoutError::NotFound),
        None => Ok(None),
    }
}

async fn letter(
    svc: &Services,
    member: MemberId,
    event: PayoutEvent,
    p: &PayoutRecord,
    account: String,
) -> Result<Option<anshin_store::NewMail>, PayoutError> {
    let Some(m) = svc.store.accounts().find_member(member).await? else {
        return Ok(None);
    };
    let notice = PayoutNotice {
        event,
        amount: p.amount,
        fee: p.fee,
        account,
    };
    Ok(Some(crate::mail::letter(
        svc,
        m.language,
        &m.email,
        &Letter::Payout(notice),
    )?))
}

/// Asks for a payout of the member's whole balance under `id` (made by
/// the page that shows the form, so a retry is the same payout). A payout
/// with this id of the member is returned as it is: asking twice, or from
/// two instances at once, makes one payout and holds once.
pub async fn request_payout(
    svc: &Services,
    member: MemberId,
    id: PayoutId,
    from: Option<IpAddr>,
) -> Result<PayoutRecord, PayoutError> {
    if let Some(p) = own_payout(svc, member, id).await? {
        return Ok(p);
    }
    let shop = shop_of(svc, member).await?;
    let account = crate::member_data::bank_account(svc, member)
        .await?
        .ok_or(PayoutError::NoBankAccount)?;
    let balance = svc.store.orders().seller_balance(shop).await?;
    let s = &svc.settings.payouts;
    if balance.amount() < s.minimum_yen || balance.amount() <= s.transfer_fee_yen {
        // A request with this id (a retry, another instance) may have
        // taken the balance since the first look: then that is the answer.
        if let Some(p) = own_payout(svc, member, id).await? {
            return Ok(p);
        }
        return Err(PayoutError::BelowMinimum {
            balance,
            minimum: Yen::new(s.minimum_yen),
        });
    }
    let now = svc.now();
    let record = PayoutRecord {
        id,
        shop_id: shop,
        member_id: member,
        status: PayoutStatus::Requested,
        amount: balance,
        fee: Yen::new(s.transfer_fee_yen),
        batch_id: None,
        batch_line: None,
        failure_code: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    let key = DataKey::generate(&mut svc.random.rng());
    let wrapped = svc
        .keys
        .wrap_member_key(&key, &key_binding(id), &svc.random)
        .map_err(|_| PayoutError::Unreadable)?;
    let bank = seal_bank(svc, &key, id, &account)?;
    let mut changes = Changes::new()
        .with(Write::CreatePayout(NewPayout {
            id,
            shop_id: shop,
            member_id: member,
            amount: record.amount,
            fee: record.fee,
            kek_version: i64::from(wrapped.kek_version()),
            wrapped_key: wrapped.into_bytes(),
            bank,
            created_at: now,
        }))
        .post(hold(svc, &record)?)
        .audited(crate::audit::entry(
            svc,
            Actor::Member(member),
            AuditAction::PayoutRequested,
            Some(AuditTarget::payout(id)),
            from,
            crate::audit::OWN_ACCOUNT,
            serde_json::json!({
                "shop": shop,
                "amount": record.amount.amount(),
                "fee": record.fee.amount(),
            }),
        ));
    if let Some(mail) = letter(
        svc,
        member,
        PayoutEvent::Requested,
        &record,
        account.masked_number(),
    )
    .await?
    {
        changes.push_mail(mail);
    }
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(payout = %id, shop = %shop, amount = record.amount.amount(), "payout requested");
            Ok(record)
        }
        Err(e) => {
            // Another request with this id (a retry, another instance)
            // committed first: that one is the answer.
            let raced = e.is_precondition(guards::PAYOUT_EXISTS)
                || e.is_precondition(guards::LEDGER_POSTED)
                || e.is_precondition(guards::PAYOUT_BALANCE)
                || matches!(e, StoreError::Conflict(_));
            if raced && let Some(p) = own_payout(svc, member, id).await? {
                return Ok(p);
            }
            if e.is_precondition(guards::PAYOUT_BALANCE) {
                return Err(PayoutError::BalanceChanged);
            }
            if e.is_precondition(guards::SHOP_NOT_FOUND) {
                return Err(PayoutError::NoShop);
            }
            Err(e.into())
        }
    }
}

// ---- finance ----

/// The payouts waiting for a batch, oldest first.
pub async fn requested(svc: &Services, doer: Doer<'_>) -> Result<Vec<PayoutRecord>, PayoutError> {
    doer.authorize(svc, Action::ViewPayouts).await?;
    Ok(svc
        .store
        .payouts()
        .payouts_with_status(PayoutStatus::Requested, MAX_BATCH)
        .await?)
}

/// The latest batches.
pub async fn batches(
    svc: &Services,
    doer: Doer<'_>,
    limit: u32,
) -> Result<Vec<PayoutBatchRecord>, PayoutError> {
    doer.authorize(svc, Action::ViewPayouts).await?;
    Ok(svc.store.payouts().batches(limit).await?)
}

/// One line of a batch as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub payout: PayoutRecord,
    /// `****567`, or `None` if the snapshot is gone.
    pub account: Option<String>,
}

/// A batch and its lines.
pub async fn batch(
    svc: &Services,
    doer: Doer<'_>,
    id: PayoutBatchId,
) -> Result<(PayoutBatchRecord, Vec<BatchItem>), PayoutError> {
    doer.authorize(svc, Action::ViewPayouts).await?;
    let b = svc
        .store
        .payouts()
        .batch(id)
        .await?
        .ok_or(PayoutError::NotFound)?;
    let mut items = Vec::new();
    for p in svc.store.payouts().payouts_in_batch(id).await? {
        let account = bank_snapshot(svc, p.id).await.ok().map(|raw| masked(&raw));
        items.push(BatchItem { payout: p, account });
    }
    Ok((b, items))
}

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i64 = 719_163;

/// The date in Tokyo at `at`.
pub fn tokyo_date(at: Timestamp) -> Option<chrono::NaiveDate> {
    let days = (at.secs() + 9 * 3600).div_euclid(86_400);
    chrono::NaiveDate::from_num_days_from_ce_opt(i32::try_from(UNIX_EPOCH_CE_DAYS + days).ok()?)
}

/// The default transfer date: the next day in Tokyo that is not a
/// Saturday or Sunday (the bank moves a holiday to its next business day
/// itself).
pub fn next_transfer_date(now: Timestamp) -> Option<chrono::NaiveDate> {
    use chrono::Datelike;
    let mut d = tokyo_date(now)?.succ_opt()?;
    while matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
        d = d.succ_opt()?;
    }
    Some(d)
}

/// Puts every requested payout (up to [`MAX_BATCH`]) in a new batch to
/// be transferred on `date` (`YYYY-MM-DD`; `None`: the next weekday).
pub async fn build_batch(
    svc: &Services,
    doer: Doer<'_>,
    date: Option<&str>,
) -> Result<PayoutBatchRecord, PayoutError> {
    doer.authorize(svc, Action::BuildPayoutBatch).await?;
    let date = match date {
        Some(text) => chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| PayoutError::BadDate)?,
        None => next_transfer_date(svc.now()).ok_or(PayoutError::BadDate)?,
    };
    let waiting = svc
        .store
        .payouts()
        .payouts_with_status(PayoutStatus::Requested, MAX_BATCH)
        .await?;
    if waiting.is_empty() {
        return Err(PayoutError::NothingToBatch);
    }
    let total = waiting
        .iter()
        .try_fold(0i64, |sum, p| sum.checked_add(p.net().amount()))
        .ok_or(PayoutError::WrongState)?;
    let id: PayoutBatchId = svc.new_id();
    let now = svc.now();
    let batch = NewPayoutBatch {
        id,
        created_by: doer.staff_id(),
        created_at: now,
        transfer_date: date.format("%Y-%m-%d").to_string(),
        total: Yen::new(total),
        payouts: waiting.iter().map(|p| p.id).collect(),
    };
    let changes = Changes::new()
        .with(Write::BatchPayouts(batch.clone()))
        .audited(doer.entry(
            svc,
            AuditAction::PayoutBatchBuilt,
            AuditTarget::payout_batch(id),
            serde_json::json!({
                "payouts": batch.payouts,
                "total": total,
                "transfer_date": batch.transfer_date,
            }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => {}
        Err(e) if e.is_precondition(guards::PAYOUT_STATE) => return Err(PayoutError::WrongState),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(batch = %id, items = waiting.len(), total, "payout batch built");
    Ok(PayoutBatchRecord {
        id,
        created_by: batch.created_by,
        created_at: now,
        transfer_date: batch.transfer_date,
        items: u32::try_from(waiting.len()).unwrap_or(u32::MAX),
        total: Yen::new(total),
        exported_at: None,
    })
}

/// A written transfer file.
#[derive(Clone)]
pub struct TransferFile {
    /// `zengin-<batch>.txt`.
    pub name: String,
    pub bytes: Vec<u8>,
    /// SHA-256 of the bytes, hex (recorded in the audit log).
    pub sha256: String,
}

impl std::fmt::Debug for TransferFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferFile")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

fn remitter(s: &PayoutSettings) -> Result<zengin::Remitter, PayoutError> {
    let fold = |what: &str, text: &str, max| {
        zengin::to_zengin(text, max)
            .map_err(|e| PayoutError::Unconvertible(vec![format!("the setting {what}: {e}")]))
    };
    Ok(zengin::Remitter {
        code: s.remitter_code.clone(),
        name: fold("payouts.remitter_name", &s.remitter_name, 40)?,
        bank_code: s.bank_code.clone(),
        bank_name: fold("payouts.bank_name", &s.bank_name, 15)?,
        branch_code: s.branch_code.clone(),
        branch_name: fold("payouts.branch_name", &s.branch_name, 15)?,
        account_type: s.account_type,
        account_number: s.account_number.clone(),
    })
}

/// The batch's Zengin file. Every name is folded first; if any cannot
/// be, nothing is written and the error names each line and payout.
pub async fn export_batch(
    svc: &Services,
    doer: Doer<'_>,
    id: PayoutBatchId,
) -> Result<TransferFile, PayoutError> {
    use sha2::Digest as _;
    doer.authorize(svc, Action::ExportPayoutBatch).await?;
    let b = svc
        .store
        .payouts()
        .batch(id)
        .await?
        .ok_or(PayoutError::NotFound)?;
    let remitter = remitter(&svc.settings.payouts)?;
    let date = chrono::NaiveDate::parse_from_str(&b.transfer_date, "%Y-%m-%d")
        .map_err(|_| PayoutError::BadDate)?;
    let mut problems = Vec::new();
    let mut transfers = Vec::new();
    for p in svc.store.payouts().payouts_in_batch(id).await? {
        let line = p.batch_line.unwrap_or(0);
        let raw = match bank_snapshot(svc, p.id).await {
            Ok(raw) => raw,
            Err(_) => {
                problems.push(format!(
                    "line {line} (payout {}): the bank details are gone",
                    p.id
                ));
                continue;
            }
        };
        let name = match zengin::to_zengin(&raw.holder_kana, 30) {
            Ok(n) => n,
            Err(e) => {
                problems.push(format!(
                    "line {line} (payout {}): the holder name cannot be written in Zengin kana: {e}",
                    p.id
                ));
                continue;
            }
        };
        let account_type = crate::member_data::AccountType::parse(&raw.account_type)
            .map(|t| t.zengin_code())
            .unwrap_or(0);
        transfers.push(zengin::Transfer {
            bank_code: raw.bank_code.clone(),
            branch_code: raw.branch_code.clone(),
            account_type,
            account_number: raw.account_number.clone(),
            name,
            amount: p.net().amount(),
            line,
        });
    }
    if !problems.is_empty() {
        tracing::warn!(batch = %id, problems = problems.len(), "payout export refused");
        return Err(PayoutError::Unconvertible(problems));
    }
    let bytes = zengin::write(&remitter, &date.format("%m%d").to_string(), &transfers)?;
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    let changes = Changes::new()
        .with(Write::MarkBatchExported {
            batch: id,
            at: svc.now(),
        })
        .audited(doer.entry(
            svc,
            AuditAction::PayoutBatchExported,
            AuditTarget::payout_batch(id),
            serde_json::json!({ "sha256": sha256, "items": transfers.len() }),
        ));
    svc.store.commit(&changes).await?;
    tracing::info!(batch = %id, items = transfers.len(), "payout batch exported");
    Ok(TransferFile {
        name: format!("zengin-{id}.txt"),
        bytes,
        sha256,
    })
}

/// How one payout's settlement went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Settled now.
    Now,
    /// It was settled the same way before (a repeated import or mark).
    Already,
    /// It was settled the other way before; nothing changed.
    Contradicted,
}

/// Settles one batched payout: paid (`failure == None`) or failed, with
/// its posting, its `completed_at`, the creator's mail and the audit entry,
/// in one bundle. A payout settled before is left as it is.
async fn settle(
    svc: &Services,
    doer: Doer<'_>,
    p: &PayoutRecord,
    failure: Option<String>,
) -> Result<Settled, PayoutError> {
    let want = if failure.is_none() {
        PayoutStatus::Paid
    } else {
        PayoutStatus::Failed
    };
    let judge = |status: PayoutStatus| {
        if status == want {
            Ok(Settled::Already)
        } else if status.is_final() {
            Ok(Settled::Contradicted)
        } else {
            Err(PayoutError::WrongState)
        }
    };
    if p.status != PayoutStatus::Batched {
        return judge(p.status);
    }
    let (posting, event, action) = match want {
        PayoutStatus::Paid => (paid(svc, p)?, PayoutEvent::Paid, AuditAction::PayoutPaid),
        _ => (
            void(svc, p)?,
            PayoutEvent::Failed,
            AuditAction::PayoutFailed,
        ),
    };
    let account = bank_snapshot(svc, p.id)
        .await
        .map(|raw| masked(&raw))
        .unwrap_or_else(|_| "****".into());
    let mut changes = Changes::new()
        .with(Write::SettlePayout {
            payout: p.id,
            paid: want == PayoutStatus::Paid,
            failure_code: failure.clone(),
            at: svc.now(),
        })
        .post(posting)
        .audited(doer.entry(
            svc,
            action,
            AuditTarget::payout(p.id),
            serde_json::json!({
                "batch": p.batch_id,
                "line": p.batch_line,
                "amount": p.amount.amount(),
                "failure_code": failure,
            }),
        ));
    if let Some(mail) = letter(svc, p.member_id, event, p, account).await? {
        changes.push_mail(mail);
    }
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(Settled::Now),
        Err(e)
            if e.is_precondition(guards::PAYOUT_STATE)
                || e.is_precondition(guards::LEDGER_POSTED) =>
        {
            // Settled meanwhile (another import, a hand mark, another
            // instance): what it became decides.
            let now = svc
                .store
                .payouts()
                .payout(p.id)
                .await?
                .ok_or(PayoutError::NotFound)?;
            judge(now.status)
        }
        Err(e) => Err(e.into()),
    }
}

/// Marks one payout paid or failed by hand (finance, with the bank's
/// statement in front of them).
pub async fn settle_by_hand(
    svc: &Services,
    doer: Doer<'_>,
    id: PayoutId,
    paid: bool,
) -> Result<Settled, PayoutError> {
    doer.authorize(svc, Action::SettlePayouts).await?;
    let p = svc
        .store
        .payouts()
        .payout(id)
        .await?
        .ok_or(PayoutError::NotFound)?;
    settle(svc, doer, &p, (!paid).then(|| "manual".to_owned())).await
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub paid: u32,
    pub failed: u32,
    /// Lines settled the same way before (a repeated import).
    pub already: u32,
    /// Lines that say the opposite of how their payout was settled
    /// before: left as they were, for finance to look at.
    pub contradicted: u32,
}

/// Reads the bank's result file of batch `id` and settles each line. The
/// whole file is checked against the batch first (every line one of its
/// lines, with its amount, each once; the trailer's count and total): a
/// file that does not match settles nothing. Importing the same file again
/// settles nothing more.
pub async fn import_result(
    svc: &Services,
    doer: Doer<'_>,
    id: PayoutBatchId,
    file: &[u8],
) -> Result<ImportReport, PayoutError> {
    doer.authorize(svc, Action::SettlePayouts).await?;
    svc.store
        .payouts()
        .batch(id)
        .await?
        .ok_or(PayoutError::NotFound)?;
    let bad = PayoutError::BadResult;
    let lines = zengin::read_result(file).map_err(|e| bad(e.into()))?;
    if lines.is_empty() {
        return Err(bad(ResultProblem::Empty));
    }
    let items = svc.store.payouts().payouts_in_batch(id).await?;
    let mut seen = std::collections::HashSet::new();
    let mut plan = Vec::new();
    for l in &lines {
        let p = items
            .iter()
            .find(|p| p.batch_line == Some(l.line))
            .ok_or(bad(ResultProblem::NotInBatch { line: l.line }))?;
        if p.net().amount() != l.amount {
            return Err(bad(ResultProblem::Amount {
                line: l.line,
                file: l.amount,
                batch: p.net().amount(),
            }));
        }
        if !seen.insert(l.line) {
            return Err(bad(ResultProblem::Twice { line: l.line }));
        }
        plan.push((p, l.failure.map(String::from)));
    }
    let mut report = ImportReport::default();
    for (p, failure) in plan {
        let failed = failure.is_some();
        match settle(svc, doer, p, failure).await? {
            Settled::Now if failed => report.failed += 1,
            Settled::Now => report.paid += 1,
            Settled::Already => report.already += 1,
            Settled::Contradicted => report.contradicted += 1,
        }
    }
    let changes = Changes::new().audited(doer.entry(
        svc,
        AuditAction::PayoutResultImported,
        AuditTarget::payout_batch(id),
        serde_json::json!({
            "paid": report.paid,
            "failed": report.failed,
            "already": report.already,
            "contradicted": report.contradicted,
        }),
    ));
    svc.store.commit(&changes).await?;
    tracing::info!(batch = %id, paid = report.paid, failed = report.failed,
        already = report.already, contradicted = report.contradicted, "payout result imported");
    Ok(report)
}

/// One payout's postings as the ledger check expects them, by kind.
pub fn expected_postings(p: &PayoutRecord, kind: LedgerKind) -> Vec<(LedgerAccount, i64)> {
    let a = p.amount.amount();
    let v: Vec<(LedgerAccount, i64)> = match kind {
        LedgerKind::PayoutHold => vec![
            (LedgerAccount::SellerPayable, a),
            (LedgerAccount::PayoutsPending, -a),
        ],
        LedgerKind::PayoutPaid => vec![
            (LedgerAccount::PayoutsPending, a),
            (LedgerAccount::ProcessorClearing, -p.net().amount()),
            (LedgerAccount::PayoutFeeRevenue, -p.fee.amount()),
        ],
        LedgerKind::PayoutVoid => vec![
            (LedgerAccount::PayoutsPending, a),
            (LedgerAccount::SellerPayable, -a),
        ],
        _ => vec![],
    };
    v.into_iter().filter(|(_, n)| *n != 0).collect()
}

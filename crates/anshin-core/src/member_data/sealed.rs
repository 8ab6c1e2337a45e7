//! Members' personal data on its way to and from the database: encrypted
//! under the member's data key before the store sees it, decrypted after
//! (claim C13).
//!
//! Each member has one data key (a random AES-256 key), created on their
//! first write and stored only wrapped by the key ring (`member_keys`).
//! Every value is sealed with [`anshin_vault::fields`] for its table, its
//! column and its row id, so a ciphertext moved elsewhere in the database
//! fails to open with [`MemberDataError::Unreadable`] instead of showing
//! another member's data. Addresses and bank accounts are sealed as one
//! JSON object of their canonical fields; the phone as its `+81…` form.
//!
//! [`shred`] deletes the wrapped key: the ciphertexts of the member go with
//! it (`ON DELETE CASCADE`), and any copy of them left elsewhere (a replica,
//! a backup) is AES-256-GCM under a key nobody holds. A backup that still
//! holds the wrapped key loses it when the KEK it names is rotated away and
//! retired (`anshin keys rotate`, `reencrypt`, `retire`; see ADR 0006).
//!
//! Every write is one [`Changes`] bundle (the bank account's with its
//! notice mail). What an attacker tries: read or change another member's
//! address by id (every address write and read is scoped to the member,
//! and another member's id answers exactly like a missing one); move a
//! ciphertext to their own row (the row id is bound into the encryption);
//! change the payout account from a stolen session (a recent login is
//! required, and the owner is mailed).

use anshin_domain::{AddressId, MemberId, Timestamp};
use anshin_store::{
    AddressRecord, Changes, MemberKeyRecord, ReauthDraftRecord, SealedTable, SessionRecord,
    StoreError, Write, guards,
};
use anshin_vault::{DataKey, FieldContext, VaultError, fields};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{BankAccount, FieldError, PhoneNumber, RawAddress, RawBankAccount, ShippingAddress};
use crate::Services;
use crate::limits::{self, BudgetError, Collection, TooManyChanges};
use crate::mail::compose::Letter;
use crate::random::Random;

/// Blind-index domain of phone numbers.
pub const PHONE_INDEX_DOMAIN: &str = "member_phones.phone";

#[derive(Debug, thiserror::Error)]
pub enum MemberDataError {
    /// The form has errors; each names its field.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// A stored value (or the member's key) does not decrypt: moved,
    /// tampered with, or its key is gone. Never shown with the bytes.
    #[error("stored personal data in {table}.{column} cannot be decrypted: {source}")]
    Unreadable {
        table: &'static str,
        column: &'static str,
        source: VaultError,
    },
    /// The decrypted value does not parse (should not happen; it was
    /// parsed before it was sealed).
    #[error("stored personal data in {table} decrypted but is malformed")]
    Malformed { table: &'static str },
    #[error("no such address")]
    NotFound,
    /// The payout account may change only after a recent login (or a
    /// fresh code).
    #[error("re-authentication required")]
    ReauthRequired,
    /// The member of the session no longer exists.
    #[error("not authenticated")]
    NotAuthenticated,
    /// The member owns as many of `collection` as `limits.max_*` allows;
    /// nothing was added.
    #[error("the member already has {max} {}", collection.name())]
    LimitReached { collection: Collection, max: u32 },
    /// The member changed personal data too often in the current window
    /// (`limits.max_personal_data_changes`); nothing was changed.
    #[error(transparent)]
    TooManyChanges(#[from] TooManyChanges),
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::compose::SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MemberDataError {
    fn from_store(e: StoreError) -> Self {
        if e.is_precondition(guards::ADDRESS_NOT_FOUND) {
            MemberDataError::NotFound
        } else {
            MemberDataError::Store(e)
        }
    }
}

impl From<BudgetError> for MemberDataError {
    fn from(e: BudgetError) -> Self {
        match e {
            BudgetError::Spent(t) => MemberDataError::TooManyChanges(t),
            BudgetError::Store(e) => MemberDataError::Store(e),
        }
    }
}

/// Counts this change against the member's budget (see
/// [`crate::limits::take_personal_data_change`]).
async fn count_change(svc: &Services, member_id: MemberId) -> Result<(), MemberDataError> {
    Ok(limits::take_personal_data_change(svc, member_id).await?)
}

/// One of the member's addresses, decrypted.
#[derive(Debug, Clone)]
pub struct StoredAddress {
    pub id: AddressId,
    pub is_default: bool,
    pub address: ShippingAddress,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The context of a value: its table, column and row (the member id for
/// one-per-member tables, the address id for addresses).
pub fn context(table: SealedTable, row_id: &[u8; 16]) -> FieldContext<'_> {
    FieldContext::new(table.table(), table.column(), row_id)
}

fn unreadable(table: SealedTable) -> impl Fn(VaultError) -> MemberDataError {
    move |source| MemberDataError::Unreadable {
        table: table.table(),
        column: table.column(),
        source,
    }
}

/// The member's data key, if they have one.
pub async fn existing_key(
    svc: &Services,
    member_id: MemberId,
) -> Result<Option<DataKey>, MemberDataError> {
    existing_key_in(svc.store.as_ref(), &svc.keys, member_id).await
}

/// [`existing_key`] with only the store and the ring (key maintenance
/// runs from the command line, without the rest of the services).
pub async fn existing_key_in(
    store: &dyn anshin_store::Store,
    keys: &crate::keys::Keys,
    member_id: MemberId,
) -> Result<Option<DataKey>, MemberDataError> {
    let Some(record) = store.member_data().member_key(member_id).await? else {
        return Ok(None);
    };
    keys.unwrap_member_key(&record.wrapped_key, member_id.as_bytes())
        .map(Some)
        .map_err(|source| MemberDataError::Unreadable {
            table: "member_keys",
            column: "wrapped_key",
            source,
        })
}

/// The member's data key, created (and stored wrapped) on first use.
///
/// The store refuses a key wrapped under a KEK version that `keys retire`
/// has marked retired (it could never be unwrapped again). That happens
/// when this process wrapped with a ring loaded before a rotation: the
/// ring file is reread and the key wrapped once more under its current
/// version. A ring from the environment cannot be reread; the write fails
/// until the server restarts with the current ring.
async fn key_for_write(svc: &Services, member_id: MemberId) -> Result<DataKey, MemberDataError> {
    if let Some(key) = existing_key(svc, member_id).await? {
        return Ok(key);
    }
    let keys = &svc.keys;
    let fresh = DataKey::generate(&mut svc.random.rng());
    let stored = match store_new_key(svc, &fresh, member_id).await {
        Err(MemberDataError::Store(StoreError::RetiredKek(version))) => {
            if let Err(e) = keys.reload() {
                tracing::error!(error = %e, "cannot reload the key ring");
            }
            if i64::from(keys.ring().current_version()) == version {
                tracing::error!(
                    kek_version = version,
                    "this server's key ring wraps new data keys under a retired KEK version; \
                     restart it with the current ring"
                );
                return Err(StoreError::RetiredKek(version).into());
            }
            store_new_key(svc, &fresh, member_id).await?
        }
        other => other?,
    };
    // Another request may have created the key first; use the stored one.
    keys.unwrap_member_key(&stored.wrapped_key, member_id.as_bytes())
        .map_err(|source| MemberDataError::Unreadable {
            table: "member_keys",
            column: "wrapped_key",
            source,
        })
}

/// Wraps `fresh` under the ring's current KEK and stores it unless the
/// member has a key already; returns the stored record.
async fn store_new_key(
    svc: &Services,
    fresh: &DataKey,
    member_id: MemberId,
) -> Result<MemberKeyRecord, MemberDataError> {
    let wrapped = svc
        .keys
        .wrap_member_key(fresh, member_id.as_bytes(), &svc.random)
        .map_err(|source| MemberDataError::Unreadable {
            table: "member_keys",
            column: "wrapped_key",
            source,
        })?;
    Ok(svc
        .store
        .member_data()
        .create_member_key(
            member_id,
            wrapped.as_bytes(),
            i64::from(wrapped.kek_version()),
            svc.now(),
        )
        .await?)
}

fn seal(
    random: &Random,
    key: &DataKey,
    table: SealedTable,
    row_id: &[u8; 16],
    plaintext: &[u8],
) -> Result<Vec<u8>, MemberDataError> {
    fields::encrypt(key, &context(table, row_id), plaintext, &mut random.rng())
        .map_err(unreadable(table))
}

fn open(
    key: &DataKey,
    table: SealedTable,
    row_id: &[u8; 16],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, MemberDataError> {
    fields::decrypt(key, &context(table, row_id), ciphertext).map_err(unreadable(table))
}

// ---- phone ----

/// Sets the member's phone (sealed, with its blind index).
pub async fn set_phone(
    svc: &Services,
    member_id: MemberId,
    phone: &PhoneNumber,
) -> Result<(), MemberDataError> {
    count_change(svc, member_id).await?;
    let key = key_for_write(svc, member_id).await?;
    let ct = seal(
        &svc.random,
        &key,
        SealedTable::Phones,
        member_id.as_bytes(),
        phone.as_str().as_bytes(),
    )?;
    let index = svc
        .keys
        .ring()
        .blind_index(PHONE_INDEX_DOMAIN, phone.as_str().as_bytes());
    let write = Write::SetPhone {
        member: member_id,
        ciphertext: ct,
        index,
        at: svc.now(),
    };
    svc.store.commit(&Changes::new().with(write)).await?;
    Ok(())
}

/// The member's phone, decrypted.
pub async fn phone(
    svc: &Services,
    member_id: MemberId,
) -> Result<Option<PhoneNumber>, MemberDataError> {
    let Some(ct) = svc.store.member_data().phone(member_id).await? else {
        return Ok(None);
    };
    let key = existing_key(svc, member_id)
        .await?
        .ok_or(MemberDataError::Malformed {
            table: "member_keys",
        })?;
    let plain = open(&key, SealedTable::Phones, member_id.as_bytes(), &ct)?;
    let text = std::str::from_utf8(&plain).map_err(|_| MemberDataError::Malformed {
        table: "member_phones",
    })?;
    PhoneNumber::parse(text)
        .map(Some)
        .map_err(|_| MemberDataError::Malformed {
            table: "member_phones",
        })
}

/// Removes the member's phone, for every door alike: a recent login
/// first (like changing the payout account), then the ciphertext and its
/// blind index are deleted. Removing a phone that is not there is fine.
pub async fn remove_phone(svc: &Services, session: &SessionRecord) -> Result<(), MemberDataError> {
    let member_id = session.member().ok_or(MemberDataError::NotAuthenticated)?;
    if !crate::sessions::recently_authenticated(svc, session) {
        return Err(MemberDataError::ReauthRequired);
    }
    svc.store
        .commit(&Changes::new().with(Write::RemovePhone { member: member_id }))
        .await?;
    tracing::info!(member = %member_id, "phone removed");
    Ok(())
}

// ---- addresses ----

/// The sealed form of an address: canonical strings.
#[derive(Serialize, Deserialize)]
struct AddressPlain<'a> {
    recipient_name: &'a str,
    postal_code: &'a str,
    prefecture: &'a str,
    city: &'a str,
    line1: &'a str,
    line2: Option<&'a str>,
    phone: Option<&'a str>,
}

pub(crate) fn address_bytes(a: &ShippingAddress) -> Result<Zeroizing<Vec<u8>>, MemberDataError> {
    let plain = AddressPlain {
        recipient_name: a.recipient_name().as_str(),
        postal_code: a.postal_code().as_str(),
        prefecture: a.prefecture().as_str(),
        city: a.city().as_str(),
        line1: a.line1().as_str(),
        line2: a.line2().map(|l| l.as_str()),
        phone: a.phone().map(|p| p.as_str()),
    };
    serde_json::to_vec(&plain)
        .map(Zeroizing::new)
        .map_err(|_| MemberDataError::Malformed {
            table: "shipping_addresses",
        })
}

pub(crate) fn parse_address(bytes: &[u8]) -> Result<ShippingAddress, MemberDataError> {
    let malformed = || MemberDataError::Malformed {
        table: "shipping_addresses",
    };
    let raw: RawAddress = serde_json::from_slice(bytes).map_err(|_| malformed())?;
    ShippingAddress::parse(raw).map_err(|_| malformed())
}

/// The member's addresses, decrypted, oldest first.
pub async fn list_addresses(
    svc: &Services,
    member_id: MemberId,
) -> Result<Vec<StoredAddress>, MemberDataError> {
    let rows = svc.store.member_data().list_addresses(member_id).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let key = existing_key(svc, member_id)
        .await?
        .ok_or(MemberDataError::Malformed {
            table: "member_keys",
        })?;
    rows.into_iter()
        .map(|r| {
            let plain = open(&key, SealedTable::Addresses, r.id.as_bytes(), &r.ciphertext)?;
            Ok(StoredAddress {
                id: r.id,
                is_default: r.is_default,
                address: parse_address(&plain)?,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// Adds an address (the first one, or one marked so, becomes the default).
pub async fn add_address(
    svc: &Services,
    member_id: MemberId,
    address: &ShippingAddress,
    make_default: bool,
) -> Result<AddressId, MemberDataError> {
    count_change(svc, member_id).await?;
    let key = key_for_write(svc, member_id).await?;
    let now = svc.now();
    let id: AddressId = svc.new_id();
    let ct = seal(
        &svc.random,
        &key,
        SealedTable::Addresses,
        id.as_bytes(),
        &address_bytes(address)?,
    )?;
    let record = AddressRecord {
        id,
        member_id,
        is_default: make_default,
        ciphertext: ct,
        created_at: now,
        updated_at: now,
    };
    let changes = Changes::new()
        .with(limits::ensure_room(svc, member_id, Collection::Addresses))
        .with(Write::AddAddress(record));
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(id),
        Err(e) if e.is_precondition(guards::LIMIT_REACHED) => Err(MemberDataError::LimitReached {
            collection: Collection::Addresses,
            max: limits::max(svc, Collection::Addresses),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Replaces one of the member's addresses.
pub async fn update_address(
    svc: &Services,
    member_id: MemberId,
    id: AddressId,
    address: &ShippingAddress,
    make_default: bool,
) -> Result<(), MemberDataError> {
    // Replacing needs an address of the member, and every address hangs
    // off the member's key: no key means no such address. Never create a
    // key here, or another member's id would leave the caller a stray one.
    let key = existing_key(svc, member_id)
        .await?
        .ok_or(MemberDataError::NotFound)?;
    count_change(svc, member_id).await?;
    let ct = seal(
        &svc.random,
        &key,
        SealedTable::Addresses,
        id.as_bytes(),
        &address_bytes(address)?,
    )?;
    let write = Write::UpdateAddress {
        member: member_id,
        address: id,
        ciphertext: ct,
        make_default,
        at: svc.now(),
    };
    svc.store
        .commit(&Changes::new().with(write))
        .await
        .map_err(MemberDataError::from_store)
}

/// One of the member's addresses; [`MemberDataError::NotFound`] for an id
/// that is not theirs (another member's address looks exactly like a
/// missing one).
pub async fn address(
    svc: &Services,
    member_id: MemberId,
    id: AddressId,
) -> Result<StoredAddress, MemberDataError> {
    list_addresses(svc, member_id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(MemberDataError::NotFound)
}

/// Makes one of the member's addresses the default. Only the flag is
/// written, never the address, so an edit saved at the same moment is
/// kept; [`MemberDataError::NotFound`] for an id that is not theirs.
pub async fn make_default_address(
    svc: &Services,
    member_id: MemberId,
    id: AddressId,
) -> Result<(), MemberDataError> {
    let write = Write::SetDefaultAddress {
        member: member_id,
        address: id,
        at: svc.now(),
    };
    svc.store
        .commit(&Changes::new().with(write))
        .await
        .map_err(MemberDataError::from_store)
}

/// Deletes one of the member's addresses (if it was the default, the
/// oldest remaining one becomes the default).
pub async fn delete_address(
    svc: &Services,
    member_id: MemberId,
    id: AddressId,
) -> Result<(), MemberDataError> {
    count_change(svc, member_id).await?;
    let write = Write::DeleteAddress {
        member: member_id,
        address: id,
    };
    svc.store
        .commit(&Changes::new().with(write))
        .await
        .map_err(MemberDataError::from_store)
}

// ---- an order's shipping snapshot (issue 13) ----

/// The chosen address as it is now, sealed under the buyer's data key
/// for the order's `order_shipping` row (bound to the order's id, so it
/// opens nowhere else).
pub async fn seal_order_shipping(
    svc: &Services,
    buyer: MemberId,
    order: anshin_domain::OrderId,
    address: &ShippingAddress,
) -> Result<Vec<u8>, MemberDataError> {
    let key = existing_key(svc, buyer)
        .await?
        .ok_or(MemberDataError::NotFound)?;
    seal(
        &svc.random,
        &key,
        SealedTable::OrderShipping,
        order.as_bytes(),
        &address_bytes(address)?,
    )
}

/// An order's shipping snapshot, decrypted (for its buyer's page; the
/// shipping centre will read it in the shipping issue).
pub async fn open_order_shipping(
    svc: &Services,
    buyer: MemberId,
    order: anshin_domain::OrderId,
    ciphertext: &[u8],
) -> Result<ShippingAddress, MemberDataError> {
    let key = existing_key(svc, buyer)
        .await?
        .ok_or(MemberDataError::Malformed {
            table: "member_keys",
        })?;
    let plain = open(
        &key,
        SealedTable::OrderShipping,
        order.as_bytes(),
        ciphertext,
    )?;
    parse_address(&plain)
}

// ---- bank account ----

#[derive(Serialize)]
struct BankPlain<'a> {
    bank_code: &'a str,
    branch_code: &'a str,
    account_type: &'a str,
    account_number: &'a str,
    holder_kana: &'a str,
}

/// Changes the payout account, for every door alike: a recent login
/// first, then the parsed fields, then the sealed account and its notice
/// mail to the member (C13), in one transaction.
pub async fn change_bank_account(
    svc: &Services,
    session: &SessionRecord,
    raw: RawBankAccount,
) -> Result<(), MemberDataError> {
    let member_id = session.member().ok_or(MemberDataError::NotAuthenticated)?;
    if !crate::sessions::recently_authenticated(svc, session) {
        return Err(MemberDataError::ReauthRequired);
    }
    let account = BankAccount::parse(raw).map_err(MemberDataError::Invalid)?;
    count_change(svc, member_id).await?;
    let member = svc
        .store
        .accounts()
        .find_member(member_id)
        .await?
        .ok_or(MemberDataError::NotAuthenticated)?;
    let key = key_for_write(svc, member_id).await?;
    let plain = BankPlain {
        bank_code: account.bank_code().as_str(),
        branch_code: account.branch_code().as_str(),
        account_type: account.account_type().as_str(),
        account_number: account.account_number().as_str(),
        holder_kana: account.holder_kana().as_str(),
    };
    let bytes =
        Zeroizing::new(
            serde_json::to_vec(&plain).map_err(|_| MemberDataError::Malformed {
                table: "bank_accounts",
            })?,
        );
    let ct = seal(
        &svc.random,
        &key,
        SealedTable::BankAccounts,
        member_id.as_bytes(),
        &bytes,
    )?;
    let mail = crate::mail::letter(
        svc,
        member.language,
        &member.email,
        &Letter::BankAccountChanged,
    )?;
    let changes = Changes::new()
        .with(Write::SetBankAccount {
            member: member_id,
            ciphertext: ct,
            at: svc.now(),
        })
        .mail(mail)
        .audited(crate::audit::member_event(
            svc,
            member_id,
            crate::audit::AuditAction::BankAccountSet,
            crate::audit::session_origin(session),
            serde_json::json!({ "session": session.id }),
        ));
    svc.store.commit(&changes).await?;
    tracing::info!(member = %member_id, "payout bank account changed; owner notified");
    Ok(())
}

/// Removes the payout account after a recent login; the ciphertext is
/// deleted. Removing an account that is not there is fine.
pub async fn remove_bank_account(
    svc: &Services,
    session: &SessionRecord,
) -> Result<(), MemberDataError> {
    let member_id = session.member().ok_or(MemberDataError::NotAuthenticated)?;
    if !crate::sessions::recently_authenticated(svc, session) {
        return Err(MemberDataError::ReauthRequired);
    }
    let changes = Changes::new()
        .with(Write::RemoveBankAccount { member: member_id })
        .with(Write::DropReauthDraft {
            session: session.id,
            kind: DRAFT_BANK_ACCOUNT.to_owned(),
        })
        .audited(crate::audit::member_event(
            svc,
            member_id,
            crate::audit::AuditAction::BankAccountRemoved,
            crate::audit::session_origin(session),
            serde_json::json!({ "session": session.id }),
        ));
    svc.store.commit(&changes).await?;
    tracing::info!(member = %member_id, "payout bank account removed");
    Ok(())
}

// ---- the bank form kept across a re-authentication ----

/// The kind of draft that holds a typed bank account form.
const DRAFT_BANK_ACCOUNT: &str = "bank_account";

/// The table and column a draft is sealed for (with the session id as the
/// row id): a draft opens only for the session that kept it.
const DRAFT_TABLE: &str = "reauth_drafts";
const DRAFT_COLUMN: &str = "draft";

/// How long a typed bank form waits for its re-authentication.
pub const DRAFT_TTL_SECS: u64 = 15 * 60;

/// Keeps the bank form as typed, sealed under the member's data key and
/// bound to this session, for [`DRAFT_TTL_SECS`]: when saving it needs a
/// fresh login, the member confirms a code and finds the form as they
/// left it ([`take_bank_account_draft`]). Nothing of it travels in a URL
/// or a cookie.
pub async fn keep_bank_account_draft(
    svc: &Services,
    session: &SessionRecord,
    raw: &RawBankAccount,
) -> Result<(), MemberDataError> {
    let member_id = session.member().ok_or(MemberDataError::NotAuthenticated)?;
    let key = key_for_write(svc, member_id).await?;
    let plain = BankPlain {
        bank_code: &raw.bank_code,
        branch_code: &raw.branch_code,
        account_type: &raw.account_type,
        account_number: &raw.account_number,
        holder_kana: &raw.holder_kana,
    };
    let malformed = || MemberDataError::Malformed { table: DRAFT_TABLE };
    let bytes = Zeroizing::new(serde_json::to_vec(&plain).map_err(|_| malformed())?);
    let context = FieldContext::new(DRAFT_TABLE, DRAFT_COLUMN, session.id.as_bytes());
    let ciphertext =
        fields::encrypt(&key, &context, &bytes, &mut svc.random.rng()).map_err(|source| {
            MemberDataError::Unreadable {
                table: DRAFT_TABLE,
                column: DRAFT_COLUMN,
                source,
            }
        })?;
    let record = ReauthDraftRecord {
        session: session.id,
        member_id,
        kind: DRAFT_BANK_ACCOUNT.to_owned(),
        ciphertext,
        expires_at: svc.now() + anshin_domain::Duration::from_secs(DRAFT_TTL_SECS),
    };
    svc.store
        .commit(&Changes::new().with(Write::KeepReauthDraft(record)))
        .await?;
    Ok(())
}

/// The bank form this session kept, if it has one that has not expired;
/// it is deleted as it is read (the form shows it once). A draft that no
/// longer opens (the member's key changed) counts as none.
pub async fn take_bank_account_draft(
    svc: &Services,
    session: &SessionRecord,
) -> Result<Option<RawBankAccount>, MemberDataError> {
    let Some(member_id) = session.member() else {
        return Ok(None);
    };
    let store = svc.store.member_data();
    let Some(draft) = store
        .reauth_draft(session.id, DRAFT_BANK_ACCOUNT, svc.now())
        .await?
    else {
        return Ok(None);
    };
    svc.store
        .commit(&Changes::new().with(Write::DropReauthDraft {
            session: session.id,
            kind: DRAFT_BANK_ACCOUNT.to_owned(),
        }))
        .await?;
    if draft.member_id != member_id {
        return Ok(None);
    }
    let Some(key) = existing_key(svc, member_id).await? else {
        return Ok(None);
    };
    let context = FieldContext::new(DRAFT_TABLE, DRAFT_COLUMN, session.id.as_bytes());
    let Ok(plain) = fields::decrypt(&key, &context, &draft.ciphertext) else {
        tracing::warn!(member = %member_id, "a kept bank form no longer opens; dropped");
        return Ok(None);
    };
    Ok(serde_json::from_slice::<RawBankAccount>(&plain).ok())
}

/// The member's payout account, decrypted.
pub async fn bank_account(
    svc: &Services,
    member_id: MemberId,
) -> Result<Option<BankAccount>, MemberDataError> {
    let Some(ct) = svc.store.member_data().bank_account(member_id).await? else {
        return Ok(None);
    };
    let key = existing_key(svc, member_id)
        .await?
        .ok_or(MemberDataError::Malformed {
            table: "member_keys",
        })?;
    let plain = open(&key, SealedTable::BankAccounts, member_id.as_bytes(), &ct)?;
    let malformed = || MemberDataError::Malformed {
        table: "bank_accounts",
    };
    let raw: RawBankAccount = serde_json::from_slice(&plain).map_err(|_| malformed())?;
    BankAccount::parse(raw).map(Some).map_err(|_| malformed())
}

// ---- shredding ----

/// Crypto-shredding: destroys the member's data key. The wrapped key row
/// is deleted and every ciphertext of the member with it; copies of those
/// ciphertexts anywhere else can no longer be decrypted. True if the
/// member had a key.
pub async fn shred(svc: &Services, member_id: MemberId) -> Result<bool, MemberDataError> {
    let had = svc
        .store
        .member_data()
        .member_key(member_id)
        .await?
        .is_some();
    svc.store
        .commit(&Changes::new().with(Write::Shred { member: member_id }))
        .await?;
    tracing::info!(member_id = %member_id, had_key = had, "member data shredded");
    Ok(had)
}

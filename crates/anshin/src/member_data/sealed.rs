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

use anshin_store::{AddressRecord, MemberKeyRecord, NewMail, SealedTable, Store, StoreError};
use anshin_vault::{DataKey, FieldContext, VaultError, fields};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{BankAccount, FieldError, PhoneNumber, RawAddress, RawBankAccount, ShippingAddress};
use crate::keys::Keys;

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
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One of the member's addresses, decrypted.
#[derive(Debug, Clone)]
pub struct StoredAddress {
    pub id: Uuid,
    pub is_default: bool,
    pub address: ShippingAddress,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The context of a value: its table, column and row.
pub fn context(table: SealedTable, row_id: &Uuid) -> FieldContext<'_> {
    FieldContext::new(table.table(), table.column(), row_id.as_bytes())
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
    store: &dyn Store,
    keys: &Keys,
    member_id: Uuid,
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
async fn key_for_write(
    store: &dyn Store,
    keys: &Keys,
    member_id: Uuid,
    now: i64,
) -> Result<DataKey, MemberDataError> {
    if let Some(key) = existing_key(store, keys, member_id).await? {
        return Ok(key);
    }
    let fresh = DataKey::generate(&mut rand::rng());
    let stored = match store_new_key(store, keys, &fresh, member_id, now).await {
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
            store_new_key(store, keys, &fresh, member_id, now).await?
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
    store: &dyn Store,
    keys: &Keys,
    fresh: &DataKey,
    member_id: Uuid,
    now: i64,
) -> Result<MemberKeyRecord, MemberDataError> {
    let wrapped = keys
        .wrap_member_key(fresh, member_id.as_bytes())
        .map_err(|source| MemberDataError::Unreadable {
            table: "member_keys",
            column: "wrapped_key",
            source,
        })?;
    Ok(store
        .member_data()
        .create_member_key(
            member_id,
            wrapped.as_bytes(),
            i64::from(wrapped.kek_version()),
            now,
        )
        .await?)
}

fn seal(
    key: &DataKey,
    table: SealedTable,
    row_id: &Uuid,
    plaintext: &[u8],
) -> Result<Vec<u8>, MemberDataError> {
    fields::encrypt(key, &context(table, row_id), plaintext, &mut rand::rng())
        .map_err(unreadable(table))
}

fn open(
    key: &DataKey,
    table: SealedTable,
    row_id: &Uuid,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, MemberDataError> {
    fields::decrypt(key, &context(table, row_id), ciphertext).map_err(unreadable(table))
}

// ---- phone ----

pub async fn set_phone(
    store: &dyn Store,
    keys: &Keys,
    member_id: Uuid,
    phone: &PhoneNumber,
    now: i64,
) -> Result<(), MemberDataError> {
    let key = key_for_write(store, keys, member_id, now).await?;
    let ct = seal(
        &key,
        SealedTable::Phones,
        &member_id,
        phone.as_str().as_bytes(),
    )?;
    let index = keys
        .ring()
        .blind_index(PHONE_INDEX_DOMAIN, phone.as_str().as_bytes());
    store
        .member_data()
        .set_phone(member_id, &ct, &index, now)
        .await?;
    Ok(())
}

pub async fn phone(
    store: &dyn Store,
    keys: &Keys,
    member_id: Uuid,
) -> Result<Option<PhoneNumber>, MemberDataError> {
    let Some(ct) = store.member_data().phone(member_id).await? else {
        return Ok(None);
    };
    let key = existing_key(store, keys, member_id)
        .await?
        .ok_or(MemberDataError::Malformed {
            table: "member_keys",
        })?;
    let plain = open(&key, SealedTable::Phones, &member_id, &ct)?;
    let text = std::str::from_utf8(&plain).map_err(|_| MemberDataError::Malformed {
        table: "member_phones",
    })?;
    PhoneNumber::parse(text)
        .map(Some)
        .map_err(|_| MemberDataError::Malformed {
            table: "member_phones",
        })
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

fn address_bytes(a: &ShippingAddress) -> Result<Zeroizing<Vec<u8>>, MemberDataError> {
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

fn parse_address(bytes: &[u8]) -> Result<ShippingAddress, MemberDataError> {
    let malformed = || MemberDataError::Malformed {
        table: "shipping_addresses",
    };
    let raw: RawAddress = serde_json::from_slice(bytes).map_err(|_| malformed())?;
    ShippingAddress::parse(raw).map_err(|_| malformed())
}

pub async fn list_addresses(
    store: &dyn Store,
    keys: &Keys,
    member_id: Uuid,
) -> Result<Vec<StoredAddress>, MemberDataError> {
    let rows = store.member_data().list_addresses(member_id).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let key = existing_key(store, keys, member_id)
        .await?
        .ok_or(MemberDataError::Malformed {
            table: "member_keys",
        })?;
    rows.into_iter()
        .map(|r| {
            let plain = open(&key, SealedTable::Addresses, &r.id, &r.ciphertext)?;
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

pub async fn add_address(
    store: &dyn Store,
    keys: &Keys,
    member_id: Uuid,
    address: &ShippingAddress,
    make_default: bool,
    now: i64,
) -> Result<Uuid, MemberDataError> {
    let key = key_for_write(store, keys, member_id, now).await?;
    let id = Uuid::now_v7();
    let ct = seal(&key, SealedTable::Addresses, &id, &address_bytes(address)?)?;
    store
        .member_data()
        .add_address(&AddressRecord {
            id,
            member_id,
            is_default: make_default,
            ciphertext: ct,
            created_at: now,
            updated_at: now,
        })
        .await?;
    Ok(id)
}

pub async fn update_address(
    store: &dyn Store,
    keys: &Keys,
    member_id: Uuid,
    id: Uuid,
    address: &ShippingAddress,
    make_default: bool,
    now: i64,
) -> Result<(), MemberDataError> {
    // Replacing needs an address of the member, and every address hangs
    // off the member's key: no key means no such address. Never create a
    // key here, or another member's id would leave the caller a stray one.
    let key = existing_key(store, keys, member_id)
        .await?
        .ok_or(MemberDataError::NotFound)?;
    let ct = seal(&key, SealedTable::Addresses, &id, &address_bytes(address)?)?;
    if store
        .member_data()
        .update_address(member_id, id, &ct, make_default, now)
        .await?
    {
        Ok(())
    } else {
        Err(MemberDataError::NotFound)
    }
}

/// One of the member's addresses; [`MemberDataError::NotFound`] for an id
/// that is not theirs (another member's address looks exactly like a
/// missing one).
pub async fn address(
    store: &dyn Store,
    keys: &Keys,
    member_id: Uuid,
    id: Uuid,
) -> Result<StoredAddress, MemberDataError> {
    list_addresses(store, keys, member_id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(MemberDataError::NotFound)
}

/// Makes one of the member's addresses the default. Only the flag is
/// written (one store transaction), never the address, so an edit saved
/// at the same moment is kept; [`MemberDataError::NotFound`] for an id
/// that is not theirs.
pub async fn make_default_address(
    store: &dyn Store,
    member_id: Uuid,
    id: Uuid,
    now: i64,
) -> Result<(), MemberDataError> {
    if store
        .member_data()
        .set_default_address(member_id, id, now)
        .await?
    {
        Ok(())
    } else {
        Err(MemberDataError::NotFound)
    }
}

pub async fn delete_address(
    store: &dyn Store,
    member_id: Uuid,
    id: Uuid,
) -> Result<(), MemberDataError> {
    if store.member_data().delete_address(member_id, id).await? {
        Ok(())
    } else {
        Err(MemberDataError::NotFound)
    }
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

/// Stores the payout account and queues `mail` (the notice) in the same
/// transaction. The caller checks re-authentication.
pub async fn set_bank_account(
    store: &dyn Store,
    keys: &Keys,
    member_id: Uuid,
    account: &BankAccount,
    now: i64,
    mail: &NewMail,
) -> Result<(), MemberDataError> {
    let key = key_for_write(store, keys, member_id, now).await?;
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
    let ct = seal(&key, SealedTable::BankAccounts, &member_id, &bytes)?;
    store
        .member_data()
        .set_bank_account(member_id, &ct, now, mail)
        .await?;
    Ok(())
}

pub async fn bank_account(
    store: &dyn Store,
    keys: &Keys,
    member_id: Uuid,
) -> Result<Option<BankAccount>, MemberDataError> {
    let Some(ct) = store.member_data().bank_account(member_id).await? else {
        return Ok(None);
    };
    let key = existing_key(store, keys, member_id)
        .await?
        .ok_or(MemberDataError::Malformed {
            table: "member_keys",
        })?;
    let plain = open(&key, SealedTable::BankAccounts, &member_id, &ct)?;
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
pub async fn shred(store: &dyn Store, member_id: Uuid) -> Result<bool, MemberDataError> {
    let had = store.member_data().shred(member_id).await?;
    tracing::info!(member_id = %member_id, had_key = had, "member data shredded");
    Ok(had)
}

//! Personal data of members, parsed at the edge (claim C13).
//!
//! C13 promises that phone numbers, shipping names and addresses and bank
//! account details are encrypted with AES-256-GCM before they reach the
//! database. This module is the step before that: it turns what a person
//! typed into a form (full-width digits, half-width katakana, `〒`, `+81`)
//! into one canonical value, or into a list of [`FieldError`]s a form can
//! show next to each field, in English and Japanese.
//!
//! Why newtypes ("parse, don't validate"):
//! - a `PhoneNumber` or `BankAccount` can only exist if it was parsed, so
//!   code that receives one never re-checks it, and the canonical bytes
//!   (`as_str()`) are what the vault encrypts and what the blind index
//!   hashes: `090-1234-5678` and `０９０１２３４５６７８` are the same
//!   member, so they must give the same ciphertext input and index;
//! - the plaintext exists only inside these types. Their `Debug` prints
//!   `TypeName([redacted])`, they implement neither `Display` nor
//!   `Serialize`, and they wipe their memory when dropped (`ZeroizeOnDrop`),
//!   so a stray `tracing::debug!(?address)` or a core dump of a long-running
//!   worker does not hold the data in clear. Intermediate buffers made while
//!   parsing are `Zeroizing` too.
//!
//! [`sealed`] is the step after, and the use cases every door calls: it
//! encrypts the canonical values under the member's data key before the
//! store sees them, decrypts them after, and shreds a member by deleting
//! that key.
//!
//! What this module must never do (the parsers): log, print or echo a value (a
//! [`FieldError`] names the field and the rule, never the input), perform
//! I/O, or panic on any input (each parser has a proptest that feeds it
//! arbitrary strings).

mod address;
mod bank;
mod phone;
pub mod sealed;
mod text;

pub use address::{
    AddressLine, City, PostalCode, Prefecture, RawAddress, RecipientName, ShippingAddress,
};
pub use bank::{
    AccountNumber, AccountType, BankAccount, BankCode, BranchCode, HolderKana, RawBankAccount,
};
pub use phone::PhoneNumber;
pub use sealed::{
    DRAFT_TTL_SECS, MemberDataError, StoredAddress, add_address, address, bank_account,
    change_bank_account, delete_address, keep_bank_account_draft, list_addresses,
    make_default_address, phone, remove_bank_account, remove_phone, set_phone, shred,
    take_bank_account_draft, update_address,
};

/// What is wrong with one field of a form, for the person who filled it in.
///
/// `field` is the form field's name (`postal_code`, `holder_kana`, ...),
/// `code` a stable machine-readable reason (`required`, `too_long`,
/// `wrong_length`, ...) that clients may switch on. The sentence a person
/// reads comes from the message catalogs (`[field_errors]`, key
/// `field.code`, see [`crate::i18n::Catalog::field_error`]), in their
/// language. Neither contains the rejected input, so a `FieldError` may be
/// logged and returned in an API body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub code: &'static str,
}

impl FieldError {
    pub(crate) const fn new(field: &'static str, code: &'static str) -> Self {
        Self { field, code }
    }

    /// The catalog's sentence for this error.
    pub fn message<'a>(&self, catalog: &'a crate::i18n::Catalog) -> &'a str {
        catalog.field_error(self.field, self.code)
    }

    /// The same error reported against another field (`line2` is parsed
    /// by the `line1` rules, a shipping phone by the `phone` rules).
    #[must_use]
    pub fn for_field(mut self, field: &'static str) -> Self {
        self.field = field;
        self
    }
}

impl std::fmt::Display for FieldError {
    /// `field: code`; never contains the rejected input.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.code)
    }
}

impl std::error::Error for FieldError {}

#[cfg(test)]
mod catalog_tests {
    use proptest::prelude::*;

    use super::*;
    use crate::i18n::{Catalogs, Lang};

    fn assert_has_message(catalogs: &Catalogs, error: &FieldError) {
        for lang in [Lang::Ja, Lang::En] {
            let t = catalogs.get(lang);
            assert_ne!(
                error.message(t),
                t.error_400_body,
                "{error} has no {lang:?} message in [field_errors]"
            );
        }
    }

    proptest! {
        /// Whatever a person types, every field error the parsers report
        /// has a sentence in both catalogs (field errors come from the
        /// catalogs, not from the code).
        #[test]
        fn c13_every_field_error_has_a_message_in_both_languages(s in ".{0,40}", d in "[0-9０-９a-zア-ン -]{0,12}") {
            let c = Catalogs::load().unwrap();
            let address = RawAddress {
                recipient_name: s.clone(),
                postal_code: d.clone(),
                prefecture: s.clone(),
                city: s.clone(),
                line1: s.clone(),
                line2: Some(s.repeat(8)),
                phone: Some(d.clone()),
            };
            for e in ShippingAddress::parse(address).err().unwrap_or_default() {
                assert_has_message(&c, &e);
            }
            let bank = RawBankAccount {
                bank_code: d.clone(),
                branch_code: d.clone(),
                account_type: s.clone(),
                account_number: d.clone(),
                holder_kana: s.clone(),
            };
            for e in BankAccount::parse(bank).err().unwrap_or_default() {
                assert_has_message(&c, &e);
            }
            if let Err(e) = PhoneNumber::parse(&d) {
                assert_has_message(&c, &e);
            }
        }
    }
}

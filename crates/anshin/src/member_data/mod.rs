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
//! [`sealed`] is the step after: it encrypts the canonical values under the
//! member's data key before the store sees them, decrypts them after, and
//! shreds a member by deleting that key.
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

/// What is wrong with one field of a form, for the person who filled it in.
///
/// `field` is the form field's name (`postal_code`, `holder_kana`, ...),
/// `code` a stable machine-readable reason (`required`, `too_long`,
/// `wrong_length`, ...) that clients may switch on; the messages are for
/// people. None of them contains the rejected input, so a `FieldError` may
/// be logged and returned in an API body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub code: &'static str,
    pub message_en: &'static str,
    pub message_ja: &'static str,
}

impl FieldError {
    pub(crate) const fn new(
        field: &'static str,
        code: &'static str,
        message_en: &'static str,
        message_ja: &'static str,
    ) -> Self {
        Self {
            field,
            code,
            message_en,
            message_ja,
        }
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
    /// `field: code: English message`; never contains the rejected input.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.field, self.code, self.message_en)
    }
}

impl std::error::Error for FieldError {}

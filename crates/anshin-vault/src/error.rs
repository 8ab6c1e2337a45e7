//! Why a field or a wrapped data key could not be encrypted or decrypted.
//!
//! The messages are meant for operators: they say what to check without
//! echoing any byte of the input (which may be ciphertext or key material).

use crate::keys::KekVersion;

/// Errors of [`crate::fields`] and [`crate::envelope`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    /// The input is shorter than the fixed header plus authentication tag.
    #[error("ciphertext is malformed: {len} bytes is shorter than the minimum of {min}")]
    TooShort { len: usize, min: usize },

    /// A wrapped data key has a length other than the one its format fixes.
    #[error("wrapped data key is malformed: expected {expected} bytes, got {len}")]
    WrongLength { len: usize, expected: usize },

    /// The first byte names a format this build does not know.
    #[error("unsupported format version {0:#04x}; was this written by a newer anshin?")]
    UnsupportedVersion(u8),

    /// GCM tag check failed for a field.
    #[error(
        "authentication failed: the ciphertext does not belong to this table/column/row, \
         was tampered with, or the key is wrong"
    )]
    AuthenticationFailed,

    /// GCM tag check failed for a wrapped data key.
    #[error(
        "data key unwrap failed: the wrapped key does not belong to this member, \
         was tampered with, or the key-encryption key is wrong"
    )]
    UnwrapFailed,

    /// The wrapped key names a KEK version the ring never had.
    #[error("unknown key-encryption key version {0}: is the right key ring loaded?")]
    UnknownKekVersion(KekVersion),

    /// The wrapped key names a KEK version that was retired and destroyed.
    #[error(
        "key-encryption key version {0} is retired: this wrapped key should have been \
         rewrapped before retirement, or belongs to deleted data"
    )]
    RetiredKek(KekVersion),

    /// A table, column or row id does not fit the 4-byte length prefix.
    #[error("field context is too long: table, column and row id must each be under 4 GiB")]
    ContextTooLong,

    /// AES-GCM refused to encrypt (plaintext over its 64 GiB limit).
    #[error("encryption failed: plaintext exceeds the AES-GCM size limit")]
    EncryptionFailed,
}

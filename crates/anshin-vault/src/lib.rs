//! Cryptography for anshin, with no I/O.
//!
//! anshin promises creators and members that their personal data is
//! encrypted at rest, that passwords cannot be recovered from a stolen
//! database, and that sign-in codes cannot be replayed. This crate holds the
//! code behind those promises, small enough to review and fully tested:
//!
//! - [`token`]: session tokens and their CSRF companions;
//! - [`keys`]: the versioned key-encryption-key ring and its key file format;
//! - [`envelope`]: one data key per member, wrapped by the ring (AES-256-GCM);
//! - [`fields`]: field encryption bound to table, column and row;
//! - [`blind_index`](mod@blind_index): keyed hashes for equality lookups on encrypted columns;
//! - [`shred`]: why deleting a member's wrapped key erases their data;
//! - [`password`]: Argon2id password hashing (OWASP parameters);
//! - [`codes`]: one-time e-mail codes;
//! - [`dropoff`]: drop-off codes of anonymous shipping (C19).
//!
//! This crate must never read files, open sockets, read the clock or log:
//! callers hand it bytes, keys, time and randomness (every function that
//! needs randomness takes a `rand::CryptoRng`), so every function is
//! deterministic given its inputs and can be tested in isolation. It writes
//! no cryptographic primitive itself: AES-GCM, Argon2, HMAC and SHA-2 come
//! from the RustCrypto crates.
//!
//! Every key or secret type redacts itself in `Debug`, is wiped on drop and
//! implements neither `Display` nor `Serialize`.

// The vault takes its randomness as a parameter from the caller (the
// core's `Random`); its own tests and benches use the thread generator.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

mod error;
mod gcm;
mod secret;

pub mod blind_index;
pub mod codes;
pub mod dropoff;
pub mod envelope;
pub mod fields;
pub mod keys;
pub mod password;
pub mod shred;
pub mod token;

pub use blind_index::blind_index;
pub use codes::{CodeError, CodeKey, OneTimeCode, code_hash, verify_code};
pub use dropoff::{DropoffCode, DropoffError, DropoffKey};
pub use envelope::{DataKey, WrappedKey};
pub use error::VaultError;
pub use fields::FieldContext;
pub use keys::{BlindIndexKey, Kek, KekVersion, KeyRing, KeyRingError, KeySource};
pub use password::{
    DummyHash, PasswordError, PasswordParams, PhcString, Verification, dummy_verify, hash_password,
    keep_hash_memory_on_this_thread, kept_hash_memory_bytes, release_hash_memory_on_this_thread,
    verify_password,
};
pub use secret::KEY_LEN;
pub use token::{CsrfToken, SessionToken, TokenError, TokenHash};

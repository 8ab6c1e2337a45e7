//! Cryptography for anshin, with no I/O: session tokens and their CSRF
//! companions today; field encryption, the key ring, the blind index,
//! password hashing and one-time codes as the issues that need them land.
//!
//! This crate must never read files, open sockets, read the clock or log:
//! callers hand it bytes, keys and randomness, so every function is
//! deterministic given its inputs and can be tested in isolation.

pub mod token;

pub use token::{CsrfToken, SessionToken, TokenError, TokenHash};

//! Field encryption: AES-256-GCM under a member's data key, bound to the
//! table, column and row the value lives in.
//!
//! Stored format (NIST SP 800-38D, 96-bit random nonce, 128-bit tag):
//!
//! ```text
//! 0x01 | nonce (12) | ciphertext (len of plaintext) | tag (16)
//! ```
//!
//! Associated data: `0x01 || u32be(len table) || table || u32be(len column)
//! || column || u32be(len row_id) || row_id`. The length prefixes make the
//! encoding injective, so `("ab", "c")` and `("a", "bc")` are different
//! contexts.
//!
//! What an attacker with write access to the database tries, and why it fails:
//! - copying a ciphertext to another row (say, their own) or column to make
//!   the app decrypt it for them: `c13_ciphertext_moved_to_another_row_fails`,
//!   `c13_ciphertext_moved_to_another_column_fails`;
//! - flipping bits: `c13_tampered_byte_fails` and the proptest
//!   `c13_any_single_byte_flip_fails`;
//! - truncating or feeding garbage: `decrypt_of_arbitrary_bytes_never_panics`;
//! - learning whether two members share a value: each encryption draws a
//!   fresh nonce (`c13_same_plaintext_encrypts_differently`).
//!
//! GCM hides content, not length: the ciphertext is plaintext length + 29.
//! Nonce and key-usage limits: see the private `gcm` module and NIST
//! SP 800-38D <https://doi.org/10.6028/NIST.SP.800-38D>.

use rand::CryptoRng;
use zeroize::Zeroizing;

use crate::envelope::DataKey;
use crate::error::VaultError;
use crate::gcm::{self, NONCE_LEN, TAG_LEN};
use crate::secret::len_prefix;

/// Format byte of field ciphertexts produced by [`encrypt`].
pub const FIELD_FORMAT_V1: u8 = 0x01;
/// Bytes a ciphertext adds to its plaintext: format byte, nonce, tag.
pub const FIELD_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Where an encrypted value lives. Not secret; part of the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldContext<'a> {
    pub table: &'a str,
    pub column: &'a str,
    /// The row's primary key as bytes (e.g. a UUID's 16 bytes).
    pub row_id: &'a [u8],
}

impl<'a> FieldContext<'a> {
    pub fn new(table: &'a str, column: &'a str, row_id: &'a [u8]) -> Self {
        Self {
            table,
            column,
            row_id,
        }
    }

    /// The associated data for format `version`.
    fn associated_data(&self, version: u8) -> Result<Vec<u8>, VaultError> {
        let parts = [self.table.as_bytes(), self.column.as_bytes(), self.row_id];
        let total = parts
            .iter()
            .map(|p| p.len().saturating_add(4))
            .fold(1usize, usize::saturating_add);
        let mut aad = Vec::with_capacity(total);
        aad.push(version);
        for part in parts {
            aad.extend_from_slice(&len_prefix(part).ok_or(VaultError::ContextTooLong)?);
            aad.extend_from_slice(part);
        }
        Ok(aad)
    }
}

/// Encrypts `plaintext` for the field `ctx` under the member's `key`, with
/// a fresh nonce from `rng`.
pub fn encrypt<R: CryptoRng + ?Sized>(
    key: &DataKey,
    ctx: &FieldContext<'_>,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, VaultError> {
    let aad = ctx.associated_data(FIELD_FORMAT_V1)?;
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(plaintext.len().saturating_add(FIELD_OVERHEAD));
    out.push(FIELD_FORMAT_V1);
    out.extend_from_slice(&nonce);
    gcm::seal_append(key.expose_bytes(), &nonce, &aad, plaintext, &mut out)
        .map_err(|_| VaultError::EncryptionFailed)?;
    Ok(out)
}

/// Decrypts a value stored for the field `ctx`. The plaintext comes back in
/// a buffer that is wiped when dropped.
pub fn decrypt(
    key: &DataKey,
    ctx: &FieldContext<'_>,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let Some((&version, rest)) = ciphertext.split_first() else {
        return Err(VaultError::TooShort {
            len: 0,
            min: FIELD_OVERHEAD,
        });
    };
    if version != FIELD_FORMAT_V1 {
        return Err(VaultError::UnsupportedVersion(version));
    }
    if ciphertext.len() < FIELD_OVERHEAD {
        return Err(VaultError::TooShort {
            len: ciphertext.len(),
            min: FIELD_OVERHEAD,
        });
    }
    let (nonce, sealed) = rest
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(VaultError::TooShort {
            len: ciphertext.len(),
            min: FIELD_OVERHEAD,
        })?;
    let aad = ctx.associated_data(version)?;
    gcm::open(key.expose_bytes(), nonce, &aad, sealed).map_err(|_| VaultError::AuthenticationFailed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    const ROW_A: &[u8] = &[0xAA; 16];
    const ROW_B: &[u8] = &[0xBB; 16];

    fn key() -> DataKey {
        DataKey::generate(&mut rand::rng())
    }

    fn phone(row: &[u8]) -> FieldContext<'_> {
        FieldContext::new("members", "phone", row)
    }

    #[test]
    fn c13_round_trip() {
        let k = key();
        let ct = encrypt(&k, &phone(ROW_A), b"+81 90 1234 5678", &mut rand::rng()).unwrap();
        assert_eq!(ct.len(), 16 + FIELD_OVERHEAD);
        assert_eq!(ct.first(), Some(&FIELD_FORMAT_V1));
        assert_eq!(
            decrypt(&k, &phone(ROW_A), &ct).unwrap().as_slice(),
            b"+81 90 1234 5678"
        );
    }

    #[test]
    fn c13_empty_plaintext_round_trips() {
        let k = key();
        let ct = encrypt(&k, &phone(ROW_A), b"", &mut rand::rng()).unwrap();
        assert_eq!(ct.len(), FIELD_OVERHEAD);
        assert!(decrypt(&k, &phone(ROW_A), &ct).unwrap().is_empty());
    }

    #[test]
    fn c13_ciphertext_moved_to_another_row_fails() {
        let k = key();
        let ct = encrypt(&k, &phone(ROW_A), b"secret", &mut rand::rng()).unwrap();
        assert_eq!(
            decrypt(&k, &phone(ROW_B), &ct).unwrap_err(),
            VaultError::AuthenticationFailed
        );
    }

    #[test]
    fn c13_ciphertext_moved_to_another_column_fails() {
        let k = key();
        let ct = encrypt(&k, &phone(ROW_A), b"secret", &mut rand::rng()).unwrap();
        let address = FieldContext::new("members", "address", ROW_A);
        assert_eq!(
            decrypt(&k, &address, &ct).unwrap_err(),
            VaultError::AuthenticationFailed
        );
        let other_table = FieldContext::new("payouts", "phone", ROW_A);
        assert_eq!(
            decrypt(&k, &other_table, &ct).unwrap_err(),
            VaultError::AuthenticationFailed
        );
    }

    #[test]
    fn c13_context_encoding_is_unambiguous() {
        // Without length prefixes these two would share associated data.
        let k = key();
        let a = FieldContext::new("ab", "c", ROW_A);
        let b = FieldContext::new("a", "bc", ROW_A);
        let ct = encrypt(&k, &a, b"x", &mut rand::rng()).unwrap();
        assert_eq!(
            decrypt(&k, &b, &ct).unwrap_err(),
            VaultError::AuthenticationFailed
        );
    }

    #[test]
    fn c13_another_members_key_fails() {
        let ct = encrypt(&key(), &phone(ROW_A), b"secret", &mut rand::rng()).unwrap();
        assert_eq!(
            decrypt(&key(), &phone(ROW_A), &ct).unwrap_err(),
            VaultError::AuthenticationFailed
        );
    }

    #[test]
    fn c13_tampered_byte_fails() {
        let k = key();
        let ct = encrypt(&k, &phone(ROW_A), b"secret", &mut rand::rng()).unwrap();
        let mut bad = ct.clone();
        if let Some(last) = bad.last_mut() {
            *last ^= 0x80;
        }
        assert_eq!(
            decrypt(&k, &phone(ROW_A), &bad).unwrap_err(),
            VaultError::AuthenticationFailed
        );
    }

    #[test]
    fn c13_same_plaintext_encrypts_differently() {
        let k = key();
        let a = encrypt(&k, &phone(ROW_A), b"same", &mut rand::rng()).unwrap();
        let b = encrypt(&k, &phone(ROW_A), b"same", &mut rand::rng()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn c13_malformed_input_gets_specific_errors() {
        let k = key();
        let ctx = phone(ROW_A);
        assert_eq!(
            decrypt(&k, &ctx, &[]).unwrap_err(),
            VaultError::TooShort {
                len: 0,
                min: FIELD_OVERHEAD
            }
        );
        assert_eq!(
            decrypt(&k, &ctx, &[FIELD_FORMAT_V1; 10]).unwrap_err(),
            VaultError::TooShort {
                len: 10,
                min: FIELD_OVERHEAD
            }
        );
        assert_eq!(
            decrypt(&k, &ctx, &[0x02; 40]).unwrap_err(),
            VaultError::UnsupportedVersion(0x02)
        );
        let msg = VaultError::AuthenticationFailed.to_string();
        assert!(msg.contains("does not belong to this table/column/row"));
    }

    proptest! {
        #[test]
        fn c13_round_trip_for_arbitrary_plaintext_and_context(
            plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
            table in "\\PC{0,20}",
            column in "\\PC{0,20}",
            row in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let k = key();
            let ctx = FieldContext::new(&table, &column, &row);
            let ct = encrypt(&k, &ctx, &plaintext, &mut rand::rng()).unwrap();
            prop_assert_eq!(ct.len(), plaintext.len() + FIELD_OVERHEAD);
            let back = decrypt(&k, &ctx, &ct).unwrap();
            prop_assert_eq!(back.as_slice(), plaintext.as_slice());
        }

        #[test]
        fn decrypt_of_arbitrary_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            // Random bytes must fail cleanly (forging a 128-bit tag by chance
            // is out of reach), whatever their first byte or length.
            prop_assert!(decrypt(&key(), &phone(ROW_A), &bytes).is_err());
        }

        #[test]
        fn c13_any_single_byte_flip_fails(
            plaintext in proptest::collection::vec(any::<u8>(), 0..100),
            index in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let k = key();
            let mut ct = encrypt(&k, &phone(ROW_A), &plaintext, &mut rand::rng()).unwrap();
            let i = index.index(ct.len());
            if let Some(b) = ct.get_mut(i) {
                *b ^= flip;
            }
            prop_assert!(decrypt(&k, &phone(ROW_A), &ct).is_err());
        }
    }
}

//! Blind index: a keyed hash of a normalized value, for equality lookups on
//! encrypted columns ("is this phone number already registered?").
//!
//! `HMAC-SHA-256(key, "anshin/blind-index/v1" || u32be(len domain) || domain || value)`
//! with the ring's dedicated [`BlindIndexKey`]. The domain label separates
//! indexes: the same string as a phone and as an e-mail gives unrelated tags.
//! Normalizing the value (E.164 for phones, lower-cased e-mail…) is the
//! caller's job and must be identical at write and lookup time.
//!
//! What an attacker with a copy of the database tries, and why it fails:
//! - hashing every phone number (only ~10^10 of them) to reverse the index:
//!   without the key they cannot compute a single tag
//!   (`blind_index_depends_on_the_key`);
//! - correlating a value across indexes: `blind_index_is_separated_by_domain`.
//!
//! What it cannot hide: equal values have equal tags, by design, so the
//! database reveals which rows share a value. Use it only for columns
//! where that is acceptable, and delete a member's tags with their row.

use crate::keys::{BlindIndexKey, KeyRing};
use crate::secret::{hmac_sha256, len_prefix};

/// Domain label at the start of every blind-index MAC input.
const LABEL: &[u8] = b"anshin/blind-index/v1";

/// The blind index of `value` in index `domain` (e.g. `"phone"`).
pub fn blind_index(key: &BlindIndexKey, domain: &str, value: &[u8]) -> [u8; 32] {
    // Domain labels are short constants; a label over 4 GiB cannot occur,
    // and saturating keeps the encoding injective for every real label.
    let prefix = len_prefix(domain.as_bytes()).unwrap_or([0xff; 4]);
    hmac_sha256(
        key.expose_bytes(),
        &[LABEL, &prefix, domain.as_bytes(), value],
    )
}

impl KeyRing {
    /// [`blind_index`] with this ring's blind-index key.
    pub fn blind_index(&self, domain: &str, value: &[u8]) -> [u8; 32] {
        blind_index(self.blind_index_key(), domain, value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn blind_index_is_deterministic_for_equal_values() {
        let key = BlindIndexKey::generate(&mut rand::rng());
        assert_eq!(
            blind_index(&key, "phone", b"+819012345678"),
            blind_index(&key, "phone", b"+819012345678")
        );
        assert_ne!(
            blind_index(&key, "phone", b"+819012345678"),
            blind_index(&key, "phone", b"+819012345679")
        );
    }

    #[test]
    fn blind_index_depends_on_the_key() {
        let a = BlindIndexKey::generate(&mut rand::rng());
        let b = BlindIndexKey::generate(&mut rand::rng());
        assert_ne!(
            blind_index(&a, "phone", b"1"),
            blind_index(&b, "phone", b"1")
        );
    }

    #[test]
    fn blind_index_is_separated_by_domain() {
        let key = BlindIndexKey::generate(&mut rand::rng());
        assert_ne!(
            blind_index(&key, "phone", b"x"),
            blind_index(&key, "email", b"x")
        );
        // Length prefix: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(blind_index(&key, "ab", b"c"), blind_index(&key, "a", b"bc"));
    }

    #[test]
    fn blind_index_survives_kek_rotation() {
        let mut rng = rand::rng();
        let mut ring = KeyRing::generate(&mut rng);
        let before = ring.blind_index("phone", b"+819012345678");
        ring.rotate(&mut rng).unwrap();
        ring.retire(1).unwrap();
        assert_eq!(ring.blind_index("phone", b"+819012345678"), before);
    }

    #[test]
    fn blind_index_matches_a_fixed_vector() {
        // Pins the construction so a refactor cannot silently change every
        // stored index. Computed independently from the definition above
        // with a zero key (HMAC-SHA-256 per RFC 2104).
        let key = BlindIndexKey::from_bytes([0u8; 32]);
        let tag = blind_index(&key, "phone", b"+819012345678");
        let mut reference =
            <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&[0u8; 32]).unwrap();
        hmac::Mac::update(
            &mut reference,
            b"anshin/blind-index/v1\x00\x00\x00\x05phone+819012345678",
        );
        let expected: [u8; 32] = hmac::Mac::finalize(reference).into_bytes().into();
        assert_eq!(tag, expected);
    }
}

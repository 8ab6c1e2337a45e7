//! Shared plumbing for 256-bit secret keys and HMAC-SHA-256.
//!
//! Every key type of this crate is a 32-byte array that redacts itself in
//! `Debug`, is wiped on drop and implements neither `Display` nor any
//! serialization trait: the only ways out are the explicit, greppable
//! `expose_bytes` and the key ring's text form.

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

/// Length of every symmetric key in this crate (AES-256, HMAC-SHA-256).
pub const KEY_LEN: usize = 32;

/// Defines a 32-byte secret key type: `generate`, `from_bytes`,
/// `expose_bytes`, redacted `Debug`, zeroize on drop, constant-time `==`.
macro_rules! secret_key {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
        pub struct $name([u8; $crate::secret::KEY_LEN]);

        impl $name {
            /// A fresh key from the caller's CSPRNG.
            pub fn generate<R: rand::CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut bytes = [0u8; $crate::secret::KEY_LEN];
                rng.fill_bytes(&mut bytes);
                Self(bytes)
            }

            /// Wraps key material obtained elsewhere (a KMS, a test vector).
            /// The caller should wipe its own copy.
            pub fn from_bytes(bytes: [u8; $crate::secret::KEY_LEN]) -> Self {
                Self(bytes)
            }

            /// The raw key. Named `expose` so that every use stands out in review.
            pub fn expose_bytes(&self) -> &[u8; $crate::secret::KEY_LEN] {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            /// Constant-time, so comparing keys leaks nothing through timing.
            fn eq(&self, other: &Self) -> bool {
                subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
            }
        }

        impl Eq for $name {}
    };
}
pub(crate) use secret_key;

/// HMAC-SHA-256 (RFC 2104, <https://www.rfc-editor.org/rfc/rfc2104>) of the concatenation of `parts` under a 32-byte key.
///
/// The key is zero-padded to the 64-byte block size, which is exactly what
/// RFC 2104 §2 prescribes for short keys; this lets us use the infallible
/// `KeyInit::new` instead of `new_from_slice`, so there is no error path to
/// invent a fallback for. `hmac_matches_new_from_slice` checks the equivalence.
pub(crate) fn hmac_sha256(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = hmac::digest::Key::<hmac::Hmac<Sha256>>::default();
    for (dst, src) in block.iter_mut().zip(key.iter()) {
        *dst = *src;
    }
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Length prefix for variable-length fields inside MAC inputs and
/// associated data: 4 bytes big-endian, or `None` beyond 4 GiB.
pub(crate) fn len_prefix(bytes: &[u8]) -> Option<[u8; 4]> {
    u32::try_from(bytes.len()).ok().map(u32::to_be_bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Compiles only for types that wipe themselves when dropped.
    fn wipes_on_drop<T: zeroize::ZeroizeOnDrop + std::fmt::Debug>(value: &T) -> String {
        format!("{value:?}")
    }

    #[test]
    fn every_secret_type_wipes_on_drop_and_redacts_debug() {
        let mut rng = rand::rng();
        let params = crate::PasswordParams::owasp_minimum();
        let shown = [
            wipes_on_drop(&crate::Kek::from_bytes([0x5a; KEY_LEN])),
            wipes_on_drop(&crate::BlindIndexKey::from_bytes([0x5a; KEY_LEN])),
            wipes_on_drop(&crate::DataKey::from_bytes([0x5a; KEY_LEN])),
            wipes_on_drop(&crate::CodeKey::from_bytes([0x5a; KEY_LEN])),
            wipes_on_drop(&crate::SessionToken::generate(&mut rng)),
            wipes_on_drop(&crate::OneTimeCode::generate(&mut rng, 6).unwrap()),
            wipes_on_drop(&crate::hash_password(b"pw", &params, &mut rng).unwrap()),
        ];
        for text in shown {
            assert!(text.contains("[redacted]"), "{text}");
            // 0x5a repeated would print as "90, 90" in a derived Debug.
            assert!(!text.contains("90"), "{text}");
        }
    }

    #[test]
    fn hmac_matches_new_from_slice() {
        let key = [7u8; KEY_LEN];
        let mut reference = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        reference.update(b"hello world");
        let expected: [u8; 32] = reference.finalize().into_bytes().into();
        assert_eq!(hmac_sha256(&key, &[b"hello ", b"world"]), expected);
    }

    #[test]
    fn hmac_sha256_matches_rfc4231_style_vector() {
        // RFC 4231 test case 2 uses a 4-byte key; padding it to 32 zero-filled
        // bytes gives the same HMAC (RFC 2104 pads to the block size anyway).
        let mut key = [0u8; KEY_LEN];
        key.get_mut(..4).unwrap().copy_from_slice(b"Jefe");
        let tag = hmac_sha256(&key, &[b"what do ya want ", b"for nothing?"]);
        let expected = [
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
            0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
            0x64, 0xec, 0x38, 0x43,
        ];
        assert_eq!(tag, expected);
    }
}

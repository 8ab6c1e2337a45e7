//! Envelope encryption: one data key (DEK) per member, wrapped by a KEK.
//!
//! Fields are encrypted under the member's DEK ([`crate::fields`]); the DEK
//! is stored only wrapped, as a [`WrappedKey`]:
//!
//! ```text
//! 0x01 | KEK version (u32 BE) | nonce (12) | AES-256-GCM(DEK) (32) | tag (16)   = 65 bytes
//! ```
//!
//! with associated data `b"anshin/dek/v1" || member_id`, so a wrapped key is
//! only accepted for the member it was made for. Rotating the KEK means
//! rewrapping 65-byte blobs, never re-encrypting fields; deleting the
//! wrapped key crypto-shreds the member ([`crate::shred`]).
//!
//! What an attacker tries, and why it fails:
//! - copying member A's wrapped key onto member B's row to read A's fields
//!   as B: `c13_wrapped_key_of_another_member_fails`;
//! - flipping bits of a wrapped key: `c13_tampered_wrapped_key_fails`;
//! - changing the KEK version byte to pick another key:
//!   `c13_wrapped_key_with_edited_kek_version_fails`;
//! - feeding arbitrary bytes: `unwrap_of_arbitrary_bytes_never_panics`.

use rand::CryptoRng;

use crate::error::VaultError;
use crate::gcm::{self, NONCE_LEN, TAG_LEN};
use crate::keys::{KekVersion, KeyRing};
use crate::secret::{KEY_LEN, secret_key};

secret_key!(
    /// A member's data key (AES-256). Never stored in clear: only as a
    /// [`WrappedKey`].
    DataKey
);

/// Format byte of [`WrappedKey`]s produced by [`KeyRing::wrap`].
pub const WRAP_FORMAT_V1: u8 = 0x01;
/// Length of a version-1 wrapped key.
pub const WRAPPED_KEY_LEN: usize = 1 + 4 + NONCE_LEN + KEY_LEN + TAG_LEN;
/// Domain label at the start of the associated data.
const DEK_AAD_LABEL: &[u8] = b"anshin/dek/v1";

/// A data key encrypted under a KEK: what the database stores per member.
/// Not secret (it is ciphertext), but `Debug` shows only the KEK version.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey(Vec<u8>);

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WrappedKey(kek v{})", self.kek_version())
    }
}

impl WrappedKey {
    /// Checks the length and format byte of bytes read back from storage.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, VaultError> {
        kek_version_of(&bytes)?;
        Ok(Self(bytes))
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes to store, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The KEK version this key is wrapped under.
    pub fn kek_version(&self) -> KekVersion {
        // Length and format were checked on construction.
        kek_version_of(&self.0).unwrap_or_default()
    }
}

/// Which KEK version stored wrapped-key bytes use, for `keys status` and
/// for checking that no key still needs a version about to be retired.
pub fn kek_version_of(wrapped: &[u8]) -> Result<KekVersion, VaultError> {
    let Some((&format, rest)) = wrapped.split_first() else {
        return Err(VaultError::WrongLength {
            len: 0,
            expected: WRAPPED_KEY_LEN,
        });
    };
    if format != WRAP_FORMAT_V1 {
        return Err(VaultError::UnsupportedVersion(format));
    }
    if wrapped.len() != WRAPPED_KEY_LEN {
        return Err(VaultError::WrongLength {
            len: wrapped.len(),
            expected: WRAPPED_KEY_LEN,
        });
    }
    let (version, _) = rest
        .split_first_chunk::<4>()
        .ok_or(VaultError::WrongLength {
            len: wrapped.len(),
            expected: WRAPPED_KEY_LEN,
        })?;
    Ok(KekVersion::from_be_bytes(*version))
}

fn dek_aad(member_id: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DEK_AAD_LABEL.len().saturating_add(member_id.len()));
    aad.extend_from_slice(DEK_AAD_LABEL);
    aad.extend_from_slice(member_id);
    aad
}

impl KeyRing {
    /// Wraps `dek` for `member_id` under the current KEK with a fresh nonce.
    pub fn wrap<R: CryptoRng + ?Sized>(
        &self,
        dek: &DataKey,
        member_id: &[u8],
        rng: &mut R,
    ) -> Result<WrappedKey, VaultError> {
        let version = self.current_version();
        let kek = self.kek(version)?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(WRAPPED_KEY_LEN);
        out.push(WRAP_FORMAT_V1);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&nonce);
        gcm::seal_append(
            kek.expose_bytes(),
            &nonce,
            &dek_aad(member_id),
            dek.expose_bytes(),
            &mut out,
        )
        .map_err(|_| VaultError::EncryptionFailed)?;
        Ok(WrappedKey(out))
    }

    /// Recovers the data key of `member_id` from stored wrapped bytes.
    pub fn unwrap(&self, wrapped: &[u8], member_id: &[u8]) -> Result<DataKey, VaultError> {
        let version = kek_version_of(wrapped)?;
        let kek = self.kek(version)?;
        let body = wrapped.get(1 + 4..).ok_or(VaultError::UnwrapFailed)?;
        let (nonce, sealed) = body
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(VaultError::UnwrapFailed)?;
        let plain = gcm::open(kek.expose_bytes(), nonce, &dek_aad(member_id), sealed)
            .map_err(|_| VaultError::UnwrapFailed)?;
        let bytes: [u8; KEY_LEN] = plain
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::UnwrapFailed)?;
        Ok(DataKey::from_bytes(bytes))
    }

    /// Unwraps with whatever KEK `wrapped` names and wraps again under the
    /// current KEK: the per-member step of a KEK rotation.
    pub fn rewrap<R: CryptoRng + ?Sized>(
        &self,
        wrapped: &[u8],
        member_id: &[u8],
        rng: &mut R,
    ) -> Result<WrappedKey, VaultError> {
        let dek = self.unwrap(wrapped, member_id)?;
        self.wrap(&dek, member_id, rng)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn setup() -> (KeyRing, DataKey) {
        let mut rng = rand::rng();
        (KeyRing::generate(&mut rng), DataKey::generate(&mut rng))
    }

    #[test]
    fn c13_wrap_unwrap_round_trip() {
        let (ring, dek) = setup();
        let wrapped = ring.wrap(&dek, b"member-a", &mut rand::rng()).unwrap();
        assert_eq!(wrapped.as_bytes().len(), WRAPPED_KEY_LEN);
        assert_eq!(wrapped.kek_version(), 1);
        assert_eq!(ring.unwrap(wrapped.as_bytes(), b"member-a").unwrap(), dek);
    }

    #[test]
    fn c13_two_wraps_of_one_key_differ() {
        // Fresh nonce per wrap: identical DEKs are not recognisable.
        let (ring, dek) = setup();
        let a = ring.wrap(&dek, b"m", &mut rand::rng()).unwrap();
        let b = ring.wrap(&dek, b"m", &mut rand::rng()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn c13_wrapped_key_of_another_member_fails() {
        let (ring, dek) = setup();
        let wrapped = ring.wrap(&dek, b"member-a", &mut rand::rng()).unwrap();
        assert_eq!(
            ring.unwrap(wrapped.as_bytes(), b"member-b").unwrap_err(),
            VaultError::UnwrapFailed
        );
    }

    #[test]
    fn c13_tampered_wrapped_key_fails() {
        let (ring, dek) = setup();
        let wrapped = ring
            .wrap(&dek, b"m", &mut rand::rng())
            .unwrap()
            .into_bytes();
        // Every byte after the header (nonce, ciphertext, tag).
        for i in 5..WRAPPED_KEY_LEN {
            let mut bad = wrapped.clone();
            if let Some(b) = bad.get_mut(i) {
                *b ^= 0x01;
            }
            assert_eq!(
                ring.unwrap(&bad, b"m").unwrap_err(),
                VaultError::UnwrapFailed,
                "byte {i}"
            );
        }
    }

    #[test]
    fn c13_wrapped_key_with_edited_kek_version_fails() {
        let mut rng = rand::rng();
        let (mut ring, dek) = setup();
        let wrapped = ring.wrap(&dek, b"m", &mut rng).unwrap().into_bytes();
        ring.rotate(&mut rng).unwrap();
        let mut edited = wrapped.clone();
        if let Some(b) = edited.get_mut(4) {
            *b = 2; // claims KEK v2, which exists but did not wrap it
        }
        assert_eq!(
            ring.unwrap(&edited, b"m").unwrap_err(),
            VaultError::UnwrapFailed
        );
        if let Some(b) = edited.get_mut(4) {
            *b = 9;
        }
        assert_eq!(
            ring.unwrap(&edited, b"m").unwrap_err(),
            VaultError::UnknownKekVersion(9)
        );
    }

    #[test]
    fn c13_unwrap_after_rotation_and_rewrap() {
        let mut rng = rand::rng();
        let (mut ring, dek) = setup();
        let old = ring.wrap(&dek, b"m", &mut rng).unwrap();
        let v2 = ring.rotate(&mut rng).unwrap();
        // Old wraps keep working until retirement...
        assert_eq!(ring.unwrap(old.as_bytes(), b"m").unwrap(), dek);
        assert!(ring.needs_rewrap(old.as_bytes()).unwrap());
        let new = ring.rewrap(old.as_bytes(), b"m", &mut rng).unwrap();
        assert_eq!(new.kek_version(), v2);
        assert!(!ring.needs_rewrap(new.as_bytes()).unwrap());
        ring.retire(1).unwrap();
        // ...after which only the rewrapped key opens.
        assert_eq!(ring.unwrap(new.as_bytes(), b"m").unwrap(), dek);
        assert_eq!(
            ring.unwrap(old.as_bytes(), b"m").unwrap_err(),
            VaultError::RetiredKek(1)
        );
    }

    #[test]
    fn c13_unwrap_with_another_ring_fails() {
        let (ring, dek) = setup();
        let other = KeyRing::generate(&mut rand::rng());
        let wrapped = ring.wrap(&dek, b"m", &mut rand::rng()).unwrap();
        assert_eq!(
            other.unwrap(wrapped.as_bytes(), b"m").unwrap_err(),
            VaultError::UnwrapFailed
        );
    }

    #[test]
    fn wrapped_key_format_errors_are_specific() {
        let (ring, dek) = setup();
        let wrapped = ring
            .wrap(&dek, b"m", &mut rand::rng())
            .unwrap()
            .into_bytes();
        assert_eq!(
            kek_version_of(&[]).unwrap_err(),
            VaultError::WrongLength {
                len: 0,
                expected: WRAPPED_KEY_LEN
            }
        );
        assert_eq!(
            kek_version_of(wrapped.get(..64).unwrap()).unwrap_err(),
            VaultError::WrongLength {
                len: 64,
                expected: WRAPPED_KEY_LEN
            }
        );
        let mut v9 = wrapped.clone();
        if let Some(b) = v9.first_mut() {
            *b = 0x09;
        }
        assert_eq!(
            WrappedKey::from_bytes(v9).unwrap_err(),
            VaultError::UnsupportedVersion(9)
        );
        assert_eq!(WrappedKey::from_bytes(wrapped).unwrap().kek_version(), 1);
    }

    #[test]
    fn debug_of_keys_is_redacted() {
        let (ring, dek) = setup();
        let wrapped = ring.wrap(&dek, b"m", &mut rand::rng()).unwrap();
        assert_eq!(format!("{dek:?}"), "DataKey([redacted])");
        assert_eq!(format!("{wrapped:?}"), "WrappedKey(kek v1)");
    }

    proptest! {
        #[test]
        fn unwrap_of_arbitrary_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..100),
            member in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let (ring, _) = setup();
            prop_assert!(ring.unwrap(&bytes, &member).is_err());
        }
    }
}

//! The two AES-256-GCM calls this crate makes, in one place.
//!
//! Nonces are 96 bits drawn from the caller's CSPRNG (NIST SP 800-38D
//! §8.2.2, "RBG-based construction"). With random nonces §8.3 caps a key at
//! 2^32 encryptions; we stay far below it because every member has their own
//! data key and a KEK only wraps one 32-byte key per member and rotation.
//!
//! Spec: NIST SP 800-38D, <https://doi.org/10.6028/NIST.SP.800-38D>.

use aes_gcm::aead::{Nonce, Tag};
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use zeroize::Zeroizing;

use crate::secret::KEY_LEN;

/// GCM nonce length (96 bits, the length SP 800-38D recommends).
pub(crate) const NONCE_LEN: usize = 12;
/// GCM tag length (128 bits, the full tag).
pub(crate) const TAG_LEN: usize = 16;

/// Appends `ciphertext || tag` of `plaintext` to `out`. Fails only when
/// AES-GCM's own size limits are exceeded.
pub(crate) fn seal_append(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), aes_gcm::Error> {
    let cipher = Aes256Gcm::new(key.into());
    let start = out.len();
    out.reserve(plaintext.len().saturating_add(TAG_LEN));
    out.extend_from_slice(plaintext);
    let buffer = out.get_mut(start..).ok_or(aes_gcm::Error)?;
    let tag =
        cipher.encrypt_inout_detached(&Nonce::<Aes256Gcm>::from(*nonce), aad, buffer.into())?;
    out.extend_from_slice(&tag);
    Ok(())
}

/// Checks the tag of `ciphertext || tag` and returns the plaintext in a
/// buffer that is wiped on drop. Any failure is one opaque error.
pub(crate) fn open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, aes_gcm::Error> {
    let split = sealed.len().checked_sub(TAG_LEN).ok_or(aes_gcm::Error)?;
    let (ciphertext, tag) = sealed.split_at_checked(split).ok_or(aes_gcm::Error)?;
    let tag = Tag::<Aes256Gcm>::try_from(tag).map_err(|_| aes_gcm::Error)?;
    let cipher = Aes256Gcm::new(key.into());
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    cipher.decrypt_inout_detached(
        &Nonce::<Aes256Gcm>::from(*nonce),
        aad,
        buffer.as_mut_slice().into(),
        &tag,
    )?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn aes_256_gcm_matches_a_known_answer() {
        // NIST GCM test vector (gcmEncryptExtIV256, Count 0 with 128-bit PT):
        // all-zero key, all-zero 96-bit IV, one all-zero block.
        let mut out = Vec::new();
        seal_append(&[0u8; 32], &[0u8; 12], b"", &[0u8; 16], &mut out).unwrap();
        let expected_ct = [
            0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e, 0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3,
            0x9d, 0x18,
        ];
        let expected_tag = [
            0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0, 0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a,
            0xb9, 0x19,
        ];
        assert_eq!(out.get(..16).unwrap(), expected_ct);
        assert_eq!(out.get(16..).unwrap(), expected_tag);
        let back = open(&[0u8; 32], &[0u8; 12], b"", &out).unwrap();
        assert_eq!(back.as_slice(), [0u8; 16]);
    }
}

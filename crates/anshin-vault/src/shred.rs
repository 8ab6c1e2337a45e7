//! Crypto-shredding: erasing a member by destroying their data key.
//!
//! Every encrypted field of a member is sealed under that member's data key
//! ([`crate::envelope::DataKey`]), and the data key exists at rest only as
//! the member's [`crate::envelope::WrappedKey`]. When the app deletes the
//! row holding the wrapped key, every ciphertext of that member (in the
//! database, in logs of queries, in replicas) becomes unreadable: AES-256-GCM
//! under a key nobody has. No function here "shreds" anything; the app's
//! DELETE is the shredding, and this module exists to state the argument and
//! its limits, and to test the part that is the crate's responsibility.
//!
//! What an attacker (or a future bug) might try after erasure, and why it fails:
//! - decrypting with any other key the system still holds — another
//!   member's data key, a freshly generated key for the same member id:
//!   `c13_shredded_member_ciphertexts_resist_every_remaining_key`;
//! - restoring the wrapped key from a backup: it still opens while the KEK it
//!   was wrapped under exists. Erasure is therefore complete only once every
//!   backup holding the wrapped key has expired, *or* the app has rotated the
//!   KEK, rewrapped the remaining members and retired the old version:
//!   `c13_backup_copy_of_wrapped_key_dies_with_retired_kek`.
//!
//! Limits the app must handle itself: plaintext it wrote elsewhere (search
//! indexes, e-mails, logs) is not covered, and blind-index tags of the
//! member remain linkable to a guessed value until their rows are deleted.

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::envelope::DataKey;
    use crate::error::VaultError;
    use crate::fields::{FieldContext, decrypt, encrypt};
    use crate::keys::KeyRing;

    #[test]
    fn c13_shredded_member_ciphertexts_resist_every_remaining_key() {
        let mut rng = rand::rng();
        let ring = KeyRing::generate(&mut rng);
        let ctx = FieldContext::new("members", "phone", b"member-a");

        let dek_a = DataKey::generate(&mut rng);
        let wrapped_a = ring.wrap(&dek_a, b"member-a", &mut rng).unwrap();
        let ct = encrypt(&dek_a, &ctx, b"+819012345678", &mut rng).unwrap();
        let dek_b = DataKey::generate(&mut rng);
        let wrapped_b = ring.wrap(&dek_b, b"member-b", &mut rng).unwrap();

        // Erasure: the row with A's wrapped key is deleted, and the in-memory
        // DEK is dropped (wiped on drop).
        drop(wrapped_a);
        drop(dek_a);

        // Everything that remains: the ring, B's wrapped key, new keys.
        let remaining_b = ring.unwrap(wrapped_b.as_bytes(), b"member-b").unwrap();
        let recreated_a = DataKey::generate(&mut rng);
        for key in [&remaining_b, &recreated_a] {
            assert_eq!(
                decrypt(key, &ctx, &ct).unwrap_err(),
                VaultError::AuthenticationFailed
            );
        }
        // B's wrapped key cannot be passed off as A's either.
        assert_eq!(
            ring.unwrap(wrapped_b.as_bytes(), b"member-a").unwrap_err(),
            VaultError::UnwrapFailed
        );
    }

    #[test]
    fn c13_backup_copy_of_wrapped_key_dies_with_retired_kek() {
        let mut rng = rand::rng();
        let mut ring = KeyRing::generate(&mut rng);
        let dek = DataKey::generate(&mut rng);
        let backup_copy = ring.wrap(&dek, b"member-a", &mut rng).unwrap();
        // A still opens from the backup while KEK v1 exists...
        assert_eq!(
            ring.unwrap(backup_copy.as_bytes(), b"member-a").unwrap(),
            dek
        );
        // ...and no longer once v1 is rotated out and retired.
        ring.rotate(&mut rng).unwrap();
        ring.retire(1).unwrap();
        assert_eq!(
            ring.unwrap(backup_copy.as_bytes(), b"member-a")
                .unwrap_err(),
            VaultError::RetiredKek(1)
        );
        // The retired key is gone from the saved ring too.
        let reloaded = KeyRing::parse(&ring.to_text()).unwrap();
        assert_eq!(
            reloaded
                .unwrap(backup_copy.as_bytes(), b"member-a")
                .unwrap_err(),
            VaultError::RetiredKek(1)
        );
    }
}

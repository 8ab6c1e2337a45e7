//! The key ring on disk, and the keys derived from it.
//!
//! The ring (`anshin-vault`'s `KeyRing`: KEK versions and the blind-index
//! key) lives in a file outside the database, created with mode 0600 on
//! first run in `<data-dir>/keys/keyring` (the embedded default) or read
//! from `keys.file`. It is never stored in the database, and it must be
//! backed up separately from it: a stolen database backup without the ring
//! reveals no encrypted field.
//!
//! Every app instance must use the same ring. To catch a misconfigured
//! instance before it writes data nobody can read, the database keeps a
//! key check value (an HMAC of a constant under the ring's key); a
//! different ring stops the start with a clear message.
//!
//! Purpose keys (one-time codes, mail outbox, bot challenges) are derived from the ring's
//! blind-index key with HMAC-SHA-256 and a distinct label each, so one
//! secret file yields independent keys.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anshin_store::Store;
use anshin_vault::{CodeKey, DataKey, KeyRing};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read key ring {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write key ring {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key ring {path} is invalid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "the key ring {path} does not match the one this database was written with; \
         every instance must use the same ring (keys.file)"
    )]
    Mismatch { path: PathBuf },
    #[error("database error while checking the key ring: {0}")]
    Store(#[from] anshin_store::StoreError),
}

/// The ring and the keys derived from it, shared by the whole app.
#[derive(Debug)]
pub struct Keys {
    pub ring: KeyRing,
    pub path: PathBuf,
    code_key: CodeKey,
    outbox_key: DataKey,
    challenge_key: crate::challenge::altcha::ChallengeKey,
}

/// Where the ring is when `keys.file` is unset.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("keyring")
}

impl Keys {
    /// Loads the ring, creating it (0600, in a 0700 directory) if absent.
    pub fn load_or_create(path: &Path) -> Result<Self, KeysError> {
        let ring = if path.exists() {
            let text = fs::read_to_string(path).map_err(|source| KeysError::Read {
                path: path.to_owned(),
                source,
            })?;
            KeyRing::parse(&text).map_err(|e| KeysError::Invalid {
                path: path.to_owned(),
                reason: e.to_string(),
            })?
        } else {
            let ring = KeyRing::generate(&mut rand::rng());
            write_private(path, ring.to_text().as_bytes())?;
            tracing::info!(path = %path.display(), "created a new key ring; back it up apart from the database");
            ring
        };
        Ok(Self::from_ring(ring, path.to_owned()))
    }

    pub fn from_ring(ring: KeyRing, path: PathBuf) -> Self {
        let code_key = CodeKey::from_bytes(derive(&ring, b"anshin/code-key/v1"));
        let outbox_key = DataKey::from_bytes(derive(&ring, b"anshin/outbox-key/v1"));
        let challenge_key = crate::challenge::altcha::ChallengeKey::from_bytes(derive(
            &ring,
            b"anshin/challenge-key/v1",
        ));
        Self {
            ring,
            path,
            code_key,
            outbox_key,
            challenge_key,
        }
    }

    /// Key for hashing one-time codes.
    pub fn code_key(&self) -> &CodeKey {
        &self.code_key
    }

    /// Key for the encrypted payloads of the mail outbox.
    pub fn outbox_key(&self) -> &DataKey {
        &self.outbox_key
    }

    /// Key for signing bot challenges (C7).
    pub fn challenge_key(&self) -> &crate::challenge::altcha::ChallengeKey {
        &self.challenge_key
    }

    /// Compares this ring with the one the database was first used with.
    pub async fn check_against(&self, store: &dyn Store) -> Result<(), KeysError> {
        let mine = derive(&self.ring, b"anshin/key-check/v1");
        let stored = store.key_check(&mine).await?;
        if subtle::ConstantTimeEq::ct_eq(stored.as_slice(), mine.as_slice()).into() {
            Ok(())
        } else {
            Err(KeysError::Mismatch {
                path: self.path.clone(),
            })
        }
    }
}

fn derive(ring: &KeyRing, label: &[u8]) -> [u8; 32] {
    match <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(ring.blind_index_key().expose_bytes()) {
        Ok(mut mac) => {
            mac.update(label);
            mac.finalize().into_bytes().into()
        }
        // HMAC takes keys of any length; this arm cannot run.
        Err(_) => [0u8; 32],
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeysError> {
    let err = |source| KeysError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err)?;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_created_private_and_reloaded_identically() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path());
        let a = Keys::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Keys::load_or_create(&path).unwrap();
        assert_eq!(a.code_key(), b.code_key());
        assert_ne!(a.code_key().expose_bytes(), a.outbox_key().expose_bytes());
    }
}

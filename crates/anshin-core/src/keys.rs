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
//! Purpose keys (one-time codes, mail outbox, bot challenges, audit details, drop-off codes) are derived from the ring's
//! blind-index key with HMAC-SHA-256 and a distinct label each, so one
//! secret file yields independent keys.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anshin_store::Store;
use anshin_vault::{CodeKey, DataKey, KeyRing};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::random::Random;
use crate::settings::{Invalid, Section, invalid};

/// `[keys]`: where the key ring is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSettings {
    /// The key ring file; unset means `<data-dir>/keys/keyring`, created on
    /// first run. Several instances must point at the same ring.
    pub file: Option<PathBuf>,
    /// Name of an environment variable holding the ring's text, instead of
    /// a file (for secret stores that inject variables). Wins over `file`.
    pub ring_env: Option<String>,
}

impl Section for KeysSettings {
    fn check(&self) -> Result<(), Invalid> {
        if let Some(name) = &self.ring_env
            && (name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return invalid(
                "keys.ring_env",
                "must be the name of an environment variable (letters, digits, _)",
            );
        }
        Ok(())
    }
}

impl KeysSettings {
    /// The ring file in effect.
    pub fn file(&self, data_dir: &Path) -> PathBuf {
        self.file.clone().unwrap_or_else(|| default_path(data_dir))
    }
}

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
///
/// The ring can change under a running server: `anshin keys rotate` adds a
/// KEK version to the ring file and rewraps the data keys. The server
/// rereads the file when it meets a wrapped key naming a version it does
/// not know, and before it wraps a new member's key (so new keys use the
/// current version), which is how rotation works online.
#[derive(Debug)]
pub struct Keys {
    ring: RwLock<Arc<KeyRing>>,
    /// The ring file, or `$NAME` when the ring came from an environment
    /// variable (then it is never reread or written).
    pub path: PathBuf,
    from_env: bool,
    code_key: CodeKey,
    outbox_key: DataKey,
    challenge_key: crate::challenge::altcha::ChallengeKey,
    staff_key: DataKey,
    staff_enrol_key: DataKey,
    audit_key: crate::audit::AuditKey,
    dropoff_key: anshin_vault::DropoffKey,
}

/// Where the ring is when `keys.file` is unset.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("keyring")
}

impl Keys {
    /// Loads the ring, creating it (0600, in a 0700 directory) if absent.
    pub fn load_or_create(path: &Path, random: &Random) -> Result<Self, KeysError> {
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
            let ring = KeyRing::generate(&mut random.rng());
            write_private(path, ring.to_text().as_bytes())?;
            tracing::info!(path = %path.display(), "created a new key ring; back it up apart from the database");
            ring
        };
        Ok(Self::from_ring(ring, path.to_owned()))
    }

    /// Reads the ring from the environment variable `name` (`keys.ring_env`):
    /// for deployments whose secret store injects environment variables.
    /// Such a ring is read once; `keys rotate` cannot write it back.
    pub fn from_env(name: &str) -> Result<Self, KeysError> {
        let path = PathBuf::from(format!("${name}"));
        let text = std::env::var(name).map_err(|_| KeysError::Invalid {
            path: path.clone(),
            reason: "the environment variable is unset or not UTF-8".into(),
        })?;
        let text = zeroize::Zeroizing::new(text);
        let ring = KeyRing::parse(&text).map_err(|e| KeysError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut keys = Self::from_ring(ring, path);
        keys.from_env = true;
        Ok(keys)
    }

    /// The ring named by the settings: `keys.ring_env`, else `keys.file`
    /// (created on first run).
    pub fn load(
        settings: &KeysSettings,
        data_dir: &Path,
        random: &Random,
    ) -> Result<Self, KeysError> {
        match &settings.ring_env {
            Some(name) => Self::from_env(name),
            None => Self::load_or_create(&settings.file(data_dir), random),
        }
    }

    pub fn from_ring(ring: KeyRing, path: PathBuf) -> Self {
        let code_key = CodeKey::from_bytes(derive(&ring, b"anshin/code-key/v1"));
        let outbox_key = DataKey::from_bytes(derive(&ring, b"anshin/outbox-key/v1"));
        let challenge_key = crate::challenge::altcha::ChallengeKey::from_bytes(derive(
            &ring,
            b"anshin/challenge-key/v1",
        ));
        let staff_key = DataKey::from_bytes(derive(&ring, b"anshin/staff-key/v1"));
        let staff_enrol_key = DataKey::from_bytes(derive(&ring, b"anshin/staff-enrol-key/v1"));
        let audit_key =
            crate::audit::AuditKey::from_bytes(derive(&ring, b"anshin/audit-details-key/v1"));
        let dropoff_key =
            anshin_vault::DropoffKey::from_bytes(derive(&ring, b"anshin/dropoff-key/v1"));
        Self {
            ring: RwLock::new(Arc::new(ring)),
            path,
            from_env: false,
            code_key,
            outbox_key,
            challenge_key,
            staff_key,
            staff_enrol_key,
            audit_key,
            dropoff_key,
        }
    }

    /// The ring as last loaded.
    pub fn ring(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether the ring came from an environment variable.
    pub fn is_from_env(&self) -> bool {
        self.from_env
    }

    /// Rereads the ring file (no-op for a ring from the environment). A
    /// file whose blind-index key differs is refused: that is another ring,
    /// not a rotation of this one.
    pub fn reload(&self) -> Result<Arc<KeyRing>, KeysError> {
        if self.from_env {
            return Ok(self.ring());
        }
        let text = zeroize::Zeroizing::new(fs::read_to_string(&self.path).map_err(|source| {
            KeysError::Read {
                path: self.path.clone(),
                source,
            }
        })?);
        let ring = KeyRing::parse(&text).map_err(|e| KeysError::Invalid {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        if derive(&ring, b"anshin/key-check/v1") != derive(&self.ring(), b"anshin/key-check/v1") {
            return Err(KeysError::Mismatch {
                path: self.path.clone(),
            });
        }
        let ring = Arc::new(ring);
        match self.ring.write() {
            Ok(mut w) => *w = ring.clone(),
            Err(poisoned) => *poisoned.into_inner() = ring.clone(),
        }
        Ok(ring)
    }

    /// Writes `ring` to the ring file atomically (temporary file 0600,
    /// fsync, rename, fsync of the directory) and makes it current here.
    pub fn save(&self, ring: KeyRing) -> Result<(), KeysError> {
        if self.from_env {
            return Err(KeysError::Invalid {
                path: self.path.clone(),
                reason: "a ring given in an environment variable cannot be written back; \
                         use keys.file for rotation, then update the variable"
                    .into(),
            });
        }
        replace_private(&self.path, ring.to_text().as_bytes())?;
        match self.ring.write() {
            Ok(mut w) => *w = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
        Ok(())
    }

    /// Unwraps a member's data key, rereading the ring once if the key
    /// names a KEK version this process has not seen (a rotation by
    /// another process).
    pub fn unwrap_member_key(
        &self,
        wrapped: &[u8],
        member_id: &[u8],
    ) -> Result<DataKey, anshin_vault::VaultError> {
        match self.ring().unwrap(wrapped, member_id) {
            Err(anshin_vault::VaultError::UnknownKekVersion(v)) => match self.reload() {
                Ok(ring) => ring.unwrap(wrapped, member_id),
                Err(e) => {
                    tracing::error!(error = %e, "cannot reload the key ring");
                    Err(anshin_vault::VaultError::UnknownKekVersion(v))
                }
            },
            other => other,
        }
    }

    /// Wraps a new member's data key under the current KEK version of the
    /// ring file (reread first, so a rotation by another process is used).
    pub fn wrap_member_key(
        &self,
        dek: &DataKey,
        member_id: &[u8],
        random: &Random,
    ) -> Result<anshin_vault::WrappedKey, anshin_vault::VaultError> {
        let ring = match self.reload() {
            Ok(ring) => ring,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reread the key ring; using the loaded one");
                self.ring()
            }
        };
        ring.wrap(dek, member_id, &mut random.rng())
    }

    /// Key for hashing one-time codes.
    pub fn code_key(&self) -> &CodeKey {
        &self.code_key
    }

    /// Key for the encrypted payloads of the mail outbox.
    pub fn outbox_key(&self) -> &DataKey {
        &self.outbox_key
    }

    /// Key sealing staff accounts' TOTP secrets (C21).
    pub fn staff_key(&self) -> &DataKey {
        &self.staff_key
    }

    /// Key deriving the TOTP secret an enrolment link offers (so the
    /// secret shown is not stored before it is confirmed).
    pub fn staff_enrol_key(&self) -> &DataKey {
        &self.staff_enrol_key
    }

    /// Key for signing bot challenges (C7).
    pub fn challenge_key(&self) -> &crate::challenge::altcha::ChallengeKey {
        &self.challenge_key
    }

    /// Key of the audit details' keyed hash (C22).
    pub fn audit_key(&self) -> &crate::audit::AuditKey {
        &self.audit_key
    }

    /// Key of the drop-off codes of anonymous shipping (C19): their MAC,
    /// their derivation and their stored hash.
    pub fn dropoff_key(&self) -> &anshin_vault::DropoffKey {
        &self.dropoff_key
    }

    /// Compares this ring with the one the database was first used with.
    pub async fn check_against(&self, store: &dyn Store) -> Result<(), KeysError> {
        let mine = derive(&self.ring(), b"anshin/key-check/v1");
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

/// Replaces `path` atomically: a crash leaves the old ring or the new one,
/// never a torn file.
fn replace_private(path: &Path, bytes: &[u8]) -> Result<(), KeysError> {
    let err = |source| KeysError::Write {
        path: path.to_owned(),
        source,
    };
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".new");
    let tmp = path.with_file_name(name);
    let _ = fs::remove_file(&tmp);
    write_private(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = fs::File::open(dir)
    {
        d.sync_all().map_err(err)?;
    }
    Ok(())
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeysError> {
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
        let a = Keys::load_or_create(&path, &Random::os()).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Keys::load_or_create(&path, &Random::os()).unwrap();
        assert_eq!(a.code_key(), b.code_key());
        assert_ne!(a.code_key().expose_bytes(), a.outbox_key().expose_bytes());
    }
}

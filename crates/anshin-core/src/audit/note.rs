//! Signed checkpoints in the C2SP formats: the checkpoint body
//! (`c2sp.org/tlog-checkpoint`: origin, tree size, base64 root hash) inside
//! a signed note (`c2sp.org/signed-note`: the text, a blank line, one line
//! `— <key name> <base64(key id ‖ Ed25519 signature)>`), and the verifier
//! key string `<name>+<hex key id>+<base64(0x01 ‖ public key)>` that
//! `anshin audit public-key` prints, so any signed-note tool can check the
//! notes without anshin.
//!
//! The signing key is an Ed25519 seed in its own file (default
//! `<data-dir>/keys/audit-signing-key`, mode 0600, created on first use):
//! like the key ring it never enters the database.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::random::Random;

/// Ed25519's signature type byte in C2SP key ids and verifier keys.
const ED25519: u8 = 0x01;
const KEY_FILE_HEADER: &str = "anshin-audit-signing-key/v1";

/// A checkpoint: which log, how many entries, the tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
}

impl Checkpoint {
    /// The checkpoint body: the text the signature covers.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("the note is not in the signed-note form: {0}")]
    Malformed(&'static str),
    #[error("the note has no signature by key {0}")]
    NoSignature(String),
    #[error("the signature by key {0} does not verify")]
    BadSignature(String),
    #[error("the verifier key is invalid: {0}")]
    BadKey(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("cannot read the audit signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the audit signing key {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the audit signing key {path} is invalid")]
    Invalid { path: PathBuf },
    #[error("the log origin is not a valid key name (no spaces or '+')")]
    BadName,
}

/// Whether `name` can be a signed-note key name: not empty, no '+', no
/// whitespace.
pub fn is_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c == '+' || c.is_whitespace())
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public.as_bytes());
    let d = h.finalize();
    let mut id = [0u8; 4];
    id.copy_from_slice(d.get(..4).unwrap_or(&[0; 4]));
    id
}

/// The log's signing key and name. Redacted on Debug; the key zeroes
/// itself on drop (ed25519-dalek's `zeroize` feature).
pub struct AuditSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigner")
            .field("name", &self.name)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl AuditSigner {
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, SignerError> {
        if !is_key_name(name) {
            return Err(SignerError::BadName);
        }
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Loads the key file, creating it (0600, in a 0700 directory) with a
    /// fresh seed if absent.
    pub fn load_or_create(path: &Path, name: &str, random: &Random) -> Result<Self, SignerError> {
        let seed = if path.exists() {
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                SignerError::Read {
                    path: path.to_owned(),
                    source,
                }
            })?);
            let mut lines = text.lines();
            let invalid = || SignerError::Invalid {
                path: path.to_owned(),
            };
            if lines.next() != Some(KEY_FILE_HEADER) {
                return Err(invalid());
            }
            let bytes = Zeroizing::new(
                B64.decode(lines.next().unwrap_or("").trim())
                    .map_err(|_| invalid())?,
            );
            let mut seed = Zeroizing::new([0u8; 32]);
            if bytes.len() != 32 {
                return Err(invalid());
            }
            seed.copy_from_slice(&bytes);
            seed
        } else {
            let mut seed = Zeroizing::new([0u8; 32]);
            random.fill(seed.as_mut_slice());
            let text = Zeroizing::new(format!("{KEY_FILE_HEADER}\n{}\n", B64.encode(*seed)));
            crate::keys::write_private(path, text.as_bytes()).map_err(|e| match e {
                crate::keys::KeysError::Write { path, source } => {
                    SignerError::Write { path, source }
                }
                _ => SignerError::Invalid {
                    path: path.to_owned(),
                },
            })?;
            tracing::info!(path = %path.display(), "created the audit signing key; back it up with the key ring");
            seed
        };
        Self::from_seed(name, *seed)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public side, to publish and to verify with.
    pub fn verifier(&self) -> NoteVerifier {
        let public = self.key.verifying_key();
        NoteVerifier {
            name: self.name.clone(),
            id: key_id(&self.name, &public),
            key: public,
        }
    }

    /// The signed note of a checkpoint.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let sig = self.key.sign(body.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&key_id(&self.name, &self.key.verifying_key()));
        blob.extend_from_slice(&sig.to_bytes());
        format!("{body}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// A published verifier key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    pub name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl std::fmt::Display for NoteVerifier {
    /// `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut k = vec![ED25519];
        k.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            B64.encode(k)
        )
    }
}

impl NoteVerifier {
    /// Parses a verifier key string; the key id must match the key.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        // name+id+key: the name and the hex id hold no '+'; the base64
        // key may.
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadKey("not name+id+key"));
        };
        if !is_key_name(name) {
            return Err(NoteError::BadKey("bad name"));
        }
        let key = B64
            .decode(key)
            .map_err(|_| NoteError::BadKey("key is not base64"))?;
        let Some((&ED25519, public)) = key.split_first() else {
            return Err(NoteError::BadKey("not an Ed25519 key"));
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| NoteError::BadKey("key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| NoteError::BadKey("bad point"))?;
        let want = key_id(name, &key);
        if hex::encode(want) != id.to_ascii_lowercase() {
            return Err(NoteError::BadKey("key id does not match the key"));
        }
        Ok(Self {
            name: name.to_owned(),
            id: want,
            key,
        })
    }

    /// Verifies a signed checkpoint note and returns the checkpoint.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let Some(split) = note.rfind("\n\n") else {
            return Err(NoteError::Malformed("no blank line before the signatures"));
        };
        let (body, sigs) = note.split_at(split + 1);
        let sigs = sigs.get(1..).unwrap_or("");
        let mut verified = false;
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(NoteError::Malformed(
                    "a signature line does not start with an em dash",
                ));
            };
            let Some((name, blob)) = rest.split_once(' ') else {
                return Err(NoteError::Malformed("a signature line has no signature"));
            };
            if name != self.name {
                continue;
            }
            let blob = B64
                .decode(blob)
                .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
            let (Some(id), Some(sig)) = (blob.get(..4), blob.get(4..)) else {
                continue;
            };
            if id != self.id {
                continue;
            }
            let sig = ed25519_dalek::Signature::from_slice(sig)
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
            self.key
                .verify_strict(body.as_bytes(), &sig)
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
            verified = true;
        }
        if !verified {
            return Err(NoteError::NoSignature(self.name.clone()));
        }
        let mut lines = body.lines();
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(NoteError::Malformed("a checkpoint has three lines"));
        };
        let size = size
            .parse::<u64>()
            .map_err(|_| NoteError::Malformed("the tree size is not a number"))?;
        let root: [u8; 32] = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::Malformed(
                "the root hash is not 32 bytes of base64",
            ))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp() -> Checkpoint {
        Checkpoint {
            origin: "shop.example.jp/audit".into(),
            size: 42,
            root: [9; 32],
        }
    }

    #[test]
    fn c22_a_signed_checkpoint_verifies_with_the_published_key_only() {
        let signer = AuditSigner::from_seed("shop.example.jp/audit", [3; 32]).unwrap();
        let note = signer.sign(&cp());
        assert!(note.starts_with("shop.example.jp/audit\n42\nCQkJ"));
        assert!(note.contains("\n\n\u{2014} shop.example.jp/audit "));
        let published = signer.verifier().to_string();
        let verifier = NoteVerifier::parse(&published).unwrap();
        assert_eq!(verifier.verify(&note).unwrap(), cp());
        // Another key of the same name: its id differs, so no signature.
        let other = AuditSigner::from_seed("shop.example.jp/audit", [4; 32]).unwrap();
        assert!(matches!(
            other.verifier().verify(&note),
            Err(NoteError::NoSignature(_))
        ));
        // A changed size or root breaks the signature.
        let forged = note.replacen("\n42\n", "\n41\n", 1);
        assert!(matches!(
            verifier.verify(&forged),
            Err(NoteError::BadSignature(_))
        ));
        // A key string whose id does not match its key is refused.
        let mut bad = published.clone();
        bad.replace_range(
            published.find('+').unwrap() + 1..published.find('+').unwrap() + 3,
            "zz",
        );
        assert!(NoteVerifier::parse(&bad).is_err());
    }

    #[test]
    fn c22_verifier_keys_whose_base64_holds_a_plus_parse() {
        let plus = (0u8..=255)
            .map(|seed| {
                AuditSigner::from_seed("x/audit", [seed; 32])
                    .unwrap()
                    .verifier()
            })
            .find(|v| v.to_string().matches('+').count() > 2)
            .expect("some key's base64 holds a '+'");
        assert_eq!(NoteVerifier::parse(&plus.to_string()).unwrap(), plus);
    }

    #[test]
    fn c22_the_signing_key_file_is_private_and_reloads_identically() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("audit-signing-key");
        let a = AuditSigner::load_or_create(&path, "x/audit", &Random::os()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = AuditSigner::load_or_create(&path, "x/audit", &Random::os()).unwrap();
        assert_eq!(a.verifier(), b.verifier());
        assert!(format!("{a:?}").contains("[redacted]"));
    }
}

//! The key-encryption key (KEK) ring: versioned KEKs plus the blind-index key.
//!
//! Member data keys are wrapped under the ring's *current* KEK (see
//! [`crate::envelope`]); older versions stay in the ring until every wrapped
//! key has been rewrapped, then they are retired: the key material is
//! dropped and only the version number is remembered, so that a stale
//! wrapped key fails with a clear "retired" error instead of "unknown", and
//! a retired number is never handed out again.
//!
//! What an attacker (or an operator mistake) tries, and why it fails:
//! - retiring the KEK still in use: refused
//!   (`c13_retired_kek_cannot_be_current`, `c13_parse_refuses_retired_current`);
//! - reusing a retired version number for a new key: `rotate` always
//!   counts past retired numbers (`c13_rotate_never_reuses_a_retired_version`);
//! - a corrupted or hand-edited key file: [`KeyRing::parse`] refuses it with
//!   a line number and a reason, never echoing the line (it may hold a key),
//!   and never panics (`keyring_parse_never_panics`);
//! - printing the ring in a log: `Debug` shows versions only
//!   (`debug_shows_versions_not_keys`).
//!
//! The text form is what the app writes to its key file (mode 0600):
//!
//! ```text
//! anshin-keyring v1
//! current 2
//! kek 1 <base64 of 32 bytes>
//! kek 2 <base64 of 32 bytes>
//! retired 0
//! blind-index <base64 of 32 bytes>
//! ```
//!
//! Blank lines and lines starting with `#` are ignored; everything else must
//! be one of the lines above.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use crate::envelope::{DataKey, WrappedKey};
use crate::error::VaultError;
use crate::secret::{KEY_LEN, secret_key};

/// Version number of a key-encryption key, stored in every wrapped key.
pub type KekVersion = u32;

/// First line of the text form.
pub const KEYRING_HEADER: &str = "anshin-keyring v1";

/// Length of a 32-byte key in standard padded base64.
const KEY_B64_LEN: usize = 44;

secret_key!(
    /// A key-encryption key: AES-256 key that wraps members' data keys.
    Kek
);

secret_key!(
    /// The HMAC-SHA-256 key of the blind index ([`crate::blind_index()`]).
    /// Deliberately its own key, never a KEK: rotating KEKs must not change
    /// blind indexes, and a leak of one must not expose the other.
    BlindIndexKey
);

/// Why a key ring could not be parsed or changed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyRingError {
    #[error("key ring text must start with the line `anshin-keyring v1`")]
    MissingHeader,
    #[error("key ring line {line}: {reason}")]
    Line { line: usize, reason: &'static str },
    #[error("key ring names KEK version {0} twice")]
    DuplicateVersion(KekVersion),
    #[error("key ring has more than one `{0}` line")]
    DuplicateLine(&'static str),
    #[error("key ring has no `current` line")]
    MissingCurrent,
    #[error("key ring has no `blind-index` line")]
    MissingBlindIndex,
    #[error("current KEK version {0} has no `kek` line in the key ring")]
    CurrentMissing(KekVersion),
    #[error("KEK version {0} is both present and marked retired")]
    PresentAndRetired(KekVersion),
    #[error("refusing to retire KEK version {0}: it is the current version; rotate first")]
    RetireCurrent(KekVersion),
    #[error("KEK version {0} is retired and cannot be the current version")]
    CurrentRetired(KekVersion),
    #[error("unknown KEK version {0}")]
    UnknownVersion(KekVersion),
    #[error("KEK version numbers are exhausted")]
    VersionOverflow,
}

/// Versioned KEKs, the current version, retired version numbers and the
/// blind-index key. Invariant: `current` is a key of `keks` and not retired.
#[derive(Clone)]
pub struct KeyRing {
    current: KekVersion,
    keks: BTreeMap<KekVersion, Kek>,
    retired: BTreeSet<KekVersion>,
    blind_index: BlindIndexKey,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current)
            .field("versions", &self.keks.keys().collect::<Vec<_>>())
            .field("retired", &self.retired)
            .field("blind_index", &"[redacted]")
            .finish()
    }
}

impl KeyRing {
    /// A new ring with KEK version 1 and a fresh blind-index key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut keks = BTreeMap::new();
        keks.insert(1, Kek::generate(rng));
        Self {
            current: 1,
            keks,
            retired: BTreeSet::new(),
            blind_index: BlindIndexKey::generate(rng),
        }
    }

    /// A ring holding a single KEK, e.g. key material from an external KMS.
    pub fn new(version: KekVersion, kek: Kek, blind_index: BlindIndexKey) -> Self {
        let mut keks = BTreeMap::new();
        keks.insert(version, kek);
        Self {
            current: version,
            keks,
            retired: BTreeSet::new(),
            blind_index,
        }
    }

    /// The version new data keys are wrapped under.
    pub fn current_version(&self) -> KekVersion {
        self.current
    }

    /// Versions whose key material is in the ring, ascending.
    pub fn versions(&self) -> impl Iterator<Item = KekVersion> + '_ {
        self.keks.keys().copied()
    }

    /// Versions that were retired (key material destroyed), ascending.
    pub fn retired_versions(&self) -> impl Iterator<Item = KekVersion> + '_ {
        self.retired.iter().copied()
    }

    /// Adds a fresh KEK and makes it current; returns its version. Older
    /// versions stay usable for unwrapping until retired.
    pub fn rotate<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<KekVersion, KeyRingError> {
        let highest = self
            .keks
            .keys()
            .chain(self.retired.iter())
            .copied()
            .max()
            .unwrap_or(0);
        let next = highest
            .checked_add(1)
            .ok_or(KeyRingError::VersionOverflow)?;
        self.keks.insert(next, Kek::generate(rng));
        self.current = next;
        Ok(next)
    }

    /// Destroys the key material of `version`. Refused for the current
    /// version. Retiring an already retired version is a no-op, so an
    /// interrupted `keys retire` can be rerun. The caller must first check
    /// that no wrapped key still uses `version` ([`KeyRing::needs_rewrap`]).
    pub fn retire(&mut self, version: KekVersion) -> Result<(), KeyRingError> {
        if version == self.current {
            return Err(KeyRingError::RetireCurrent(version));
        }
        if self.retired.contains(&version) {
            return Ok(());
        }
        // Dropping the Kek wipes it (ZeroizeOnDrop).
        match self.keks.remove(&version) {
            Some(_) => {
                self.retired.insert(version);
                Ok(())
            }
            None => Err(KeyRingError::UnknownVersion(version)),
        }
    }

    /// The KEK of `version`, or why there is none.
    pub(crate) fn kek(&self, version: KekVersion) -> Result<&Kek, VaultError> {
        match self.keks.get(&version) {
            Some(kek) => Ok(kek),
            None if self.retired.contains(&version) => Err(VaultError::RetiredKek(version)),
            None => Err(VaultError::UnknownKekVersion(version)),
        }
    }

    /// The key of the blind index.
    pub fn blind_index_key(&self) -> &BlindIndexKey {
        &self.blind_index
    }

    /// The text form described in the module docs. It contains every key in
    /// clear: write it only to a file of mode 0600.
    pub fn to_text(&self) -> Zeroizing<String> {
        // Sized up front so the string never reallocates: a reallocation
        // would leave an unwiped copy of the keys written so far.
        let lines = self.keks.len().saturating_add(self.retired.len());
        let mut out = Zeroizing::new(String::with_capacity(
            lines.saturating_mul(64).saturating_add(256),
        ));
        out.push_str(KEYRING_HEADER);
        out.push('\n');
        out.push_str(
            "# anshin key ring: keep this file mode 0600 and back it up apart from the database\n",
        );
        // `write!` into a String cannot fail; ignoring the Ok keeps this total.
        let _ = writeln!(out, "current {}", self.current);
        for (version, kek) in &self.keks {
            let b64 = Zeroizing::new(STANDARD.encode(kek.expose_bytes()));
            let _ = writeln!(out, "kek {version} {}", b64.as_str());
        }
        for version in &self.retired {
            let _ = writeln!(out, "retired {version}");
        }
        let b64 = Zeroizing::new(STANDARD.encode(self.blind_index.expose_bytes()));
        let _ = writeln!(out, "blind-index {}", b64.as_str());
        out
    }

    /// Parses the text form. Errors name the line and the problem but never
    /// quote the line, which may contain a key.
    pub fn parse(text: &str) -> Result<Self, KeyRingError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i.saturating_add(1), l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));

        match lines.next() {
            Some((_, KEYRING_HEADER)) => {}
            _ => return Err(KeyRingError::MissingHeader),
        }

        let mut current = None;
        let mut keks = BTreeMap::new();
        let mut retired = BTreeSet::new();
        let mut blind_index = None;

        for (line, content) in lines {
            let err = |reason| KeyRingError::Line { line, reason };
            let mut words = content.split_ascii_whitespace();
            let keyword = words.next().unwrap_or_default();
            let first = words.next();
            let second = words.next();
            if words.next().is_some() {
                return Err(err("too many words"));
            }
            match (keyword, first, second) {
                ("current", Some(v), None) => {
                    if current
                        .replace(parse_version(v).ok_or(err("bad version number"))?)
                        .is_some()
                    {
                        return Err(KeyRingError::DuplicateLine("current"));
                    }
                }
                ("kek", Some(v), Some(key)) => {
                    let version = parse_version(v).ok_or(err("bad version number"))?;
                    let kek = Kek::from_bytes(
                        parse_key(key).ok_or(err("key is not 32 bytes of base64"))?,
                    );
                    if keks.insert(version, kek).is_some() {
                        return Err(KeyRingError::DuplicateVersion(version));
                    }
                }
                ("retired", Some(v), None) => {
                    let version = parse_version(v).ok_or(err("bad version number"))?;
                    if !retired.insert(version) {
                        return Err(KeyRingError::DuplicateVersion(version));
                    }
                }
                ("blind-index", Some(key), None) => {
                    let key = BlindIndexKey::from_bytes(
                        parse_key(key).ok_or(err("key is not 32 bytes of base64"))?,
                    );
                    if blind_index.replace(key).is_some() {
                        return Err(KeyRingError::DuplicateLine("blind-index"));
                    }
                }
                ("current" | "kek" | "retired" | "blind-index", _, _) => {
                    return Err(err("wrong number of words"));
                }
                _ => return Err(err("unknown keyword")),
            }
        }

        let current = current.ok_or(KeyRingError::MissingCurrent)?;
        let blind_index = blind_index.ok_or(KeyRingError::MissingBlindIndex)?;
        if let Some(&v) = retired.iter().find(|v| keks.contains_key(*v)) {
            return Err(KeyRingError::PresentAndRetired(v));
        }
        if retired.contains(&current) {
            return Err(KeyRingError::CurrentRetired(current));
        }
        if !keks.contains_key(&current) {
            return Err(KeyRingError::CurrentMissing(current));
        }
        Ok(Self {
            current,
            keks,
            retired,
            blind_index,
        })
    }

    /// Whether `wrapped` uses a KEK other than the current one, i.e. must be
    /// rewrapped before that older version can be retired.
    pub fn needs_rewrap(&self, wrapped: &[u8]) -> Result<bool, VaultError> {
        Ok(crate::envelope::kek_version_of(wrapped)? != self.current)
    }
}

/// Decimal version number: ASCII digits only, at most ten of them.
fn parse_version(text: &str) -> Option<KekVersion> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// 32 bytes in standard padded base64 (44 characters).
fn parse_key(text: &str) -> Option<[u8; KEY_LEN]> {
    if text.len() != KEY_B64_LEN {
        return None;
    }
    let mut bytes = [0u8; KEY_LEN];
    match STANDARD.decode_slice(text.as_bytes(), &mut bytes) {
        Ok(KEY_LEN) => Some(bytes),
        _ => {
            bytes.zeroize();
            None
        }
    }
}

/// Where a member's data keys come from.
///
/// [`KeyRing`] is the in-memory implementation: the app loads it from the
/// key file at start-up and wraps/unwraps locally. An external KMS (AWS KMS,
/// GCP KMS, Vault Transit, an HSM) would plug in by implementing this trait
/// *in the app or an adapter crate*, since this crate does no I/O:
///
/// - `wrap_data_key` sends the 32-byte data key to the KMS `Encrypt` call
///   with the member id as its encryption context (the KMS equivalent of our
///   associated data), and stores the KMS blob behind a format byte other
///   than [`crate::envelope::WRAP_FORMAT_V1`] so both kinds can coexist
///   during a migration;
/// - `unwrap_data_key` calls `Decrypt` with the same context;
/// - `current_kek_version` maps to the KMS key version, for `keys status`;
/// - the blind-index key cannot live in the KMS (it is used on every
///   lookup), so a KMS-backed source still hands out a local
///   [`BlindIndexKey`], typically itself delivered wrapped by the KMS.
///
/// The trait is synchronous; an adapter for a network KMS would unwrap data
/// keys ahead of the request (or cache them) rather than block inside it.
pub trait KeySource {
    /// The adapter's error; [`VaultError`] for the in-memory ring.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The KEK version new wraps use.
    fn current_kek_version(&self) -> KekVersion;

    /// Wraps `dek` for `member_id` under the current KEK.
    fn wrap_data_key<R: CryptoRng + ?Sized>(
        &self,
        dek: &DataKey,
        member_id: &[u8],
        rng: &mut R,
    ) -> Result<WrappedKey, Self::Error>;

    /// Recovers the data key of `member_id` from its stored wrapped bytes.
    fn unwrap_data_key(&self, wrapped: &[u8], member_id: &[u8]) -> Result<DataKey, Self::Error>;

    /// The blind-index key.
    fn blind_index_key(&self) -> &BlindIndexKey;
}

impl KeySource for KeyRing {
    type Error = VaultError;

    fn current_kek_version(&self) -> KekVersion {
        self.current
    }

    fn wrap_data_key<R: CryptoRng + ?Sized>(
        &self,
        dek: &DataKey,
        member_id: &[u8],
        rng: &mut R,
    ) -> Result<WrappedKey, VaultError> {
        self.wrap(dek, member_id, rng)
    }

    fn unwrap_data_key(&self, wrapped: &[u8], member_id: &[u8]) -> Result<DataKey, VaultError> {
        self.unwrap(wrapped, member_id)
    }

    fn blind_index_key(&self) -> &BlindIndexKey {
        &self.blind_index
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn c13_text_round_trip_keeps_every_key() {
        let mut rng = rand::rng();
        let mut ring = KeyRing::generate(&mut rng);
        ring.rotate(&mut rng).unwrap();
        ring.rotate(&mut rng).unwrap();
        ring.retire(1).unwrap();
        let back = KeyRing::parse(&ring.to_text()).unwrap();
        assert_eq!(back.current_version(), 3);
        assert_eq!(back.versions().collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(back.retired_versions().collect::<Vec<_>>(), vec![1]);
        for v in [2, 3] {
            assert_eq!(back.kek(v).unwrap(), ring.kek(v).unwrap());
        }
        assert_eq!(back.blind_index_key(), ring.blind_index_key());
    }

    #[test]
    fn c13_retired_kek_cannot_be_current() {
        let mut rng = rand::rng();
        let mut ring = KeyRing::generate(&mut rng);
        assert_eq!(ring.retire(1).unwrap_err(), KeyRingError::RetireCurrent(1));
        let v2 = ring.rotate(&mut rng).unwrap();
        assert_eq!(
            ring.retire(v2).unwrap_err(),
            KeyRingError::RetireCurrent(v2)
        );
        ring.retire(1).unwrap();
        assert_eq!(ring.current_version(), v2);
        assert_eq!(ring.kek(1).unwrap_err(), VaultError::RetiredKek(1));
    }

    #[test]
    fn c13_parse_refuses_retired_current() {
        let text = "anshin-keyring v1\ncurrent 1\nretired 1\n\
                    blind-index AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        assert_eq!(
            KeyRing::parse(text).unwrap_err(),
            KeyRingError::CurrentRetired(1)
        );
    }

    #[test]
    fn c13_rotate_never_reuses_a_retired_version() {
        let mut rng = rand::rng();
        let mut ring = KeyRing::generate(&mut rng);
        let v2 = ring.rotate(&mut rng).unwrap();
        let v3 = ring.rotate(&mut rng).unwrap();
        ring.retire(1).unwrap();
        ring.retire(v2).unwrap();
        // Only v3 holds key material now, but numbers 1 and 2 stay burnt.
        let mut ring = KeyRing::parse(&ring.to_text()).unwrap();
        assert_eq!(ring.rotate(&mut rng).unwrap(), v3 + 1);
    }

    #[test]
    fn retire_is_idempotent_and_refuses_unknown_versions() {
        let mut rng = rand::rng();
        let mut ring = KeyRing::generate(&mut rng);
        ring.rotate(&mut rng).unwrap();
        ring.retire(1).unwrap();
        ring.retire(1).unwrap();
        assert_eq!(ring.retire(9).unwrap_err(), KeyRingError::UnknownVersion(9));
        assert_eq!(ring.kek(9).unwrap_err(), VaultError::UnknownKekVersion(9));
    }

    #[test]
    fn parse_reports_clear_errors() {
        let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let ok = format!("anshin-keyring v1\ncurrent 1\nkek 1 {key}\nblind-index {key}\n");
        assert!(KeyRing::parse(&ok).is_ok());
        assert_eq!(KeyRing::parse("").unwrap_err(), KeyRingError::MissingHeader);
        assert_eq!(
            KeyRing::parse("anshin-keyring v2\n").unwrap_err(),
            KeyRingError::MissingHeader
        );
        assert_eq!(
            KeyRing::parse(&format!(
                "anshin-keyring v1\nkek 1 {key}\nblind-index {key}\n"
            ))
            .unwrap_err(),
            KeyRingError::MissingCurrent
        );
        assert_eq!(
            KeyRing::parse(&format!("anshin-keyring v1\ncurrent 1\nkek 1 {key}\n")).unwrap_err(),
            KeyRingError::MissingBlindIndex
        );
        assert_eq!(
            KeyRing::parse(&format!(
                "anshin-keyring v1\ncurrent 2\nkek 1 {key}\nblind-index {key}\n"
            ))
            .unwrap_err(),
            KeyRingError::CurrentMissing(2)
        );
        assert_eq!(
            KeyRing::parse(&format!(
                "anshin-keyring v1\ncurrent 1\nkek 1 {key}\nkek 1 {key}\nblind-index {key}\n"
            ))
            .unwrap_err(),
            KeyRingError::DuplicateVersion(1)
        );
        assert_eq!(
            KeyRing::parse("anshin-keyring v1\ncurrent 1\nkek 1 c2hvcnQ=\n").unwrap_err(),
            KeyRingError::Line {
                line: 3,
                reason: "key is not 32 bytes of base64"
            }
        );
        assert_eq!(
            KeyRing::parse("anshin-keyring v1\ncurrent -1\n").unwrap_err(),
            KeyRingError::Line {
                line: 2,
                reason: "bad version number"
            }
        );
        assert_eq!(
            KeyRing::parse("anshin-keyring v1\nfrobnicate 1\n").unwrap_err(),
            KeyRingError::Line {
                line: 2,
                reason: "unknown keyword"
            }
        );
    }

    #[test]
    fn parse_errors_never_quote_key_material() {
        // A 43-character key (one short) must be refused without echoing it.
        let bad = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZ";
        let err =
            KeyRing::parse(&format!("anshin-keyring v1\ncurrent 1\nkek 1 {bad}\n")).unwrap_err();
        assert!(!err.to_string().contains(bad));
    }

    #[test]
    fn key_file_text_is_written_without_reallocation() {
        // A reallocation would leave an unwiped copy of the keys in freed
        // memory; the capacity reserved up front must therefore still be the
        // capacity at the end, even with ten-digit version numbers.
        let mut rng = rand::rng();
        let mut ring = KeyRing::new(
            4_000_000_000,
            Kek::generate(&mut rng),
            BlindIndexKey::generate(&mut rng),
        );
        for _ in 0..40 {
            ring.rotate(&mut rng).unwrap();
        }
        for v in 4_000_000_000..4_000_000_020 {
            ring.retire(v).unwrap();
        }
        let text = ring.to_text();
        assert_eq!(text.capacity(), (21 + 20) * 64 + 256);
        assert_eq!(
            KeyRing::parse(&text).unwrap().current_version(),
            4_000_000_040
        );
    }

    #[test]
    fn debug_shows_versions_not_keys() {
        let ring = KeyRing::generate(&mut rand::rng());
        let shown = format!("{ring:?}");
        let text = ring.to_text();
        let key_line = text.lines().find(|l| l.starts_with("kek ")).unwrap();
        let key_b64 = key_line.rsplit(' ').next().unwrap();
        assert!(!shown.contains(key_b64));
        assert!(shown.contains("current: 1"));
        assert!(format!("{:?}", ring.kek(1).unwrap()).contains("redacted"));
    }

    #[test]
    fn key_source_for_key_ring_wraps_and_unwraps() {
        let mut rng = rand::rng();
        let ring = KeyRing::generate(&mut rng);
        let dek = DataKey::generate(&mut rng);
        let wrapped = ring.wrap_data_key(&dek, b"member-1", &mut rng).unwrap();
        assert_eq!(wrapped.kek_version(), KeySource::current_kek_version(&ring));
        let back = ring
            .unwrap_data_key(wrapped.as_bytes(), b"member-1")
            .unwrap();
        assert_eq!(back, dek);
    }

    proptest! {
        #[test]
        fn keyring_parse_never_panics(s in "\\PC{0,400}") {
            let _ = KeyRing::parse(&s);
        }

        #[test]
        fn keyring_parse_never_panics_on_near_valid_text(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("anshin-keyring v1".to_string()),
                    "current [0-9]{0,12}",
                    "kek [0-9]{1,11} [A-Za-z0-9+/=]{0,46}",
                    "retired [0-9]{1,11}",
                    "blind-index [A-Za-z0-9+/=]{40,46}",
                    "\\PC{0,20}",
                ],
                0..8,
            )
        ) {
            let _ = KeyRing::parse(&lines.join("\n"));
        }
    }
}
